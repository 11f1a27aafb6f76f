"""What a trace reads of a whole table, computed once per table rather than once per packet: a
script traces many packets through one dump, and each whole-table pass over a 30,000-service table
is a million rules (three such passes were 80% of a trace on the 10k dump)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from ..model import Chain, SetUpdate, Table
from ..netfilter import BUILTIN_CHAINS


@dataclass(frozen=True, slots=True)
class TableIndex:
    """`chain_of`: each rule's chain by the rule's id (a path step names it); `updated_sets`: the nft
    sets rules update (their printed elements are state, not rules); `base_chains`: the chains a
    hook can run (nft base chains, iptables' built-in chains)."""

    chain_of: dict[int, str]
    updated_sets: frozenset[str]
    base_chains: tuple[Chain, ...]


#: the indexes of the last tables traced, each kept with its table (so that its id stays its own)
_INDEXES: OrderedDict[int, tuple[Table, TableIndex]] = OrderedDict()
_KEPT = 8


def table_index(table: Table) -> TableIndex:
    """The table's index, built on its first trace."""
    kept = _INDEXES.get(id(table))
    if kept is not None and kept[0] is table:
        _INDEXES.move_to_end(id(table))
        return kept[1]
    builtin = BUILTIN_CHAINS.get(table.name, ()) if table.family is None else ()
    index = TableIndex(
        {id(r): name for name, c in table.chains.items() for r in c.rules},
        frozenset(m.set for c in table.chains.values() for r in c.rules for m in r.matches if type(m) is SetUpdate),
        tuple(c for c in table.chains.values() if c.hook is not None or c.name in builtin))
    _INDEXES[id(table)] = (table, index)
    if len(_INDEXES) > _KEPT:
        _INDEXES.popitem(last=False)
    return index
