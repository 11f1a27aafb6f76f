"""`iptables -L` (with -n, -v, -x, --line-numbers, or one chain) from a model, byte for byte.

Column layout follows iptables 1.8.9's print_header / print_rule_details / print_fragment /
print_ifaces (xshared.c): `%-9s ` target (a longer name just pushes the line right), `%-4s `
protocol, one inversion character before the protocol and each address, `%-19s ` addresses.
Then `[goto] `, each match's own text, the target's text — every piece starting with a space.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import RenderError
from ..model import (
    AddrType,
    Chain,
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
    Rule,
    Ruleset,
    Snat,
    StatisticNth,
    StatisticRandom,
    Target,
    UnknownMatch,
    Verdict,
)
from ..netfilter import FULL_MARK, UNSUPPORTED_REVISION, default_reject, full_mask, printed_probability
from .names import Names
from .values import (
    address,
    address_text,
    listed_table,
    mark_value,
    or_zero,
    ordered_chains,
    port_list,
    port_range,
    port_text,
    print_num,
    protocol_number,
    references,
    states,
)


class ListLayout:
    """One `iptables -L` call: its flags, the family of the rules it prints, and a printer per
    match and target type (MATCHES, TARGETS)."""

    def __init__(self, ruleset: Ruleset, names: Names, numeric: bool, verbose: bool, exact: bool,
                 line_numbers: bool, protocol_names: bool | None) -> None:
        self.family, self.names = ruleset.family, names
        self.numeric, self.verbose, self.exact, self.line_numbers = numeric, verbose, exact, line_numbers
        # 1.8.9 prints protocol numbers with -n; older releases printed names (`tcp`, `all`) there too
        self.protocol_names = (not numeric) if protocol_names is None else protocol_names
        self.references: dict[str, int] = {}
        self.protocol = ""  # the protocol of the rule being printed (multiport prints its ports by it)

    def header(self, chain: Chain) -> str:
        if chain.builtin:
            text = f"Chain {chain.name} (policy {chain.policy}"
            if self.verbose:
                c = or_zero(chain.counters)
                text += (f" {print_num(c.packets, self.exact, table=False)}packets, "
                         f"{print_num(c.bytes, self.exact, table=False)}bytes")
            text += ")\n"
        else:
            text = f"Chain {chain.name} ({self.references[chain.name]} references)\n"
        columns = "num  " if self.line_numbers else ""
        if self.verbose:
            columns += "    pkts      bytes " if self.exact else " pkts bytes "
        columns += "target     prot opt "
        if self.verbose:
            columns += "in     out     "
        return text + columns + "source               destination         \n"

    def rule(self, number: int, rule: Rule) -> str:
        text = f"{number:<4d} " if self.line_numbers else ""
        if self.verbose:
            c = or_zero(rule.counters)
            text += print_num(c.packets, self.exact) + print_num(c.bytes, self.exact)
        text += f"{target_name(rule.target):<9s} "
        proto, proto_negated = protocol_number(rule.protocol, self.names)
        name = self.names.protocol_name(proto, lookup=not self.numeric) if self.protocol_names else None
        text += ("!" if proto_negated else " ") + f"{name or proto:<4} "
        text += _FRAGMENT_COLUMN[rule.fragment.negated if rule.fragment is not None else None] + " "
        if self.verbose:
            any_name = "*" if self.numeric else "any"
            text += f" {_iface(rule.in_interface, any_name):<6s} {_iface(rule.out_interface, any_name):<6s} "
        for value in (rule.source, rule.destination):
            shown = address_text(address(value.value if value else None, self.family, self.names), self.numeric,
                                 self.names)
            text += ("!" if value is not None and value.negated else " ") + f"{shown:<19s} "
        if type(rule.target) is Jump and rule.target.goto:
            text += "[goto] "
        self.protocol = rule.protocol.value if rule.protocol is not None else ""
        text += "".join(self.match(m) for m in rule.matches)
        return text + self.target(rule.target) + "\n"

    def match(self, match: Match) -> str:
        printer = MATCHES.get(type(match))
        if printer is None:
            raise RenderError(f"no -L form for {match!r}")
        return printer(self, match)

    def target(self, target: Target | None) -> str:
        printer = TARGETS.get(type(target))
        return printer(self, target) if printer is not None else ""


_FRAGMENT_COLUMN = {None: "--", False: "-f", True: "!f"}


def _iface(value: Negatable[str] | None, any_name: str) -> str:
    return str(value) if value is not None else any_name


def target_name(target: Target | None) -> str:
    if target is None:
        return ""
    if type(target) is Jump:
        return target.chain
    if type(target) in (Verdict, OtherTarget):
        return target.name  # type: ignore[attr-defined, no-any-return]
    return _TARGET_NAMES[type(target)]


_TARGET_NAMES: dict[type, str] = {Dnat: "DNAT", Snat: "SNAT", MarkTarget: "MARK", Masquerade: "MASQUERADE",
                                  Reject: "REJECT"}


def mark_target(mark: MarkTarget) -> str:
    """libxt_MARK's listing of a --set-xmark value/mask pair."""
    if mark.value == 0:
        return f"MARK and 0x{~mark.mask & FULL_MARK:x}"
    if mark.value == mark.mask:
        return f"MARK or 0x{mark.value:x}"
    if mark.mask == 0:
        return f"MARK xor 0x{mark.value:x}"
    if mark.mask == FULL_MARK:
        return f"MARK set 0x{mark.value:x}"
    return f"MARK xset 0x{mark.value:x}/0x{mark.mask:x}"


