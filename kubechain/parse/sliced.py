"""Dump bytes → the slice of the rule set that `--service TEXT` needs, parsing only its chains.

The same slice as :func:`kubechain.selection.select` builds from a whole parsed rule set (the
tests hold the two equal on every fixture), found through the byte index (parse.index):

1. every line containing TEXT, then every line containing the hash of a service chain those
   lines mention (frontends, the chains' own rules, jumps into them from anywhere), parsed;
2. the service ports of that partial view whose name or chain contains TEXT fix the hashes;
3. the chains those service chains reach, level by level, each level found in one byte pass.

Returns None when the index cannot map the input exactly (see parse.index): the caller parses
it all and slices that. Any parse error in the slice also returns None, so the full parse can
report it where it is.
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import BadValue, ParseError
from ..kube import HASHED_PREFIXES, chain_hash, service_ports
from ..memory import gc_frozen
from ..model import Chain, Jump, Rule, Ruleset, Table
from ..selection import matches, nat_slice, no_endpoints_name
from .detect import detect_family
from .index import ChainIndex, ChainText, Line, TableText, Unindexed, index_chains
from .listing import section_chain
from .save import chain_declaration, parse_rule_line


def load_slice(data: bytes, fmt: str, path: str | None, text: str) -> Ruleset | None:
    """The slice of the dump `data` for service TEXT, or None (parse everything instead)."""
    with gc_frozen():  # the index makes a few hundred thousand small objects and frees none
        index = index_chains(data, fmt)
        if index is None:
            return None
        try:
            tables = tuple(t for t in (_table(index, table, text) for table in index.tables) if t is not None)
        except (ParseError, BadValue, UnicodeDecodeError, Unindexed):
            return None
    first_line = data[:data.find(b"\n")].decode("utf-8", "replace")
    return Ruleset(tables, fmt, detect_family(tables, first_line), path, index.has_counters, index.partial,
                   selection=text)


def _table(index: ChainIndex, table: TableText, text: str) -> Table | None:
    if table.name == "nat":
        return _nat(index, table, text)
    if table.name == "filter":
        return _filter(index, table, text)
    return None


class _Reader:
    """Parses the chosen lines of one table into (partial) chains, remembering what it read."""

    def __init__(self, index: ChainIndex, table: TableText) -> None:
        self.index, self.table = index, table
        self.rules: dict[str, dict[int, Rule]] = {}  # chain → line number → rule
        self.whole: set[str] = set()  # chains read completely

    def chain_of(self, line: Line) -> str | None:
        """The chain a rule line belongs to (None for headers, declarations and other lines)."""
        if self.index.format == "iptables-save":
            body = line.text.split(b"] ", 1)[1] if line.text.startswith(b"[") else line.text
            if not body.startswith(b"-A "):
                return None
            return body[3:].split(b" ", 1)[0].decode()
        chain = self.table.chains.around(line.start)
        if chain is None or not chain.body_start <= line.start < chain.body_end:
            return None
        return chain.name

    def read_lines(self, lines: list[Line]) -> list[tuple[str, Rule]]:
        found = []
        for line in lines:
            chain = self.chain_of(line)
            if chain is None:
                continue
            rule = self._rule(chain, line)
            self.rules.setdefault(chain, {})[line.number] = rule
            found.append((chain, rule))
        return found

    def read_whole(self, names: set[str]) -> None:
        """Every rule of the chains `names` (one byte pass for all of them in iptables-save)."""
        names = {n for n in names if n not in self.whole}
        if not names:
            return
        self.whole |= names
        if self.index.format == "iptables-save":
            needles = [b"-A " + n.encode() + b" " for n in names]
            for line in self.index.lines_with(needles, self.table):
                chain = self.chain_of(line)
                if chain in names:
                    self.rules.setdefault(chain, {})[line.number] = self._rule(chain, line)
            return
        for name in names:
            section = self.table.chains.get(name)
            if section is None:
                continue
            data = self.index.data
            body = data[section.body_start:section.body_end].decode().split("\n")
            if body and body[-1] == "":
                body.pop()
            rules = self.rules.setdefault(name, {})
            for offset, line_text in enumerate(body):
                number = section.body_line + offset
                if number not in rules:
                    rules[number] = self._listing_rule(section, number, line_text)

    def _rule(self, chain: str, line: Line) -> Rule:
        if self.index.format == "iptables-save":
            return parse_rule_line(line.text.decode(), line.number)[1]
        section = self.table.chains[chain]
        return self._listing_rule(section, line.number, line.text.decode())

    def _listing_rule(self, section: ChainText, number: int, line_text: str) -> Rule:
        head = section.head.text.decode()
        chain = section_chain(head, section.head.number, section.columns.decode(), [(number, line_text)])
        return chain.rules[0]

    def chain(self, name: str, only: list[Rule] | None = None) -> Chain | None:
        """The chain `name` as read (its rules in input order), or with just the rules `only`."""
        section = self.table.chains.get(name)
        rules = tuple(only) if only is not None else tuple(r for _, r in sorted(self.rules.get(name, {}).items()))
        if section is None:
            if not rules:
                return None
            return Chain(name, rules, None, None, None, rules[0].line)
        if self.index.format == "iptables-save":
            declared = chain_declaration(section.head.text.decode(), section.head.number)
            return replace(declared, rules=rules)
        head = section_chain(section.head.text.decode(), section.head.number, section.columns.decode(), [])
        return replace(head, rules=rules)

    def order(self, names: set[str]) -> list[str]:
        """`names` in table order: declared/listed chains first as the input has them, then the
        chains only seen in rule lines, by their first rule."""
        chains = self.table.chains
        known = sorted((n for n in names if n in chains), key=lambda n: chains.position(n) or 0)
        rest = sorted((n for n in names if n not in chains), key=lambda n: min(self.rules.get(n, {0: 0})))
        return known + rest


def _nat(index: ChainIndex, table: TableText, text: str) -> Table | None:
    reader = _Reader(index, table)
    # 1. where TEXT is, and the service chains those lines are about
    hashes: set[str] = set()
    for name in table.chains.containing(text):
        if (h := chain_hash(name)) is not None:
            hashes.add(h)
    for chain, rule in reader.read_lines(index.lines_with([text.encode()], table)):
        for name in (chain, rule.target.chain if type(rule.target) is Jump else ""):
            h = chain_hash(name)
            if h is not None:
                hashes.add(h)
    # 2. read every line naming those hashes; the service ports that match fix the hashes
    searched: set[str] = set()
    selected = _fix_hashes(reader, hashes, searched, text)
    if not selected:
        return None
    # 3. the chains reached from them, level by level; a hashed chain reached brings its hash
    roots = _hashed(reader, selected)
    whole: set[str] = set()
    frontier = set(roots)
    while frontier:
        reader.read_whole(frontier)
        whole |= frontier
        reached = {r.target.chain for n in frontier for r in reader.rules.get(n, {}).values() if type(r.target) is Jump}
        new_hashes = {h for n in reached if (h := chain_hash(n)) is not None} - searched
        if new_hashes:
            _read_hashes(reader, new_hashes, searched)
        frontier = {n for n in reached if n not in whole and (n in table.chains or n in reader.rules)}
    full = {n: c for n in reader.order(whole | set(reader.rules)) if (c := _whole_or_partial(reader, n, whole))}
    return Table("nat", nat_slice(Table("nat", full, table.line), roots), table.line)


def _fix_hashes(reader: _Reader, hashes: set[str], searched: set[str], text: str) -> set[str]:
    """The hashes of the service ports TEXT selects, judged on every line naming a candidate hash."""
    _read_hashes(reader, hashes, searched)
    hashed = _hashed(reader, hashes)
    reader.read_whole(hashed)
    seen = hashed | set(reader.rules)
    partial = {n: c for n in reader.order(seen) if (c := _whole_or_partial(reader, n, reader.whole))}
    return {chain_hash(p.chain) or "" for p in service_ports(Table("nat", partial, reader.table.line))
            if matches(p.name, p.chain, text)} - {""}


def _hashed(reader: _Reader, hashes: set[str]) -> set[str]:
    """The chains of these hashes that the table declares or that rules were read for."""
    names = {prefix + h for prefix in HASHED_PREFIXES for h in hashes}
    return {n for n in names if n in reader.table.chains or n in reader.rules}


def _read_hashes(reader: _Reader, hashes: set[str], searched: set[str]) -> None:
    new = hashes - searched
    if new:
        searched |= new
        reader.read_lines(reader.index.lines_with([h.encode() for h in new], reader.table))


def _whole_or_partial(reader: _Reader, name: str, whole: set[str]) -> Chain | None:
    if name in whole:
        return reader.chain(name)
    rules = [r for _, r in sorted(reader.rules.get(name, {}).items())]
    return reader.chain(name, only=rules) if rules else None


def _filter(index: ChainIndex, table: TableText, text: str) -> Table | None:
    reader = _Reader(index, table)
    kept: dict[str, list[Rule]] = {}
    for chain, rule in reader.read_lines(index.lines_with([text.encode()], table)):
        if text in (no_endpoints_name(rule) or "\0"):
            kept.setdefault(chain, []).append(rule)
    if not kept:
        return None
    chains = {n: c for n in reader.order(set(kept)) if (c := reader.chain(n, only=kept[n])) is not None}
    return Table("filter", chains, table.line)


def candidate_names(data: bytes, fmt: str) -> list[str]:
    """What `--service` could have matched, cheaply: the names in KUBE-SERVICES' `… cluster IP`
    comments and the service chains' names (for the "closest" hint of a text that matched nothing)."""
    import re

    names = {m.decode("utf-8", "replace") for m in re.findall(rb'(?:/\* |"|--comment )([^\s"*]+) cluster IP', data)}
    index = index_chains(data, fmt)
    for table in index.tables if index is not None else ():
        names.update(n for n in table.chains if n.startswith(HASHED_PREFIXES))
    return sorted(names)
