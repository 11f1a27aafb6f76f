"""A dump's counters, read as connections: what each endpoint observed, what entered a service
chain, and their fit against the exact shares (README, "Observed counters").

The nat table sees only the first packet of a connection, so a DNAT rule's packet counter is the
number of new connections sent to its endpoint. Two cases need other counters: with ClientIP
affinity a returning client repeats its endpoint (not an independent draw), and endpoint chains
shared by KUBE-SVC and KUBE-SVL count both paths; then the rules that jump to the endpoints
without `recent --rcheck` are counted instead (each chain's own first choices).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction

from ..kube import FRONTEND_CHAINS, HASHED_PREFIXES, affinity_check, chain_hash, commented_address
from ..kube_nft import endpoint_address as named_endpoint
from ..model import Chain, DnatMap, Jump, Rule, Table, VerdictMap, jumps_into
from ..netfilter import rounded_range
from .fit import Fit, goodness_of_fit, interval_fit
from .walk import EndpointShare, Walk

UNCOUNTED = ("not every endpoint has a counter of its own (a chain printed without counters: -L without -v; an "
             "nft rule without a `counter` statement; or one numgen rule choosing all endpoints, whose counter is "
             "their sum): list with -v -x, or use iptables-save -c, for a fit")
#: the rules that choose among all endpoints at once: their counters are not per endpoint
_BRANCHES = (VerdictMap, DnatMap)


@dataclass(slots=True)
class TableCounters:
    """What the counter readings of one nat table need, computed on first use, once per table."""

    table: Table
    _entries: dict[str, list[Rule]] | None = field(default=None, init=False)
    _jumps: Counter[str] | None = field(default=None, init=False)

    @property
    def entries(self) -> dict[str, list[Rule]]:
        """Rules of KUBE-SERVICES and KUBE-NODEPORTS by the chain they jump to."""
        if self._entries is None:
            self._entries = {}
            for name, _ in FRONTEND_CHAINS:
                chain = self.table.chains.get(name)
                for rule in chain.rules if chain else ():
                    if type(rule.target) is Jump:
                        self._entries.setdefault(rule.target.chain, []).append(rule)
        return self._entries

    @property
    def jumps(self) -> Counter[str]:
        if self._jumps is None:
            self._jumps = jumps_into(self.table)
        return self._jumps

    def entered(self, chain: str) -> int | None:
        """Connections that entered `chain`: the counters of the jumps into it from KUBE-SERVICES,
        KUBE-NODEPORTS and the chains of its own service port (KUBE-EXT/FW/SVC/SVL with its hash).
        None when a counter is missing or rounded."""
        h = chain_hash(chain)
        rules = list(self.entries.get(chain, ()))
        for prefix in HASHED_PREFIXES:
            group = self.table.chains.get(prefix + h) if h else None
            if group is not None and group.name != chain:
                rules.extend(r for r in group.rules if type(r.target) is Jump and r.target.chain == chain)
        counted = [r.counters for r in rules]
        if not counted or any(c is None or not c.packets_exact for c in counted):
            return None
        return sum(c.packets for c in counted if c is not None)


def endpoint_address(share: EndpointShare[Fraction]) -> str | None:
    """From the DNAT; where the printout does not show it (the endpoint chain is not in it, or an
    older iptables printed `[unsupported revision]`), from a jump's `->` comment or, in nftables
    mode, from the chain's name (`endpoint-…__10.180.0.4/80`)."""
    if share.destination is None and (share.missing or share.dnat_rules):
        commented = next((a for r in share.jump_rules if (a := commented_address(r))), None)
        return commented or (named_endpoint(share.chain) if share.missing else None)
    return share.destination


