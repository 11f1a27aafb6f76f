"""Sample new connections through the service chains as the kernel would, to check the exact
analysis empirically: the same walk (analysis.walk) with a flow of integer connection counts.

Kernel primitives, bit for bit (their one home is kubechain.netfilter):
- iptables `statistic --mode random`: draw a uniform u32 r; match when `(r & 0x7FFFFFFF) < t`
  with t = lround(p · 2^31) (`!` inverts);
- `statistic --mode nth --every N --packet P`: a per-rule counter starting at N−1−P; each packet
  that reaches the match advances it, wrapping N−1 → 0, and the packet matches on the wrap;
- nftables `numgen random mod N`: bucket `(r · N) >> 32` (the n-way branch of a numgen vmap or
  DNAT map, Flow.branch); `numgen inc mod N`: the rule's counter, starting at N−1, each packet
  taking the next value; `meta random [& M] OP V`: the comparison on a fresh u32.

Because each draw is independent of which connections survived earlier rules, counting the
matches among the M connections that reach a rule is exact: M fresh u32s are drawn (in chunks,
to bound memory) and the matches counted. No binomial shortcut: the kernel's integer comparison
is what is exercised.

Seeds: service port chain C gets its own stream, PCG64(SeedSequence(seed, spawn_key=(K,))) with K
the big-endian integer of C's name in UTF-8. So a service's counts depend only on the seed, its
rules and the number of connections: not on the other services, their order, or a filter.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Protocol

import numpy as np
import numpy.typing as npt

from ..model import MetaRandom, Numgen, NumgenMatch, Rule, StatisticNth, StatisticRandom
from ..netfilter import (
    nth_initial,
    nth_matches,
    numgen_bucket,
    numgen_inc_buckets,
    numgen_inc_initial,
    random_compare_matches,
    statistic_matches,
)
from ..selection import matches
from .fit import Fit, goodness_of_fit, holm, wilson_interval
from .results import Analysis, Service
from .walk import Gate, Walk, endpoint_key, walk_chain

SMALL = 1 << 13  # up to this many u32s, one `integers` call costs less than reading PCG64's raw outputs
CHUNK = 1 << 16  # u32s drawn at once: 256 KiB; with the comparison's temporaries it stays in L2 (512 KiB a core here)


class U32Source(Protocol):
    """Where the draws come from: a numpy Generator, or crafted draws in a test."""

    def integers(self, low: int, high: int, size: int, dtype: type[np.uint32]) -> npt.NDArray[np.uint32]: ...


def u32_chunks(rng: U32Source, count: int, chunk: int = CHUNK, small: int = SMALL) -> Iterator[npt.NDArray[np.uint32]]:
    """The `count` u32s that `rng.integers(0, 2**32, count, dtype=np.uint32)` draws, in order, in
    pieces of at most `chunk`, leaving `rng` as that call would: the sampler's one source of draws.

    On a numpy Generator over PCG64 the pieces are the bit generator's raw 64-bit outputs, each
    read as two u32s, low half first, which is what PCG64's next_uint32 hands out one call at a
    time (twice as fast). The high half that an odd count leaves buffered (state `has_uint32`,
    `uinteger`) comes first, through `integers`; the last one or two u32s go through `integers`
    too, so the state afterwards is the one `integers` leaves (the next high half buffered after an
    odd count, `uinteger` the last output's high half). Up to `small` u32s, and from any other
    source (the tests' crafted draws), `integers` is asked chunk by chunk."""
    if (count <= small or chunk < 2 or type(rng) is not np.random.Generator
            or type(rng.bit_generator) is not np.random.PCG64):
        while count:
            size = min(count, chunk)
            yield rng.integers(0, 1 << 32, size=size, dtype=np.uint32)
            count -= size
        return
    raw = rng.bit_generator
    if raw.state["has_uint32"]:
        yield rng.integers(0, 1 << 32, size=1, dtype=np.uint32)
        count -= 1
    tail = count % 2 or min(count, 2)
    pairs = (count - tail) // 2
    while pairs:
        size = min(pairs, chunk // 2)
        yield raw.random_raw(size).view(np.uint32)
        pairs -= size
    if tail:
        yield rng.integers(0, 1 << 32, size=tail, dtype=np.uint32)


def count_random_matches(rng: U32Source, reaching: int, threshold: int, negated: bool = False,
                         chunk: int = CHUNK) -> int:
    """Draw one u32 per connection reaching the match and count the kernel's matches
    (netfilter.statistic_matches, the same comparison the exact analysis is derived from)."""
    hits = 0
    for r in u32_chunks(rng, reaching, chunk):
        hits += int(np.count_nonzero(statistic_matches(r, threshold)))
    return reaching - hits if negated else hits


def count_buckets(rng: U32Source, reaching: int, modulus: int, chunk: int = CHUNK) -> list[int]:
    """Draw one u32 per connection and count each bucket of `numgen random mod N`
    (netfilter.numgen_bucket, the kernel's reciprocal_scale)."""
    counts = np.zeros(modulus, dtype=np.int64)
    buckets = np.empty(min(reaching, chunk), dtype=np.uint64)  # one buffer: fresh arrays this size cost page faults
    for r in u32_chunks(rng, reaching, chunk):
        counts += np.bincount(numgen_bucket(r, modulus, buckets[:len(r)]).view(np.int64), minlength=modulus)
    return [int(c) for c in counts]


def count_compare_matches(rng: U32Source, reaching: int, m: MetaRandom, chunk: int = CHUNK) -> int:
    """Draw one u32 per connection and count `meta random [& M] OP V` (netfilter.random_compare_matches)."""
    hits = 0
    for r in u32_chunks(rng, reaching, chunk):
        hits += int(np.count_nonzero(random_compare_matches(r, m.op, m.value, m.mask)))
    return hits


def service_rng(seed: int, chain: str) -> np.random.Generator:
    """The stream of one service port chain (see the module docstring)."""
    key = int.from_bytes(chain.encode(), "big")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(key,))))


