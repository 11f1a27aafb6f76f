"""Sample new connections through the service chains as the kernel would, to check the exact
analysis empirically: the same walk (kubechain.walk) with a flow of integer connection counts.

Kernel primitives, bit for bit:
- iptables `statistic --mode random`: draw a uniform u32 r; match when `(r & 0x7FFFFFFF) < t`
  with t = lround(p * 2^31) (:func:`statistic_random_match`; `!` inverts);
- `statistic --mode nth --every N --packet P`: a per-rule counter starting at N-1-P; each packet
  that reaches the match advances it, wrapping N-1 -> 0, and the packet matches on the wrap
  (:func:`nth_matches`, as `xt_statistic.c`);
- nftables `numgen random mod N`: bucket `(r * N) >> 32` (:func:`numgen_bucket`,
  `reciprocal_scale` in nft_numgen.c; no nftables input is parsed yet, so nothing calls it).

Because each draw is independent of which connections survived earlier rules, counting the
matches among the M connections that reach a rule is exact: M fresh u32s are drawn (in chunks,
to bound memory) and the matches counted. No binomial shortcut: the kernel's integer comparison
is what is exercised.

Seeds: service port chain C gets its own stream, PCG64(SeedSequence(seed, spawn_key=(K,)))
with K the big-endian integer of C's name in UTF-8. So a service's counts depend only on the
seed, its rules and --draws: not on the other services, their order, or a --service filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .analysis import Analysis, Service, analyze
from .fit import Fit, goodness_of_fit, wilson_interval
from .model import Chain, Rule, Ruleset, StatisticNth, StatisticRandom
from .walk import Walk, endpoint_key, rule_gate, walk_chain

LOW_31 = 0x7FFFFFFF
CHUNK = 1 << 20  # u32s drawn at once: 4 MiB


def statistic_random_match(r: np.ndarray, threshold: int, inverted: bool = False) -> np.ndarray:
    """xt_statistic random mode on an array of u32 draws: `(r & 0x7FFFFFFF) < t` (then `!`)."""
    matched = (r & np.uint32(LOW_31)) < threshold
    return ~matched if inverted else matched


def numgen_bucket(r: np.ndarray, modulus: int) -> np.ndarray:
    """nft `numgen random mod N` on u32 draws: reciprocal_scale(r, N) = (u32)(((u64) r * N) >> 32)."""
    return ((r.astype(np.uint64) * np.uint64(modulus)) >> np.uint64(32)).astype(np.uint32)


def nth_initial(every: int, packet: int) -> int:
    """The counter xt_statistic starts from: iptables stores every - 1 and count = every - 1 - packet."""
    return every - 1 - packet


def nth_matches(counter: int, every: int, reaching: int) -> tuple[int, int]:
    """(how many of `reaching` packets match, the counter afterwards). Each packet moves the
    counter c to 0 when c == every - 1 (a match), else to c + 1."""
    return (counter + reaching) // every, (counter + reaching) % every


def count_random_matches(rng: np.random.Generator, reaching: int, threshold: int, inverted: bool = False,
                         chunk: int = CHUNK) -> int:
    """Draw one u32 per connection reaching the match and count the kernel's matches."""
    hits, left = 0, reaching
    while left:
        size = min(left, chunk)
        r = rng.integers(0, 1 << 32, size=size, dtype=np.uint32)
        np.bitwise_and(r, LOW_31, out=r)
        hits += int(np.count_nonzero(r < threshold))
        left -= size
    return reaching - hits if inverted else hits


def service_rng(seed: int, chain: str) -> np.random.Generator:
    """The stream of one service port chain (see the module docstring)."""
    key = int.from_bytes(chain.encode(), "big")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(key,))))


class SampledFlow:
    """Integer connection counts through the walk; statistic matches split them by real draws.

    The nth counters live here, one per (rule, match), across every connection of the sample,
    starting as freshly loaded rules do."""

    zero = 0

    def __init__(self, connections: int, rng: np.random.Generator) -> None:
        self.whole = connections
        self.rng = rng
        self.draws = 0  # u32s drawn so far
        self._nth: dict[tuple[int, int], int] = {}

    def split(self, mass: int, rule: Rule, walk: Walk) -> tuple[int, int]:
        stats, possible = rule_gate(rule, walk)
        reaching = mass
        for i, m in enumerate(stats):
            if not reaching:
                break
            if type(m) is StatisticRandom:
                self.draws += reaching
                reaching = count_random_matches(self.rng, reaching, m.threshold, m.inverted)
            else:
                assert type(m) is StatisticNth
                key = (id(rule), i)
                counter = self._nth.get(key, nth_initial(m.every, m.packet))
                matched, self._nth[key] = nth_matches(counter, m.every, reaching)
                reaching = reaching - matched if m.inverted else matched
        if not possible:
            return 0, mass
        return reaching, mass - reaching


@dataclass(frozen=True, slots=True)
class SampledEndpoint:
    address: str | None
    chain: str
    share: Fraction  # exact
    sampled: int
    interval: tuple[float, float]  # 99.9% Wilson interval of the sampled share


@dataclass(frozen=True, slots=True)
class SampledService:
    service: Service  # the exact analysis of this service port
    endpoints: tuple[SampledEndpoint, ...]
    unassigned: int  # sampled connections that found no endpoint
    draws: int  # u32 random numbers drawn
    fit: Fit


@dataclass(frozen=True, slots=True)
class Sample:
    analysis: Analysis
    connections: int  # per service port
    seed: int
    services: tuple[SampledService, ...]


def matches_filter(service: Service, text: str | None) -> bool:
    """`--service TEXT`: a substring of the service name (`ns/svc:port`) or of its chain name."""
    return text is None or text in (service.name or "") or text in service.chain


def sample(ruleset: Ruleset, connections: int, seed: int, service: str | None = None,
           analysis: Analysis | None = None) -> Sample:
    """Send `connections` new connections through every service port chain (or those matching
    `service`), and test the counts against the exact shares."""
    if connections < 0:
        raise ValueError("the number of connections must be >= 0")
    analysis = analysis or analyze(ruleset)
    done = [sample_service(ruleset.tables[svc.table].chains, svc, connections, seed)
            for svc in analysis.services if matches_filter(svc, service)]
    return Sample(analysis, connections, seed, tuple(done))


def sample_service(chains: dict[str, Chain], service: Service, connections: int, seed: int) -> SampledService:
    """One service port: its own stream (see the module docstring), one walk of counts."""
    flow = SampledFlow(connections, service_rng(seed, service.chain))
    walk = walk_chain(chains, service.chain, flow)
    counts = [_mass(walk, endpoint_key(e.chain, e.address)) for e in service.endpoints]
    endpoints = tuple(SampledEndpoint(e.address, e.chain, e.share, c, wilson_interval(c, connections))
                      for e, c in zip(service.endpoints, counts, strict=True))
    fit = goodness_of_fit(counts, [e.share for e in service.endpoints], walk.unassigned, service.unassigned,
                          "sampled")
    return SampledService(service, endpoints, walk.unassigned, flow.draws, fit)


def _mass(walk: Walk, key: str) -> int:
    share = walk.endpoints.get(key)
    return share.mass if share is not None else 0
