"""`iptables -L` (with -n, -v, -x, --line-numbers, or one chain) from a model, byte for byte.

Column layout follows iptables 1.8.9's print_header / print_rule_details / print_fragment /
print_ifaces (xshared.c): `%-9s ` target (a longer name just pushes the line right), `%-4s `
protocol, one inversion character before the protocol and each address, `%-19s ` addresses.
Then `[goto] `, each match's own text, the target's text — every piece starting with a space.
"""

from __future__ import annotations

from collections.abc import Callable

from .model import (
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
    OtherTarget,
    Ports,
    Recent,
    Reject,
    Rule,
    Ruleset,
    StatisticNth,
    StatisticRandom,
    Target,
    UnknownMatch,
    Verdict,
)
from .names import Names
from .render_values import (
    RenderError,
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
    probability,
    protocol_number,
    references,
    states,
)


class ListLayout:
    """The options of one `iptables -L` call and the family of the rules it prints."""

    def __init__(self, ruleset: Ruleset, names: Names, numeric: bool, verbose: bool, exact: bool,
                 line_numbers: bool, protocol_names: bool | None) -> None:
        self.family, self.names = ruleset.family, names
        self.numeric, self.verbose, self.exact, self.line_numbers = numeric, verbose, exact, line_numbers
        # 1.8.9 prints protocol numbers with -n; older releases printed names (`tcp`, `all`) there too
        self.protocol_names = (not numeric) if protocol_names is None else protocol_names
        self.references: dict[str, int] = {}

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
        text += {None: "--", "-f": "-f", "!f": "!f"}[rule.fragment] + " "
        if self.verbose:
            any_name = "*" if self.numeric else "any"
            text += f" {rule.in_interface or any_name:<6s} {rule.out_interface or any_name:<6s} "
        for value, negated in ((rule.source, rule.source_negated), (rule.destination, rule.destination_negated)):
            shown = address_text(address(value, self.family, self.names), self.numeric, self.names)
            text += ("!" if negated else " ") + f"{shown:<19s} "
        if isinstance(rule.target, Jump) and rule.target.goto:
            text += "[goto] "
        text += "".join(self.match(m, rule) for m in rule.matches)
        return text + self.target(rule.target) + "\n"

    def match(self, match: Match, rule: Rule) -> str:
        printer = _MATCHES.get(type(match))
        if printer is None:
            raise RenderError(f"no -L form for {match!r}")
        return printer(self, match, rule)

    def target(self, target: Target | None) -> str:
        if isinstance(target, Dnat):
            return f" to:{target.destination}" + "".join(" " + f for f in target.flags.split())
        if isinstance(target, MarkTarget):
            return " " + mark_target(target)
        if isinstance(target, Masquerade):
            return f" {target.flags}" if target.flags else ""
        if isinstance(target, Reject):
            return f" reject-with {target.with_ or default_reject(self.family)}"
        if isinstance(target, OtherTarget) and target.text:
            raise RenderError(f"{target.name} options are kept in iptables-save form only: {target.text!r}")
        return ""


def target_name(target: Target | None) -> str:
    if target is None:
        return ""
    if isinstance(target, Jump):
        return target.chain
    if isinstance(target, (Verdict, OtherTarget, Dnat)):
        return target.name
    return {MarkTarget: "MARK", Masquerade: "MASQUERADE", Reject: "REJECT"}[type(target)]


def default_reject(family: str) -> str:
    return "icmp6-port-unreachable" if family == "ipv6" else "icmp-port-unreachable"


def mark_target(mark: MarkTarget) -> str:
    """libxt_MARK's listing of a --set-xmark value/mask pair."""
    if mark.value == 0:
        return f"MARK and 0x{~mark.mask & 0xFFFFFFFF:x}"
    if mark.value == mark.mask:
        return f"MARK or 0x{mark.value:x}"
    if mark.mask == 0:
        return f"MARK xor 0x{mark.value:x}"
    if mark.mask == 0xFFFFFFFF:
        return f"MARK set 0x{mark.value:x}"
    return f"MARK xset 0x{mark.value:x}/0x{mark.mask:x}"


# --- matches -----------------------------------------------------------------------------------

def _ports(layout: ListLayout, m: Ports, rule: Rule) -> str:
    text = f" {m.protocol}"
    for key, value, negated in (("spt", m.sport, m.sport_negated), ("dpt", m.dport, m.dport_negated)):
        if value is None:
            continue
        low, high = port_range(value, m.protocol, layout.names)
        shown = port_text(low, m.protocol, layout.numeric, layout.names)
        if high != low:
            key, shown = key + "s", shown + ":" + port_text(high, m.protocol, layout.numeric, layout.names)
        text += f" {key}:{'!' if negated else ''}{shown}"
    if m.extra:
        if m.extra.startswith(("--", "! ")):
            raise RenderError(f"{m.protocol} options are kept in iptables-save form only: {m.extra!r}")
        text += " " + m.extra
    return text


def _multiport(layout: ListLayout, m: Multiport, rule: Rule) -> str:
    protocol = (rule.protocol or "").lstrip("!")
    return (f" multiport {m.direction} " + (" !" if m.negated else "")
            + port_list(m.ports, protocol, layout.numeric, layout.names))


def _recent(layout: ListLayout, m: Recent, rule: Rule) -> str:
    text = (" !" if m.inverted else "") + f" recent: {m.command}"
    text += f" seconds: {m.seconds}" if m.seconds else ""
    text += " reap" if m.reap else ""
    text += f" hit_count: {m.hitcount}" if m.hitcount else ""
    text += " TTL-Match" if m.ttl else ""
    return text + f" name: {m.name} side: {m.side} mask: {m.mask or full_mask(layout.family)}"


def full_mask(family: str) -> str:
    return "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" if family == "ipv6" else "255.255.255.255"


def _addrtype(layout: ListLayout, m: AddrType, rule: Rule) -> str:
    text = " ADDRTYPE match"
    text += f" src-type {'!' if m.src_negated else ''}{m.src_type}" if m.src_type else ""
    text += f" dst-type {'!' if m.dst_negated else ''}{m.dst_type}" if m.dst_type else ""
    return text + "".join(" " + e for e in m.extra.split())


def _unknown(layout: ListLayout, m: UnknownMatch, rule: Rule) -> str:
    if m.text.startswith("-m "):
        raise RenderError(f"match kept in iptables-save form only: {m.text!r}")
    return " " + m.text


def _nth(layout: ListLayout, m: StatisticNth, rule: Rule) -> str:
    return (" statistic mode nth" + (" !" if m.inverted else "") + f" every {m.every}"
            + (f" packet {m.packet}" if m.packet else ""))


_MATCHES: dict[type, Callable[[ListLayout, object, Rule], str]] = {
    Comment: lambda layout, m, rule: f" /* {m.text} */",
    Ports: _ports,
    Multiport: _multiport,
    StatisticRandom: lambda layout, m, rule: (" statistic mode random" + (" !" if m.inverted else "")
                                              + f" probability {probability(m.threshold)}"),
    StatisticNth: _nth,
    Recent: _recent,
    MarkMatch: lambda layout, m, rule: " mark match" + (" !" if m.negated else "") + f" {mark_value(m.value)}",
    AddrType: _addrtype,
    ConnState: lambda layout, m, rule: ((" !" if m.negated else "")
                                        + f" {'ctstate' if m.module == 'conntrack' else 'state'} {states(m.states)}"),
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
