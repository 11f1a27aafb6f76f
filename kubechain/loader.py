"""Input text → Ruleset: decoding, normalising, detecting the format, and locating errors."""

from __future__ import annotations

import io
import os
import re
from typing import IO

from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from .errors import ParseError
from .gcpause import gc_frozen
from .grammar import lalr_parser
from .model import Ruleset, Table
from .parse_list import LIST_BUILDER
from .parse_save import SAVE_BUILDER
from .tables import group_tables, table_family

_TABLE_HEADER = re.compile(r"^\*\w", re.M)  # `*nat`: restore input or iptables-save

FORMATS = ("iptables-list", "iptables-save")

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
    "_BLANK": "an empty line",
    "$END": "the end of the input",
}


def loads(text: str, *, path: str | None = None, input_format: str | None = None) -> Ruleset:
    """Parse dump text (any supported format, auto-detected unless `input_format` is given)."""
    text = normalise(text)
    if "\0" in text:  # iptables never prints one (and the C library would cut the text there)
        _refuse_nul(text, path)
    fmt = input_format or detect_format(text, path)
    if fmt not in FORMATS:
        raise ValueError(f"unknown input format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not text.strip():
        return Ruleset((), fmt, "ipv4", path)
    with gc_frozen():
        try:
            if fmt == "iptables-list":
                tables = group_tables(lalr_parser(fmt, LIST_BUILDER).parse(text))
            else:
                tables = tuple(lalr_parser(fmt, SAVE_BUILDER).parse(text))
        except ParseError as err:
            raise err.at(path) from None
        except UnexpectedInput as err:
            raise _lark_error(err, text, path, fmt) from None
    return Ruleset(tables, fmt, detect_family(tables, text), path, _has_counters(tables),
                   partial=_is_partial(tables) and (fmt == "iptables-list" or not _TABLE_HEADER.search(text)))


def load(source: str | os.PathLike[str] | IO[str] | IO[bytes], *,
         input_format: str | None = None) -> Ruleset:
    """Parse a dump from a path, `-` (stdin) or an open file, text or binary."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if path == "-":
            import sys
            return loads(decode(sys.stdin.buffer.read(), "<stdin>"), path="<stdin>",
                         input_format=input_format)
        with open(path, "rb") as handle:
            return loads(decode(handle.read(), path), path=path, input_format=input_format)
    data = source.read()
    name = getattr(source, "name", None)
    name = name if isinstance(name, str) else None
    text = decode(data, name) if isinstance(data, bytes) else data
    return loads(text, path=name, input_format=input_format)


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
                         expected="the text output of iptables") from None


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


def detect_format(text: str, path: str | None = None) -> str:
    """`-L` listings start with 'Chain '; everything iptables-save / -S prints starts with
    '*', ':', '-' or '['."""
    for number, line in enumerate(io.StringIO(text), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("Chain "):
            return "iptables-list"
        if stripped[0] in "*:-[" or stripped == "COMMIT":
            return "iptables-save"
        hint = ("this looks like nftables output, which kubechain does not read yet"
                if stripped.startswith(("table ", "flush ruleset")) else
                "this is neither iptables -L nor iptables-save output")
        raise ParseError(hint, path=path, line=number, column=1, text=line.rstrip("\n"),
                         expected="'Chain NAME (…)' (iptables -L) or '*table', ':CHAIN', '-A CHAIN' "
                                  "(iptables-save, iptables -S)")
    return "iptables-save"  # only blank lines and comments: what iptables-save prints on nft nodes


def detect_family(tables: tuple[Table, ...], text: str = "") -> str:
    """By the first address literal in a rule; without any, by ip6tables-save's `# Generated by` line."""
    family = next((f for table in tables if (f := table_family(table))), None)
    return family or ("ipv6" if text.startswith("# Generated by ip6tables") else "ipv4")


def _has_counters(tables: tuple[Table, ...]) -> bool:
    return any(rule.counters is not None for t in tables for c in t.chains.values() for rule in c.rules)



def _is_partial(tables: tuple[Table, ...]) -> bool:
    """A single-chain printout (`-L CHAIN`, `-S CHAIN`): one chain per table, or no built-in chain
    at all, where every whole-table printout shows all of the table's built-in chains (at least
    two: raw has PREROUTING and OUTPUT). Text with `*table` headers is restore input or
    iptables-save: whole tables, even when a hand-written one (kube-proxy's own restore data)
    declares no built-in chain."""
    return (all(len(t.chains) == 1 for t in tables)
            or not any(c.builtin for t in tables for c in t.chains.values()))


def _lark_error(err: UnexpectedInput, text: str, path: str | None, fmt: str) -> ParseError:
    line = getattr(err, "line", None) or text.count("\n")
    column = getattr(err, "column", None) or 1
    if isinstance(err, UnexpectedEOF) or line < 1:
        line = max(1, text.count("\n"))
    shown = text.split("\n")[line - 1] if line - 1 < text.count("\n") + 1 else ""
    if isinstance(err, UnexpectedToken):
        expected_names = err.expected
    elif isinstance(err, UnexpectedCharacters):
        expected_names = err.allowed or set()
    else:
        expected_names = getattr(err, "expected", set()) or set()
    expected = " or ".join(sorted({_EXPECTED.get(n, n) for n in expected_names})) or "valid input"
    what = "iptables -L listing" if fmt == "iptables-list" else "iptables-save / iptables -S dump"
    return ParseError(f"this line cannot continue the {what}", path=path, line=line, column=column,
                      text=shown, expected=expected)
