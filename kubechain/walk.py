"""Walk a chain as the kernel does for new connections: one walk, generic over what flows.

The connection is a new one to the service, from a client that is not one of its endpoints,
not inside any source range a rule names (`-s X` does not match, `! -s X` does), not local to
the node, and unknown to every `recent` list (so `--rcheck` does not match). For a KUBE-SVC
chain this is every new client; for KUBE-EXT it is a client outside the cluster.

What flows through the walk is decided by a *flow*: :data:`EXACT` sends an exact Fraction mass
(a rule matching with probability p splits the mass reaching it into p for its target and 1 - p
for the next rule); :class:`kubechain.sampler.SampledFlow` sends an integer count of connections
and splits it by drawing the kernel's random numbers. Everything else (jumps, goto, RETURN,
DNAT, missing chains, cycles) is this one walk, so the sampler cannot diverge from the analysis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Any, Protocol

from .model import (
    AddrType,
    Chain,
    ConnState,
    Dnat,
    Jump,
    Masquerade,
    Match,
    Recent,
    Reject,
    Rule,
    StatisticNth,
    StatisticRandom,
    UnknownMatch,
    Verdict,
)

ENDPOINT_PREFIX = "KUBE-SEP-"
ZERO = Fraction(0)
ONE = Fraction(1)
_TERMINAL_EXTENSIONS = frozenset({"REDIRECT", "NETMAP", "NFQUEUE", "SYNPROXY", "TPROXY"})


#: What a rule's matches decide for the connection: the statistic matches the kernel evaluates, in
#: order, and whether the rule can match at all (False: a deterministic match fails, after the
#: statistic matches listed, which the kernel still evaluates: nth counters still advance).
Gate = tuple[tuple[Match, ...], bool]
_ALWAYS: Gate = ((), True)
_NEVER: Gate = ((), False)


class Flow(Protocol):
    """What flows through a walk: an exact mass, or a count of sampled connections."""

    zero: Any  # nothing (falsy); also the type every mass of this flow has
    whole: Any  # what enters the start chain

    def split(self, mass: Any, rule: Rule, walk: Walk) -> tuple[Any, Any]:
        """(the part of `mass` that `rule` matches, the part that goes on to the next rule)."""


@dataclass(slots=True)
class EndpointShare:
    """The mass that ends in one endpoint (a KUBE-SEP chain, or a chain holding a DNAT):
    an exact probability (Fraction) or a sampled count of connections (int), by the flow."""

    chain: str
    mass: Any = ZERO
    destination: str | None = None  # DNAT --to-destination; None when the chain has no DNAT
    dnat_rules: list[Rule] = field(default_factory=list)  # the DNAT rules of the chain
    jump_rules: list[Rule] = field(default_factory=list)  # the rules that jump into it
    missing: bool = False  # the chain is not in the dump (a single-chain listing)


@dataclass(slots=True)
class Walk:
    """Where the probability mass entering `start` goes."""

    start: str
    endpoints: dict[str, EndpointShare] = field(default_factory=dict)
    unassigned: Any = ZERO  # mass that leaves the start chain without reaching a DNAT
    cycles: list[tuple[str, int]] = field(default_factory=list)  # (chain, line of the jump)
    affinity_seconds: int | None = None
    no_dnat: list[str] = field(default_factory=list)  # endpoint chains left without a DNAT
    assumed: list[Rule] = field(default_factory=list)  # rules whose unknown match was taken as true
    zero: Any = ZERO  # the flow's zero


def rule_gate(rule: Rule, walk: Walk) -> Gate:
    """Which of `rule`'s matches decide it for the new connection described in the module
    docstring. Matches are evaluated in order and the first failing one ends the rule, as in the
    kernel (the address check comes before any match)."""
    if rule.source is not None and not rule.source_negated:
        return _NEVER
    stats: tuple[Match, ...] = ()
    for m in rule.matches:
        kind = type(m)
        if kind is StatisticRandom or kind is StatisticNth:
            stats += (m,)
        elif kind is Recent:
            if m.command in ("CHECK", "UPDATE"):
                if m.seconds is not None:
                    walk.affinity_seconds = max(walk.affinity_seconds or 0, m.seconds)
                if not m.inverted:
                    return (stats, False) if stats else _NEVER
            elif m.inverted:
                return (stats, False) if stats else _NEVER
        elif kind is AddrType:
            if (m.src_type == "LOCAL") != m.src_negated and m.src_type is not None:
                return (stats, False) if stats else _NEVER
        elif kind is ConnState:
            if ("NEW" in m.states.split(",")) == m.negated:
                return (stats, False) if stats else _NEVER
        elif kind is UnknownMatch:
            walk.assumed.append(rule)
    return (stats, True) if stats else _ALWAYS


def rule_probability(rule: Rule, walk: Walk) -> Fraction:
    """Probability that `rule` matches the new connection: the product of its statistic matches'
    probabilities (independent draws; nth selects 1/N over time), or 0."""
    stats, possible = rule_gate(rule, walk)
    if not possible:
        return ZERO
    p = ONE
    for m in stats:
        p *= m.match_probability  # type: ignore[attr-defined]
    return p


class ExactFlow:
    """Exact Fraction masses: the walk of one new connection, as probabilities."""

    zero = ZERO
    whole = ONE

    def split(self, mass: Fraction, rule: Rule, walk: Walk) -> tuple[Fraction, Fraction]:
        """Written for a million rules: a rule that surely matches moves the mass without
        arithmetic, and Fractions are only built where a statistic match splits it."""
        stats, possible = rule_gate(rule, walk)
        if not possible:
            return ZERO, mass
        if not stats:
            return mass, ZERO
        p = stats[0].match_probability  # type: ignore[attr-defined]
        for m in stats[1:]:
            p *= m.match_probability  # type: ignore[attr-defined]
        if p == 1:
            return mass, ZERO
        if not p:
            return ZERO, mass
        return _split(mass, p)


EXACT = ExactFlow()


def walk_chain(chains: dict[str, Chain], start: str, flow: Flow = EXACT) -> Walk:
    """Send the flow's whole into chain `start` and follow it to the endpoints."""
    walk = Walk(start, unassigned=flow.zero, zero=flow.zero)
    returned = _run(chains, start, flow.whole, walk, [], None, flow)
    if returned:
        walk.unassigned += returned
    for share in walk.endpoints.values():
        chain = chains.get(share.chain)
        if chain is None or share.dnat_rules:
            continue
        share.dnat_rules = [r for r in chain.rules if isinstance(r.target, Dnat) and r.target.name == "DNAT"]
        if share.dnat_rules:
            share.destination = share.dnat_rules[0].target.destination  # type: ignore[union-attr]
        else:
            walk.no_dnat.append(share.chain)
    return walk