class SampledFlow:
    """Integer connection counts through the walk; statistic matches split them by real draws.

    The nth counters live here, one per (rule, match), across every connection of the sample,
    starting as freshly loaded rules do."""

    zero = 0
    linear = False  # the kernel draws for every connection: counts are followed, not scaled
    by_gate = True

    def __init__(self, connections: int, rng: U32Source) -> None:
        self.whole = connections
        self.rng = rng
        self.draws = 0  # u32s drawn so far
        self._nth: dict[tuple[int, int], int] = {}

    def split(self, mass: int, rule: Rule, gate: Gate) -> tuple[int, int]:
        reaching = mass
        for i, m in enumerate(gate.statistics):
            if not reaching:
                break
            if type(m) is StatisticRandom:
                self.draws += reaching
                reaching = count_random_matches(self.rng, reaching, m.threshold.value, m.threshold.negated)
            elif type(m) is StatisticNth:
                key = (id(rule), i)
                counter = self._nth.get(key, nth_initial(m.every.value, m.packet))
                matched, self._nth[key] = nth_matches(counter, m.every.value, reaching)
                reaching = reaching - matched if m.every.negated else matched
            elif type(m) is MetaRandom:
                self.draws += reaching
                reaching = count_compare_matches(self.rng, reaching, m)
            else:
                assert type(m) is NumgenMatch
                values = self._generate(reaching, (id(rule), i), m.numgen)
                reaching = sum(n for k, n in enumerate(values) if m.holds(m.numgen.offset + k))
        if not gate.possible:
            return 0, mass
        return reaching, mass - reaching

    def add(self, a: int, b: int) -> int:
        return a + b

    def scale(self, _unit: int, _mass: int) -> int:
        raise TypeError("sampled counts are not linear: they are followed jump by jump, never scaled")

    def branch(self, mass: int, rule: Rule, numgen: Numgen) -> list[int]:
        """The connections per generated value: real u32 draws bucketed as the kernel does, or
        the rule's own `inc` counter (one per rule, across the whole sample)."""
        return self._generate(mass, (id(rule), -1), numgen)

    def _generate(self, reaching: int, key: tuple[int, int], numgen: Numgen) -> list[int]:
        if numgen.mode == "inc":
            counter = self._nth.get(key, numgen_inc_initial(numgen.modulus))
            counts, self._nth[key] = numgen_inc_buckets(counter, numgen.modulus, reaching)
            return counts
        self.draws += reaching
        return count_buckets(self.rng, reaching, numgen.modulus)


