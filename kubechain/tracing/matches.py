"""Whether a rule matches the traced packet in a given state (its mark, its DNATed destination):
every match kube-proxy writes is evaluated; what cannot be is assumed to match and noted.

:func:`evaluate` returns the rule's outcome for one state as probabilities: the part that
matches (with the mark its statements leave) and the parts that do not (with the mark set so
far: an nft `meta mark set` before a failing match has already happened, as in the kernel).
Statistic matches draw, so a rule can match with a probability; everything else is 0 or 1.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Any

from ..model import (
    Address,
    AddrType,
    Comment,
    ConnState,
    ConnStatus,
    CounterStatement,
    Jump,
    MarkMatch,
    MarkSet,
    Match,
    MetaRandom,
    Multiport,
    NumgenMatch,
    OtherStatement,
    Ports,
    Protocol,
    Recent,
    Rule,
    SetLookup,
    SetUpdate,
    StatisticNth,
    StatisticRandom,
    Table,
    XtMatch,
)
from ..netfilter import LOOPBACK_NETWORKS, interface_matches
from .packet import Packet, split_endpoint

ONE = Fraction(1)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Assumption:
    """What the trace could not know and took as given: `missing-chain`, `missing-table`,
    `unknown-match`, `unknown-local` or `unknown-target`, at an input line where there is one."""

    kind: str
    detail: str
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Where:
    """The packet's header as a rule sees it: the destination after any DNAT so far."""

    mark: int
    dst: str
    dport: int


@dataclass
class Context:
    """What the matches of one trace need: the packet, the node's local addresses, the affinity
    lists that hold the returning client, and the assumptions met so far (in the order met)."""

    packet: Packet
    local: tuple[Network, ...]
    remembered: frozenset[str]  # recent lists and nft sets that hold the client
    dynamic: frozenset[str]  # nft sets that rules update: their printed elements are state, not rules
    assumptions: dict[tuple[str, str, int | None], Assumption] = field(default_factory=dict)
    table: Table | None = None  # the table being walked (its named nft sets)
    #: the chain each jump on a path jumps to (a jump whose chain matched nothing is left off the path)
    jumps: dict[Any, str] = field(default_factory=dict)

    def assume(self, kind: str, detail: str, line: int | None) -> None:
        self.assumptions.setdefault((kind, detail, line), Assumption(kind, detail, line))

    def is_local(self, address: str) -> bool:
        return _contained(address, self.local)


#: what a rule does to one state: (probability it matches, the mark then, [(probability, mark) of the misses])
Evaluation = tuple[Fraction, int, list[tuple[Fraction, int]]]


def evaluate(ctx: Context, rule: Rule, where: Where) -> Evaluation:
    """(probability the rule matches, the mark then, [(probability, mark) of the parts that do not])."""
    misses: list[tuple[Fraction, int]] = []
    mark = where.mark
    if not _fields(ctx, rule, where):
        return Fraction(0), mark, [(ONE, mark)]
    p = ONE
    for m in rule.matches:
        kind = type(m)
        if kind is Comment or kind is CounterStatement or kind is SetUpdate or kind is OtherStatement:
            continue
        if kind is MarkSet:
            mark = (mark & ~m.mask & 0xFFFFFFFF) ^ m.value  # type: ignore[attr-defined]
            continue
        if isinstance(m, (StatisticRandom, StatisticNth, MetaRandom, NumgenMatch)):
            q = m.match_probability
            if q != 1:
                misses.append((p * (1 - q), mark))
                p *= q
            if not p:
                return p, mark, misses
            continue
        if not _holds(ctx, rule, m, Where(mark, where.dst, where.dport)):
            misses.append((p, mark))
            return Fraction(0), mark, misses
    return p, mark, misses


def _fields(ctx: Context, rule: Rule, where: Where) -> bool:
    """The rule's own fields: -p, -s, -d, -i, -o, -f."""
    pk = ctx.packet
    if rule.protocol is not None and (rule.protocol.value == pk.proto) == rule.protocol.negated:
        return False
    for value, address in ((rule.source, pk.src), (rule.destination, where.dst)):
        if value is not None:
            inside = _address_in(ctx, rule.line, value.value, address or "")
            if inside is not None and inside == value.negated:
                return False
    for value, iface, option in ((rule.in_interface, pk.in_iface, "--in-iface"),
                                 (rule.out_interface, pk.out_iface, "--out-iface")):
        if value is None:
            continue
        if iface is None:
            ctx.assume("unknown-match", f"interface {value} taken as matching (no {option} given)", rule.line)
        elif interface_matches(value.value, iface) == value.negated:
            return False
    return not (rule.fragment is not None and not rule.fragment.negated)  # the first packet is no fragment


def _holds(ctx: Context, rule: Rule, m: Match, where: Where) -> bool:
    """Whether one deterministic match holds (statements and statistics are handled by evaluate)."""
    check = _CHECKS.get(type(m))
    if check is not None:
        return check(ctx, rule, m, where)
    ctx.assume("unknown-match", f"{_text(m)} taken as matching", rule.line)
    return True


