"""`iptables-save [-c]` and `iptables -S [-v]` from a model, byte for byte.

A rule line is `-A CHAIN`, then the basic options in iptables' fixed order (-s -d -i -o -p -f,
whatever order they were written in), then each match as `-m NAME --options` in rule order,
then (`-S -v` only) `-c PACKETS BYTES`, then the target. Addresses always carry their mask
(`/32`), values are quoted only when they hold more than [A-Za-z0-9_-].
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from .model import (
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
    OtherTarget,
    Ports,
    Recent,
    Reject,
    Rule,
    Ruleset,
    StatisticNth,
    StatisticRandom,
    Table,
    Target,
    UnknownMatch,
    Verdict,
)
from .names import Names
from .render_list import default_reject, full_mask
from .render_values import (
    RenderError,
    address,
    listed_table,
    mark_value,
    or_zero,
    ordered_chains,
    port_list,
    port_range,
    probability,
    protocol_number,
    save_address,
    save_string,
    states,
    with_builtins,
)

#: what `date` iptables-save prints when none is given: ctime() of the epoch
EPOCH = "Thu Jan  1 00:00:00 1970"


def rule_line(chain: str, rule: Rule, family: str, names: Names, counters_option: Counters | None = None) -> str:
    """`-A CHAIN …` without a trailing newline; `counters_option` adds `-iptables -S -v`'s `-c p b`."""
    parts = [f"-A {chain}"]
    for letter, value, negated in (("s", rule.source, rule.source_negated),
                                   ("d", rule.destination, rule.destination_negated)):
        if value is not None or negated:
            parts.append(("! " if negated else "") + f"-{letter} " + save_address(address(value, family, names)))
    for letter, iface in (("i", rule.in_interface), ("o", rule.out_interface)):
        if iface is not None:
            parts.append(f"! -{letter} {iface[1:]}" if iface.startswith("!") else f"-{letter} {iface}")
    number, negated = protocol_number(rule.protocol, names)
    if number:
        parts.append(("! " if negated else "") + f"-p {names.protocol_name(number) or number}")
    if rule.fragment:
        parts.append("! -f" if rule.fragment == "!f" else "-f")
    parts.extend(match_text(m, rule, family, names) for m in rule.matches)
    if counters_option is not None:
        parts.append(f"-c {counters_option.packets} {counters_option.bytes}")
    if rule.target is not None:
        parts.append(target_text(rule.target, family))
    return " ".join(parts)


def match_text(match: Match, rule: Rule, family: str, names: Names) -> str:
    printer = _MATCHES.get(type(match))
    if printer is None:
        raise RenderError(f"no iptables-save form for {match!r}")
    return printer(match, rule, family, names)


def target_text(target: Target, family: str) -> str:
    if isinstance(target, Jump):
        return f"-{'g' if target.goto else 'j'} {target.chain}"
    if isinstance(target, Verdict):
        return f"-j {target.name}"
    if isinstance(target, Dnat):
        option = "--to-source" if target.name == "SNAT" else "--to-destination"
        return f"-j {target.name} {option} {target.destination}" + "".join(" --" + f for f in target.flags.split())
    if isinstance(target, MarkTarget):
        return f"-j MARK --set-xmark 0x{target.value:x}/0x{target.mask:x}"
    if isinstance(target, Masquerade):
        flags = target.flags.replace("masq ports: ", "to-ports ").split()
        return "-j MASQUERADE" + "".join(" " + (f if f[0].isdigit() else "--" + f) for f in flags)
    if isinstance(target, Reject):
        return f"-j REJECT --reject-with {target.with_ or default_reject(family)}"
    if isinstance(target, OtherTarget):
        return f"-j {target.name}" + (f" {target.text}" if target.text else "")
    raise RenderError(f"no iptables-save form for {target!r}")


# --- matches -----------------------------------------------------------------------------------

def _ports(m: Ports, rule: Rule, family: str, names: Names) -> str:
    text = f"-m {m.protocol}"
    for option, value, negated in (("--sport", m.sport, m.sport_negated), ("--dport", m.dport, m.dport_negated)):
        if value is not None:
            low, high = port_range(value, m.protocol, names)
            text += (" !" if negated else "") + f" {option} {low}" + (f":{high}" if high != low else "")
    if m.extra:
        if not m.extra.startswith(("--", "! ")):
            raise RenderError(f"{m.protocol} options are kept in iptables -L form only: {m.extra!r}")
        text += " " + m.extra
    return text


