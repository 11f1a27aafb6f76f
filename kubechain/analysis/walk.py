"""Walk a chain as the kernel does for new connections: one walk, generic over what flows.

The connection is a new one to the service, from a client that is not one of its endpoints, not
inside any source range a rule names (`-s X` does not match, `! -s X` does), not local to the
node, and unknown to every `recent` list (so `--rcheck` does not match). For a KUBE-SVC chain this
is every new client; for KUBE-EXT it is a client outside the cluster. A match the model keeps
verbatim (UnknownMatch) is taken as matching.

What flows is decided by a *flow*: :data:`EXACT` sends an exact Fraction mass (a rule matching
with probability p splits the mass reaching it into p for its target and 1 − p for the next rule);
:data:`BOUNDED` sends certified intervals, for the rare rule sets whose exact values outgrow
:data:`PRECISION_LIMIT`; :class:`kubechain.analysis.sampling.SampledFlow` sends an integer count of
connections and splits it by drawing the kernel's random numbers;
:class:`kubechain.tracing.flow.TraceFlow` sends one packet's states (its mark, its DNATed
destination, its path) and evaluates each rule on them, with its own target handlers (walk_chain's
`targets`), which give DNAT, MARK and the verdicts their effect on the packet. Everything else (jumps, goto,
RETURN, DNAT, missing chains, cycles) is this one walk, so the sampler cannot diverge from the
analysis.

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

Bounded work, whatever the rule set:
- the walk keeps its own stack of chain frames, so a 600-deep chain of jumps needs no Python
  recursion;
- a flow that is linear (exact and bounded masses: what leaves a chain is proportional to what
  entered it) evaluates each chain once per enclosing endpoint, as a *transfer* of one unit of
  mass, and scales it at every jump. Mass entering the same chain in the same state is thereby
  merged, and the work is linear in rules × states, not in paths: 40 chains that each jump to the
  next twice are 2^40 paths but 40 transfers. Sampled counts are not linear (the kernel draws per
  connection), and are followed jump by jump, which costs at most one path per connection;
- exact arithmetic is refused before it would build a value of more than PRECISION_LIMIT bits
  (:class:`PrecisionLimit`); the analysis then walks again with certified intervals.
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

M = TypeVar("M")  # what flows: an exact probability, a certified interval, or a count of connections

ZERO = Fraction(0)
ONE = Fraction(1)
#: the largest exact value, in bits of numerator plus denominator, the walk builds (about 300,000
#: decimal digits; a 1,000-endpoint cascade's shares need about 62,000 bits)
PRECISION_LIMIT = 10**6


class PrecisionLimit(ArithmeticError):
    """An exact value would outgrow PRECISION_LIMIT bits; raised before the arithmetic is done."""


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
    """What flows through a walk. Masses are falsy when empty; every sum and product goes through
    the flow, which may refuse it (PrecisionLimit)."""

    @property
    def zero(self) -> M:
        """Nothing (falsy)."""

    @property
    def whole(self) -> M:
        """What enters the start chain."""

    @property
    def linear(self) -> bool:
        """True when what leaves a chain is proportional to what entered it (exact and interval
        masses), so a chain's transfer of one unit can be scaled; False for sampled counts."""

    @property
    def by_gate(self) -> bool:
        """True when split decides by the rule's Gate alone, so the walk itself passes a rule that
        cannot match (NEVER) and moves all of the mass through one that surely does (ALWAYS);
        False for a flow that evaluates each rule itself (the tracer's packet)."""

    def split(self, mass: M, rule: Rule, gate: Gate) -> tuple[M, M]:
        """(the part of `mass` that `rule` matches, the part that goes on to the next rule)."""

    def add(self, a: M, b: M) -> M:
        """a + b (both non-empty)."""

    def scale(self, unit: M, mass: M) -> M:
        """What `mass` becomes where one unit became `unit` (linear flows only)."""

    def branch(self, mass: M, rule: Rule, numgen: Numgen) -> list[M]:
        """`mass` split over the values numgen generates: element k is value numgen.offset + k."""


