"""Model transformations for the property tests (metamorphic relations), and exact shares by chain."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import kubechain
from kubechain.model import Chain, Jump, Recent, Rule, Ruleset, Table


def nat(ruleset: Ruleset) -> Table:
    table = ruleset.table("nat")
    assert table is not None
    return table


def service_chains(ruleset: Ruleset, prefix: str = "KUBE-SVC-") -> list[str]:
    return [name for name in nat(ruleset).chains if name.startswith(prefix)]


def with_chain(ruleset: Ruleset, chain: Chain) -> Ruleset:
    """The ruleset with one nat chain replaced."""
    tables = tuple(Table(t.name, {**t.chains, chain.name: chain}) if t.name == "nat" else t
                   for t in ruleset.tables)
    return dataclasses.replace(ruleset, tables=tables)


def rename_chains(ruleset: Ruleset, mapping: dict[str, str]) -> Ruleset:
    """Every chain, jump and recent-list name renamed by `mapping` (names not in it stay)."""
    def rule(r: Rule) -> Rule:
        target = r.target
        if isinstance(target, Jump) and target.chain in mapping:
            target = Jump(mapping[target.chain], target.goto)
        matches = tuple(dataclasses.replace(m, name=mapping.get(m.name, m.name)) if isinstance(m, Recent) else m
                        for m in r.matches)
        return dataclasses.replace(r, target=target, matches=matches)

    tables = []
    for t in ruleset.tables:
        chains = {}
        for c in t.chains.values():
            name = mapping.get(c.name, c.name)
            chains[name] = dataclasses.replace(c, name=name, rules=tuple(rule(r) for r in c.rules))
        tables.append(Table(t.name, chains))
    return dataclasses.replace(ruleset, tables=tuple(tables))


def shares_by_chain(ruleset: Ruleset) -> dict[str, tuple[dict[str, Fraction], Fraction]]:
    """chain → (endpoint chain → share for shares > 0, unassigned), from kubechain.analyze."""
    out = {}
    for s in kubechain.analyze(ruleset).services:
        endpoints: dict[str, Fraction] = {}
        for e in s.endpoints:
            if e.share:
                endpoints[e.chain] = endpoints.get(e.chain, Fraction(0)) + e.share
        out[s.chain] = (endpoints, s.unassigned)
    return out