def _recent(m: Recent, rule: Rule, family: str, names: Names) -> str:
    command = {"SET": "--set", "CHECK": "--rcheck", "UPDATE": "--update", "REMOVE": "--remove"}[m.command]
    text = "-m recent" + (" !" if m.inverted else "") + f" {command}"
    text += f" --seconds {m.seconds}" if m.seconds else ""
    text += " --reap" if m.reap else ""
    text += f" --hitcount {m.hitcount}" if m.hitcount else ""
    text += " --rttl" if m.ttl else ""
    text += f" --name {m.name} --mask {m.mask or full_mask(family)}"
    return text + (" --rdest" if m.side == "dest" else " --rsource")


def _addrtype(m: AddrType, rule: Rule, family: str, names: Names) -> str:
    text = "-m addrtype"
    text += (" !" if m.src_negated else "") + f" --src-type {m.src_type}" if m.src_type else ""
    text += (" !" if m.dst_negated else "") + f" --dst-type {m.dst_type}" if m.dst_type else ""
    return text + "".join(f" --limit-iface-{e[6:]}" for e in m.extra.split())


def _multiport(m: Multiport, rule: Rule, family: str, names: Names) -> str:
    protocol = (rule.protocol or "").lstrip("!")
    ports = port_list(m.ports, protocol, True, names)
    return "-m multiport" + (" !" if m.negated else "") + f" --{m.direction} {ports}"


def _unknown(m: UnknownMatch, rule: Rule, family: str, names: Names) -> str:
    if not m.text.startswith("-m "):
        raise RenderError(f"match kept in iptables -L form only: {m.text!r}")
    return m.text


def _conn_state(m: ConnState, rule: Rule, family: str, names: Names) -> str:
    option = "--ctstate" if m.module == "conntrack" else "--state"
    return f"-m {m.module}" + (" !" if m.negated else "") + f" {option} {states(m.states)}"


_MATCHES: dict[type, Callable[[object, Rule, str, Names], str]] = {
    Comment: lambda m, rule, family, names: f"-m comment --comment {save_string(m.text)}",
    Ports: _ports,
    Multiport: _multiport,
    StatisticRandom: lambda m, rule, family, names: ("-m statistic --mode random" + (" !" if m.inverted else "")
                                                     + f" --probability {probability(m.threshold)}"),
    StatisticNth: lambda m, rule, family, names: ("-m statistic --mode nth" + (" !" if m.inverted else "")
                                                  + f" --every {m.every} --packet {m.packet}"),
    Recent: _recent,
    MarkMatch: lambda m, rule, family, names: ("-m mark" + (" !" if m.negated else "")
                                               + f" --mark {mark_value(m.value)}"),
    AddrType: _addrtype,
    ConnState: _conn_state,
    UnknownMatch: _unknown,
}


# --- whole outputs -------------------------------------------------------------------------------

def _chain_counters(c: Counters | None) -> str:
    c = or_zero(c)
    return f"[{c.packets}:{c.bytes}]"


def render_table_save(table: Table, family: str, names: Names, with_counters: bool) -> str:
    """One `*table … COMMIT` block."""
    chains = ordered_chains(table)
    lines = [f"*{table.name}"]
    lines += [f":{c.name} {c.policy or '-'} {_chain_counters(c.counters)}" for c in chains]
    for c in chains:
        for rule in c.rules:
            prefix = _chain_counters(rule.counters) + " " if with_counters else ""
            lines.append(prefix + rule_line(c.name, rule, family, names))
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def render_save(ruleset: Ruleset, names: Names, counters: bool = False, backend: str = "nft",
                date: str | datetime | None = None) -> str:
    """Every table, in the model's order (see render.render for why), as iptables-save prints them."""
    if isinstance(date, datetime):
        date = date.strftime("%a %b %e %H:%M:%S %Y")
    date = date or EPOCH
    program = ("ip6tables" if ruleset.family == "ipv6" else "iptables") + ("-nft" if backend == "nft" else "")
    version = "v1.8.9 (nf_tables)" if backend == "nft" else "v1.8.9"
    out = []
    for table in ruleset.tables:
        out.append(f"# Generated by {program}-save {version} on {date}\n")
        out.append(render_table_save(with_builtins(table), ruleset.family, names, counters))
        out.append(f"# Completed on {date}\n")
    return "".join(out)


def render_spec(ruleset: Ruleset, names: Names, table: str = "filter", chain: str | None = None,
                verbose: bool = False) -> str:
    """`iptables -t TABLE -S [CHAIN] [-v]`: -P / -N lines first, then every rule."""
    found = listed_table(ruleset, table)
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
        lines += [rule_line(c.name, r, ruleset.family, names, or_zero(r.counters) if verbose else None)
                  for r in c.rules]
    return "".join(line + "\n" for line in lines)