@dataclass(frozen=True, slots=True)
class SampledEndpoint:
    """One endpoint's sampled count beside its exact share: `address` and `chain` as in
    :class:`Endpoint`, `share` the exact probability, `sampled` the new connections that reached
    it, `interval` the 99.9% Wilson interval of the sampled share (low, high)."""

    address: str | None
    chain: str
    share: Fraction  # exact probability of a new connection
    sampled: int  # sampled new connections that reached it
    interval: tuple[float, float]  # 99.9% Wilson interval of the sampled share


@dataclass(frozen=True, slots=True)
class SampledService:
    """One service port's sample: `service` its exact analysis, `endpoints` the counts in chain
    order, `unassigned` the connections that found no endpoint, `draws` the random numbers drawn,
    `fit` the counts tested against the exact shares and against 1/n."""

    service: Service
    endpoints: tuple[SampledEndpoint, ...]
    unassigned: int  # sampled connections that found no endpoint
    draws: int  # u32 random numbers drawn
    fit: Fit


@dataclass(frozen=True, slots=True)
class Sample:
    """What :func:`kubechain.sample` returns: `analysis` (the exact analysis of the input),
    `connections` sent per service port, `seed`, and `services`, each sampled service port."""

    analysis: Analysis
    connections: int  # per service port
    seed: int
    services: tuple[SampledService, ...]

    @property
    def mismatches(self) -> tuple[SampledService, ...]:
        """The service ports whose sampled counts are NOT consistent with their exact shares
        (Holm-adjusted over every sampled service port, p < 0.001): what a broken sampler, or a
        broken exact analysis, would produce."""
        return tuple(s for s in self.services if s.fit.vs_exact is not None and s.fit.vs_exact.consistent is False)


def matches_filter(service: Service, text: str | None) -> bool:
    """`--service TEXT`: a substring of the service name (`ns/svc:port`) or of its chain name."""
    return matches(service.name, service.chain, text)


def sample(analysis: Analysis, connections: int, seed: int, service: str | None = None) -> Sample:
    """Send `connections` new connections through every analysed service port chain (or those
    matching `service`), and test the counts against the exact shares."""
    if connections < 0:
        raise ValueError("the number of connections must be >= 0")
    chosen = [svc for svc in analysis.services if matches_filter(svc, service)]
    if service is not None and not chosen:
        raise ValueError(no_match(service, analysis))
    done = [sample_service(svc, connections, seed) for svc in chosen]
    fits = holm([s.fit for s in done])
    return Sample(analysis, connections, seed, tuple(replace(s, fit=f) for s, f in zip(done, fits, strict=True)
                                                     if f is not None))


def no_match(text: str, analysis: Analysis) -> str:
    """The error for a `--service` that matches nothing, naming the closest service ports."""
    names = sorted({n for s in analysis.services for n in (s.name, s.chain) if n})
    close = difflib.get_close_matches(text, names, n=3, cutoff=0.4)
    hint = f"; the closest: {', '.join(close)}" if close else (
        f"; it has {len(analysis.services)} service port{'s' * (len(analysis.services) != 1)}")
    return f"no service port's name or chain contains {text!r}{hint}"


def sample_service(service: Service, connections: int, seed: int) -> SampledService:
    """One service port: its own stream (see the module docstring), one walk of counts through its
    own table."""
    flow = SampledFlow(connections, service_rng(seed, service.chain))
    walk: Walk[int] = walk_chain(service.kube.table.chains, service.chain, flow)
    counts = [_mass(walk, endpoint_key(e.chain, e.address)) for e in service.endpoints]
    endpoints = tuple(SampledEndpoint(e.address, e.chain, e.share, c, wilson_interval(c, connections))
                      for e, c in zip(service.endpoints, counts, strict=True))
    unassigned = walk.unassigned or 0
    fit = goodness_of_fit(counts, [e.share for e in service.endpoints], unassigned, service.unassigned, "sampled")
    return SampledService(service, endpoints, unassigned, flow.draws, fit)


def _mass(walk: Walk[int], key: str) -> int:
    share = walk.endpoints.get(key)
    return share.mass if share is not None else 0
