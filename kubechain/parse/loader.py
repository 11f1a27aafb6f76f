"""Input text → Ruleset: decoding, normalising, dispatching to the format's parser, locating errors."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import IO

from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from ..errors import ParseError
from ..memory import gc_frozen
from ..model import Chain, Ruleset, Table
from .detect import detect_family, detect_format, group_tables, has_counters, is_partial
from .grammar import lalr_parser
from .listing import ListBuilder
from .nft import NftBuilder
from .save import SaveBuilder

FORMATS = ("iptables-list", "iptables-save", "nft", "nft-json")

_EXPECTED = {
    "CHAIN_HEADER": "a chain header 'Chain NAME (…)'",
    "COLUMNS": "the column line 'target prot opt source destination' after a chain header",
    "RULES": "a rule line",
    "TABLE_HEADER": "a table header such as '*nat'",
    "CHAIN_DECL": "a chain line ':CHAIN POLICY [packets:bytes]'",
    "COMMIT": "COMMIT at the end of the table",
    "POLICY": "'-P CHAIN POLICY'",
    "NEW_CHAIN": "'-N CHAIN'",
    "NOTE": "a '#' comment",
    "TABLE_OPEN": "a table header 'table FAMILY NAME {'",
    "TABLE_ATTR": "a table's comment or flags",
    "OBJECT_OPEN": "an object header such as 'chain NAME {' or 'set NAME {'",
    "BODY": "a line of the object's body (indented twice)",
    "OBJECT_CLOSE": "'}' closing the object",
    "TABLE_CLOSE": "'}' closing the table",
    "_BLANK": "an empty line",
    "$END": "the end of the input",
}


def loads(text: str, *, path: str | None = None, input_format: str | None = None,
          service: str | None = None, progress: Progress | None = None) -> Ruleset:
    """Parse dump text (any supported format, auto-detected unless `input_format` is given);
    `service`: only the slice the service ports it selects need (kubechain.selection)."""
    if not isinstance(text, str):
        raise TypeError(f"loads() takes text (str), not {type(text).__name__}; load() reads files and bytes")
    from .progress import reporting

    with reporting(progress, text):
        ruleset = _loads(text, path=path, input_format=input_format)
    return ruleset if service is None else _select(ruleset, service)


def _select(ruleset: Ruleset, service: str) -> Ruleset:
    from ..errors import SelectionError
    from ..selection import candidates, closest, select

    sliced = select(ruleset, service)
    if not sliced.tables:
        raise SelectionError(service, ruleset.path, closest(service, candidates(ruleset)))
    return sliced


def _loads(text: str, *, path: str | None = None, input_format: str | None = None) -> Ruleset:
    if input_format is not None and input_format not in FORMATS:
        raise ValueError(f"unknown input format {input_format!r}; choose one of {', '.join(FORMATS)}")
    text = normalise(text)
    if "\0" in text:  # iptables never prints one (and the C library would cut the text there)
        _refuse_nul(text, path)
    fmt = input_format or detect_format(text, path)
    if not text.strip():
        return Ruleset((), fmt, "ipv4", path)
    if fmt == "nft-json":
        from .nft_json import read_json

        with gc_frozen():
            try:
                tables = read_json(text)
            except ParseError as err:
                raise err.at(path) from None
        return Ruleset(tables, fmt, detect_family(tables, text), path, has_counters(tables),
                       partial=is_partial(tables, fmt, text))
    with gc_frozen():
        try:
            tables = _parse(text, fmt)
        except ParseError as err:
            raise err.at(path) from None
        except UnexpectedInput as err:
            raise _lark_error(err, text, path, fmt) from None
    return Ruleset(tables, fmt, detect_family(tables, text), path, has_counters(tables),
                   partial=is_partial(tables, fmt, text))


def _parse(text: str, fmt: str) -> tuple[Table, ...]:
    if fmt == "iptables-list":
        chains: list[Chain] = lalr_parser(fmt, ListBuilder).parse(text)  # type: ignore[assignment]
        return group_tables(chains)
    if fmt == "nft":
        return tuple(lalr_parser(fmt, NftBuilder).parse(text))  # type: ignore[arg-type]
    tables: list[Table] = lalr_parser(fmt, SaveBuilder).parse(text)  # type: ignore[assignment]
    return tuple(tables)


def load(source: str | os.PathLike[str] | IO[str] | IO[bytes], *, input_format: str | None = None,
         service: str | None = None, progress: Progress | None = None) -> Ruleset:
    """Parse a dump from a path, `-` (stdin) or an open file, text or binary; `service` as for
    :func:`loads`; `progress(phase, done, total)` is told the bytes read, then the lines parsed."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if path == "-":
            data, path = read_all(sys.stdin.buffer, None, progress), "<stdin>"
        else:
            with open(path, "rb") as handle:
                data = read_all(handle, os.fstat(handle.fileno()).st_size, progress)
        if service is not None:
            sliced = load_service(data, path, input_format, service)
            if sliced is not None:
                return sliced
        return loads(decode(data, path), path=path, input_format=input_format, service=service,
                     progress=progress)
    if not hasattr(source, "read"):
        raise TypeError(f"load() takes a path, '-' or an open file, not {type(source).__name__}")
    raw = source.read()
    name = getattr(source, "name", None)
    name = name if isinstance(name, str) else None
    if service is not None and isinstance(raw, bytes):
        sliced = load_service(raw, name, input_format, service)
        if sliced is not None:
            return sliced
    text = decode(raw, name) if isinstance(raw, bytes) else raw
    return loads(text, path=name, input_format=input_format, service=service, progress=progress)