def endpoint_observed(share: EndpointShare[Fraction], chains: dict[str, Chain]) -> tuple[int | None, bool]:
    """(new connections counted, all counters exact): the DNAT rules' packet counters, or for an
    endpoint chain missing from the printout the jumps into it. Counters belong to each chain's
    printout: None when the counted rules were printed without them (`-L` without -v), 0 for an
    endpoint chain printed with counters that has no DNAT."""
    counted = share.dnat_rules if share.dnat_rules else (share.jump_rules if share.missing else [])
    if not counted:
        chain = chains.get(share.chain)
        printed_with_counters = chain is not None and any(r.counters is not None for r in chain.rules)
        return (0, True) if printed_with_counters else (None, False)
    readings = [r.counters for r in counted if r.counters is not None]
    if len(readings) < len(counted) or any(type(r.target) in _BRANCHES for r in counted):
        return None, False  # printed without counters; or an nft map whose counter is every endpoint's
    return sum(c.packets for c in readings), all(c.packets_exact for c in readings)


#: a counted rule's reading: (packets, exact)
Reading = tuple[int, bool]


def observed_fit(walk: Walk[Fraction], shares: list[Fraction], observed: list[tuple[int | None, bool]],
                 table: TableCounters) -> Fit | None:
    """The dump's counters against the exact shares (module docstring): None when nothing was
    counted and nothing can fall through; `test: "none"` with the reason where the counters cannot
    be tested; the interval test where they are K/M/G-rounded."""
    shared = any(table.jumps[s.chain] > len(s.jump_rules) for s in walk.endpoints.values())
    entered = table.entered(walk.start)
    if walk.affinity_seconds is not None or shared:
        if any(type(r.target) in _BRANCHES for s in walk.endpoints.values() for r in s.jump_rules):
            return fit_cells([None for _ in walk.endpoints], shares, Fraction(0), None, "dnat", uncounted=True)
        source = "jump-rules"
        cells: list[list[Reading] | None] = []
        for s in walk.endpoints.values():
            rules = [r for r in s.jump_rules if affinity_check(r) is None]
            readings = [(r.counters.packets, r.counters.packets_exact) for r in rules if r.counters is not None]
            cells.append(readings if len(readings) == len(rules) else None)
        if walk.affinity_seconds is not None:
            entered = None  # returning clients enter too; only the new clients' choices are counted
    else:
        source = "dnat"
        cells = [[(n, ok)] if n is not None else None for n, ok in observed]
    return fit_cells(cells, shares, walk.unassigned or Fraction(0), entered, source)


def fit_cells(cells: list[list[Reading] | None], shares: list[Fraction], unassigned_probability: Fraction,
              entered: int | None, source: str, uncounted: bool = False) -> Fit | None:
    """Test the readings of each endpoint (None: no counter of its own) against the shares."""
    if all(c is None for c in cells) and not uncounted:
        return None
    counts = [sum(n for n, _ in c) if c is not None else 0 for c in cells]
    if any(c is None for c in cells):
        return Fit("none", None, None, sum(counts), None, source, UNCOUNTED, tuple(counts))
    readings = [c for c in cells if c is not None]
    exact = all(ok for c in readings for _, ok in c)
    total = sum(counts)
    # an unassigned cell only where the rules let connections fall through: otherwise a gap between
    # the entry and endpoint counters is a non-atomic snapshot of a busy node, not an event
    known = entered is not None and entered >= total and unassigned_probability > 0
    unassigned = entered - total if known and entered is not None else None
    if total == 0 and not unassigned:
        return None
    if not exact:
        ranges = [_range(c) for c in readings]
        return interval_fit(ranges, counts, shares, unassigned_probability, source)
    return goodness_of_fit(counts, shares, unassigned, unassigned_probability, source)


def fit_counts(counts: list[int], exact: bool, shares: list[Fraction], unassigned_probability: Fraction,
               entered: int | None, source: str) -> Fit | None:
    """fit_cells for one reading per endpoint, all exact or all rounded."""
    return fit_cells([[(n, exact)] for n in counts], shares, unassigned_probability, entered, source)


def _range(readings: list[Reading]) -> tuple[int, int]:
    """[low, high] of the true sum of one endpoint's readings."""
    bounds = [rounded_range(n) if not ok else (n, n) for n, ok in readings]
    return sum(low for low, _ in bounds), sum(high for _, high in bounds)
