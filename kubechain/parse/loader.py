"""Input text → Ruleset: decoding, normalising, dispatching to the format's parser (a paste section
by section), repairing edited text when asked, locating errors."""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from ..errors import ParseError
from ..memory import gc_frozen
from ..model import Chain, InputNote, Rule, Ruleset, Table, table_family
from .detect import detect_family, detect_format, group_tables, has_counters, is_partial
from .grammar import lalr_parser
from .listing import ListBuilder
from .listing import scan as scan_listing
from .nft import NftBuilder
from .nft import scan as scan_nft
from .paste import SKIPPED, is_paste, looks_pasted, repair, section_text, sections
from .save import SaveBuilder
from .save import scan as scan_save

if TYPE_CHECKING:  # lark is imported where Lark parses, not for a text the scans read alone
    from lark.exceptions import UnexpectedInput

FORMATS = ("iptables-list", "iptables-save", "nft", "nft-json")
#: each text format's fast scan (None where the text is not its plain shape) and the Lark builder
#: that reads the rest and says what is wrong
_READERS: dict[str, tuple[Callable[[str], list[Any] | None], type]] = {
    "iptables-list": (scan_listing, ListBuilder), "iptables-save": (scan_save, SaveBuilder),
    "nft": (scan_nft, NftBuilder)}

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
          service: str | None = None, progress: Progress | None = None, lenient: bool = False) -> Ruleset:
    """Parse dump text (any supported format, auto-detected unless `input_format` is given);
    `service`: only the slice the service ports it selects need (kubechain.selection). A paste of
    several command outputs is read section by section (parse.paste); with `lenient`, what a person
    or a web page added is repaired first, and rule lines that cannot be read are skipped (each
    noted in `Ruleset.notes`)."""
    if not isinstance(text, str):
        raise TypeError(f"loads() takes text (str), not {type(text).__name__}; load() reads files and bytes")
    from .progress import reporting

    with reporting(progress, text):
        ruleset = _loads(text, path=path, input_format=input_format, lenient=lenient)
    return ruleset if service is None else _select(ruleset, service)


def _select(ruleset: Ruleset, service: str) -> Ruleset:
    from ..errors import SelectionError
    from ..selection import candidates, closest, select

    sliced = select(ruleset, service)
    if not sliced.tables:
        raise SelectionError(service, ruleset.path, closest(service, candidates(ruleset)))
    return sliced


def _loads(text: str, *, path: str | None, input_format: str | None, lenient: bool) -> Ruleset:
    if input_format is not None and input_format not in FORMATS:
        raise ValueError(f"unknown input format {input_format!r}; choose one of {', '.join(FORMATS)}")
    text = normalise(text)
    if "\0" in text:  # iptables never prints one (and the C library would cut the text there)
        _refuse_nul(text, path)
    notes: list[InputNote] = []
    if lenient:
        text, notes = repair(text)
    skipped: list[InputNote] | None = [] if lenient else None
    token = SKIPPED.set(skipped)
    try:
        with gc_frozen():
            if input_format is None and is_paste(text):
                ruleset = _read_paste(text, path, lenient)
            else:
                ruleset = _read(text, input_format or detect_format(text, path), path, lenient)
    except ParseError as err:
        if not lenient and looks_pasted(text):
            err = ParseError(err.reason + "; the text looks pasted or edited: --lenient (kubechain.loads(text, "
                             "lenient=True)) repairs what it can", path=err.path, line=err.line, column=err.column,
                             text=err.text, expected=err.expected)
        raise err.at(path) from None
    finally:
        SKIPPED.reset(token)
    found = [*ruleset.notes, *notes, *(skipped or [])]
    return dataclasses.replace(ruleset, notes=tuple(sorted(found, key=lambda n: n.line))) if found else ruleset


def _read(text: str, fmt: str, path: str | None, lenient: bool) -> Ruleset:
    """One format's text → Ruleset."""
    if not text.strip():
        return Ruleset((), fmt, "ipv4", path)
    tables = _parse(text, fmt, path, lenient)
    return Ruleset(tables, fmt, detect_family(tables, text), path, has_counters(tables),
                   partial=is_partial(tables, fmt, text))


def _parse(text: str, fmt: str, path: str | None, lenient: bool) -> tuple[Table, ...]:
    if fmt == "nft-json":
        from .nft_json import read_json

        return tuple(read_json(text))
    scan, builder = _READERS[fmt]
    found = None if lenient else scan(text)  # the scans stand in for the strict grammars
    if found is None:
        found = _lark_parse(text, fmt, path, builder, lenient)
    return group_tables(found) if fmt == "iptables-list" else tuple(found)


def _lark_parse(text: str, fmt: str, path: str | None, builder: type, lenient: bool) -> list[Any]:
    """What Lark reads where the scan does not: the lenient grammar, or a text it says is wrong."""
    from lark.exceptions import UnexpectedInput

    try:
        return lalr_parser(fmt, builder, lenient).parse(text)  # type: ignore[return-value]  # the builder's, not a tree
    except UnexpectedInput as err:
        raise _lark_error(err, text, path, fmt) from None


