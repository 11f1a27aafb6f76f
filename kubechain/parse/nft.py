"""`nft list ruleset` (and `list table`, `list chain`; `-a`, `-s`, `-n`) text → model.

Lark (grammars/nft.lark) finds the tables and their objects; each object's body is read here line
by line: a set's `type`/`flags`/`timeout`/`elements` lines, a chain's hook line and rules. A rule
line is read left to right into its statements (statements.py), normalised as the model wants
(protocol numbers to names, `ct state 0x8` to NEW, priorities to integers, times to ms). What it
does not know it keeps verbatim (UnknownMatch), reported by the analysis.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from ..errors import BadValue, ParseError
from ..model import Chain, Hook, NftSet, Rule, SetElement, Table, Target
from ..netfilter import nft_priority_value, nft_time_ms
from .nft_statements import RuleReader, element_value, normal_key, tokens

if TYPE_CHECKING:  # lark is imported only where Lark parses (parse.grammar) or tokens are made
    from lark import Token

_HANDLE = re.compile(r" # handle (\d+)$")
_TABLE_OPEN = re.compile(r"table (?P<family>[a-z0-9]+) (?P<name>\S+) \{$")
_OBJECT_OPEN = re.compile(r"(?P<kind>[a-z]+) (?P<name>\S+) \{$")
_HOOK = re.compile(r"type (?P<type>\w+) hook (?P<hook>\w+)(?: device \"?(?P<device>[^\";]+)\"?)? "
                   r"priority (?P<priority>[^;]+); (?:policy (?P<policy>\w+); *)?$")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"$')


class ScanToken(str):
    """What scan hands NftBuilder.table where Lark would hand a lark Token: the text, with its
    terminal's name and its line (so a plain listing is read without importing lark)."""

    type: str
    line: int

    def __new__(cls, kind: str, value: str, line: int) -> ScanToken:
        token = super().__new__(cls, value)
        token.type, token.line = kind, line
        return token


if TYPE_CHECKING:
    #: a token of the table's text: lark's (the grammar read it) or scan's
    Piece = Token | ScanToken


class NftBuilder:
    """Builds Tables while Lark parses (stateless: one instance serves every input)."""

    def block(self, children: list[Token]) -> tuple[Token, Token | None]:
        return children[0], (children[1] if len(children) > 2 else None)

    def table(self, children: list[object]) -> Table:
        header = cast("Piece", children[0])
        text, handle = _split_handle(header.rstrip("\n"))
        m = _TABLE_OPEN.match(text)
        if m is None:
            raise _error(header.line or 0, 1, text, "a table header 'table FAMILY NAME {'")
        comment = None
        objects: list[tuple[Piece, Piece | None]] = []
        for child in children[1:-1]:
            if isinstance(child, str):  # a table attribute: a token (lark's or scan's); a block is a pair
                attribute = child.strip()
                if attribute.startswith("comment "):
                    comment = _string(attribute[len("comment "):], cast("Piece", child).line or 0, attribute)
            else:
                objects.append(child)  # type: ignore[arg-type]
        return _TableReader(m["family"], m["name"], header.line or 0).read(objects, comment, handle)

    def start(self, children: list[object]) -> list[Table]:
        return [c for c in children if isinstance(c, Table)]


_BUILDER = NftBuilder()


# The grammar's terminals (grammars/nft.lark) as one scan: a table is its header, its attributes,
# blank lines and blocks (an object's header, its body of lines indented twice, its closing line),
# and its closing line.
_TABLE_START = re.compile(r"table [^\n]*\n")
_BLOCK = re.compile(r"( (?:chain|set|map|flowtable|counter|quota|limit|ct|secmark|synproxy|tunnel) [^\n]*\n)"
                    r"((?:  [^\n]*\n)*)( \}[^\n]*\n)")
_TABLE_ATTR = re.compile(r" (?:comment|flags) [^\n]*\n")
_TABLE_END = re.compile(r"\}[^\n]*\n")
_OUTSIDE = re.compile(r"(?: *\n|#[^\n]*\n)+")  # blank lines and notes between tables
_INSIDE = re.compile(r"(?: *\n)+")  # blank lines inside one


def scan(text: str) -> list[Table] | None:
    """The tables of a strict nft listing without Lark's per-token work (two fifths of the parse),
    or None where the text is not that simple shape, or is wrong: then Lark reads it (and says what
    is wrong). Where it returns tables, they are the ones the grammar and NftBuilder build: the same
    tokens are handed to NftBuilder.table."""
    tables: list[Table] = []
    pos, line, end = 0, 1, len(text)
    try:
        while pos < end:
            gap = _OUTSIDE.match(text, pos)
            if gap is not None:
                line += text.count("\n", pos, gap.end())
                pos = gap.end()
                continue
            m = _TABLE_START.match(text, pos)
            if m is None:
                return None
            children: list[object] = [ScanToken("TABLE_OPEN", m.group(), line=line)]
            pos, line = m.end(), line + 1
            while (close := _TABLE_END.match(text, pos)) is None:
                pos, line = _table_item(text, pos, line, children)
                if pos < 0:
                    return None
            children.append(ScanToken("TABLE_CLOSE", close.group(), line=line))
            pos, line = close.end(), line + 1
            tables.append(_BUILDER.table(children))
    except ParseError:
        return None
    return tables