def _multiport(ctx: Context, rule: Rule, m: Multiport, where: Where) -> bool:
    pk = ctx.packet
    held = _port_list(ctx, rule, m.ports.value, pk.sport if m.direction == "sports" else where.dport)
    if m.direction == "ports" and not held:
        held = _port_list(ctx, rule, m.ports.value, pk.sport)
    return held is None or held != m.ports.negated


def _mark(_ctx: Context, _rule: Rule, m: MarkMatch, where: Where) -> bool:
    return ((where.mark & m.mark.value.mask) == m.mark.value.value) != m.mark.negated


def _conn_state(ctx: Context, _rule: Rule, m: ConnState, where: Where) -> bool:
    """The packet is NEW; DNAT once its destination was rewritten."""
    pk = ctx.packet
    now = {"NEW"} | ({"DNAT"} if (where.dst, where.dport) != (pk.dst, pk.dport) else set())
    return bool({s.upper() for s in m.states.value} & now) != m.states.negated


def _conn_status(ctx: Context, _rule: Rule, m: ConnStatus, where: Where) -> bool:
    """`ct status dnat`: set once the destination was rewritten; a new connection has no other bit."""
    pk = ctx.packet
    now = {"dnat"} if (where.dst, where.dport) != (pk.dst, pk.dport) else set()
    return bool({s.lower() for s in m.statuses.value} & now) != m.statuses.negated


def _recent(ctx: Context, _rule: Rule, m: Recent, _where: Where) -> bool:
    if not m.checks:
        return True  # --set / --remove: actions
    return (m.name in ctx.remembered) != m.command.negated


def _address(ctx: Context, rule: Rule, m: Address, where: Where) -> bool:
    inside = _address_in(ctx, rule.line, m.value.value, (ctx.packet.src or "") if m.source else where.dst)
    return inside is None or inside != m.value.negated


def _protocol(ctx: Context, _rule: Rule, m: Protocol, _where: Where) -> bool:
    return (ctx.packet.proto in _names(m.value.value)) != m.value.negated


def _set_match(ctx: Context, rule: Rule, m: SetLookup, where: Where) -> bool:
    return _set_lookup(ctx, rule, m, where) != m.negated


def _xt(ctx: Context, rule: Rule, m: XtMatch, _where: Where) -> bool:
    """iptables-nft's matches nft prints without options: a comment holds; `recent` is kube-proxy's
    --rcheck on the jumps (fails for a new client) and --set on the DNAT."""
    if m.name == "comment":
        return True
    if m.name == "recent" and not ctx.remembered:
        return type(rule.target) is not Jump
    ctx.assume("unknown-match", f"xt match {m.name} (printed without its options) taken as matching", rule.line)
    return True


_CHECKS: dict[type, Callable[[Context, Rule, Any, Where], bool]] = {
    Ports: lambda ctx, rule, m, where: _ports(ctx, rule, m, where),
    Multiport: _multiport,
    MarkMatch: _mark,
    AddrType: lambda ctx, rule, m, where: _addrtype(ctx, rule, m, where),
    ConnState: _conn_state,
    ConnStatus: _conn_status,
    Recent: _recent,
    Address: _address,
    Protocol: _protocol,
    SetLookup: _set_match,
    XtMatch: _xt,
}


def _text(m: Match) -> str:
    return getattr(m, "text", None) or type(m).__name__


def _ports(ctx: Context, rule: Rule, m: Ports, where: Where) -> bool:
    if m.protocol != ctx.packet.proto:
        return False
    for value, port in ((m.dport, where.dport), (m.sport, ctx.packet.sport)):
        if value is None:
            continue
        held = _port_list(ctx, rule, value.value, port)
        if held is not None and held == value.negated:
            return False
    if m.extra:
        ctx.assume("unknown-match", f"{m.protocol} {m.extra} taken as matching", rule.line)
    return True


def _port_list(ctx: Context, rule: Rule, text: str, port: int | None) -> bool | None:
    """Whether `port` is in `80`, `1000:2000`, `80,443` (None: a name, or no source port given)."""
    if port is None:
        ctx.assume("unknown-match", f"source port {text} taken as matching (no source port given)", rule.line)
        return None
    for part in text.split(","):
        low, _, high = part.partition(":")
        if not low.isdigit() or (high and not high.isdigit()):
            ctx.assume("unknown-match", f"port {text} (a name) taken as matching", rule.line)
            return None
        if int(low) <= port <= int(high or low):
            return True
    return False


def _addrtype(ctx: Context, rule: Rule, m: AddrType, where: Where) -> bool:
    for value, address in ((m.src_type, ctx.packet.src or ""), (m.dst_type, where.dst)):
        if value is None:
            continue
        if value.value != "LOCAL":
            ctx.assume("unknown-match", f"address type {value} taken as matching", rule.line)
            continue
        if ctx.is_local(address) == value.negated:
            return False
    return True


