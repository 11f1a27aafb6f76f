"""`iptables-save` / `iptables -S` text → model. Lark (grammars/iptables-save.lark) finds the
tables and line kinds; save_options reads the options of each rule line."""

from __future__ import annotations

import re

from lark import Token, Transformer

from . import fields
from .errors import ParseError
from .model import Chain, Counters, Rule, Table
from .save_options import Option, build_match, build_target, tokens
from .tables import table_name

_LINE = re.compile(r"[^\n]+")
_COUNTERS = re.compile(r"\[(\d+):(\d+)\]")
_CHAIN_DECL = re.compile(r":(?P<name>\S+) +(?P<policy>\S+)(?: +\[(?P<pkts>\d+):(?P<bytes>\d+)\])? *$")
_POLICY = re.compile(r"-P +(?P<name>\S+) +(?P<policy>\S+)(?: +-c +(?P<pkts>\d+) +(?P<bytes>\d+))? *$")
_NEW_CHAIN = re.compile(r"-N +(?P<name>\S+) *$")

_BASIC = {"-s": "source", "--source": "source", "-d": "destination", "--destination": "destination",
          "-p": "protocol", "--protocol": "protocol", "-i": "in", "--in-interface": "in",
          "-o": "out", "--out-interface": "out"}


class _Chains:
    """Chains of one table as declared and appended, in the order they first appear."""

    def __init__(self) -> None:
        self.declared: dict[str, tuple[str | None, Counters | None, int]] = {}
        self.rules: dict[str, list[Rule]] = {}

    def declare(self, name: str, policy: str | None, counters: Counters | None, line: int) -> None:
        self.declared[name] = (policy, counters, line)
        self.rules.setdefault(name, [])

    def add_rules(self, body: Token) -> None:
        for offset, line in enumerate(_LINE.finditer(body)):  # lazily: a table's rules are one token
            chain, rule = parse_rule_line(line.group(), body.line + offset)
            self.rules.setdefault(chain, []).append(rule)

    def table(self, name: str | None, line: int) -> Table:
        chains = {}
        for chain_name, rules in self.rules.items():
            policy, counters, decl_line = self.declared.get(chain_name, (None, None, 0))
            chains[chain_name] = Chain(chain_name, tuple(rules), policy, counters, None,
                                       decl_line or (rules[0].line if rules else line))
        return Table(name or table_name(chains), chains, line)

    def take(self, item: Token) -> None:
        kind, text, line = item.type, item.rstrip("\n"), item.line
        if kind == "RULES":
            self.add_rules(item)
            return
        pattern = {"CHAIN_DECL": _CHAIN_DECL, "POLICY": _POLICY, "NEW_CHAIN": _NEW_CHAIN}[kind]
        m = pattern.match(text)
        if m is None:
            raise _error(line, 1, text, {"CHAIN_DECL": ":CHAIN POLICY [packets:bytes]",
                                         "POLICY": "-P CHAIN POLICY [-c packets bytes]",
                                         "NEW_CHAIN": "-N CHAIN"}[kind])
        policy = m.groupdict().get("policy")
        counters = fields.counters(m["pkts"], m["bytes"]) if m.groupdict().get("pkts") else None
        self.declare(m["name"], None if policy in (None, "-") else policy, counters, line)


class _SaveBuilder(Transformer):
    """Builds Tables while Lark parses (stateless: one instance serves every input)."""

    def table(self, children: list[Token]) -> Table:
        header = children[0]
        chains = _Chains()
        for item in children[1:-1]:
            if item.type != "NOTE":
                chains.take(item)
        return chains.table(header.strip()[1:], header.line)

    def start(self, children: list) -> list[Table]:
        loose = [c for c in children if isinstance(c, Token) and c.type != "NOTE"]
        tables = [c for c in children if isinstance(c, Table)]
        if loose:  # `iptables -S` output: no table header
            chains = _Chains()
            for item in loose:
                chains.take(item)
            tables.insert(0, chains.table(None, loose[0].line))
        return tables


