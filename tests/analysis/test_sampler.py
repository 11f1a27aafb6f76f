"""The sampler: the kernel's integer primitives, determinism by seed, and agreement with the exact
walk on every fixture (fixed seeds: deterministic, never flaky)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import kubechain
from kubechain import sample
from kubechain.analysis.sampling import CHUNK, SMALL, count_random_matches, service_rng, u32_chunks
from kubechain.netfilter import nth_initial, nth_matches, numgen_bucket, random_compare_matches, statistic_matches

from support.paths import FIXTURES, fixture

T = 715827883  # 0.3333333333 as iptables stores it


def test_statistic_random_compares_the_low_31_bits_with_the_threshold():
    r = np.array([T - 1, T, (T - 1) | 0x80000000, T | 0x80000000, 0, 0xFFFFFFFF], dtype=np.uint32)
    assert statistic_matches(r, T).tolist() == [True, False, True, False, True, False]
    assert [statistic_matches(int(x), T) for x in r] == [True, False, True, False, True, False]  # one int too
    assert not statistic_matches(r, 0).any()  # probability 0 never matches
    assert statistic_matches(r, 1 << 31).all()  # probability 1: t = 2^31 always does


def test_numgen_bucket_sizes_for_three_are_the_kernels():
    """Bucket k of `numgen random mod 3` is the interval of u32s that reciprocal_scale maps to k;
    its boundaries are found on the function itself and the sizes compared with FACTS.md."""
    def first_of(bucket: int, modulus: int) -> int:
        lo, hi = 0, 1 << 32
        while lo < hi:
            mid = (lo + hi) // 2
            if numgen_bucket(np.array([mid], dtype=np.uint64), modulus)[0] >= bucket:
                hi = mid
            else:
                lo = mid + 1
        return lo

    for modulus in (2, 3, 5, 7):
        edges = [first_of(k, modulus) for k in range(modulus)] + [1 << 32]
        sizes = [b - a for a, b in zip(edges, edges[1:], strict=False)]
        expected = [_ceil((k + 1) << 32, modulus) - _ceil(k << 32, modulus) for k in range(modulus)]
        assert sizes == expected, modulus
        if modulus == 3:
            assert sizes == [1431655766, 1431655765, 1431655765]
    top = numgen_bucket(np.array([0xFFFFFFFF, 0], dtype=np.uint64), 3)
    assert [numgen_bucket(x, 3) for x in (0xFFFFFFFF, 0, 1431655765, 1431655766)] == [2, 0, 0, 1]
    assert top.tolist() == [2, 0]



def test_numgen_bucket_into_a_buffer_is_the_same_mapping():
    """The sampler's path (u32 draws widened into a uint64 buffer) gives the buckets of the
    plain one, at the top of the u32 range and for a modulus near 2^32 too."""
    draws = np.array([0, 1, 1431655765, 1431655766, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF], dtype=np.uint32)
    for modulus in (1, 2, 3, 100, 0xFFFFFFFF):
        out = np.full(len(draws), 7, dtype=np.uint64)
        assert numgen_bucket(draws, modulus, out) is out
        assert out.tolist() == numgen_bucket(draws.astype(np.uint64), modulus).tolist()
        assert out.tolist() == [(int(r) * modulus) >> 32 for r in draws]


@pytest.mark.parametrize("op", ["<", "<=", ">", ">=", "==", "!="])
def test_meta_random_comparison_is_the_integer_comparison(op):
    """`(r & MASK) OP VALUE` against Python's integers, for values inside the u32 range (compared
    as u32) and outside it (as int64), with and without a mask."""
    compare = {"<": int.__lt__, "<=": int.__le__, ">": int.__gt__, ">=": int.__ge__, "==": int.__eq__,
               "!=": int.__ne__}[op]
    draws = np.array([0, 1, 0xFF, 0x100, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF], dtype=np.uint32)
    for mask in (None, 0xFF, 0x7FFFFFFF):
        for value in (-1, 0, 1, 0xFF, 0x80000000, 0xFFFFFFFF, 1 << 32):
            expected = [compare(int(r) & (0xFFFFFFFF if mask is None else mask), value) for r in draws]
            assert random_compare_matches(draws, op, value, mask).tolist() == expected, (mask, value)

def _ceil(a: int, b: int) -> int:
    return -(-a // b)


@pytest.mark.parametrize(("every", "packet"), [(1, 0), (2, 0), (2, 1), (3, 0), (3, 2), (7, 4)])
def test_nth_counts_like_the_kernels_counter(every, packet):
    """xt_statistic.c, packet by packet: nval = (oval == every-1) ? 0 : oval + 1; match on 0."""
    counter = every - 1 - packet  # what iptables stores: --every N is kept as N - 1
    matched_at = []
    for i in range(50):
        counter = 0 if counter == every - 1 else counter + 1
        if counter == 0:
            matched_at.append(i)
    assert matched_at[0] == packet and all(b - a == every for a, b in zip(matched_at, matched_at[1:], strict=False))
    state, total = nth_initial(every, packet), 0
    for batch in (3, 0, 11, 36):  # connections reaching the rule, in four visits
        got, state = nth_matches(state, every, batch)
        total += got
    assert total == len(matched_at) and state == counter


def test_draw_count_does_not_depend_on_the_chunk_size():
    whole = count_random_matches(service_rng(5, "KUBE-SVC-X"), 10_501, T)
    chunked = count_random_matches(service_rng(5, "KUBE-SVC-X"), 10_501, T, chunk=1000)
    assert whole == chunked
    r = service_rng(5, "KUBE-SVC-X").integers(0, 1 << 32, size=10_501, dtype=np.uint32)
    assert whole == int(np.count_nonzero(statistic_matches(r, T)))



def integers(rng: np.random.Generator, size: int) -> np.ndarray:
    return rng.integers(0, 1 << 32, size=size, dtype=np.uint32)


@st.composite
def chunked_calls(draw: st.DrawFn) -> tuple[int, int, list[tuple[int, bool]]]:
    """(chunk, small, calls): a chunk of 1 to 9 or 1000 u32s and sizes from 0 to three chunks, or
    the sampler's CHUNK and sizes on either side of it and of SMALL; `small` 0 (raw outputs from
    the first u32), 5 or SMALL; each call (size, through u32_chunks or not)."""
    chunk = draw(st.one_of(st.integers(1, 9), st.just(1000), st.just(CHUNK)))
    sizes = st.one_of(st.integers(0, 3), st.integers(0, 3 * min(chunk, 1000) + 1))
    if chunk == CHUNK:
        sizes = st.one_of(sizes, st.sampled_from([SMALL, SMALL + 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 3]))
    small = draw(st.sampled_from([0, 5, SMALL]))
    return chunk, small, draw(st.lists(st.tuples(sizes, st.booleans()), max_size=10))


@given(seed=st.integers(0, 2**64 - 1), chunked=chunked_calls())
def test_u32_chunks_is_the_stream_of_integers(seed, chunked):
    """Twin PCG64 generators, one drawn through u32_chunks and one through Generator.integers, over
    any sequence of sizes (0, 1, odd, crossing a chunk); some calls go through integers on both,
    as other code on the same generator would. Every call hands out the same u32s, in pieces of at
    most `chunk`, and leaves the same state, buffered high half included: the next draws agree."""
    chunk, small, calls = chunked
    fast, slow = (np.random.Generator(np.random.PCG64(seed)) for _ in range(2))
    for size, through_chunks in calls:
        expected = integers(slow, size)
        if through_chunks:
            pieces = list(u32_chunks(fast, size, chunk, small))
            assert all(0 < len(p) <= chunk and p.dtype == np.uint32 for p in pieces)
            got = np.concatenate(pieces) if pieces else np.empty(0, dtype=np.uint32)
        else:
            got = integers(fast, size)
        assert np.array_equal(got, expected)
        assert fast.bit_generator.state == slow.bit_generator.state
    assert integers(fast, 3).tolist() == integers(slow, 3).tolist()
    assert fast.bit_generator.random_raw(2).tolist() == slow.bit_generator.random_raw(2).tolist()


def test_u32_chunks_asks_any_other_source_for_integers_chunk_by_chunk():
    """A source that is not a Generator on PCG64 (crafted draws, another bit generator) is asked for
    `integers`, in chunks, and gives the same stream as asking it at once."""
    assert [p.tolist() for p in u32_chunks(CraftedDraws(list(range(7))), 7, 3)] == [[0, 1, 2], [3, 4, 5], [6]]
    mt = np.random.Generator(np.random.MT19937(4))
    whole = integers(np.random.Generator(np.random.MT19937(4)), 11).tolist()
    assert [int(x) for p in u32_chunks(mt, 11, 4) for x in p] == whole

def counts(result) -> dict[str, list[int]]:
    return {s.service.chain: [e.sampled for e in s.endpoints] + [s.unassigned] for s in result.services}


def test_same_seed_same_counts_and_the_filter_does_not_change_a_service():
    ruleset = kubechain.load(fixture("odd", "nft", "save"))
    first, again = sample(ruleset, 20_000, 7), sample(ruleset, 20_000, 7)
    assert counts(first) == counts(again)
    other = counts(sample(ruleset, 20_000, 8))
    assert other != counts(first)
    alone = sample(ruleset, 20_000, 7, service="odd/skewed")
    assert [s.service.chain for s in alone.services] == ["KUBE-SVC-SKEWED5AAAAAAAAAA"]
    assert counts(alone)["KUBE-SVC-SKEWED5AAAAAAAAAA"] == counts(first)["KUBE-SVC-SKEWED5AAAAAAAAAA"]
    nth = sample(ruleset, 10, 7, service="NTHAAA")
    assert [s.service.chain for s in nth.services] == ["KUBE-SVC-NTHAAAAAAAAAAAAAA"]


def fixture_paths():
    return sorted(FIXTURES.glob("*.txt"))


@pytest.mark.parametrize("path", fixture_paths(), ids=lambda p: p.name)
def test_samples_agree_with_the_exact_shares_on_every_fixture(path):
    result = kubechain.sample(kubechain.load(path), 20_000, 20_261_127)
    assert result.services or ".filter." in path.name  # a filter-table listing has no service chains
    for s in result.services:
        assert sum(e.sampled for e in s.endpoints) + s.unassigned == 20_000, s.service.chain
        for e in s.endpoints:
            if e.share == 0:
                assert e.sampled == 0
            if e.share == 1:
                assert e.sampled == 20_000
        vs_exact = s.fit.vs_exact
        if vs_exact is not None and vs_exact.p_value is not None:
            assert vs_exact.p_value >= 1e-6, (s.service.chain, s.fit)
        else:  # nothing to test against the rules: only one outcome is possible (a zero-share endpoint
            # may still make the test against 1/n possible)
            assert len([e for e in s.endpoints if e.share]) + (s.service.unassigned > 0) <= 1


def test_odd_chains_nth_inversion_goto():
    result = sample(kubechain.load(fixture("odd", "legacy", "L-n-v-x")), 30_000, 1)
    found = {s.service.chain: s for s in result.services}
    # nth is a counter, not random: exactly a third each
    assert [e.sampled for e in found["KUBE-SVC-NTHAAAAAAAAAAAAAA"].endpoints] == [10_000] * 3
    inverted = [e.sampled for e in found["KUBE-SVC-INVERTAAAAAAAAAAA"].endpoints]
    assert 0.74 < inverted[0] / 30_000 < 0.76  # ! --probability 0.25 matches three quarters
    goto = found["KUBE-SVC-GOTOAAAAAAAAAAAAA"]
    assert goto.unassigned == 0 and sum(e.sampled for e in goto.endpoints) == 30_000
    fall = found["KUBE-SVC-FALLTHRUAAAAAAAAA"]
    assert fall.fit.unassigned == fall.unassigned > 0 and fall.fit.vs_exact.p_value >= 1e-6
    assert fall.fit.vs_uniform.p_value == 0.0  # 1/n over the endpoints leaves nothing unassigned
    assert found["KUBE-SVC-SKEWED5AAAAAAAAAA"].fit.vs_uniform.p_value < 1e-6


RETURNS = """*nat
:KUBE-SERVICES - [0:0]
:KUBE-SVC-TWOSTAT - [0:0]
:KUBE-PICK - [0:0]
:KUBE-SEP-A - [0:0]
:KUBE-SEP-B - [0:0]
:KUBE-SEP-C - [0:0]
-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-TWOSTAT
-A KUBE-SVC-TWOSTAT -j KUBE-PICK
-A KUBE-SVC-TWOSTAT -m statistic --mode random --probability 0.5 -m statistic --mode nth --every 2 -j KUBE-SEP-A
-A KUBE-SVC-TWOSTAT -j KUBE-SEP-B
-A KUBE-PICK -m statistic --mode random --probability 0.25 -j RETURN
-A KUBE-PICK -j KUBE-SEP-C
-A KUBE-SEP-A -p tcp -m tcp -j DNAT --to-destination 10.1.0.1:80
-A KUBE-SEP-B -p tcp -m tcp -j DNAT --to-destination 10.1.0.2:80
-A KUBE-SEP-C -p tcp -m tcp -j DNAT --to-destination 10.1.0.3:80
COMMIT
"""


def test_return_and_two_statistic_matches_on_one_rule():
    """RETURN sends a quarter back; the next rule draws, and only the connections that pass the
    random match reach (and advance) the nth counter."""
    ruleset = kubechain.loads(RETURNS)
    (svc,) = sample(ruleset, 40_000, 3).services
    assert [e.share for e in svc.endpoints] == [Fraction(3, 4), Fraction(1, 16), Fraction(3, 16)]
    c, a, b = (e.sampled for e in svc.endpoints)
    assert c + a + b == 40_000 and svc.unassigned == 0
    returned = 40_000 - c
    assert 0.24 < returned / 40_000 < 0.26
    assert b == returned - a and 0.23 < a / returned < 0.27  # half of the half that passed the draw
    assert svc.fit.vs_exact.p_value >= 1e-6


class CraftedDraws:
    """A U32Source that hands out given u32s, in order, instead of random ones."""

    def __init__(self, draws: list[int]) -> None:
        self.draws = np.array(draws, dtype=np.uint32)
        self.at = 0

    def integers(self, low: int, high: int, size: int, dtype: type) -> np.ndarray:
        assert (low, high, dtype) == (0, 1 << 32, np.uint32)
        out = self.draws[self.at:self.at + size]
        self.at += size
        return out


@pytest.mark.parametrize("chunk", [1 << 20, 3, 1])
def test_the_vectorised_comparison_at_its_boundary(chunk):
    """The sampler's counting path, fed draws on either side of t: the low 31 bits are compared,
    strictly below t (so t - 1 matches and t does not, whatever the top bit)."""
    top = 1 << 31
    draws = [T - 1, T, 0, top, top + T - 1, top + T, 0xFFFFFFFF, 0x7FFFFFFF]
    matching = [True, False, True, True, True, False, False, False]
    assert count_random_matches(CraftedDraws(draws), len(draws), T, chunk=chunk) == sum(matching)
    assert count_random_matches(CraftedDraws(draws), len(draws), T, True, chunk=chunk) == len(draws) - sum(matching)
    assert count_random_matches(CraftedDraws(draws), len(draws), top, chunk=chunk) == len(draws)  # probability 1
    assert count_random_matches(CraftedDraws(draws), len(draws), 0, chunk=chunk) == 0  # probability 0
