"""`iptables-save [-c]` and `iptables -S [-v]` from a model, byte for byte.

A rule line is `-A CHAIN`, then the basic options in iptables' fixed order (-s -d -i -o -p -f,
whatever order they were written in), then each match as `-m NAME --options` in rule order,
then (`-S -v` only) `-c PACKETS BYTES`, then the target. Addresses always carry their mask
(`/32`), values are quoted only when they hold more than [A-Za-z0-9_-].
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..errors import RenderError
from ..model import (
    AddrType,
    Comment,
    ConnState,
    Counters,
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
    Table,
    Target,
    UnknownMatch,
    Verdict,
    table_family,
)
from ..netfilter import UNSUPPORTED_REVISION, default_reject, full_mask, printed_probability
from .names import Names
from .values import (
    address,
    listed_table,
    mark_value,
    or_zero,
    ordered_chains,
    port_list,
    port_range,
    protocol_number,
    save_address,
    save_string,
    states,
    with_builtins,
)

#: what `date` iptables-save prints when none is given: ctime() of the epoch
EPOCH = "Thu Jan  1 00:00:00 1970"


class SaveLayout:
    """The save-form printer of one table's rules: its family and name lookups, and a printer per
    match and target type (MATCHES, TARGETS)."""

    def __init__(self, family: str, names: Names) -> None:
        self.family, self.names = family, names
        self.protocol = ""  # the protocol of the rule being printed (multiport prints its ports by it)

    def rule_line(self, chain: str, rule: Rule, counters_option: Counters | None = None) -> str:
        """`-A CHAIN …` without a newline; `counters_option` adds `iptables -S -v`'s `-c p b`."""
        parts = [f"-A {chain}"]
        for letter, value in (("s", rule.source), ("d", rule.destination)):
            if value is not None:
                parts.append(_bang(value) + f"-{letter} " + save_address(address(value.value, self.family, self.names)))
        for letter, iface in (("i", rule.in_interface), ("o", rule.out_interface)):
            if iface is not None:
                parts.append(_bang(iface) + f"-{letter} {iface.value}")
        number, negated = protocol_number(rule.protocol, self.names)
        if number:
            parts.append(("! " if negated else "") + f"-p {self.names.protocol_name(number) or number}")
        if rule.fragment is not None:
            parts.append(_bang(rule.fragment) + "-f")
        self.protocol = rule.protocol.value if rule.protocol is not None else ""
        parts.extend(self.match(m) for m in rule.matches)
        if counters_option is not None:
            parts.append(f"-c {counters_option.packets} {counters_option.bytes}")
        if rule.target is not None:
            parts.append(self.target(rule.target))
        return " ".join(parts)

    def match(self, match: Match) -> str:
        printer = MATCHES.get(type(match))
        if printer is None:
            raise RenderError(f"no iptables-save form for {match!r}")
        return printer(self, match)

    def target(self, target: Target) -> str:
        printer = TARGETS.get(type(target))
        if printer is None:
            raise RenderError(f"no iptables-save form for {target!r}")
        return printer(self, target)


def _bang(value: Negatable[Any]) -> str:
    return "! " if value.negated else ""


def _option_bang(value: Negatable[Any]) -> str:
    """` !` before a match option (`-m mark ! --mark …`)."""
    return " !" if value.negated else ""


# --- targets -------------------------------------------------------------------------------------

def _masquerade(_layout: SaveLayout, t: Masquerade) -> str:
    ports = f" --to-ports {t.to_ports}" if t.to_ports else ""
    return "-j MASQUERADE" + ports + "".join(" --" + f for f in t.flags)


TARGETS: dict[type, Callable[[SaveLayout, Any], str]] = {
    Jump: lambda _layout, t: f"-{'g' if t.goto else 'j'} {t.chain}",
    Verdict: lambda _layout, t: f"-j {t.name}",
    Dnat: lambda _layout, t: (f"-j DNAT --to-destination {t.destination}" + "".join(" --" + f for f in t.flags)
                              if t.destination is not None else f"-j DNAT {UNSUPPORTED_REVISION}"),
    Snat: lambda _layout, t: f"-j SNAT --to-source {t.source}" + "".join(" --" + f for f in t.flags),
    MarkTarget: lambda _layout, t: f"-j MARK --set-xmark 0x{t.value:x}/0x{t.mask:x}",
    Masquerade: _masquerade,
    Reject: lambda layout, t: f"-j REJECT --reject-with {t.with_ or default_reject(layout.family)}",
    OtherTarget: lambda _layout, t: f"-j {t.name}" + (f" {t.text}" if t.text else ""),
}


# --- matches -----------------------------------------------------------------------------------

def _ports(layout: SaveLayout, m: Ports) -> str:
    text = f"-m {m.protocol}"
    for option, value in (("--sport", m.sport), ("--dport", m.dport)):
        if value is not None:
            low, high = port_range(value.value, m.protocol, layout.names)
            text += _option_bang(value) + f" {option} {low}" + (f":{high}" if high != low else "")
    if m.extra:
        if not m.extra.startswith(("--", "! ")):
            raise RenderError(f"{m.protocol} options are kept in iptables -L form only: {m.extra!r}")
        text += " " + m.extra
    return text