# --- exact and bounded masses ---------------------------------------------------------------------


def _guard(*values: Fraction) -> None:
    """Refuse arithmetic whose result could exceed PRECISION_LIMIT bits."""
    if sum(v.numerator.bit_length() + v.denominator.bit_length() for v in values) > PRECISION_LIMIT:
        raise PrecisionLimit(f"an exact share would exceed {PRECISION_LIMIT:,} bits")


class ExactFlow:
    """Exact Fraction masses: the walk of one new connection, as probabilities."""

    zero = ZERO
    whole = ONE
    linear = True
    by_gate = True

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
        _guard(mass, p)
        return _split(mass, p)

    def add(self, a: Fraction, b: Fraction) -> Fraction:
        _guard(a, b)
        return a + b

    def scale(self, unit: Fraction, mass: Fraction) -> Fraction:
        if unit == 1:
            return mass
        if mass == 1:
            return unit
        _guard(unit, mass)
        return unit * mass

    def branch(self, mass: Fraction, _rule: Rule, numgen: Numgen) -> list[Fraction]:
        """mass · P(value) for every value: reciprocal_scale's bucket sizes (random) or 1/N (inc)."""
        _guard(mass, mass)
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


#: significant bits an interval's ends keep
INTERVAL_BITS = 256


def _round(x: Fraction, up: bool) -> Fraction:
    """x (≥ 0) to INTERVAL_BITS significant bits, rounded down or up: the ends stay certified."""
    if not x:
        return x
    shift = INTERVAL_BITS - (x.numerator.bit_length() - x.denominator.bit_length())
    scaled = x.numerator << shift if shift >= 0 else x.numerator
    den = x.denominator if shift >= 0 else x.denominator << -shift
    q, r = divmod(scaled, den)
    q += 1 if up and r else 0
    return Fraction(q, 1 << shift) if shift >= 0 else Fraction(q << -shift)


@dataclass(frozen=True, slots=True)
class Interval:
    """A probability known to lie in [low, high]: what the walk gives where exact values are too
    big to hold. Every operation rounds outwards, so the true value is always inside."""

    low: Fraction
    high: Fraction

    def __bool__(self) -> bool:
        return bool(self.high)

    @property
    def middle(self) -> Fraction:
        return (self.low + self.high) / 2


class BoundedFlow:
    """Certified intervals of INTERVAL_BITS-bit dyadic ends: exact walk semantics, bounded size."""

    zero = Interval(ZERO, ZERO)
    whole = Interval(ONE, ONE)
    linear = True
    by_gate = True

    def split(self, mass: Interval, _rule: Rule, gate: Gate) -> tuple[Interval, Interval]:
        p = gate_probability(gate)
        if not p:
            return self.zero, mass
        if p == 1:
            return mass, self.zero
        return self._times(mass, p, p), self._times(mass, ONE - p, ONE - p)

    def add(self, a: Interval, b: Interval) -> Interval:
        return Interval(_round(a.low + b.low, False), _round(a.high + b.high, True))

    def scale(self, unit: Interval, mass: Interval) -> Interval:
        return self._times(mass, unit.low, unit.high)

    def branch(self, mass: Interval, _rule: Rule, numgen: Numgen) -> list[Interval]:
        return [self._times(mass, p, p) for p in (numgen.probability(numgen.offset + k) for k in range(numgen.modulus))]

    @staticmethod
    def _times(mass: Interval, low: Fraction, high: Fraction) -> Interval:
        return Interval(_round(mass.low * low, False), _round(mass.high * high, True))


BOUNDED = BoundedFlow()


# --- what a walk finds ------------------------------------------------------------------------------


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
    """Where the mass entering `start` goes, and what the walk met on the way. Rules are recorded
    once per chain and enclosing endpoint, in the order the walk first meets them."""

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


@dataclass(slots=True)
class Transfer(Generic[M]):
    """What becomes of the mass that entered a chain: what comes back to its caller (off its end,
    or through RETURN), what reached each endpoint, and what ended elsewhere."""

    back: M
    endpoints: dict[str, M]
    lost: M