def _read_paste(text: str, path: str | None, lenient: bool) -> Ruleset:
    """Several command outputs → one Ruleset: each section read in its own format (its prompt's
    table and family where it names them), tables of one name and family merged."""
    lines = text.split("\n")
    merged: list[Table] = []
    formats: set[str] = set()
    partial: list[bool] = []
    notes: list[InputNote] = []
    for section in sections(text):
        body = section_text(lines, section)
        fmt = section.fmt or detect_format(body, path)
        if fmt not in FORMATS:
            raise ParseError(f"this section is {fmt} output, which kubechain does not read here", path=path,
                             line=section.start, column=1, text=lines[section.start - 1],
                             expected="iptables -L, -S or iptables-save output")
        tables = _parse(body, fmt, path, lenient)
        if section.table and (fmt == "iptables-list" or not _HEADED.search(body)):
            tables = tuple(dataclasses.replace(t, name=section.table) for t in tables)
        formats.add(fmt)
        partial.append(is_partial(tables, fmt, body))
        for table in tables:
            _merge(merged, table, section.family, notes)
    tables = tuple(merged)
    fmt = formats.pop() if len(formats) == 1 else "mixed"
    ruleset = Ruleset(tables, fmt, detect_family(tables, text), path, has_counters(tables),
                      partial=bool(partial) and all(partial))
    return dataclasses.replace(ruleset, notes=tuple(notes))


_HEADED = re.compile(r"^\*\w", re.M)


def _within(part: tuple[Rule, ...], whole: tuple[Rule, ...]) -> bool:
    """Whether `part` is `whole` with some rules left out (what grep makes of a chain)."""
    rest = iter(whole)
    return all(any(rule == other for other in rest) for rule in part)


def _uncounted(chain: Chain) -> tuple[Rule, ...]:
    """A chain's rules without counters: two printouts of one chain may differ in that only."""
    return tuple(dataclasses.replace(r, counters=None) for r in chain.rules)


def _merge(into: list[Table], table: Table, family: str | None, notes: list[InputNote]) -> None:
    """Add a section's table: to the table of its name and family already read, chain by chain
    (a chain both hold must be the same; the first is kept and the disagreement noted), or as
    a table of its own."""
    fam = table_family(table) or family
    same = next((t for t in into if t.name == table.name and (table_family(t) or family) in (fam, None)
                 or (t.name == table.name and fam is None)), None)
    if same is None:
        into.append(table)
        return
    chains = dict(same.chains)
    for name, chain in table.chains.items():
        known = chains.get(name)
        if known is None:
            chains[name] = chain
            continue
        old, new = _uncounted(known), _uncounted(chain)
        if old == new:  # the same rules: keep the printout that carries counters
            if not any(r.counters for r in known.rules) and any(r.counters for r in chain.rules):
                chains[name] = chain
        elif _within(old, new):  # the first was a filtered view (`iptables-save | grep`): keep the whole
            chains[name] = chain
        elif not _within(new, old):
            notes.append(InputNote(chain.line, "disagree", f"{name} is printed twice, differently (lines {known.line} "
                                   f"and {chain.line}); the first is kept", name))
    into[into.index(same)] = Table(same.name, chains, same.line)


def load(source: str | os.PathLike[str] | IO[str] | IO[bytes], *, input_format: str | None = None,
         service: str | None = None, progress: Progress | None = None, lenient: bool = False) -> Ruleset:
    """Parse a dump from a path, `-` (stdin) or an open file, text or binary; `service` as for
    :func:`loads`; `progress(phase, done, total)` is told the bytes read, then the lines parsed."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if path == "-":
            data, path = read_all(sys.stdin.buffer, None, progress), "<stdin>"
        else:
            with open(path, "rb") as handle:
                data = read_all(handle, os.fstat(handle.fileno()).st_size, progress)
        if service is not None and not lenient:
            sliced = load_service(data, path, input_format, service)
            if sliced is not None:
                return sliced
        text = decode(data, path)
        del data  # the bytes are not needed again: a big dump's peak memory is one copy of it, not two
        return loads(text, path=path, input_format=input_format, service=service, progress=progress,
                     lenient=lenient)
    if not hasattr(source, "read"):
        raise TypeError(f"load() takes a path, '-' or an open file, not {type(source).__name__}")
    raw = source.read()
    name = getattr(source, "name", None)
    name = name if isinstance(name, str) else None
    if service is not None and isinstance(raw, bytes) and not lenient:
        sliced = load_service(raw, name, input_format, service)
        if sliced is not None:
            return sliced
    text = decode(raw, name) if isinstance(raw, bytes) else raw
    return loads(text, path=name, input_format=input_format, service=service, progress=progress, lenient=lenient)


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
    head = data[:65536].decode("utf-8", "replace")
    if input_format is None and is_paste(head):
        return None  # several outputs in one text: read section by section, then sliced
    try:
        fmt = input_format or detect_format(head, path)
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
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

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