def _set_lookup(ctx: Context, rule: Rule, m: SetLookup, where: Where) -> bool:
    """A named set holds the packet's key. A set that rules update (affinity) holds what earlier
    packets left: the returning client, or nothing."""
    if m.set in ctx.dynamic or m.set.startswith("affinity-"):
        return m.set in ctx.remembered
    named = ctx.table.sets.get(m.set) if ctx.table is not None else None
    if named is None:
        ctx.assume("unknown-match", f"set @{m.set} is not in the dump: taken as holding the packet", rule.line)
        return True
    key = _key(ctx, rule, m.key, where)
    if key is None:
        return True
    return any(_element_holds(ctx, rule, element.key, key) for element in named.elements)


def lookup(ctx: Context, rule: Rule, selectors: tuple[str, ...], where: Where,
           elements: list[tuple[tuple[str, ...], object]]) -> object | None:
    """The value of the first element whose key holds the packet's (a verdict map's verdict), or
    None; every element holds where the key cannot be known (noted)."""
    key = _key(ctx, rule, selectors, where)
    for element_key, value in elements:
        if key is None or _element_holds(ctx, rule, element_key, key):
            return value
    return None


def _key(ctx: Context, rule: Rule, selectors: tuple[str, ...], where: Where) -> tuple[str, ...] | None:
    pk = ctx.packet
    values = []
    for selector in selectors:
        field_name = selector.split()[-1]
        if field_name == "daddr":
            values.append(where.dst)
        elif field_name == "saddr":
            values.append(pk.src or "")
        elif selector in ("meta l4proto", "ip protocol", "ip6 nexthdr"):
            values.append(pk.proto)
        elif field_name == "dport":
            values.append(str(where.dport))
        elif field_name == "sport" and pk.sport is not None:
            values.append(str(pk.sport))
        elif selector == "meta mark":
            values.append(str(where.mark))
        else:
            ctx.assume("unknown-match", f"key {' . '.join(selectors)} taken as matching", rule.line)
            return None
    return tuple(values)


def _element_holds(ctx: Context, rule: Rule, element: tuple[str, ...], key: tuple[str, ...]) -> bool:
    if len(element) != len(key):
        return False
    for want, have in zip(element, key, strict=True):
        if want == have:
            continue
        if have.isdigit() and "-" in want:
            low, _, high = want.partition("-")
            if low.isdigit() and high.isdigit() and int(low) <= int(have) <= int(high):
                continue
            return False
        if "/" in want or "-" in want or ":" in have or "." in have:
            if _address_in(ctx, rule.line, want, have):
                continue
            return False
        if have.isdigit() and want.startswith("0x") and int(want, 16) == int(have):
            continue
        return False
    return True


def _address_in(ctx: Context, line: int, text: str, address: str) -> bool | None:
    """Whether `address` is in `10.0.0.0/8`, `10.1.2.3`, `10.0.0.1-10.0.0.9` or `{ a, b/24 }`
    (None, noted, for a name `-L` printed without -n)."""
    if not address:
        return False
    parts = _names(text)
    try:
        for part in parts:
            if "-" in part and "/" not in part:
                low, _, high = part.partition("-")
                a = ipaddress.ip_address(address)
                lo, hi = ipaddress.ip_address(low.strip()), ipaddress.ip_address(high.strip())
                if a.version == lo.version and lo <= a <= hi:  # type: ignore[operator]
                    return True
            elif _contained(address, (_network(part),)):
                return True
    except ValueError:
        ctx.assume("unknown-match", f"address {text} (a name) taken as matching", line)
        return None
    return False


def _names(text: str) -> list[str]:
    """`{ a, b }` → [a, b]; `a` → [a]."""
    text = text.strip()
    if text.startswith("{") and text.endswith("}"):
        return [p.strip() for p in text[1:-1].split(",") if p.strip()]
    return [text]


@lru_cache(maxsize=65536)
def _network(text: str) -> Network:
    return ipaddress.ip_network(text, strict=False)


@lru_cache(maxsize=4096)
def _ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(address)


def _contained(address: str, networks: tuple[Network, ...]) -> bool:
    a = _ip(address)
    return any(a.version == n.version and a in n for n in networks)


def local_networks(addresses: tuple[str, ...]) -> tuple[Network, ...]:
    """The node's local addresses as networks, loopback included."""
    return tuple(_network(a) for a in (*LOOPBACK_NETWORKS, *addresses))


def destination_of(text: str | None, dport: int) -> tuple[str, int] | None:
    """A DNAT target as (address, port): `10.0.0.1:80`, `10.0.0.1` (port unchanged), a range's
    first address and port. None where it cannot be read."""
    if text is None:
        return None
    first = text
    if "-" in first:  # 10.0.0.1-10.0.0.5:80-90: the kernel picks in the range; take its start
        host, _, port = first.rpartition(":") if not first.startswith("[") else (first, "", "")
        first = host.split("-")[0] + (f":{port.split('-')[0]}" if port else "")
    try:
        host, port_number = split_endpoint(first)
    except ValueError:
        return None
    return host, port_number if port_number is not None else dport
