"""Compare models across formats: reduce each to what one printout of iptables can carry.

`render(m, fmt, **options)` loaded back cannot equal `m` field for field when the format drops or
respells something: `-L` shows one table, counters only with -v (rounded without -x), interfaces
only with -v, names instead of numbers without -n, and `(N references)`; iptables-save/-S spell
protocols by name and add the defaults iptables stores. `carried(m, fmt, **options)` maps a model
to exactly what that printout determines, so for any model

    carried(kubechain.loads(render(m, fmt, **o)), fmt, **o) == carried(m, fmt, **o)

must hold. Reusable by property tests: pass any Ruleset and the render options.
"""

from __future__ import annotations

import dataclasses

from kubechain.model import Counters, Multiport, Negatable, Ports, Recent, Reject, Rule, Ruleset, Table
from kubechain.netfilter import default_reject, full_mask
from kubechain.parse import values
from kubechain.render.names import SYSTEM, Names
from kubechain.render.values import address, listed_table, or_zero, print_num, protocol_number, save_address
from kubechain.render.values import port_range as _port_range
from kubechain.render.values import references as _references


def _counters(c: Counters | None, keep: bool, exact: bool) -> Counters | None:
    if not keep:
        return None
    c = or_zero(c)
    if exact:
        return values.counters(str(c.packets), str(c.bytes))
    return values.counters(print_num(c.packets, False).strip(), print_num(c.bytes, False).strip())


def _numeric_address(value: Negatable[str] | None, family: str, names: Names) -> Negatable[str] | None:
    if value is None or not value.value:
        return value
    return values.address(save_address(address(value.value, family, names)), value.negated)


def _ports(value: Negatable[str] | None, protocol: str, names: Names) -> Negatable[str] | None:
    if value is None:
        return None
    low, high = _port_range(value.value, protocol, names)
    return Negatable(str(low) if low == high else f"{low}:{high}", value.negated)


def _match(match, rule: Rule, family: str, names: Names):
    """Matches with names turned into numbers and iptables' stored defaults filled in."""
    if isinstance(match, Recent) and match.mask is None:
        return dataclasses.replace(match, mask=full_mask(family))
    if isinstance(match, Ports):
        return dataclasses.replace(match, dport=_ports(match.dport, match.protocol, names),
                                   sport=_ports(match.sport, match.protocol, names))
    if isinstance(match, Multiport):
        protocol = rule.protocol.value if rule.protocol is not None else ""
        items = [_ports(Negatable(item), protocol, names).value for item in match.ports.value.split(",")]
        return dataclasses.replace(match, ports=Negatable(",".join(items), match.ports.negated))
    return match


def _rule(rule: Rule, family: str, names: Names, *, counters: bool, exact: bool, interfaces: bool) -> Rule:
    number, negated = protocol_number(rule.protocol, names)
    return dataclasses.replace(
        rule,
        protocol=values.protocol(str(number), negated),
        source=_numeric_address(rule.source, family, names),
        destination=_numeric_address(rule.destination, family, names),
        in_interface=rule.in_interface if interfaces else None,
        out_interface=rule.out_interface if interfaces else None,
        counters=_counters(rule.counters, counters, exact),
        matches=tuple(_match(m, rule, family, names) for m in rule.matches),
        target=Reject(default_reject(family)) if rule.target == Reject() else rule.target,
        line=0,
    )


def carried(ruleset: Ruleset, fmt: str, *, names: Names = SYSTEM, **options) -> dict:
    """What the printout `render(ruleset, fmt, **options)` determines, as a comparable structure:
    {table: {chain: (policy, policy counters, references, rules)}}."""
    if fmt == "iptables-save":
        tables = list(ruleset.tables)
        counters, exact, policy_counters, interfaces = options.get("counters", False), True, True, True
    else:
        table = options.get("table", "filter")
        # a one-chain listing does not say its table; the parser guesses it from the chain's name
        # (a built-in chain such as OUTPUT exists in several tables: the guess may differ)
        one_chain = ruleset.partial or options.get("chain") is not None
        partial = one_chain and ruleset.table(table) is None and len(ruleset.tables) == 1
        tables = [ruleset.tables[0] if partial else listed_table(ruleset, table)]
        verbose = options.get("verbose", False)
        counters = policy_counters = verbose
        exact = options.get("exact", False) or fmt == "iptables-S"
        interfaces = verbose or fmt == "iptables-S"
    out: dict = {}
    for t in tables:
        refs_of = _references(t)
        chains = {}
        for name, c in t.chains.items():
            if options.get("chain") not in (None, name):
                continue
            refs = refs_of[name] if fmt == "iptables-list" and not c.builtin else None
            pc = _counters(c.counters, policy_counters and c.builtin, exact)
            rules = [_rule(r, ruleset.family, names, counters=counters, exact=exact, interfaces=interfaces)
                     for r in c.rules]
            chains[name] = (c.policy, pc, refs, rules)
        out[t.name if fmt == "iptables-save" else table] = chains
    return out


def same_tables(a: Ruleset, b: Ruleset) -> bool:
    """Field-for-field equality of the tables (input line numbers are not part of a model's meaning)."""
    return _tables(a) == _tables(b)


def _tables(r: Ruleset) -> list[Table]:
    return [dataclasses.replace(t, line=0, chains={n: dataclasses.replace(c, line=0) for n, c in t.chains.items()})
            for t in r.tables]


def save_form(ruleset: Ruleset) -> list[Table]:
    """What iptables-save shows of a model: policies always have counters (`[0:0]` without -c), user
    chains' `[0:0]` mean nothing, reference counts are not shown."""
    tables = []
    for t in ruleset.tables:
        chains = {n: dataclasses.replace(c, counters=(c.counters or Counters(0, 0)) if c.builtin else None,
                                         references=None, line=0)
                  for n, c in t.chains.items()}
        tables.append(Table(t.name, chains))
    return tables