def load_service(data: bytes, path: str | None, input_format: str | None, service: str) -> Ruleset | None:
    """The slice for `service` read straight from the bytes (parse.sliced), or None when that
    path does not apply: the caller parses everything and slices it (the same result)."""
    from ..errors import SelectionError
    from ..selection import closest
    from .sliced import candidate_names, load_slice

    if not isinstance(service, str) or not service:
        raise ValueError(f"a service selection is a non-empty text, not {service!r}")
    if input_format is not None and input_format not in FORMATS:
        raise ValueError(f"unknown input format {input_format!r}; choose one of {', '.join(FORMATS)}")
    try:
        fmt = input_format or detect_format(data[:65536].decode("utf-8", "replace"), path)
    except ParseError:
        return None
    sliced = load_slice(data, fmt, path, service)
    if sliced is not None and not sliced.tables:
        raise SelectionError(service, path, closest(service, candidate_names(data, fmt)))
    return sliced


#: (phase, done, total), as kubechain.load reports progress
Progress = Callable[[str, int, int], None]
CHUNK = 4 << 20


def read_all(handle: IO[bytes], size: int | None, progress: Progress | None) -> bytes:
    """The whole stream; in 4 MiB chunks with `progress("reading", bytes, size)` when asked."""
    if progress is None or not size:
        return handle.read()
    chunks, done = [], 0
    while chunk := handle.read(CHUNK):
        chunks.append(chunk)
        done += len(chunk)
        progress("reading", done, size)
    return b"".join(chunks)


def decode(data: bytes, path: str | None) -> str:
    """UTF-8, or a ParseError at the first byte that is not."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        before = data[: err.start]
        line = before.count(b"\n") + 1
        line_start = before.rfind(b"\n") + 1
        line_end = data.find(b"\n", err.start)
        shown = data[line_start: line_end if line_end >= 0 else len(data)].decode("utf-8", "replace")
        raise ParseError(f"byte 0x{data[err.start]:02x} is not UTF-8 text", path=path, line=line,
                         column=err.start - line_start + 1, text=shown,
                         expected="the text output of iptables or nft") from None


def _refuse_nul(text: str, path: str | None) -> None:
    at = text.index("\0")
    line = text.count("\n", 0, at) + 1
    start = text.rfind("\n", 0, at) + 1
    end = text.find("\n", at)
    raise ParseError("a NUL character is not part of any iptables output", path=path, line=line,
                     column=at - start + 1, text=text[start:end if end >= 0 else len(text)].replace("\0", "\\0"),
                     expected="the text output of iptables")


def normalise(text: str) -> str:
    """CRLF, tabs and trailing spaces do not change a dump; a final newline is implied."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\t" in text:
        text = text.expandtabs(1)
    if text and not text.endswith("\n"):
        text += "\n"
    return text


def _lark_error(err: UnexpectedInput, text: str, path: str | None, fmt: str) -> ParseError:
    line = getattr(err, "line", None) or text.count("\n")
    column = getattr(err, "column", None) or 1
    if isinstance(err, UnexpectedEOF) or line < 1:
        line = max(1, text.count("\n"))
    shown = text.split("\n")[line - 1] if line - 1 < text.count("\n") + 1 else ""
    expected_names: set[str]
    if isinstance(err, UnexpectedToken):
        expected_names = set(err.expected)
    elif isinstance(err, UnexpectedCharacters):
        expected_names = set(err.allowed or ())
    else:
        expected_names = set(getattr(err, "expected", ()) or ())
    expected = " or ".join(sorted({_EXPECTED.get(n, n) for n in expected_names})) or "valid input"
    what = {"iptables-list": "iptables -L listing", "nft": "nft list ruleset output"}.get(
        fmt, "iptables-save / iptables -S dump")
    return ParseError(f"this line cannot continue the {what}", path=path, line=line, column=column,
                      text=shown, expected=expected)