def _table_item(text: str, pos: int, line: int, children: list[object]) -> tuple[int, int]:
    """Read the table's next blank lines, attribute or block into `children`: the position and
    line after it, or (-1, line) where none is there."""
    if (gap := _INSIDE.match(text, pos)) is not None:
        return gap.end(), line + text.count("\n", pos, gap.end())
    if (attribute := _TABLE_ATTR.match(text, pos)) is not None:
        children.append(ScanToken("TABLE_ATTR", attribute.group(), line=line))
        return attribute.end(), line + 1
    if (block := _BLOCK.match(text, pos)) is None:
        return -1, line
    body = block.group(2)
    children.append((ScanToken("OBJECT_OPEN", block.group(1), line=line),
                     ScanToken("BODY", body, line=line + 1) if body else None))
    return block.end(), line + 2 + body.count("\n")


class _TableReader:
    """The objects of one table: sets and maps first (nft prints them first), then chains."""

    def __init__(self, family: str, name: str, line: int) -> None:
        self.family, self.name, self.line = family, name, line
        self.sets: dict[str, NftSet] = {}
        self.chains: dict[str, Chain] = {}
        self.reader = RuleReader(family, self.sets)  # sees the sets as they are read (printed first)

    def read(self, objects: list[tuple[Piece, Piece | None]], comment: str | None, handle: int | None) -> Table:
        for opening, body in objects:
            text, object_handle = _split_handle(opening.strip())
            m = _OBJECT_OPEN.match(text)
            if m is None:
                raise _error(opening.line or 0, 2, opening.rstrip("\n"), "an object header such as 'chain NAME {'")
            lines = _body_lines(body)
            if m["kind"] in ("set", "map"):
                self.sets[m["name"]] = _read_set(m["kind"], m["name"], lines, opening.line or 0, object_handle)
            elif m["kind"] == "chain":
                self.chains[m["name"]] = self._chain(m["name"], lines, opening.line or 0, object_handle)
            # other objects (flowtable, counter, quota…) carry no rules: nothing to analyze
        return Table(self.name, self.chains, self.line, self.family, self.sets, comment, handle)

    def _chain(self, name: str, lines: list[tuple[int, str]], line: int, handle: int | None) -> Chain:
        hook = policy = comment = None
        rules: list[Rule] = []
        reader = self.reader
        for number, raw in lines:
            text = raw[2:] if raw.startswith("  ") else raw.lstrip()
            stripped = text.strip()
            if not stripped:
                continue
            if not rules and hook is None and stripped.startswith("type ") and " hook " in stripped:
                m = _HOOK.match(stripped)
                if m is None:
                    raise _error(number, 3, raw, "'type TYPE hook HOOK priority PRIORITY; policy POLICY;'")
                try:
                    priority = nft_priority_value(m["priority"].strip())
                except (ValueError, KeyError):
                    raise _error(number, raw.find("priority") + 10, raw, "a priority (a number or a name such as "
                                 "dstnat)") from None
                hook = Hook(m["type"], m["hook"], priority, m["device"])
                policy = (m["policy"] or "accept").upper()
                continue
            if not rules and hook is None and comment is None and stripped.startswith("comment \""):
                comment = _string(stripped[len("comment "):], number, raw)
                continue
            rules.append(self._rule(reader, text, number, raw))
        return Chain(name, tuple(rules), policy, None, None, line, hook, comment, handle)

    @staticmethod
    def _rule(reader: RuleReader, text: str, number: int, raw: str) -> Rule:
        text, handle = _split_handle(text.rstrip())
        try:
            return reader.read(text, number, handle)
        except BadValue as err:
            column = raw.find(err.token) + 1 if err.token and err.token in raw else 3
            raise _error(number, column, raw, err.expected) from None


