"""Walk a chain as the kernel does for new connections: one walk, generic over what flows.

The connection is a new one to the service, from a client that is not one of its endpoints, not
inside any source range a rule names (`-s X` does not match, `! -s X` does), not local to the
node, and unknown to every `recent` list (so `--rcheck` does not match). For a KUBE-SVC chain this
is every new client; for KUBE-EXT it is a client outside the cluster. A match the model keeps
verbatim (UnknownMatch) is taken as matching.

What flows is decided by a *flow*: :data:`EXACT` sends an exact Fraction mass (a rule matching
with probability p splits the mass reaching it into p for its target and 1 − p for the next rule);
:class:`kubechain.analysis.sampling.SampledFlow` sends an integer count of connections and splits
it by drawing the kernel's random numbers. Everything else (jumps, goto, RETURN, DNAT, missing
chains, cycles) is this one walk, so the sampler cannot diverge from the analysis.

Semantics of targets: a jump into a chain that ends without a verdict returns to the next rule
(KUBE-MARK-MASQ; a KUBE-SEP chain that lost its DNAT passes its share on); a goto does not return
to its caller but to the caller's caller; RETURN goes back one level; DNAT ends the walk at the
endpoint; ACCEPT, DROP, REJECT, MASQUERADE, SNAT and terminal extensions end it unassigned; MARK,
LOG and other extensions let it continue. A jump to a chain the dump lacks keeps its share by
name when it is a KUBE-SEP chain, and otherwise is assumed to return.

nftables adds one kind of target, the n-way branch of `numgen … vmap { … }` and `dnat to numgen
… map { … }`: the flow splits the mass into the generated values (Flow.branch), each entry's
verdict takes its part, and a value without an entry goes on to the next rule, as in the kernel.
An nft source address or source set (`ip saddr 10.0.0.0/8`, `ip saddr @affinity-…`) fails for the
walk's client as `-s` and `recent --rcheck` do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Any, Generic, NamedTuple, Protocol, TypeVar, Union

from ..kube import ENDPOINT_PREFIX
from ..model import (
    Address,
    AddrType,
    Chain,
    Comment,
    ConnState,
    Dnat,
    DnatMap,
    Jump,
    Masquerade,
    Match,
    MetaRandom,
    Numgen,
    NumgenMatch,
    OtherTarget,
    Recent,
    Reject,
    Rule,
    SetLookup,
    Snat,
    StatisticNth,
    StatisticRandom,
    Target,
    Verdict,
    VerdictMap,
    XtMatch,
)
from ..netfilter import TERMINAL_EXTENSIONS

M = TypeVar("M", Fraction, int)  # what flows: an exact probability, or a count of connections

ZERO = Fraction(0)
ONE = Fraction(1)


#: the matches that draw or count (the kernel evaluates them whether or not a later match fails)
Statistic = Union[StatisticRandom, StatisticNth, MetaRandom, NumgenMatch]  # noqa: UP007
STATISTICS = (StatisticRandom, StatisticNth, MetaRandom, NumgenMatch)


class Gate(NamedTuple):
    """What a rule's matches decide for the walk's connection: the statistic matches the kernel
    evaluates, in order, and whether the rule can match at all (False: a deterministic match
    fails after the statistic matches listed, which the kernel still evaluates, so nth counters
    still advance). `affinity` is the rule's `recent --rcheck` match, if it has one. (A tuple:
    one is made per rule the walk reaches.)"""

    statistics: tuple[Statistic, ...] = ()
    possible: bool = True
    affinity: Recent | SetLookup | None = None


ALWAYS = Gate()
NEVER = Gate(possible=False)


def rule_gate(rule: Rule) -> Gate:
    """Which of `rule`'s matches decide it for the connection described in the module docstring.
    Matches are evaluated in order and the first failing one ends the rule, as in the kernel (the
    address check comes before any match). Written for a million rules: comments, the commonest
    match, cost one comparison."""
    if rule.source is not None and (not rule.source.negated or not rule.source.value):
        return NEVER  # the client is in no range a rule names; `! -s 0.0.0.0/0` matches nobody
    stats: tuple[Statistic, ...] = ()
    affinity: Recent | SetLookup | None = None
    for m in rule.matches:
        if type(m) is Comment:
            continue
        if isinstance(m, STATISTICS):
            stats += (m,)
        elif isinstance(m, (Recent, SetLookup)):
            check, fails = _remembered(m)
            affinity = check or affinity
            if fails:
                return Gate(stats, False, affinity)
        elif not _holds(m, rule):
            return Gate(stats, False, affinity)
    if not stats and affinity is None:
        return ALWAYS
    return Gate(stats, True, affinity)


def _remembered(m: Recent | SetLookup) -> tuple[Recent | SetLookup | None, bool]:
    """(m when it is an affinity check, whether it fails): a new client is in no `recent` list and
    no nft source set, so checks fail and actions (`--set`) pass."""
    if isinstance(m, Recent):
        return (m if m.checks else None), m.command.negated != m.checks
    fails = m.source and not m.negated
    return (m if fails else None), fails


def _holds(m: Match, rule: Rule) -> bool:
    """Whether a deterministic match other than `recent` holds for the walk's new outside client."""
    if type(m) is Address:  # nft `ip saddr X` as `-s X`; a destination is the service's
        return not m.source or (m.value.negated and bool(m.value.value))
    if type(m) is XtMatch:  # iptables-nft's `xt match recent`, printed without its options: kube-proxy's
        return m.name != "recent" or type(rule.target) is not Jump  # --rcheck on jumps, --set on the DNAT
    if type(m) is AddrType:
        return m.src_type is None or (m.src_type.value == "LOCAL") == m.src_type.negated  # the client is not local
    if type(m) is ConnState:
        return ("NEW" in m.states.value) != m.states.negated  # the connection is NEW
    return True  # ports, marks… and matches kept verbatim