def _recent(layout: SaveLayout, m: Recent) -> str:
    option = {"SET": "--set", "CHECK": "--rcheck", "UPDATE": "--update", "REMOVE": "--remove"}[m.command.value]
    text = "-m recent" + _option_bang(m.command) + f" {option}"
    text += f" --seconds {m.seconds}" if m.seconds else ""
    text += " --reap" if m.reap else ""
    text += f" --hitcount {m.hitcount}" if m.hitcount else ""
    text += " --rttl" if m.ttl else ""
    text += f" --name {m.name} --mask {m.mask or full_mask(layout.family)}"
    return text + (" --rdest" if m.side == "dest" else " --rsource")


def _addrtype(_layout: SaveLayout, m: AddrType) -> str:
    text = "-m addrtype"
    for option, value in (("--src-type", m.src_type), ("--dst-type", m.dst_type)):
        if value is not None:
            text += _option_bang(value) + f" {option} {value.value}"
    text += " --limit-iface-in" if m.limit_iface_in else ""
    return text + (" --limit-iface-out" if m.limit_iface_out else "")


def _multiport(layout: SaveLayout, m: Multiport) -> str:
    protocol = layout.protocol
    ports = port_list(m.ports.value, protocol, True, layout.names)
    return "-m multiport" + _option_bang(m.ports) + f" --{m.direction} {ports}"


def _unknown(_layout: SaveLayout, m: UnknownMatch) -> str:
    if not m.text.startswith("-m "):
        raise RenderError(f"match kept in iptables -L form only: {m.text!r}")
    return m.text


def _conn_state(_layout: SaveLayout, m: ConnState) -> str:
    option = "--ctstate" if m.module == "conntrack" else "--state"
    return f"-m {m.module}" + _option_bang(m.states) + f" {option} {states(m.states.value)}"


MATCHES: dict[type, Callable[[SaveLayout, Any], str]] = {
    Comment: lambda _layout, m: f"-m comment --comment {save_string(m.text)}",
    Ports: _ports,
    Multiport: _multiport,
    StatisticRandom: lambda _layout, m: ("-m statistic --mode random" + _option_bang(m.threshold)
                                              + f" --probability {printed_probability(m.threshold.value)}"),
    StatisticNth: lambda _layout, m: ("-m statistic --mode nth" + _option_bang(m.every)
                                           + f" --every {m.every.value} --packet {m.packet}"),
    Recent: _recent,
    MarkMatch: lambda _layout, m: "-m mark" + _option_bang(m.mark) + f" --mark {mark_value(m.mark.value)}",
    AddrType: _addrtype,
    ConnState: _conn_state,
    UnknownMatch: _unknown,
}


# --- whole outputs -------------------------------------------------------------------------------

def _chain_counters(c: Counters | None) -> str:
    c = or_zero(c)
    return f"[{c.packets}:{c.bytes}]"


def render_table_save(table: Table, layout: SaveLayout, with_counters: bool) -> str:
    """One `*table … COMMIT` block."""
    chains = ordered_chains(table)
    lines = [f"*{table.name}"]
    lines += [f":{c.name} {c.policy or '-'} {_chain_counters(c.counters)}" for c in chains]
    for c in chains:
        for rule in c.rules:
            prefix = _chain_counters(rule.counters) + " " if with_counters else ""
            lines.append(prefix + layout.rule_line(c.name, rule))
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def render_save(ruleset: Ruleset, names: Names, counters: bool = False, backend: str = "nft",
                date: str | datetime | None = None) -> str:
    """Every table, in the model's order (see kubechain.render for why), as iptables-save prints
    them; each table in its own family (a dual-stack dump is iptables-save then ip6tables-save)."""
    if isinstance(date, datetime):
        date = date.strftime("%a %b %e %H:%M:%S %Y")
    date = date or EPOCH
    version = "v1.8.9 (nf_tables)" if backend == "nft" else "v1.8.9"
    out = []
    for table in ruleset.tables:
        family = table_family(table) or ruleset.family
        program = ("ip6tables" if family == "ipv6" else "iptables") + ("-nft" if backend == "nft" else "")
        out.append(f"# Generated by {program}-save {version} on {date}\n")
        out.append(render_table_save(with_builtins(table), SaveLayout(family, names), counters))
        out.append(f"# Completed on {date}\n")
    return "".join(out)


def render_spec(ruleset: Ruleset, names: Names, table: str = "filter", chain: str | None = None,
                verbose: bool = False) -> str:
    """`iptables -t TABLE -S [CHAIN] [-v]`: -P / -N lines first, then every rule."""
    found = listed_table(ruleset, table)
    layout = SaveLayout(ruleset.family, names)
    chains = ordered_chains(found)
    if chain is not None:
        chains = [c for c in chains if c.name == chain]
        if not chains:
            raise RenderError(f"no chain {chain!r} in table {table!r}")
    lines = []
    for c in chains:
        if c.builtin:
            policy_counters = or_zero(c.counters)
            lines.append(f"-P {c.name} {c.policy}"
                         + (f" -c {policy_counters.packets} {policy_counters.bytes}" if verbose else ""))
        else:
            lines.append(f"-N {c.name}")
    for c in chains:
        lines += [layout.rule_line(c.name, r, or_zero(r.counters) if verbose else None) for r in c.rules]
    return "".join(line + "\n" for line in lines)