def _read_set(kind: str, name: str, lines: list[tuple[int, str]], line: int, handle: int | None) -> NftSet:
    found: dict[str, object] = {}
    i = 0
    while i < len(lines):
        number, raw = lines[i]
        text = raw.strip()
        i += 1
        if not text:
            continue
        word, _, rest = text.partition(" ")
        if word == "elements":
            chunk = [(number, rest)]
            while not chunk[-1][1].rstrip().endswith("}") and i < len(lines):
                chunk.append((lines[i][0], lines[i][1].strip()))
                i += 1
            key_types = found.get("key_types", ())
            found["elements"] = _elements(chunk, key_types, kind, raw)  # type: ignore[arg-type]
            continue
        reader = _SET_LINES.get(word)
        if reader is None:
            raise _error(number, 3, raw, "a set line: type, flags, timeout, size, comment or elements")
        try:
            found.update(reader(word, rest, number, raw))
        except ValueError as err:
            if isinstance(err, ParseError):
                raise
            raise _error(number, 3, raw, f"a valid {word} line ({err})") from None
    return NftSet(name, kind, found.get("key_types", ()), found.get("data_type"),  # type: ignore[arg-type]
                  found.get("flags", ()), found.get("timeout_ms"), found.get("size"),  # type: ignore[arg-type]
                  found.get("comment"), found.get("elements", ()), line, handle,  # type: ignore[arg-type]
                  found.get("typeof"))  # type: ignore[arg-type]


def _type_line(word: str, rest: str, _number: int, _raw: str) -> dict[str, object]:
    key_text, _, data = rest.partition(" : ")
    if word == "typeof":
        return {"typeof": key_text, "data_type": data or None}
    return {"key_types": tuple(t.strip() for t in key_text.split(" . ")), "data_type": data or None}


_SET_LINES: dict[str, Callable[[str, str, int, str], dict[str, object]]] = {
    "type": _type_line,
    "typeof": _type_line,
    "flags": lambda _w, rest, _n, _r: {"flags": tuple(f.strip() for f in rest.split(","))},
    "timeout": lambda _w, rest, _n, _r: {"timeout_ms": nft_time_ms(rest)},
    "size": lambda _w, rest, _n, _r: {"size": int(rest)},
    "comment": lambda _w, rest, number, raw: {"comment": _string(rest, number, raw)},
    # nothing the analysis reads:
    **dict.fromkeys(("policy", "gc-interval", "auto-merge", "counter"), lambda _w, _rest, _n, _r: {}),
}


def _elements(chunk: list[tuple[int, str]], key_types: tuple[str, ...], kind: str, raw: str) -> tuple[SetElement, ...]:
    """`= { a : goto X, b : drop }` over one or more lines (continuation lines start with spaces);
    each element keeps the line it starts on."""
    first_line = chunk[0][0]
    joined = " ".join(part for _, part in chunk).strip()
    if not (joined.startswith("= {") and joined.endswith("}")):
        raise _error(first_line, 3, raw, "'elements = { … }'")
    words: list[tuple[str, int]] = []
    for index, (number, part) in enumerate(chunk):
        if index == 0:
            part = part.strip()[3:]
        if index == len(chunk) - 1:
            part = part.rstrip()[:-1]
        words.extend((w, number) for w in tokens(part) if w)
    found = []
    depth = 0
    current: list[tuple[str, int]] = []
    for w, number in [*words, (",", 0)]:
        if w == "," and depth == 0:
            if current:
                found.append(_element([t for t, _ in current], key_types, kind, current[0][1], raw))
            current = []
            continue
        depth += (w == "{") - (w == "}")
        current.append((w, number))
    return tuple(found)


def _element(words: list[str], key_types: tuple[str, ...], kind: str, line: int, raw: str) -> SetElement:
    """`172.30.0.46 . tcp . 80 comment "ns6/svc6:p80" : goto reject-chain`,
    `10.244.5.2 timeout 1h expires 10m`."""
    key: list[str] = []
    comment = timeout = expires = None
    value: Target | str | None = None
    i = 0
    while i < len(words):
        w = words[i]
        if w == ":" and kind == "map":
            value = element_value(words[i + 1:], line)
            break
        if w == "comment" and i + 1 < len(words):
            comment = _string(words[i + 1], line, raw)
            i += 2
        elif w in ("timeout", "expires") and i + 1 < len(words):
            ms = nft_time_ms(words[i + 1])
            timeout, expires = (ms, expires) if w == "timeout" else (timeout, ms)
            i += 2
        elif w == ".":
            i += 1
        else:
            key.append(w)
            i += 1
    return SetElement(normal_key(tuple(key), key_types), value, comment, timeout, expires, line)


def _body_lines(body: Piece | None) -> list[tuple[int, str]]:
    if body is None:
        return []
    start = body.line or 0
    return [(start + i, line) for i, line in enumerate(body.split("\n")[:-1])]


def _split_handle(text: str) -> tuple[str, int | None]:
    m = _HANDLE.search(text)
    return (text[: m.start()], int(m[1])) if m else (text, None)


def _string(text: str, line: int, raw: str) -> str:
    m = _QUOTED.match(text.strip())
    if m is None:
        raise _error(line, max(1, raw.find(text) + 1), raw, 'a double-quoted string ("…")')
    return m[1]


def _error(line: int, column: int, text: str, expected: str) -> ParseError:
    return ParseError("this line cannot continue the nft listing", path=None, line=line, column=max(column, 1),
                      text=text.rstrip("\n"), expected=expected)