def exact_walk(chains: dict[str, Chain], start: str) -> Walk[Fraction]:
    """Where one new connection entering chain `start` goes, as exact probabilities (raises
    PrecisionLimit where they would outgrow PRECISION_LIMIT; then walk with BOUNDED)."""
    return walk_chain(chains, start, EXACT)


def walk_chain(chains: dict[str, Chain], start: str, flow: Flow[M],
               targets: dict[type, Handler] | None = None) -> Walk[M]:
    """Send the flow's whole into chain `start` and follow it to the endpoints. `targets` replaces
    the handler table (TARGETS) for a flow that gives targets more meaning: the tracer's flow
    carries packet state, which its DNAT, MARK and verdict handlers change."""
    walk: Walk[M] = Walk(start, flow.zero)
    walker = _Walker(chains, walk, flow, targets)
    done = walker.call(start, flow.whole, None)
    for key, mass in done.endpoints.items():
        walker.endpoint(key).mass = mass
    walk.unassigned = walker.plus(done.lost, done.back)
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


@dataclass(slots=True)
class Frame(Generic[M]):
    """One chain being evaluated: where it is, the mass still going through it, and what it sent
    where so far (its Transfer, once it is done)."""

    chain: str
    rules: tuple[Rule, ...]
    endpoint: str | None  # the enclosing endpoint chain, which a DNAT here credits
    remaining: M
    back: M
    endpoints: dict[str, M]
    lost: M
    index: int = 0
    #: the jump waiting for its callee: (rule, target, hit, rest, unit) — unit: the callee runs with
    #: one unit of mass, to be scaled by `hit` (linear flows)
    pending: tuple[Rule, Jump, M, M, bool] | None = None
    recorded: bool = True  # first visit of (chain, endpoint): rules are recorded for the checks
    cyclic: bool = False  # met a cycle: its transfer depends on the path, so it is not kept