def gate_probability(gate: Gate) -> Fraction:
    """Probability that a rule with this gate matches: the product of its statistic matches'
    probabilities (independent draws; nth selects 1/N over time), or 0."""
    if not gate.possible:
        return ZERO
    if not gate.statistics:
        return ONE
    first, *rest = gate.statistics
    p = first.match_probability
    for m in rest:
        p *= m.match_probability
    return p


class Flow(Protocol[M]):
    """What flows through a walk: an exact mass, or a count of sampled connections."""

    @property
    def zero(self) -> M:
        """Nothing (falsy); also the type every mass of this flow has."""

    @property
    def whole(self) -> M:
        """What enters the start chain."""

    def split(self, mass: M, rule: Rule, gate: Gate) -> tuple[M, M]:
        """(the part of `mass` that `rule` matches, the part that goes on to the next rule)."""

    def branch(self, mass: M, rule: Rule, numgen: Numgen) -> list[M]:
        """`mass` split over the values numgen generates: element k is value numgen.offset + k."""


@dataclass(slots=True)
class EndpointShare(Generic[M]):
    """The mass that ends in one endpoint (a KUBE-SEP chain, or a chain holding a DNAT)."""

    chain: str
    mass: M
    destination: str | None = None  # DNAT --to-destination; None when the chain has no DNAT
    dnat_rules: list[Rule] = field(default_factory=list)  # the DNAT rules of the chain
    jump_rules: list[Rule] = field(default_factory=list)  # the rules that jump into it
    missing: bool = False  # the chain is not in the dump (a single-chain listing)


