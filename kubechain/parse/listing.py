"""`iptables -L` text → model. Lark (grammars/iptables-list.lark) finds the chain sections;
compiled regexes read the columns of each rule line (listing_matches reads the trailing text)."""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, Any

from ..errors import BadValue, ParseError
from ..model import Chain, Negatable, Rule
from . import values
from .listing_matches import parse_matches, split_target
from .paste import skip_or_raise
from .progress import reached

if TYPE_CHECKING:  # lark is imported only where Lark parses (parse.grammar) or tokens are made
    from lark import Token

_HEADER = re.compile(
    r"Chain (?P<name>\S+) \((?:policy (?P<policy>\S+)"
    r"(?: (?P<pkts>\d+[KMGTP]?) packets, (?P<bytes>\d+[KMGTP]?) bytes)?|(?P<refs>\d+) references)\) *$"
)
_OPT = r"(?P<opt>--|-f|!f)"
_PROTOCOLS = (r"!?(?:\d+|all|tcp|udp|udplite|icmp|ipv6-icmp|icmpv6|sctp|dccp|gre|esp|ah|igmp|ipencap"
              r"|mh|ipv6|ipip)")
_FRAGMENT = {"-f": Negatable(True), "!f": Negatable(True, True)}


@cache
def rule_pattern(numbered: bool, verbose: bool, opt_column: bool) -> re.Pattern[str]:
    """The regex of one rule line for one column layout (as announced by the column line).

    The target column may be blank (kube-proxy's KUBE-FW last rule); the `opt` token (`--`,
    `-f`, `!f`) anchors the columns after it. Old ip6tables printed a blank opt, so a second
    layout anchors on the protocol instead.
    """
    head = r"^ *" + (r"(?P<num>\d+) +" if numbered else "")
    head += r"(?P<pkts>\d+[KMGTP]?) +(?P<bytes>\d+[KMGTP]?) +" if verbose else ""
    if opt_column:
        middle = r"(?:(?P<target>\S+) +)?(?P<prot>\S+) +" + _OPT + " +"
    else:
        middle = r"(?:(?P<target>\S+) +)?(?P<prot>" + _PROTOCOLS + ") +(?P<opt>)"
    ifaces = r"(?P<in>\S+) +(?P<out>\S+) +" if verbose else ""
    tail = r"(?P<src>\S+) +(?P<dst>\S+)(?: +(?P<rest>.*\S))? *$"
    return re.compile(head + middle + ifaces + tail)


class ListBuilder:
    """Builds Chains while Lark parses (stateless: one instance serves every input)."""

    def section(self, children: list[Token]) -> Chain:
        header, columns = children[0], children[1]
        body, first = (children[2], children[2].line or 0) if len(children) > 2 else ("", 0)
        return _section(header, header.line or 0, columns, body, first)

    def start(self, children: list[object]) -> list[Chain]:
        return [c for c in children if isinstance(c, Chain)]


def _section(header: str, line: int, columns: str, body: str, first: int) -> Chain:
    """One section from its header line (at `line`), column line and rule lines (from `first`)."""
    lines = body.split("\n")
    lines.pop()  # the body ends with a newline (and an empty body is [""])
    reached(line)
    return section_chain(header.rstrip("\n"), line, columns, [(first + offset, text) for offset, text in
                                                               enumerate(lines)])


# The grammar's terminals (grammars/iptables-list.lark) as one scan: a section is a header, the
# column line and the rule lines up to the next header, note or blank line.
_SECTION = re.compile(r"(Chain [^\n]*\n)( *(?:num +)?(?:pkts +bytes +)?target +prot[^\n]*\n)"
                      r"((?:(?!Chain | *#| *\n)[^\n]*\n)*)")
_SKIPPED_LINE = re.compile(r"(?: *#[^\n]*\n| *\n)+")


