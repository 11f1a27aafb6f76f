"""Walk a chain as the kernel does for one new connection, with exact probabilities.

The connection is a new one to the service, from a client that is not one of its endpoints,
not inside any source range a rule names (`-s X` does not match, `! -s X` does), not local to
the node, and unknown to every `recent` list (so `--rcheck` does not match). For a KUBE-SVC
chain this is every new client; for KUBE-EXT it is a client outside the cluster. Random
`statistic` rules draw independently, so a rule matching with probability p splits the mass
reaching it into p (its target) and 1 - p (the next rule). Exact: Python Fractions throughout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

from .model import (
    AddrType,
    Chain,
    ConnState,
    Dnat,
    Jump,
    Masquerade,
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


@dataclass(slots=True)
class EndpointShare:
    """The mass that ends in one endpoint (a KUBE-SEP chain, or a chain holding a DNAT)."""

    chain: str
    probability: Fraction = ZERO
    destination: str | None = None  # DNAT --to-destination; None when the chain has no DNAT
    dnat_rules: list[Rule] = field(default_factory=list)  # the DNAT rules of the chain
    jump_rules: list[Rule] = field(default_factory=list)  # the rules that jump into it
    missing: bool = False  # the chain is not in the dump (a single-chain listing)


@dataclass(slots=True)
class Walk:
    """Where the probability mass entering `start` goes."""

    start: str
    endpoints: dict[str, EndpointShare] = field(default_factory=dict)
    unassigned: Fraction = ZERO
    missing_chains: dict[str, int] = field(default_factory=dict)  # chain → line of first jump
    cycles: list[tuple[str, int]] = field(default_factory=list)  # (chain, line of the jump)
    affinity_seconds: int | None = None
    no_dnat: list[str] = field(default_factory=list)  # endpoint chains left without a DNAT
    assumed: list[Rule] = field(default_factory=list)  # rules whose unknown match was taken as true


def rule_probability(rule: Rule, walk: Walk) -> Fraction:
    """Probability that `rule` matches the new connection described in the module docstring."""
    if rule.source is not None and not rule.source_negated:
        return ZERO
    p = ONE
    for m in rule.matches:
        kind = type(m)
        if kind is StatisticRandom or kind is StatisticNth:
            p *= m.match_probability
        elif kind is Recent:
            if m.command in ("CHECK", "UPDATE"):
                if m.seconds is not None:
                    walk.affinity_seconds = max(walk.affinity_seconds or 0, m.seconds)
                if not m.inverted:
                    return ZERO
            elif m.inverted:
                return ZERO
        elif kind is AddrType:
            if (m.src_type == "LOCAL") != m.src_negated and m.src_type is not None:
                return ZERO
        elif kind is ConnState:
            if ("NEW" in m.states.split(",")) == m.negated:
                return ZERO
        elif kind is UnknownMatch:
            walk.assumed.append(rule)
    return p


def walk_chain(chains: dict[str, Chain], start: str) -> Walk:
    walk = Walk(start)
    returned = _run(chains, start, ONE, walk, [], None)
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


def _run(chains: dict[str, Chain], name: str, mass: Fraction, walk: Walk, stack: list[str],
         endpoint: EndpointShare | None) -> Fraction:
    """Send `mass` into chain `name`; return the mass that comes back to the caller.

    Written for a million rules: a rule that surely matches moves the mass without arithmetic,
    and Fractions are only built where a statistic match splits it.
    """
    chain = chains[name]
    stack.append(name)
    remaining = mass
    back = ZERO  # mass that left through RETURN, or through the end of a goto'd chain
    for rule in chain.rules:
        target = rule.target
        if type(target) is Jump and target.chain.startswith(ENDPOINT_PREFIX):
            _endpoint(walk, target.chain).jump_rules.append(rule)
        if not remaining:
            continue  # keep registering endpoints in chain order, nothing else to do
        p = rule_probability(rule, walk)
        if not p:
            continue
        if p == 1:
            hit, rest = remaining, ZERO
        else:
            hit, rest = _split(remaining, p)
        came_back = _apply(chains, name, rule, target, hit, walk, stack, endpoint)
        if type(came_back) is tuple:  # (to this chain, to the caller) from a goto or RETURN
            came_back, left = came_back
            back = back + left if back else left
        remaining = rest + came_back if rest and came_back else (rest or came_back)
    stack.pop()
    return remaining + back if back else remaining


def _apply(chains: dict[str, Chain], name: str, rule: Rule, target: object, hit: Fraction, walk: Walk,
           stack: list[str], endpoint: EndpointShare | None) -> Fraction | tuple[Fraction, Fraction]:
    """What `target` does with the mass `hit`: the mass that continues in this chain, or a
    (continues, returns to the caller) pair."""
    if target is None:
        return hit
    kind = type(target)
    if kind is Jump:
        if target.chain not in chains:
            came_back = _missing(walk, target.chain, rule, hit)
        elif target.chain in stack:
            walk.cycles.append((target.chain, rule.line))
            walk.unassigned += hit
            return ZERO
        else:
            inner = _endpoint(walk, target.chain) if target.chain.startswith(ENDPOINT_PREFIX) else endpoint
            came_back = _run(chains, target.chain, hit, walk, stack, inner)
        return (ZERO, came_back) if target.goto else came_back
    if kind is Dnat and target.name == "DNAT":
        if endpoint is None:  # a DNAT outside any KUBE-SEP chain: the endpoint is this rule's destination
            endpoint = _endpoint(walk, f"{name} -> {target.destination}")
            endpoint.chain, endpoint.destination = name, target.destination
            if rule not in endpoint.dnat_rules:
                endpoint.dnat_rules.append(rule)
        endpoint.probability = endpoint.probability + hit if endpoint.probability else hit
        return ZERO
    if kind is Verdict:
        if target.name == "RETURN":
            return (ZERO, hit)
        walk.unassigned += hit
        return ZERO
    if kind in (Reject, Masquerade, Dnat) or getattr(target, "name", "") in _TERMINAL_EXTENSIONS:
        walk.unassigned += hit
        return ZERO
    return hit  # MARK, LOG, CONNMARK…: non-terminating, evaluation continues


@lru_cache(maxsize=65536)
def _split(mass: Fraction, p: Fraction) -> tuple[Fraction, Fraction]:
    """(mass · p, mass · (1 - p)). Services with equally many endpoints split the same masses
    by the same thresholds, so a 30k-service dump repeats a few hundred distinct splits."""
    hit = mass * p
    return hit, mass * (1 - p)


def _endpoint(walk: Walk, chain: str) -> EndpointShare:
    share = walk.endpoints.get(chain)
    if share is None:
        share = walk.endpoints[chain] = EndpointShare(chain)
    return share


def _missing(walk: Walk, chain: str, rule: Rule, hit: Fraction) -> Fraction:
    """A jump to a chain the dump does not hold. An endpoint chain (as in a `-L KUBE-SVC-X`
    listing) keeps the share by name; any other chain is assumed to return, as KUBE-MARK-MASQ
    does. Returns the mass that comes back."""
    walk.missing_chains.setdefault(chain, rule.line)
    if not chain.startswith(ENDPOINT_PREFIX):
        return hit
    share = _endpoint(walk, chain)
    share.missing = True
    share.probability += hit
    return ZERO
