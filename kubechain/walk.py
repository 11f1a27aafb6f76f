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
    """Send `mass` into chain `name`; return the mass that comes back to the caller."""
    chain = chains[name]
    stack.append(name)
    remaining = mass
    back = ZERO  # mass that left through RETURN or a goto'd chain's end
    for rule in chain.rules:
        target = rule.target
        if isinstance(target, Jump) and target.chain.startswith(ENDPOINT_PREFIX):
            share = _endpoint(walk, target.chain)
            share.jump_rules.append(rule)
        if remaining == 0:
            continue  # keep registering endpoints in chain order, nothing else to do
        p = rule_probability(rule, walk)
        if p == 0:
            continue
        hit = remaining if p == 1 else remaining * p
        remaining -= hit
        if target is None:
            remaining += hit
        elif isinstance(target, Jump):
            if target.chain not in chains:
                came_back = _missing(walk, target.chain, rule, hit)
                if target.goto:
                    back += came_back
                else:
                    remaining += came_back
            elif target.chain in stack:
                walk.cycles.append((target.chain, rule.line))
                walk.unassigned += hit
            else:
                inner = endpoint
                if target.chain.startswith(ENDPOINT_PREFIX):
                    inner = _endpoint(walk, target.chain)
                came_back = _run(chains, target.chain, hit, walk, stack, inner)
                if target.goto:
                    back += came_back
                else:
                    remaining += came_back
        elif isinstance(target, Dnat) and target.name == "DNAT":
            if endpoint is not None:
                endpoint.probability += hit
            else:  # a DNAT outside any KUBE-SEP chain: the endpoint is this rule's destination
                share = _endpoint(walk, f"{name} -> {target.destination}")
                share.chain, share.destination = name, target.destination
                if rule not in share.dnat_rules:
                    share.dnat_rules.append(rule)
                share.probability += hit
        elif isinstance(target, Verdict):
            if target.name == "RETURN":
                back += hit
            else:
                walk.unassigned += hit
        elif isinstance(target, (Reject, Masquerade, Dnat)) or getattr(target, "name", "") in _TERMINAL_EXTENSIONS:
            walk.unassigned += hit
        else:  # MARK, LOG, CONNMARK…: non-terminating, evaluation continues
            remaining += hit
    stack.pop()
    return remaining + back


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
