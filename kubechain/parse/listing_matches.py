"""The trailing text of an `iptables -L` rule line → typed matches and target.

iptables prints each match's own text after the destination column, then the target's text,
with no delimiter between them; one compiled alternation reads it piece by piece. Text it does
not recognise is kept verbatim as an UnknownMatch, never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from ..errors import BadValue
from ..model import (
    AddrType,
    Comment,
    ConnState,
    Dnat,
    Jump,
    MarkMatch,
    MarkTarget,
    Masquerade,
    Match,
    Multiport,
    Negatable,
    OtherTarget,
    Ports,
    Recent,
    Reject,
    Snat,
    StatisticNth,
    StatisticRandom,
    Target,
    UnknownMatch,
    Verdict,
)
from ..netfilter import FULL_MARK, TARGET_EXTENSIONS, UNSUPPORTED_REVISION, VERDICTS
from . import values

_PIECE = re.compile(
    r" *(?:"
    r"(?P<comment>/\* (?P<ctext>.*?) \*/)"
    r"|(?P<stat_random>statistic mode random (?P<sr_inv>! )?probability (?P<prob>\S+))"
    r"|(?P<stat_nth>statistic mode nth (?P<sn_inv>! )?every (?P<every>\d+)(?: packet (?P<packet>\d+))?)"
    r"|(?P<recent>(?P<r_inv>! )?recent: (?P<r_cmd>SET|CHECK|UPDATE|REMOVE)(?: seconds: (?P<r_sec>\d+))?"
    r"(?P<r_reap> reap)?(?: hit_count: (?P<r_hit>\d+))?(?P<r_ttl> TTL-Match)? name: (?P<r_name>\S+)"
    r" side: (?P<r_side>source|dest)(?: mask: (?P<r_mask>\S+))?)"
    r"|(?P<ports>(?P<p_proto>tcp|udp|sctp|dccp|udplite)(?P<p_args>(?: (?:spts?|dpts?):!?\S+)*)"
    r"(?P<p_extra>(?: (?:flags|option|sctp-flags):\S+)*)(?= |$))"
    r"|(?P<mark>mark match (?P<m_inv>! )?(?P<m_val>\S+))"
    r"|(?P<addrtype>ADDRTYPE match(?: src-type (?P<a_src_inv>!)?(?P<a_src>\S+))?"
    r"(?: dst-type (?P<a_dst_inv>!)?(?P<a_dst>\S+))?(?P<a_in> limit-in)?(?P<a_out> limit-out)?)"
    r"|(?P<ctstate>(?P<c_inv>! )?ctstate (?P<c_states>\S+))"
    r"|(?P<state>(?P<s_inv>! )?state (?P<s_states>\S+))"
    r"|(?P<multiport>multiport (?P<mp_dir>dports|sports|ports) (?P<mp_inv> ?! ?)?(?P<mp_val>\S+))"
    r"|(?P<other>\S+)"
    r")"
)
_PORT_ARG = re.compile(r" (spts?|dpts?):(!?)(\S+)")

_NAT_TEXT = re.compile(r"(?:^| )to:(?P<to>\S+)(?P<flags>(?: random| persistent| random-fully)*)$")
_TARGET_TEXT = {
    "DNAT": _NAT_TEXT,
    "SNAT": _NAT_TEXT,
    "MARK": re.compile(r"(?:^| )MARK (?P<op>and|or|xor|set|xset) (?P<val>\S+)$"),
    "MASQUERADE": re.compile(r"(?:^| )(?:masq ports: (?P<ports>\S+))?(?P<flags>(?: ?random| ?random-fully)*)$"),
    "REJECT": re.compile(r"(?:^| )reject-with (?P<with>\S+)$"),
}


def mark_target(op: str, value: str) -> MarkTarget:
    """MARK's printed forms (`or 0x4000`, `xset 1/2`…) as the --set-xmark value/mask pair."""
    if op == "xset":
        given, mask = value.split("/")
        return MarkTarget(int(given, 16), int(mask, 16))
    v = int(value, 16)
    return {"or": MarkTarget(v, v), "xor": MarkTarget(v, 0), "set": MarkTarget(v, FULL_MARK),
            "and": MarkTarget(0, ~v & FULL_MARK)}[op]


def split_target(name: str, goto: bool, text: str) -> tuple[Target | None, str]:
    """The target of the `target` column, and the match text left once its own text is removed.
    Jumps, the commonest targets, cost two set lookups and a substring test."""
    if not name:
        return None, text
    if name in VERDICTS:
        return _verdict(name), text
    if UNSUPPORTED_REVISION in text and (unsupported := _unsupported_target(name, text)):
        return unsupported
    pattern = _TARGET_TEXT.get(name)
    if pattern is None:
        return (OtherTarget(name), text) if name in TARGET_EXTENSIONS else (_jump(name, goto), text)
    m = pattern.search(text)
    rest = text[: m.start()] if m else text
    if m and name in ("DNAT", "SNAT"):
        flags = tuple(m["flags"].split())
        return (Dnat(m["to"], flags) if name == "DNAT" else Snat(m["to"], flags)), rest
    if m and name == "MARK":
        try:
            return mark_target(m["op"], m["val"]), rest
        except ValueError:
            raise BadValue(m["val"], "a MARK value like 0x4000 or 0x4000/0xffffffff") from None
    if name == "MASQUERADE":
        return (Masquerade(m["ports"], tuple(m["flags"].split())) if m else Masquerade()), rest
    if name == "REJECT":
        return Reject(m["with"] if m else None), rest
    return OtherTarget(name), rest