def _other_target(_layout: ListLayout, target: OtherTarget) -> str:
    if target.text == UNSUPPORTED_REVISION:
        return f" {target.name} {UNSUPPORTED_REVISION}"
    if target.text:
        raise RenderError(f"{target.name} options are kept in iptables-save form only: {target.text!r}")
    return ""


def _masquerade(_layout: ListLayout, target: Masquerade) -> str:
    ports = f" masq ports: {target.to_ports}" if target.to_ports else ""
    return ports + "".join(" " + f for f in target.flags)


TARGETS: dict[type, Callable[[ListLayout, Any], str]] = {
    Dnat: lambda _layout, t: (f" to:{t.destination}" + "".join(" " + f for f in t.flags) if t.destination is not None
                              else f" DNAT {UNSUPPORTED_REVISION}"),
    Snat: lambda _layout, t: f" to:{t.source}" + "".join(" " + f for f in t.flags),
    MarkTarget: lambda _layout, t: " " + mark_target(t),
    Masquerade: _masquerade,
    Reject: lambda layout, t: f" reject-with {t.with_ or default_reject(layout.family)}",
    OtherTarget: _other_target,
}


# --- matches -----------------------------------------------------------------------------------

def _ports(layout: ListLayout, m: Ports) -> str:
    text = f" {m.protocol}"
    for key, value in (("spt", m.sport), ("dpt", m.dport)):
        if value is None:
            continue
        low, high = port_range(value.value, m.protocol, layout.names)
        shown = port_text(low, m.protocol, layout.numeric, layout.names)
        if high != low:
            key, shown = key + "s", shown + ":" + port_text(high, m.protocol, layout.numeric, layout.names)
        text += f" {key}:{'!' if value.negated else ''}{shown}"
    if m.extra:
        if m.extra.startswith(("--", "! ")):
            raise RenderError(f"{m.protocol} options are kept in iptables-save form only: {m.extra!r}")
        text += " " + m.extra
    return text


def _multiport(layout: ListLayout, m: Multiport) -> str:
    protocol = layout.protocol
    return (f" multiport {m.direction} " + (" !" if m.ports.negated else "")
            + port_list(m.ports.value, protocol, layout.numeric, layout.names))


def _recent(layout: ListLayout, m: Recent) -> str:
    text = (" !" if m.command.negated else "") + f" recent: {m.command.value}"
    text += f" seconds: {m.seconds}" if m.seconds else ""
    text += " reap" if m.reap else ""
    text += f" hit_count: {m.hitcount}" if m.hitcount else ""
    text += " TTL-Match" if m.ttl else ""
    return text + f" name: {m.name} side: {m.side} mask: {m.mask or full_mask(layout.family)}"


def _addrtype(_layout: ListLayout, m: AddrType) -> str:
    text = " ADDRTYPE match"
    for key, value in (("src-type", m.src_type), ("dst-type", m.dst_type)):
        if value is not None:
            text += f" {key} {'!' if value.negated else ''}{value.value}"
    return text + (" limit-in" if m.limit_iface_in else "") + (" limit-out" if m.limit_iface_out else "")


def _unknown(_layout: ListLayout, m: UnknownMatch) -> str:
    if m.text.startswith("-m "):
        raise RenderError(f"match kept in iptables-save form only: {m.text!r}")
    return " " + m.text


def _nth(_layout: ListLayout, m: StatisticNth) -> str:
    return (" statistic mode nth" + (" !" if m.every.negated else "") + f" every {m.every.value}"
            + (f" packet {m.packet}" if m.packet else ""))


def _random(_layout: ListLayout, m: StatisticRandom) -> str:
    return (" statistic mode random" + (" !" if m.threshold.negated else "")
            + f" probability {printed_probability(m.threshold.value)}")


def _conn_state(_layout: ListLayout, m: ConnState) -> str:
    keyword = "ctstate" if m.module == "conntrack" else "state"
    return (" !" if m.states.negated else "") + f" {keyword} {states(m.states.value)}"


MATCHES: dict[type, Callable[[ListLayout, Any], str]] = {
    Comment: lambda _layout, m: f" /* {m.text} */",
    Ports: _ports,
    Multiport: _multiport,
    StatisticRandom: _random,
    StatisticNth: _nth,
    Recent: _recent,
    MarkMatch: lambda _layout, m: (" mark match" + (" !" if m.mark.negated else "")
                                        + f" {mark_value(m.mark.value)}"),
    AddrType: _addrtype,
    ConnState: _conn_state,
    UnknownMatch: _unknown,
}


def render_list(ruleset: Ruleset, names: Names, table: str = "filter", chain: str | None = None,
                numeric: bool = False, verbose: bool = False, exact: bool = False, line_numbers: bool = False,
                protocol_names: bool | None = None) -> str:
    """One table (or one chain of it) as `iptables -t TABLE -L [CHAIN]` with the given flags prints it."""
    found = listed_table(ruleset, table)
    layout = ListLayout(ruleset, names, numeric, verbose, exact, line_numbers, protocol_names)
    layout.references = references(found)
    chains = ordered_chains(found)
    if chain is not None:
        chains = [c for c in chains if c.name == chain]
        if not chains:
            raise RenderError(f"no chain {chain!r} in table {table!r}")
    sections = []
    for c in chains:
        body = "".join(layout.rule(n, r) for n, r in enumerate(c.rules, 1))
        sections.append(layout.header(c) + body)
    return "\n".join(sections)
