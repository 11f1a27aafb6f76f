"""`iptables-save` / `iptables -S` text → model. Lark (grammars/iptables-save.lark) finds the
tables and line kinds; each rule line's options are read against a table of options (as
kube-proxy's own test parser does), and save_options builds the matches and the target."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import BadValue, ParseError
from ..model import Chain, Counters, Match, Negatable, Rule, Table, UnknownMatch
from ..netfilter import UNSUPPORTED_REVISION
from . import values
from .detect import table_name
from .paste import skip_or_raise
from .progress import reached
from .save_options import Option, build_match, build_target, tokens

if TYPE_CHECKING:  # lark is imported only where Lark parses (parse.grammar) or tokens are made
    from lark import Token

_LINE = re.compile(r"[^\n]+")
_UNSUPPORTED = tuple(UNSUPPORTED_REVISION.split())
_APPENDED_TO = re.compile(r"-A +(\S+)")
_COUNTERS = re.compile(r"\[(\d+):(\d+)\]")
_CHAIN_DECL = re.compile(r":(?P<name>\S+) +(?P<policy>\S+)(?: +\[(?P<pkts>\d+):(?P<bytes>\d+)\])? *$")
_POLICY = re.compile(r"-P +(?P<name>\S+) +(?P<policy>\S+)(?: +-c +(?P<pkts>\d+) +(?P<bytes>\d+))? *$")
_NEW_CHAIN = re.compile(r"-N +(?P<name>\S+) *$")
_DECLARATIONS = {"CHAIN_DECL": (_CHAIN_DECL, ":CHAIN POLICY [packets:bytes]"),
                 "POLICY": (_POLICY, "-P CHAIN POLICY [-c packets bytes]"),
                 "NEW_CHAIN": (_NEW_CHAIN, "-N CHAIN")}


class _Chains:
    """Chains of one table as declared and appended, in the order they first appear."""

    def __init__(self) -> None:
        self.declared: dict[str, tuple[str | None, Counters | None, int]] = {}
        self.rules: dict[str, list[Rule]] = {}

    def take(self, item: Token) -> None:
        if item.type == "RULES":
            for offset, line in enumerate(_LINE.finditer(item)):  # lazily: a table's rules are one token
                self.rule(line.group(), (item.line or 0) + offset)
            return
        self.declaration(item.type, item.rstrip("\n"), item.line or 0)

    def rule(self, text: str, line: int) -> None:
        """One `[p:b] -A CHAIN …` line (at `line`)."""
        try:
            chain, rule = parse_rule_line(text, line)
        except ParseError as err:
            named = _APPENDED_TO.search(text)
            skip_or_raise(err, named[1] if named else None)
            return
        self.rules.setdefault(chain, []).append(rule)
        if not line & 4095:
            reached(line)

    def declaration(self, kind: str, text: str, line: int) -> None:
        """A CHAIN_DECL, POLICY or NEW_CHAIN line (the grammar's terminal `kind`)."""
        pattern, expected = _DECLARATIONS[kind]
        m = pattern.match(text)
        if m is None:
            raise _error(line, 1, text, expected)
        found = m.groupdict()
        policy = found.get("policy")
        counters = values.counters(m["pkts"], m["bytes"]) if found.get("pkts") else None
        self.declared[m["name"]] = (None if policy in (None, "-") else policy, counters, line)
        self.rules.setdefault(m["name"], [])

    def table(self, name: str | None, line: int) -> Table:
        chains = {}
        for chain_name, rules in self.rules.items():
            policy, counters, decl_line = self.declared.get(chain_name, (None, None, 0))
            chains[chain_name] = Chain(chain_name, tuple(rules), policy, counters, None,
                                       decl_line or (rules[0].line if rules else line))
        return Table(name or table_name(chains), chains, line)


class SaveBuilder:
    """Builds Tables while Lark parses (stateless: one instance serves every input)."""

    def table(self, children: list[Token]) -> Table:
        header = children[0]
        chains = _Chains()
        for item in children[1:-1]:
            if item.type != "NOTE":
                chains.take(item)
        return chains.table(header.strip()[1:], header.line or 0)

    def start(self, children: list[object]) -> list[Table]:
        from lark import Token  # Lark is parsing: it is imported

        loose = [c for c in children if isinstance(c, Token) and c.type != "NOTE"]
        tables = [c for c in children if isinstance(c, Table)]
        if loose:  # `iptables -S` output: no table header
            chains = _Chains()
            for item in loose:
                chains.take(item)
            tables.insert(0, chains.table(None, loose[0].line or 0))
        return tables


_TABLE_HEADER = re.compile(r"\*[^\s]+ *$")
_COMMIT = re.compile(r"COMMIT *$")
_COUNTED_RULE = re.compile(r"\[\d+:\d+\] +-A ")
_BLANK = re.compile(r" *$")
#: line kinds by their first character, as the grammar's terminals tell them apart
_DECLARATION_STARTS = {":": "CHAIN_DECL", "-P": "POLICY", "-N": "NEW_CHAIN"}


def scan(text: str) -> list[Table] | None:
    """The tables of a strict iptables-save / -S text without Lark, line by line (no token holds a
    whole table's rules, so a big dump is in memory once, not twice), or None where the text is not
    that simple shape: then Lark reads it and says what is wrong. Where it returns tables, they are
    the ones the grammar and SaveBuilder build (where a line is wrong, Lark says so)."""
    scanned = _Scan()
    pos, number, end = 0, 1, len(text)
    try:
        while pos < end:
            stop = text.find("\n", pos)
            if stop < 0 or not scanned.line(text[pos:stop], number):
                return None
            pos, number = stop + 1, number + 1
    except ParseError:
        return None  # Lark reads it again and raises its first error, which may be on a later line
    return scanned.result()


class _Scan:
    """scan's state: the tables closed so far, the open one, and `iptables -S` lines outside any."""

    def __init__(self) -> None:
        self.tables: list[Table] = []
        self.chains: _Chains | None = None  # the open table's
        self.header, self.header_line = "", 0
        self.loose: _Chains | None = None
        self.loose_line = 0

    def line(self, line: str, number: int) -> bool:
        """Take one line; False where the grammar would read it otherwise, or refuse it."""
        first = line[:1]
        if first == "-" and line.startswith("-A ") or first == "[" and _COUNTED_RULE.match(line):
            self.owner(number).rule(line, number)
        elif first == "#" or (first in ("", " ") and _BLANK.match(line)):
            pass
        elif (first == ":" and len(line) > 1) or (self.chains is None and line[:3] in ("-P ", "-N ") and len(line) > 3):
            self.owner(number).declaration(_DECLARATION_STARTS[line[:1] if first == ":" else line[:2]], line, number)
        elif self.chains is None and first == "*" and _TABLE_HEADER.match(line):
            self.chains, self.header, self.header_line = _Chains(), line, number
        elif self.chains is not None and first == "C" and _COMMIT.match(line):
            self.tables.append(self.chains.table(self.header.strip()[1:], self.header_line))
            self.chains = None
        else:
            return False
        return True

    def owner(self, number: int) -> _Chains:
        """The chains a rule or declaration at line `number` belongs to."""
        if self.chains is not None:
            return self.chains
        if self.loose is None:
            self.loose, self.loose_line = _Chains(), number
        return self.loose

    def result(self) -> list[Table] | None:
        if self.chains is not None:
            return None  # a table without COMMIT: the grammar's error
        if self.loose is not None:
            self.tables.insert(0, self.loose.table(None, self.loose_line))
        return self.tables


def chain_declaration(text: str, line: int) -> Chain:
    """A `:CHAIN POLICY [packets:bytes]` line as the chain it declares (no rules yet), as
    :class:`_Chains` builds it; for reading one chain without its table (kubechain.parse.sliced)."""
    m = _CHAIN_DECL.match(text)
    if m is None:
        raise _error(line, 1, text, ":CHAIN POLICY [packets:bytes]")
    counters = values.counters(m["pkts"], m["bytes"]) if m["pkts"] else None
    return Chain(m["name"], (), None if m["policy"] == "-" else m["policy"], counters, None, line)


def parse_rule_line(text: str, line: int) -> tuple[str, Rule]:
    """One `[p:b] -A CHAIN options…` line → (chain name, Rule)."""
    try:
        return _RuleLine(text, line).read()
    except BadValue as err:
        raise _error(line, _column(text, err.token), text, err.expected) from None


#: the options of the rule itself (not of a match or the target), by the model field they fill
_RULE_FIELDS = {"-s": "source", "--source": "source", "-d": "destination", "--destination": "destination",
                "-p": "protocol", "--protocol": "protocol", "-i": "in_interface", "--in-interface": "in_interface",
                "-o": "out_interface", "--out-interface": "out_interface"}
_FIELD_READERS: dict[str, Callable[[str, bool], Negatable[str] | None]] = {
    "source": values.address, "destination": values.address, "protocol": values.protocol,
    "in_interface": values.interface, "out_interface": values.interface}
#: what the reader's loop does with an option, looked up once per token; a `-…` token missing here is
#: an option of the open match or of the target
_MATCH, _RULE = "match", "rule"
_OPTION_KINDS = {"-m": _MATCH, "--match": _MATCH, **{tok: _RULE for tok in (
    *_RULE_FIELDS, "-f", "--fragment", "-c", "--set-counters", "-j", "--jump", "-g", "--goto")}}


class _RuleLine:
    """The options of one rule line, read left to right: `!` negates the option after it, `-m NAME`
    opens a match whose `--options` follow, `-j`/`-g` opens the target."""

    def __init__(self, text: str, line: int) -> None:
        self.text, self.line = text, line
        self.toks = tokens(text)
        self.at = 0
        self.fields: dict[str, Negatable[str] | None] = {}
        self.fragment: Negatable[bool] | None = None
        self.counters: Counters | None = None
        self.matches: list[Match] = []
        self.module: str | None = None  # the match whose options are being read
        self.options: list[Option] = []
        self.target: tuple[str, bool] | None = None  # (name, goto) once -j/-g was read
        self.target_options: list[Option] = []

    def read(self) -> tuple[str, Rule]:
        m = _COUNTERS.fullmatch(self.toks[0][0]) if self.toks else None
        if m:
            self.counters, self.at = values.counters(m[1], m[2]), 1
        if self.at + 1 >= len(self.toks) or self.toks[self.at][0] not in ("-A", "--append"):
            raise _error(self.line, 1, self.text, "'-A CHAIN' and its options")
        chain = self.toks[self.at + 1][0]
        self.at += 2
        negate, end = False, len(self.toks)
        while self.at < end:
            negate = self.step(negate)
        self.close_match()
        target = build_target(*self.target, tuple(self.target_options)) if self.target else None
        fields = self.fields
        return chain, Rule(target, tuple(self.matches), fields.get("protocol"), fields.get("source"),
                           fields.get("destination"), fields.get("in_interface"),
                           fields.get("out_interface"), self.fragment, self.counters, self.line)

    def step(self, negate: bool) -> bool:
        """Read the next token (and what it takes); whether it was a `!` negating the next option."""
        tok, quoted = self.toks[self.at]
        self.at += 1
        kind = _OPTION_KINDS.get(tok)
        if kind is None and not quoted and tok[:1] == "-":  # the commonest: `--name values…`
            self.module_option(tok, negate)
        elif kind is _MATCH:
            self.close_match()
            self.module, self.options = self.value(tok, f"a name after {tok}"), []
        elif tok == "!" and not quoted:
            return True
        elif tok == _UNSUPPORTED[0] and not quoted and self.toks[self.at:self.at + 1] == [(_UNSUPPORTED[1], False)]:
            self.at += 1
            self.unsupported()
            return negate
        else:
            self.option(tok, negate)
        return False

    def option(self, tok: str, negate: bool) -> None:
        if tok in _RULE_FIELDS:
            field = _RULE_FIELDS[tok]
            self.fields[field] = _FIELD_READERS[field](self.value(tok), negate)
        elif tok in ("-f", "--fragment"):
            self.fragment = Negatable(True, negate)
        elif tok in ("-c", "--set-counters"):
            packets, bytes_ = self.value(tok, "-c PACKETS BYTES"), self.value(tok, "-c PACKETS BYTES")
            self.counters = values.counters(str(values.number(packets, "-c packets")),
                                            str(values.number(bytes_, "-c bytes")))
        elif tok in ("-j", "--jump", "-g", "--goto"):
            self.close_match()
            self.target = (self.value(tok, f"a name after {tok}"), tok in ("-g", "--goto"))
        else:
            raise _error(self.line, _column(self.text, tok), self.text, "an option starting with '-'")

    def module_option(self, tok: str, negate: bool) -> None:
        """`--name values…` of the open match or of the target."""
        toks, at, end = self.toks, self.at, len(self.toks)
        found = []
        while at < end:
            value, quoted = toks[at]
            if not quoted and (value[0] == "-" or value == "!"):
                break
            found.append(value)
            at += 1
        self.at = at
        option = (tok, tuple(found), negate)
        if self.target is not None:
            self.target_options.append(option)
        elif self.module is not None:
            self.options.append(option)
        else:
            raise _error(self.line, _column(self.text, tok), self.text, f"'-m MODULE' before the module option {tok}")

    def unsupported(self) -> None:
        """`[unsupported revision]` after `-m NAME` or `-j NAME`: an older iptables printed the
        extension without its options. The match is kept verbatim; the target keeps its kind."""
        if self.target is not None:
            self.target_options.append((UNSUPPORTED_REVISION, (), False))
        elif self.module is not None:
            self.matches.append(UnknownMatch(f"-m {self.module} {UNSUPPORTED_REVISION}"))
            self.module = None
        else:
            raise _error(self.line, _column(self.text, _UNSUPPORTED[0]), self.text,
                         f"'-m NAME' or '-j NAME' before {UNSUPPORTED_REVISION}")

    def value(self, tok: str, expected: str | None = None) -> str:
        if self.at >= len(self.toks):
            raise _error(self.line, _column(self.text, tok), self.text, expected or f"a value after {tok}")
        self.at += 1
        return self.toks[self.at - 1][0]

    def close_match(self) -> None:
        if self.module is not None:
            self.matches.append(build_match(self.module, tuple(self.options)))
            self.module = None


def _column(text: str, tok: str) -> int:
    return max(text.find(tok), 0) + 1


def _error(line: int, column: int, text: str, expected: str) -> ParseError:
    return ParseError("this line is not valid iptables-save / iptables -S syntax", path=None,
                      line=line, column=column, text=text, expected=expected)
