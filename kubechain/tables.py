"""Tables from chain lists, for inputs that do not name their table (`-L`, `-S`)."""

from __future__ import annotations

from .fields import address_family
from .model import Chain, Dnat, Masquerade, Table

_NAT_CHAINS = ("KUBE-SVC-", "KUBE-SEP-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-XLB-",
               "KUBE-MARK-MASQ", "KUBE-POSTROUTING")


def group_tables(chains: list[Chain]) -> tuple[Table, ...]:
    """Split concatenated listings into tables. `-L` prints built-in chains first, so a chain name
    seen again, or a built-in chain after user chains, starts a new table."""
    groups: list[dict[str, Chain]] = [{}]
    after_user_chains = False
    for chain in chains:
        if chain.name in groups[-1] or (chain.builtin and after_user_chains):
            groups.append({})
        after_user_chains = not chain.builtin
        groups[-1][chain.name] = chain
    return tuple(Table(table_name(g), g, next(iter(g.values())).line) for g in groups if g)


def table_name(chains: dict[str, Chain]) -> str:
    """The table a listing came from, judged by its built-in chains, then its chains and targets."""
    names = chains.keys()
    if "FORWARD" in names:
        return "mangle" if "PREROUTING" in names else "filter"
    if "POSTROUTING" in names:
        return "nat"
    if "PREROUTING" in names:
        return "raw"
    if any(n.startswith(_NAT_CHAINS) for n in names):
        return "nat"
    nat_targets = (Dnat, Masquerade)
    if any(isinstance(r.target, nat_targets) for c in chains.values() for r in c.rules):
        return "nat"
    return "filter"


def table_family(table: Table) -> str | None:
    """The family of the first address literal in the table's rules; None when there is none
    (names printed by `-L` without -n do not count). A dual-stack dump holds one table of each."""
    for chain in table.chains.values():
        for rule in chain.rules:
            for address in (rule.source, rule.destination):
                family = address_family(address) if address is not None else None
                if family is not None:
                    return family
    return None
