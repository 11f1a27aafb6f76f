"""Where each table and chain of a dump is, found by scanning bytes, without parsing any rule.

A 30,000-service node prints about a million lines; parsing them all takes tens of seconds, while
one service port needs a few dozen. :func:`index_chains` finds, with C-speed byte searches only
(no Python work per line or per chain):

- `iptables -L`: every section's `Chain NAME (` header, and the tables they form (a table starts
  at its first built-in chain, as the full parser groups them);
- `iptables-save`: every `*table` … `COMMIT` block and its block of `:NAME POLICY [p:b]`
  declarations.

A chain's details (its column line and rule span in `-L`) and any offset's line number are
worked out on demand, for the few chains a caller reads. :meth:`ChainIndex.lines_with` finds
every line of a table containing any of a set of strings in one regex pass (an iptables-save
chain's `-A NAME ` lines, or every line naming a service's hash).

Offsets are byte offsets into the input; line numbers are 1-based, as the parsers number them.
The index refuses (None) what it would not map exactly, and the caller parses the whole text:
`iptables -S` output (no table header), one-chain printouts, declarations after the first rule,
notes inside a block, carriage returns, tabs or NUL bytes.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from ..kube import NAT_ONLY_CHAINS
from .detect import table_name_by_chains

#: a literal first byte keeps these searches at memchr speed (`(?:^|\n)` would try every position)
_LIST_HEADER = re.compile(rb"\nChain (\S+) \((p?)")  # group 2: "p" for a built-in chain's "(policy"
_SAVE_TABLE = re.compile(rb"\n\*(\S+)")
_SAVE_DECLARATION = re.compile(rb"\n:(\S+)")
_BLOCK = 1 << 20  # newlines are counted once per MiB; a line number then costs one short count


@dataclass(frozen=True, slots=True)
class Line:
    """One line of the input: its 1-based number, its start offset and its bytes (no newline)."""

    number: int
    start: int
    text: bytes


@dataclass(frozen=True, slots=True)
class ChainText:
    """Where one chain is: its header (`-L`) or declaration (save) line, and for `-L` its column
    line and the span [body_start, body_end) of its rule lines (body_line: the first one's number)."""

    name: str
    head: Line
    columns: bytes = b""
    body_start: int = 0
    body_end: int = 0
    body_line: int = 0


class Chains(Mapping[str, ChainText]):
    """A table's chains by name, in input order; each ChainText is built when first asked for."""

    def __init__(self, index: ChainIndex, names: list[bytes], starts: list[int], first_line: int,
                 consecutive_lines: bool) -> None:
        self._index, self._names, self._starts = index, names, starts
        self._position = dict(zip(names, range(len(names)), strict=True))
        self._first_line, self._consecutive = first_line, consecutive_lines
        self._built: dict[int, ChainText] = {}

    def __getitem__(self, name: str) -> ChainText:
        return self.at(self._position[name.encode()])

    def __iter__(self) -> Iterator[str]:
        return (n.decode("utf-8", "replace") for n in self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.encode() in self._position

    def position(self, name: str) -> int | None:
        """Where the chain comes in the table (None: not declared or listed)."""
        return self._position.get(name.encode())

    def containing(self, text: str) -> list[str]:
        """The names that contain `text`."""
        needle = text.encode()
        return [n.decode("utf-8", "replace") for n in self._names if needle in n]

    def at(self, i: int) -> ChainText:
        if i not in self._built:
            name = self._names[i].decode("utf-8", "replace")
            self._built[i] = self._index.chain_text(name, self._starts[i], self._line(i),
                                                    self._starts[i + 1] if i + 1 < len(self._starts) else None)
        return self._built[i]

    def around(self, offset: int) -> ChainText | None:
        """The chain whose header is the last one at or before `offset`."""
        i = bisect.bisect_right(self._starts, offset) - 1
        return self.at(i) if i >= 0 else None

    def _line(self, i: int) -> int:
        if self._consecutive:  # save declarations: one per line
            return self._first_line + i
        return self._index.line_of(self._starts[i])


@dataclass(slots=True)
class TableText:
    """One table: its name (as printed, or judged from its chain names), where it starts and ends,
    its first line, and its chains in input order."""

    name: str
    start: int
    end: int
    line: int
    chains: Chains = field(repr=False)


@dataclass(slots=True)
class ChainIndex:
    """The tables and chains of one input (see the module docstring)."""

    data: bytes
    format: str
    tables: list[TableText] = field(default_factory=list)
    #: whether any rule line carries counters (`-v` columns, or `[p:b]` before `-A`)
    has_counters: bool = False
    #: a one-chain printout (always False here: those are refused)
    partial: bool = False
    _blocks: list[int] = field(default_factory=list, repr=False)  # line number at each MiB

    def line_of(self, offset: int) -> int:
        """The 1-based number of the line holding byte `offset`."""
        data = self.data
        if not self._blocks:
            number = 1
            for start in range(0, len(data) + 1, _BLOCK):
                self._blocks.append(number)
                number += data.count(b"\n", start, start + _BLOCK)
        block = offset // _BLOCK
        return self._blocks[block] + data.count(b"\n", block * _BLOCK, offset)

    def lines_with(self, needles: Iterable[bytes], table: TableText) -> list[Line]:
        """Every line of `table` containing any of `needles`, in input order, once each (one
        regex pass over the table, however many needles)."""
        unique = sorted(set(needles), key=len, reverse=True)
        if not unique:
            return []
        pattern = re.compile(b"|".join(re.escape(n) for n in unique))
        data, found, last = self.data, [], -1
        for m in pattern.finditer(data, table.start, table.end):
            start = max(data.rfind(b"\n", table.start, m.start()) + 1, table.start)
            if start == last:
                continue
            last = start
            end = data.find(b"\n", start, table.end)
            found.append(Line(self.line_of(start), start, data[start: end if end >= 0 else table.end]))
        return found

    def chain_text(self, name: str, start: int, line: int, next_start: int | None) -> ChainText:
        """A chain's ChainText: for `-L` its column line and rule span, up to the next header."""
        data = self.data
        head_end = data.find(b"\n", start)
        head_end = len(data) if head_end < 0 else head_end
        head = Line(line, start, data[start:head_end])
        if self.format != "iptables-list":
            return ChainText(name, head)
        limit = len(data) if next_start is None else next_start
        columns_end = data.find(b"\n", head_end + 1, limit)
        columns_end = limit if columns_end < 0 else columns_end
        body_start = min(columns_end + 1, limit)
        blank = data.find(b"\n\n", columns_end, limit)
        body_end = max(body_start, limit if blank < 0 else blank + 1)
        if data.find(b"\n#", columns_end, body_end) >= 0 or data[body_end:limit].strip(b" \n"):
            raise Unindexed(f"{name}: a note inside its rules, or text after them")
        return ChainText(name, head, data[head_end + 1:columns_end], body_start, body_end, line + 2)


class Unindexed(ValueError):
    """Met while reading a chain the index located: the text is not laid out as the index
    assumes; the caller parses everything instead."""


def index_chains(data: bytes, fmt: str) -> ChainIndex | None:
    """The index of a dump in format `fmt` ("iptables-list" or "iptables-save"), or None where
    the index would not be exact (the caller then parses everything)."""
    if fmt not in ("iptables-list", "iptables-save") or b"\r" in data or b"\t" in data or b"\0" in data:
        return None  # nftables text and JSON are parsed whole, then sliced (kubechain.selection)
    return _listing(data) if fmt == "iptables-list" else _save(data)


def _listing(data: bytes) -> ChainIndex | None:
    first = _LIST_HEADER.match(b"\n" + data[:300])  # the first line has no newline before it
    heads = ([(0, first[1], first[2])] if first else []) + [(m.start() + 1, m[1], m[2])
                                                            for m in _LIST_HEADER.finditer(data)]
    builtin = {s for s, _, p in heads if p}
    if not heads or not builtin:
        return None  # a one-chain printout (or no listing at all)
    index = ChainIndex(data, "iptables-list")
    starts = [s for s, _, _ in heads]
    firsts = [0] + [i for i in range(1, len(heads)) if starts[i] in builtin and starts[i - 1] not in builtin]
    if len(firsts) > 64:
        return None  # not kube-proxy's few tables
    for t, begin_at in enumerate(firsts):
        last = firsts[t + 1] if t + 1 < len(firsts) else len(heads)
        names = [n for _, n, _ in heads[begin_at:last]]
        name = table_name_by_chains(n.decode("utf-8", "replace") for n in _telling(names))
        if name is None or len(set(names)) != len(names) or last - begin_at == 1:
            return None  # judged by targets, repeated names, or one chain: the full parser decides
        begin = starts[begin_at]
        line = index.line_of(begin)
        end = starts[last] if last < len(heads) else len(data)
        index.tables.append(TableText(name, begin, end, line,
                                      Chains(index, names, starts[begin_at:last], line, False)))
    index.has_counters = _listing_counters(index)
    return index


def _listing_counters(index: ChainIndex) -> bool:
    """`-v` columns and at least one rule line (the full parser's "any rule has counters")."""
    for table in index.tables:
        first = table.chains.at(0)
        if b"pkts" not in first.columns.split()[:2]:
            return False
    for table in index.tables:
        for i in range(len(table.chains)):
            chain = table.chains.at(i)
            if chain.body_end > chain.body_start:
                return True
    return False


def _save(data: bytes) -> ChainIndex | None:
    starts = ([0] if data.startswith(b"*") else []) + [m.start() + 1 for m in _SAVE_TABLE.finditer(data)]
    if not starts or len(starts) > 64:
        return None  # iptables -S: no table header
    index = ChainIndex(data, "iptables-save")
    for i, start in enumerate(starts):
        limit = starts[i + 1] if i + 1 < len(starts) else len(data)
        commit = data.find(b"\nCOMMIT", start, limit)
        end = limit if commit < 0 else commit + 1
        head_end = data.find(b"\n", start, end)
        if head_end < 0:
            return None
        line = index.line_of(start)
        rules = _first_rule(data, head_end, end)
        block = data[head_end:rules]  # "\n:A …\n:B …" — the declarations, one a line
        if b"\n#" in block or block.count(b"\n") != block.count(b"\n:") or data.find(b"\n:", rules, end) >= 0:
            return None  # notes among the declarations, or a declaration after the first rule
        names = _SAVE_DECLARATION.findall(block)
        offsets = [m.start() + head_end + 1 for m in _SAVE_DECLARATION.finditer(block)]
        name = data[start + 1:head_end].strip().decode("utf-8", "replace")
        chains = Chains(index, names, offsets, line + 1, True)
        index.tables.append(TableText(name, start, end, line, chains))
    index.has_counters = re.search(rb"\n\[\d+:\d+\] +-A ", data) is not None if b"\n[" in data else False
    return index


def _telling(names: list[bytes]) -> list[bytes]:
    """The names that can tell a table's name (built-in and kube-proxy's nat-only chains): a few,
    so that judging a table does not decode 186,000 names."""
    builtin = {b"PREROUTING", b"INPUT", b"FORWARD", b"OUTPUT", b"POSTROUTING"}
    found = [n for n in names if n in builtin]
    nat_only = tuple(p.encode() for p in NAT_ONLY_CHAINS)
    nat = next((n for n in names if n.startswith(nat_only)), None)
    return found + ([nat] if nat is not None else [])


def _first_rule(data: bytes, start: int, end: int) -> int:
    """Where a table's rule lines begin (the end of its declarations)."""
    found = [p for p in (data.find(b"\n-A ", start, end), data.find(b"\n[", start, end)) if p >= 0]
    return min(found) if found else end