class _Walker(Generic[M]):
    """One walk's traversal: the chains, the frames (an explicit stack), the transfers of chains
    already evaluated (linear flows), and a handler per target type (TARGETS)."""

    chains: dict[str, Chain]
    walk: Walk[M]
    flow: Flow[M]

    def __init__(self, chains: dict[str, Chain], walk: Walk[M], flow: Flow[M],
                 targets: dict[type, Handler] | None = None) -> None:
        self.chains = chains
        self.walk = walk
        self.flow = flow
        self.targets = TARGETS if targets is None else targets
        self.by_gate = flow.by_gate
        self.transfers: dict[tuple[str, str | None], Transfer[M]] = {}
        self.seen: set[tuple[str, str | None]] = set()
        self.frames: list[Frame[M]] = []
        self.active: set[str] = set()  # the chains of the frames: a jump into one is a cycle

    # --- arithmetic through the flow ---

    def plus(self, a: M, b: M) -> M:
        if not b:
            return a
        if not a:
            return b
        return self.flow.add(a, b)

    def credit(self, into: dict[str, M], key: str, mass: M) -> None:
        into[key] = self.plus(into[key], mass) if key in into else mass

    # --- the traversal ---

    def call(self, chain: str, mass: M, endpoint: str | None) -> Transfer[M]:
        """Send `mass` into `chain` (inside endpoint chain `endpoint`, or None) and run it to the
        end: the Transfer of that mass. Handlers that branch into several chains call this."""
        if not self.flow.linear:
            return self.run(chain, mass, endpoint)
        unit = self.transfers.get((chain, endpoint)) or self.run(chain, self.flow.whole, endpoint)
        if mass == self.flow.whole:
            return unit
        return Transfer(self.flow.scale(unit.back, mass) if unit.back else unit.back,
                        {key: self.flow.scale(m, mass) for key, m in unit.endpoints.items()},
                        self.flow.scale(unit.lost, mass) if unit.lost else unit.lost)

    def run(self, chain: str, mass: M, endpoint: str | None) -> Transfer[M]:
        """The frame loop: evaluate `chain` and every chain it jumps into, with an explicit stack."""
        frames = self.frames
        base = len(frames)
        result: Transfer[M] | None = None
        self.push(chain, mass, endpoint)
        step = self.step
        while len(frames) > base:
            frame = frames[-1]
            if result is not None:
                self.resume(frame, result)
                result = None
            depth, rules = len(frames), frame.rules
            while frame.index < len(rules) and len(frames) == depth:  # until it calls a chain or ends
                step(frame, rules[frame.index])
            if len(frames) == depth:
                result = self.finish(frame)
        assert result is not None
        return result

    def push(self, chain: str, mass: M, endpoint: str | None) -> None:
        key = (chain, endpoint)
        recorded = key not in self.seen
        self.seen.add(key)
        self.active.add(chain)
        zero = self.walk.zero
        self.frames.append(Frame(chain, self.chains[chain].rules, endpoint, mass, zero, {}, zero,
                                 recorded=recorded))

    def finish(self, frame: Frame[M]) -> Transfer[M]:
        self.frames.pop()
        self.active.discard(frame.chain)
        done = Transfer(self.plus(frame.remaining, frame.back), frame.endpoints, frame.lost)
        if frame.cyclic:
            if self.frames:
                self.frames[-1].cyclic = True  # the caller's transfer depends on the path too
        elif self.flow.linear:
            self.transfers.setdefault((frame.chain, frame.endpoint), done)
        return done

    def step(self, frame: Frame[M], rule: Rule) -> None:
        """Evaluate the frame's next rule, `rule`. Written for a million rules: a rule the gate
        decides alone (by_gate flows) costs no arithmetic and no test of a mass."""
        target = rule.target
        kind = type(target)
        if kind is Jump and frame.recorded and target.chain.startswith(ENDPOINT_PREFIX):  # type: ignore[union-attr]
            self.endpoint(target.chain).jump_rules.append(rule)  # type: ignore[union-attr]
            self.walk.endpoint_jumps.append((frame.chain, rule))
        if not frame.remaining:
            frame.index += 1  # keep registering endpoints in chain order, nothing else to do
            return
        gate = rule_gate(rule)
        if gate.affinity is not None and frame.recorded:
            self.walk.affinity.setdefault(frame.chain, []).append(gate.affinity)
        if gate is ALWAYS and self.by_gate:
            hit, rest = frame.remaining, self.walk.zero
        elif gate is NEVER and self.by_gate:
            frame.index += 1
            return
        else:
            hit, rest = self.flow.split(frame.remaining, rule, gate)
            if not hit:
                frame.index += 1
                return
        if kind is Jump:
            self.enter(frame, rule, target, hit, rest)  # type: ignore[arg-type]
            return
        handler = self.targets.get(kind, _continues)
        self.after(frame, handler(self, frame, rule, target, hit), rest)

    def after(self, frame: Frame[M], outcome: Outcome[M], rest: M) -> None:
        """Go on with the frame's next rule once its current rule's target did `outcome`."""
        if isinstance(outcome, tuple):  # (to this chain, to the caller) from a goto or RETURN
            outcome, left = outcome
            frame.back = self.plus(frame.back, left)
        frame.remaining = self.plus(rest, outcome)
        frame.index += 1

    def enter(self, frame: Frame[M], rule: Rule, target: Jump, hit: M, rest: M) -> None:
        """A jump or goto: push the callee's frame (the caller resumes when it is done), or apply
        what is already known: its transfer, a missing chain, or a cycle."""
        callee = target.chain
        if callee not in self.chains:
            self.after(frame, self.missing(frame, target, hit), rest)
            return
        if callee in self.active:
            self.walk.cycles.append((callee, rule.line))
            frame.cyclic = True
            frame.lost = self.plus(frame.lost, hit)
            self.after(frame, self.walk.zero, rest)
            return
        inner = callee if callee.startswith(ENDPOINT_PREFIX) else frame.endpoint
        if callee.startswith(ENDPOINT_PREFIX):
            self.endpoint(callee)
        known = self.transfers.get((callee, inner)) if self.flow.linear else None
        if known is not None:
            self.resume_with(frame, rule, target, hit, rest, known, True)
            return
        unit = self.flow.linear
        frame.pending = (rule, target, hit, rest, unit)
        self.push(callee, self.flow.whole if unit else hit, inner)

    def resume(self, frame: Frame[M], done: Transfer[M]) -> None:
        assert frame.pending is not None
        rule, target, hit, rest, unit = frame.pending
        frame.pending = None
        self.resume_with(frame, rule, target, hit, rest, done, unit)

    def resume_with(self, frame: Frame[M], _rule: Rule, target: Jump, hit: M, rest: M, done: Transfer[M],
                    unit: bool) -> None:
        """Fold a callee's Transfer into the caller (scaled by `hit` when it was run for one unit)."""
        scale = self.flow.scale
        for key, mass in done.endpoints.items():
            self.credit(frame.endpoints, key, scale(mass, hit) if unit else mass)
        if done.lost:
            frame.lost = self.plus(frame.lost, scale(done.lost, hit) if unit else done.lost)
        came_back = (scale(done.back, hit) if unit else done.back) if done.back else self.walk.zero
        self.after(frame, (self.walk.zero, came_back) if target.goto else came_back, rest)

    def endpoint(self, key: str) -> EndpointShare[M]:
        share = self.walk.endpoints.get(key)
        if share is None:
            share = EndpointShare(key, self.walk.zero)
            self.walk.endpoints[key] = share
        return share

    def missing(self, frame: Frame[M], target: Jump, hit: M) -> Outcome[M]:
        """A jump to a chain the dump does not hold. An endpoint chain (as in a `-L KUBE-SVC-X`
        listing) keeps the share by name; any other chain is assumed to return, as KUBE-MARK-MASQ
        does."""
        chain = target.chain
        if not chain.startswith(ENDPOINT_PREFIX):
            return (self.walk.zero, hit) if target.goto else hit
        self.endpoint(chain).missing = True
        self.credit(frame.endpoints, chain, hit)
        return self.walk.zero

    # --- target handlers (TARGETS) ---

    def dnat(self, frame: Frame[M], rule: Rule, target: Dnat, hit: M) -> Outcome[M]:
        key = frame.endpoint
        if key is None:  # a DNAT outside any KUBE-SEP chain: the endpoint is this rule's destination
            key = endpoint_key(frame.chain, target.destination)
            share = self.endpoint(key)
            share.chain, share.destination = frame.chain, target.destination
            if rule not in share.dnat_rules:
                share.dnat_rules.append(rule)
        self.credit(frame.endpoints, key, hit)
        return self.walk.zero

    def verdict(self, frame: Frame[M], rule: Rule, target: Verdict, hit: M) -> Outcome[M]:
        if target.name == "RETURN":
            return (self.walk.zero, hit)
        return self.ends(frame, rule, target, hit)

    def ends(self, frame: Frame[M], _rule: Rule, _target: Target, hit: M) -> Outcome[M]:
        frame.lost = self.plus(frame.lost, hit)
        return self.walk.zero

    def other(self, frame: Frame[M], rule: Rule, target: OtherTarget, hit: M) -> Outcome[M]:
        if target.name in TERMINAL_EXTENSIONS:
            return self.ends(frame, rule, target, hit)
        return hit  # LOG, CONNMARK…: non-terminating, evaluation continues


    def verdict_map(self, frame: Frame[M], rule: Rule, target: VerdictMap, hit: M) -> Outcome[M]:
        """`numgen … vmap { K : VERDICT, … }`: each generated value's part takes its element's verdict
        (registered in element order, like a chain of jumps); a value without an element goes on
        to the next rule. A vmap keyed on the packet (`ip daddr . … vmap @service-ips`) dispatches
        by destination, which the walk of one service does not choose: it is taken as no element."""
        if type(target.key) is not Numgen:
            return hit
        numgen = target.key
        parts = self.flow.branch(hit, rule, numgen)
        stays, back = self.walk.zero, self.walk.zero
        covered = set()
        for value, verdict in target.branches():
            k = value - numgen.offset
            if frame.recorded and type(verdict) is Jump and verdict.chain.startswith(ENDPOINT_PREFIX):
                self.endpoint(verdict.chain).jump_rules.append(rule)
                self.walk.endpoint_jumps.append((frame.chain, rule))
            if not 0 <= k < numgen.modulus or k in covered:
                continue
            covered.add(k)
            if not parts[k]:
                continue
            if type(verdict) is Jump:
                outcome = self.jump_now(frame, rule, verdict, parts[k])
            else:
                outcome = self.targets.get(type(verdict), _continues)(self, frame, rule, verdict, parts[k])
            if isinstance(outcome, tuple):
                outcome, left = outcome
                back = self.plus(back, left)
            stays = self.plus(stays, outcome)
        for k, part in enumerate(parts):
            if k not in covered:  # no element: the rule does not match, the next rule sees it
                stays = self.plus(stays, part)
        return (stays, back) if back else stays

    def jump_now(self, frame: Frame[M], rule: Rule, target: Jump, hit: M) -> Outcome[M]:
        """A jump taken inside a branch: the callee runs to its end at once (walker.call), and its
        transfer is folded into the frame."""
        callee = target.chain
        if callee not in self.chains:
            return self.missing(frame, target, hit)
        if callee in self.active:
            self.walk.cycles.append((callee, rule.line))
            frame.cyclic = True
            frame.lost = self.plus(frame.lost, hit)
            return self.walk.zero
        inner = callee if callee.startswith(ENDPOINT_PREFIX) else frame.endpoint
        if callee.startswith(ENDPOINT_PREFIX):
            self.endpoint(callee)
        done = self.call(callee, hit, inner)
        for key, mass in done.endpoints.items():
            self.credit(frame.endpoints, key, mass)
        frame.lost = self.plus(frame.lost, done.lost)
        return (self.walk.zero, done.back) if target.goto else done.back

    def dnat_map(self, frame: Frame[M], rule: Rule, target: DnatMap, hit: M) -> Outcome[M]:
        """`dnat to numgen … map { K : ADDRESS . PORT, … }`: each value's part ends at its element's
        destination; a value without an element goes on to the next rule."""
        numgen = target.key
        parts = self.flow.branch(hit, rule, numgen)
        stays = self.walk.zero
        covered = set()
        for value, destination in target.entries:
            k = value - numgen.offset
            key = endpoint_key(frame.chain, destination)
            share = self.endpoint(key)
            share.chain, share.destination = frame.chain, destination
            if rule not in share.dnat_rules:
                share.dnat_rules.append(rule)
            if not 0 <= k < numgen.modulus or k in covered:
                continue
            covered.add(k)
            if parts[k]:
                self.credit(frame.endpoints, key, parts[k])
        for k, part in enumerate(parts):
            if k not in covered:
                stays = self.plus(stays, part)
        return stays


def _continues(_walker: _Walker[Any], _frame: Frame[Any], _rule: Rule, _target: Any, hit: Any) -> Any:
    """No target, or MARK: evaluation continues with the next rule."""
    return hit


Handler = Callable[[_Walker[Any], Frame[Any], Rule, Any, Any], Any]
#: what each target type (other than a jump into a chain of the dump) does with the mass that
#: matched its rule: the mass that continues in the chain, or (continues, returns to the caller)
TARGETS: dict[type, Handler] = {
    Dnat: _Walker.dnat,
    Verdict: _Walker.verdict,
    Reject: _Walker.ends,
    Masquerade: _Walker.ends,
    Snat: _Walker.ends,
    OtherTarget: _Walker.other,
    VerdictMap: _Walker.verdict_map,
    DnatMap: _Walker.dnat_map,
}