SAVE_BUILDER = _SaveBuilder


def parse_rule_line(text: str, line: int) -> tuple[str, Rule]:
    """One `[p:b] -A CHAIN options…` line → (chain name, Rule)."""
    try:
        return _parse_rule_line(text, line)
    except fields.BadValue as err:
        raise _error(line, _column(text, err.token), text, err.expected) from None


def _parse_rule_line(text: str, line: int) -> tuple[str, Rule]:
    toks = tokens(text)
    i, counters = 0, None
    m = _COUNTERS.fullmatch(toks[0][0]) if toks else None
    if m:
        counters, i = fields.counters(m[1], m[2]), 1
    if i + 1 >= len(toks) or toks[i][0] not in ("-A", "--append"):
        raise _error(line, 1, text, "'-A CHAIN' and its options")
    chain = toks[i + 1][0]
    basic: dict[str, str] = {}
    negated_basic: set[str] = set()
    matches, target_name, goto, target_opts, fragment = [], "", False, [], None
    module: str | None = None
    options: list[Option] = []
    in_target = False
    negate = False
    i += 2
    n = len(toks)
    while i < n:
        tok, quoted = toks[i]
        i += 1
        if tok == "!" and not quoted:
            negate = True
            continue
        if tok in _BASIC:
            if i >= n:
                raise _error(line, _column(text, tok), text, f"a value after {tok}")
            key = _BASIC[tok]
            basic[key] = toks[i][0]
            if negate:
                negated_basic.add(key)
            i += 1
        elif tok in ("-f", "--fragment"):
            fragment = "!f" if negate else "-f"
        elif tok in ("-c", "--set-counters"):
            if i + 1 >= n:
                raise _error(line, _column(text, tok), text, "-c PACKETS BYTES")
            packets = fields.number(toks[i][0], "-c packets")
            counters = fields.counters(str(packets), str(fields.number(toks[i + 1][0], "-c bytes")))
            i += 2
        elif tok in ("-m", "--match", "-j", "--jump", "-g", "--goto"):
            if i >= n:
                raise _error(line, _column(text, tok), text, f"a name after {tok}")
            if module is not None:
                matches.append(build_match(module, tuple(options)))
            name = toks[i][0]
            i += 1
            if tok in ("-m", "--match"):
                module, options = name, []
            else:
                module, in_target = None, True
                target_name, goto, target_opts = name, tok in ("-g", "--goto"), []
        elif tok.startswith("-") and not quoted:
            values = []
            while i < n and (toks[i][1] or not toks[i][0].startswith("-")) and toks[i][0] != "!":
                values.append(toks[i][0])
                i += 1
            option = (tok, tuple(values), negate)
            if in_target:
                target_opts.append(option)
            elif module is not None:
                options.append(option)
            else:
                raise _error(line, _column(text, tok), text, f"'-m MODULE' before the module option {tok}")
        else:
            raise _error(line, _column(text, tok), text, "an option starting with '-'")
        negate = False
    if module is not None:
        matches.append(build_match(module, tuple(options)))
    source, _ = fields.address(basic.get("source"))
    destination, _ = fields.address(basic.get("destination"))
    protocol = basic.get("protocol")
    return chain, Rule(
        build_target(target_name, goto, target_opts) if target_name else None,
        tuple(matches),
        fields.protocol(("!" if "protocol" in negated_basic else "") + protocol) if protocol else None,
        source,
        destination,
        "source" in negated_basic,
        "destination" in negated_basic,
        _iface(basic.get("in"), "in" in negated_basic),
        _iface(basic.get("out"), "out" in negated_basic),
        fragment,
        counters,
        line,
    )


def _iface(name: str | None, negated: bool) -> str | None:
    return None if name is None else ("!" + name if negated else name)


def _column(text: str, tok: str) -> int:
    return max(text.find(tok), 0) + 1


def _error(line: int, column: int, text: str, expected: str) -> ParseError:
    return ParseError("this line is not valid iptables-save / iptables -S syntax", path=None,
                      line=line, column=column, text=text, expected=expected)