def _run(chains: dict[str, Chain], name: str, mass: Any, walk: Walk, stack: list[str],
         endpoint: EndpointShare | None, flow: Flow) -> Any:
    """Send `mass` into chain `name`; return the mass that comes back to the caller."""
    chain = chains[name]
    stack.append(name)
    remaining = mass
    zero = walk.zero
    back = zero  # mass that left through RETURN, or through the end of a goto'd chain
    split = flow.split
    for rule in chain.rules:
        target = rule.target
        if type(target) is Jump and target.chain.startswith(ENDPOINT_PREFIX):
            _endpoint(walk, target.chain).jump_rules.append(rule)
        if not remaining:
            continue  # keep registering endpoints in chain order, nothing else to do
        hit, rest = split(remaining, rule, walk)
        if not hit:
            continue
        came_back = _apply(chains, name, rule, target, hit, walk, stack, endpoint, flow)
        if type(came_back) is tuple:  # (to this chain, to the caller) from a goto or RETURN
            came_back, left = came_back
            back = back + left if back else left
        remaining = rest + came_back if rest and came_back else (rest or came_back)
    stack.pop()
    return remaining + back if back else remaining


def _apply(chains: dict[str, Chain], name: str, rule: Rule, target: object, hit: Any, walk: Walk,
           stack: list[str], endpoint: EndpointShare | None, flow: Flow) -> Any:
    """What `target` does with the mass `hit`: the mass that continues in this chain, or a
    (continues, returns to the caller) pair."""
    if target is None:
        return hit
    zero = walk.zero
    kind = type(target)
    if kind is Jump:
        if target.chain not in chains:
            came_back = _missing(walk, target.chain, hit)
        elif target.chain in stack:
            walk.cycles.append((target.chain, rule.line))
            walk.unassigned += hit
            return zero
        else:
            inner = _endpoint(walk, target.chain) if target.chain.startswith(ENDPOINT_PREFIX) else endpoint
            came_back = _run(chains, target.chain, hit, walk, stack, inner, flow)
        return (zero, came_back) if target.goto else came_back
    if kind is Dnat and target.name == "DNAT":
        if endpoint is None:  # a DNAT outside any KUBE-SEP chain: the endpoint is this rule's destination
            endpoint = _endpoint(walk, endpoint_key(name, target.destination))
            endpoint.chain, endpoint.destination = name, target.destination
            if rule not in endpoint.dnat_rules:
                endpoint.dnat_rules.append(rule)
        endpoint.mass = endpoint.mass + hit if endpoint.mass else hit
        return zero
    if kind is Verdict:
        if target.name == "RETURN":
            return (zero, hit)
        walk.unassigned += hit
        return zero
    if kind in (Reject, Masquerade, Dnat) or getattr(target, "name", "") in _TERMINAL_EXTENSIONS:
        walk.unassigned += hit
        return zero
    return hit  # MARK, LOG, CONNMARK…: non-terminating, evaluation continues


@lru_cache(maxsize=65536)
def _split(mass: Fraction, p: Fraction) -> tuple[Fraction, Fraction]:
    """(mass · p, mass · (1 - p)). Services with equally many endpoints split the same masses
    by the same thresholds, so a 30k-service dump repeats a few hundred distinct splits."""
    # Two products, never `mass - hit`: subtracting two big dyadic fractions costs a gcd of two
    # huge powers of two, which made a 4,000-endpoint cascade take 44 s (cubic); products with
    # a small factor stay linear.
    return mass * p, mass * (ONE - p)


def endpoint_key(chain: str, destination: str | None) -> str:
    """The key of an endpoint in `Walk.endpoints`: a KUBE-SEP chain's name, or for a DNAT
    outside any KUBE-SEP chain, `CHAIN -> DESTINATION`."""
    return chain if chain.startswith(ENDPOINT_PREFIX) else f"{chain} -> {destination}"


def _endpoint(walk: Walk, chain: str) -> EndpointShare:
    share = walk.endpoints.get(chain)
    if share is None:
        share = walk.endpoints[chain] = EndpointShare(chain, walk.zero)
    return share


def _missing(walk: Walk, chain: str, hit: Fraction) -> Fraction:
    """A jump to a chain the dump does not hold. An endpoint chain (as in a `-L KUBE-SVC-X`
    listing) keeps the share by name; any other chain is assumed to return, as KUBE-MARK-MASQ
    does. Returns the mass that comes back."""
    if not chain.startswith(ENDPOINT_PREFIX):
        return hit
    share = _endpoint(walk, chain)
    share.missing = True
    share.mass += hit
    return walk.zero