def _unsupported_target(name: str, text: str) -> tuple[Target, str] | None:
    """An older iptables prints `NAME [unsupported revision]` for a target it cannot show."""
    unsupported = f"{name} {UNSUPPORTED_REVISION}"
    if text == unsupported or text.endswith(" " + unsupported):
        rest = text[: -len(unsupported)].rstrip(" ")
        return (Dnat(None) if name == "DNAT" else OtherTarget(name, UNSUPPORTED_REVISION)), rest
    return None


@lru_cache(maxsize=8)
def _verdict(name: str) -> Verdict:
    return Verdict(name)


@lru_cache(maxsize=1 << 17)
def _jump(chain: str, goto: bool) -> Jump:
    """Jumps to one chain are equal, so they are shared: a KUBE-MARK-MASQ jump on every endpoint."""
    return Jump(chain, goto)


def parse_matches(text: str) -> tuple[Match, ...]:
    """Typed matches of the trailing text (target text already removed).

    Comments make most texts unique, but what follows them repeats across a dump
    (`tcp dpt:80`, `statistic mode random probability 0.50000000000`), so a leading comment is
    peeled off and the rest is parsed once per distinct text (the objects are shared, too).
    """
    if text.startswith("/* "):
        end = text.find(" */", 3)
        if end > 0 and "/* " not in text[3:end]:
            rest = text[end + 3:].lstrip(" ")
            return (Comment(text[3:end]), *_cached_matches(rest)) if rest else (Comment(text[3:end]),)
    return _cached_matches(text)


@lru_cache(maxsize=65536)
def _cached_matches(text: str) -> tuple[Match, ...]:
    matches: list[Match] = []
    unknown: list[str] = []
    pos, end = 0, len(text)
    while pos < end:
        m = _PIECE.match(text, pos)
        if m is None:  # only trailing spaces are left
            break
        pos = m.end()
        kind = m.lastgroup
        if kind == "other":
            unknown.append(m["other"])
            continue
        if unknown:
            matches.append(UnknownMatch(" ".join(unknown)))
            unknown = []
        matches.append(_BUILDERS[kind or ""](m))
    if unknown:
        matches.append(UnknownMatch(" ".join(unknown)))
    return tuple(matches)


def _ports(m: re.Match[str]) -> Ports:
    found: dict[str, Negatable[str]] = {}
    for key, neg, value in _PORT_ARG.findall(m["p_args"]):
        found["dport" if key.startswith("d") else "sport"] = Negatable(value, bool(neg))
    return Ports(m["p_proto"], found.get("dport"), found.get("sport"), m["p_extra"].strip())


def _recent(m: re.Match[str]) -> Recent:
    return Recent(Negatable(m["r_cmd"], bool(m["r_inv"])), m["r_name"], int(m["r_sec"]) if m["r_sec"] else None,
                  bool(m["r_reap"]), int(m["r_hit"]) if m["r_hit"] else None, bool(m["r_ttl"]), m["r_side"],
                  m["r_mask"])


def _addrtype(m: re.Match[str]) -> AddrType:
    src = Negatable(m["a_src"], bool(m["a_src_inv"])) if m["a_src"] else None
    dst = Negatable(m["a_dst"], bool(m["a_dst_inv"])) if m["a_dst"] else None
    return AddrType(src, dst, bool(m["a_in"]), bool(m["a_out"]))


_BUILDERS: dict[str, Callable[[re.Match[str]], Match]] = {
    "comment": lambda m: Comment(m["ctext"]),
    "stat_random": lambda m: StatisticRandom(values.probability(m["prob"], bool(m["sr_inv"]))),
    "stat_nth": lambda m: StatisticNth(Negatable(values.number(m["every"], "every", 1), bool(m["sn_inv"])),
                                       int(m["packet"] or 0)),
    "recent": _recent,
    "ports": _ports,
    "mark": lambda m: MarkMatch(Negatable(values.mark(m["m_val"]), bool(m["m_inv"]))),
    "addrtype": _addrtype,
    "ctstate": lambda m: ConnState(values.states(m["c_states"], bool(m["c_inv"])), "conntrack"),
    "state": lambda m: ConnState(values.states(m["s_states"], bool(m["s_inv"])), "state"),
    "multiport": lambda m: Multiport(m["mp_dir"], Negatable(m["mp_val"], bool(m["mp_inv"]))),
}