@dataclass(slots=True)
class Walk(Generic[M]):
    """Where the mass entering `start` goes, and what the walk met on the way."""

    start: str
    zero: M  # the flow's zero
    endpoints: dict[str, EndpointShare[M]] = field(default_factory=dict)
    unassigned: M | None = None  # mass that leaves the start chain without reaching a DNAT
    cycles: list[tuple[str, int]] = field(default_factory=list)  # (chain, line of the jump)
    no_dnat: list[str] = field(default_factory=list)  # endpoint chains left without a DNAT
    #: (chain, rule) of every rule jumping into an endpoint chain, in the order the walk met them
    endpoint_jumps: list[tuple[str, Rule]] = field(default_factory=list)
    #: chain → the `recent --rcheck` matches (nft: source set lookups) met there (ClientIP affinity)
    affinity: dict[str, list[Recent | SetLookup]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.unassigned is None:
            self.unassigned = self.zero

    @property
    def affinity_seconds(self) -> int | None:
        """The longest `--seconds` of the affinity rules met; None when none gives one."""
        seconds = [m.seconds for matches in self.affinity.values() for m in matches if m.seconds is not None]
        return max(seconds) if seconds else None

    def lost(self, mass: M) -> None:
        self.unassigned = mass if self.unassigned is None or not self.unassigned else self.unassigned + mass


class ExactFlow:
    """Exact Fraction masses: the walk of one new connection, as probabilities."""

    zero = ZERO
    whole = ONE

    def split(self, mass: Fraction, _rule: Rule, gate: Gate) -> tuple[Fraction, Fraction]:
        """Written for a million rules: a rule that surely matches moves the mass without
        arithmetic, and Fractions are only built where a statistic match splits it."""
        if not gate.possible:
            return ZERO, mass
        if not gate.statistics:
            return mass, ZERO
        p = gate_probability(gate)
        if p == 1:
            return mass, ZERO
        if not p:
            return ZERO, mass
        return _split(mass, p)

    def branch(self, mass: Fraction, _rule: Rule, numgen: Numgen) -> list[Fraction]:
        """mass · P(value) for every value: reciprocal_scale's bucket sizes (random) or 1/N (inc)."""
        return [mass * numgen.probability(numgen.offset + k) for k in range(numgen.modulus)]


EXACT = ExactFlow()


@lru_cache(maxsize=65536)
def _split(mass: Fraction, p: Fraction) -> tuple[Fraction, Fraction]:
    """(mass · p, mass · (1 − p)). Services with equally many endpoints split the same masses by
    the same thresholds, so a 30k-service dump repeats a few hundred distinct splits."""
    # Two products, never `mass - hit`: subtracting two big dyadic fractions costs a gcd of two
    # huge powers of two, which made a 4,000-endpoint cascade take 44 s (cubic); products with a
    # small factor stay linear.
    return mass * p, mass * (ONE - p)


def exact_walk(chains: dict[str, Chain], start: str) -> Walk[Fraction]:
    """Where one new connection entering chain `start` goes, as exact probabilities."""
    return walk_chain(chains, start, EXACT)


def walk_chain(chains: dict[str, Chain], start: str, flow: Flow[M]) -> Walk[M]:
    """Send the flow's whole into chain `start` and follow it to the endpoints."""
    walk: Walk[M] = Walk(start, flow.zero)
    returned = _Walker(chains, walk, flow).run(start, flow.whole, None)
    if returned:
        walk.lost(returned)
    for share in walk.endpoints.values():
        chain = chains.get(share.chain)
        if chain is None or share.dnat_rules:
            continue
        share.dnat_rules = [r for r in chain.rules if type(r.target) is Dnat]
        if share.dnat_rules:
            share.destination = share.dnat_rules[0].target.destination  # type: ignore[union-attr]
        else:
            walk.no_dnat.append(share.chain)
    return walk


def endpoint_key(chain: str, destination: str | None) -> str:
    """The key of an endpoint in `Walk.endpoints`: a KUBE-SEP chain's name, or for a DNAT outside
    any KUBE-SEP chain, `CHAIN -> DESTINATION`."""
    return chain if chain.startswith(ENDPOINT_PREFIX) else f"{chain} -> {destination}"


#: what a target handler returns: the mass that continues in the chain, or (continues, returns to the
#: caller) after a goto or RETURN
Outcome = Union[M, tuple[M, M]]  # noqa: UP007  (a generic alias: `M | tuple[M, M]` cannot be subscripted)


class _Walker(Generic[M]):
    """One walk's traversal: the chains, the call stack, and a handler per target type (TARGETS)."""

    chains: dict[str, Chain]
    walk: Walk[M]
    flow: Flow[M]

    def __init__(self, chains: dict[str, Chain], walk: Walk[M], flow: Flow[M]) -> None:
        self.chains = chains
        self.walk = walk
        self.flow = flow
        self.stack: list[str] = []

    def run(self, name: str, mass: M, endpoint: EndpointShare[M] | None) -> M:
        """Send `mass` into chain `name`; return the mass that comes back to the caller."""
        self.stack.append(name)
        walk = self.walk
        split, jumps, handlers = self.flow.split, walk.endpoint_jumps, TARGETS
        remaining, back = mass, walk.zero  # back: left through RETURN, or the end of a goto'd chain
        for rule in self.chains[name].rules:
            target = rule.target
            kind = type(target)
            if kind is Jump and target.chain.startswith(ENDPOINT_PREFIX):  # type: ignore[union-attr]
                self.endpoint(target.chain).jump_rules.append(rule)  # type: ignore[union-attr]
                jumps.append((name, rule))
            if not remaining:
                continue  # keep registering endpoints in chain order, nothing else to do
            gate = rule_gate(rule)
            if gate.affinity is not None:
                walk.affinity.setdefault(name, []).append(gate.affinity)
            hit, rest = split(remaining, rule, gate)
            if not hit:
                continue
            outcome: Outcome[M] = handlers.get(kind, _continues)(self, rule, target, hit, endpoint)
            if isinstance(outcome, tuple):  # (to this chain, to the caller) from a goto or RETURN
                outcome, left = outcome
                back = back + left if back else left
            remaining = rest + outcome if rest and outcome else (rest or outcome)
        self.stack.pop()
        return remaining + back if back else remaining

    def endpoint(self, key: str) -> EndpointShare[M]:
        share = self.walk.endpoints.get(key)
        if share is None:
            share = EndpointShare(key, self.walk.zero)
            self.walk.endpoints[key] = share
        return share

    # target handlers (TARGETS): the current chain is self.stack[-1]

    def jump(self, rule: Rule, target: Jump, hit: M, endpoint: EndpointShare[M] | None) -> Outcome[M]:
        if target.chain not in self.chains:
            came_back = self.missing(target.chain, hit)
        elif target.chain in self.stack:
            self.walk.cycles.append((target.chain, rule.line))
            self.walk.lost(hit)
            return self.walk.zero
        else:
            inner = self.endpoint(target.chain) if target.chain.startswith(ENDPOINT_PREFIX) else endpoint
            came_back = self.run(target.chain, hit, inner)
        return (self.walk.zero, came_back) if target.goto else came_back

    def missing(self, chain: str, hit: M) -> M:
        """A jump to a chain the dump does not hold. An endpoint chain (as in a `-L KUBE-SVC-X`
        listing) keeps the share by name; any other chain is assumed to return, as KUBE-MARK-MASQ
        does. Returns the mass that comes back."""
        if not chain.startswith(ENDPOINT_PREFIX):
            return hit
        share = self.endpoint(chain)
        share.missing = True
        share.mass = share.mass + hit if share.mass else hit
        return self.walk.zero

    def dnat(self, rule: Rule, target: Dnat, hit: M, endpoint: EndpointShare[M] | None) -> Outcome[M]:
        if endpoint is None:  # a DNAT outside any KUBE-SEP chain: the endpoint is this rule's destination
            name = self.stack[-1]
            endpoint = self.endpoint(endpoint_key(name, target.destination))
            endpoint.chain, endpoint.destination = name, target.destination
            if rule not in endpoint.dnat_rules:
                endpoint.dnat_rules.append(rule)
        endpoint.mass = endpoint.mass + hit if endpoint.mass else hit
        return self.walk.zero

    def verdict(self, rule: Rule, target: Verdict, hit: M, endpoint: EndpointShare[M] | None) -> Outcome[M]:
        if target.name == "RETURN":
            return (self.walk.zero, hit)
        return self.ends(rule, target, hit, endpoint)

    def ends(self, _rule: Rule, _target: Target, hit: M, _endpoint: EndpointShare[M] | None) -> Outcome[M]:
        self.walk.lost(hit)
        return self.walk.zero

    def other(self, rule: Rule, target: OtherTarget, hit: M, endpoint: EndpointShare[M] | None) -> Outcome[M]:
        if target.name in TERMINAL_EXTENSIONS:
            return self.ends(rule, target, hit, endpoint)
        return hit  # LOG, CONNMARK…: non-terminating, evaluation continues

    def verdict_map(self, rule: Rule, target: VerdictMap, hit: M, endpoint: EndpointShare[M] | None) -> Outcome[M]:
        """`numgen … vmap { K : VERDICT, … }`: each generated value's part takes its element's verdict
        (registered in element order, like a chain of jumps); a value without an element goes on
        to the next rule. A vmap keyed on the packet (`ip daddr . … vmap @service-ips`) dispatches
        by destination, which the walk of one service does not choose: it is taken as no element."""
        if type(target.key) is not Numgen:
            return hit
        numgen = target.key
        chain = self.stack[-1]
        parts = self.flow.branch(hit, rule, numgen)
        stays, back = self.walk.zero, self.walk.zero
        covered = set()
        for value, verdict in target.branches():
            k = value - numgen.offset
            if type(verdict) is Jump and verdict.chain.startswith(ENDPOINT_PREFIX):
                self.endpoint(verdict.chain).jump_rules.append(rule)
                self.walk.endpoint_jumps.append((chain, rule))
            if not 0 <= k < numgen.modulus or k in covered:
                continue
            covered.add(k)
            if not parts[k]:
                continue
            outcome: Outcome[M] = TARGETS.get(type(verdict), _continues)(self, rule, verdict, parts[k], endpoint)
            if isinstance(outcome, tuple):
                outcome, left = outcome
                back = back + left if back else left
            stays = stays + outcome if stays and outcome else (stays or outcome)
        for k, part in enumerate(parts):
            if k not in covered and part:  # no element: the rule does not match, the next rule sees it
                stays = stays + part if stays else part
        return (stays, back) if back else stays

    def dnat_map(self, rule: Rule, target: DnatMap, hit: M, _endpoint: EndpointShare[M] | None) -> Outcome[M]:
        """`dnat to numgen … map { K : ADDRESS . PORT, … }`: each value's part ends at its element's
        destination; a value without an element goes on to the next rule."""
        numgen = target.key
        chain = self.stack[-1]
        parts = self.flow.branch(hit, rule, numgen)
        stays = self.walk.zero
        covered = set()
        for value, destination in target.entries:
            k = value - numgen.offset
            share = self.endpoint(endpoint_key(chain, destination))
            share.chain, share.destination = chain, destination
            if rule not in share.dnat_rules:
                share.dnat_rules.append(rule)
            if not 0 <= k < numgen.modulus or k in covered:
                continue
            covered.add(k)
            if parts[k]:
                share.mass = share.mass + parts[k] if share.mass else parts[k]
        for k, part in enumerate(parts):
            if k not in covered and part:
                stays = stays + part if stays else part
        return stays


def _continues(_walker: _Walker[Any], _rule: Rule, _target: Any, hit: Any, _endpoint: Any) -> Any:
    """No target, or MARK: evaluation continues with the next rule."""
    return hit


#: what each target type does with the mass that matched its rule
Handler = Callable[[_Walker[Any], Rule, Any, Any, Any], Any]
TARGETS: dict[type, Handler] = {
    Jump: _Walker.jump,
    Dnat: _Walker.dnat,
    Verdict: _Walker.verdict,
    Reject: _Walker.ends,
    Masquerade: _Walker.ends,
    Snat: _Walker.ends,
    OtherTarget: _Walker.other,
    VerdictMap: _Walker.verdict_map,
    DnatMap: _Walker.dnat_map,
}