def scan(text: str) -> list[Chain] | None:
    """The chains of a strict listing without Lark's per-token work (a third of the parse), or
    None where the text is not that simple shape: then Lark reads it and says what is wrong.
    Where it returns chains, they are the ones the grammar and ListBuilder build, line for line."""
    chains: list[Chain] = []
    pos, line, end = 0, 1, len(text)
    section, skipped = _SECTION.match, _SKIPPED_LINE.match
    while pos < end:
        gap = skipped(text, pos)
        if gap is not None:
            line += text.count("\n", pos, gap.end())
            pos = gap.end()
            continue
        m = section(text, pos)
        if m is None:
            return None
        body = m.group(3)
        chains.append(_section(m.group(1), line, m.group(2), body, line + 2))
        line += 2 + body.count("\n")
        pos = m.end()
    return chains


def section_chain(header: str, line: int, columns: str, rules: list[tuple[int, str]]) -> Chain:
    """One `-L` section: its header (at `line`), its column line, and some or all of its rule
    lines as (line number, text); the parse of a whole listing and of a slice (kubechain.parse.sliced)."""
    m = _HEADER.match(header)
    if m is None:
        raise _error(line, 1, header,
                     "a chain header like 'Chain NAME (policy ACCEPT …)' or 'Chain NAME (N references)'")
    layout = columns.split()
    numbered, verbose = layout[0] == "num", "pkts" in layout
    counters = values.counters(m["pkts"], m["bytes"]) if m["pkts"] else None
    return Chain(m["name"], _rules(rules, numbered, verbose, m["name"]), m["policy"], counters,
                 int(m["refs"]) if m["refs"] else None, line)


def _rules(lines: list[tuple[int, str]], numbered: bool, verbose: bool, chain: str) -> tuple[Rule, ...]:
    primary = rule_pattern(numbered, verbose, True)
    columns = _COLUMNS if verbose else _TERSE_COLUMNS
    rules = []
    for number, text in lines:
        if not text or text.isspace():
            continue  # only the lenient grammar lets a blank line into a chain block
        m = primary.match(text) or rule_pattern(numbered, verbose, False).match(text)
        if m is None:
            skip_or_raise(_error(number, _first_column(text), text,
                                 "a rule line: " + ("num " if numbered else "")
                                 + ("pkts bytes " if verbose else "") + "target prot opt "
                                 + ("in out " if verbose else "") + "source destination [matches]"), chain)
            continue
        try:
            rules.append(_rule(m.group(*columns) if verbose else (None, None, *m.group(*columns), None, None),
                               number))
        except BadValue as err:
            column = max(text.find(err.token, m.start("rest") if m["rest"] else 0), 0) + 1
            skip_or_raise(_error(number, column, text, err.expected), chain)
    return tuple(rules)


#: the groups of a rule line _rule reads, in its order (without -v: no counters, no interfaces)
_COLUMNS = ("pkts", "bytes", "target", "prot", "opt", "src", "dst", "rest", "in", "out")
_TERSE_COLUMNS = _COLUMNS[2:8]


def _rule(columns: tuple[Any, ...], line: int) -> Rule:
    """A rule from its columns (_COLUMNS; pkts, bytes, in and out are None without -v). Written
    for a million lines: one regex group call per line, cached values, no per-line f-strings."""
    pkts, bytes_, target_name, prot, opt, src, dst, rest, in_, out = columns
    rest = rest or ""
    goto = rest.startswith("[goto]")
    if goto:
        rest = rest[6:].lstrip()
    target, match_text = split_target(target_name or "", goto, rest)
    return Rule(
        target,
        parse_matches(match_text) if match_text else (),
        values.protocol(prot),
        values.address(src),
        values.address(dst),
        values.interface(in_),
        values.interface(out),
        _FRAGMENT.get(opt),
        values.counters(pkts, bytes_) if pkts is not None else None,
        line,
    )


def _first_column(text: str) -> int:
    return len(text) - len(text.lstrip()) + 1


def _error(line: int, column: int, text: str, expected: str) -> ParseError:
    return ParseError("this line is not part of an iptables -L listing", path=None, line=line,
                      column=column, text=text, expected=expected)
