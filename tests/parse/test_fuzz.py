"""Damaged input: every damaged dump ends in a located ParseError or a valid analysis, never in
any other exception; and junk input costs time linear in its size."""

from __future__ import annotations

import contextlib
import io
import random
import re
import time

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

import kubechain
from kubechain import ParseError
from kubechain.report import documents, text

from support.paths import FIXTURES

SEEDS = sorted(FIXTURES.glob("*.txt"))
# values that are syntactically where a number or word belongs, but out of range or odd
_ODD_VALUES = [b"0", b"-1", b"nan", b"inf", b"-0.5", b"1e999", b"2.5", b"0x10", b"99999999999999999999999",
               b"", b"!", b"!!", b"\"", b"'", b"--", b"-", b"/", b":", b"[", b"]", b"\\", b"%", b"\t", b"\r",
               b"/*", b"*/", b"0/0", b"-j", b"-m", b"KUBE-SEP-", b"\x00", "é".encode(), b"\xff"]

_VALUE = re.compile(rb"(?<![\w.])(?:0x[0-9a-f]+|\d+(?:\.\d+)?)(?![\w.])")


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True) or [b""]


@st.composite
def damage(draw, data: bytes) -> bytes:
    """1–4 random edits: line deletions, insertions, duplications and swaps, token replacements,
    flipped bits, non-UTF-8 bytes, and cuts."""
    for _ in range(draw(st.integers(1, 4))):
        lines = _lines(data)
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "insert", "duplicate", "swap", "token", "value", "value", "flip",
                                   "bytes", "cut", "junk-line"]))
        note(f"{op} at line {i + 1}")
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "insert":
            other = _lines(draw(st.sampled_from(SEEDS)).read_bytes())
            lines.insert(i, other[draw(st.integers(0, len(other) - 1))])
        elif op == "junk-line":
            lines.insert(i, draw(st.binary(max_size=40)) + b"\n")
        elif op == "token":
            words = lines[i].split(b" ")
            k = draw(st.integers(0, len(words) - 1))
            words[k] = draw(st.sampled_from(_ODD_VALUES))
            lines[i] = b" ".join(words)
        elif op == "value":  # a number or hex value somewhere in the dump gets an odd replacement
            data = b"".join(lines)
            spots = list(_VALUE.finditer(data))
            if spots:
                spot = spots[draw(st.integers(0, len(spots) - 1))]
                data = data[:spot.start()] + draw(st.sampled_from(_ODD_VALUES)) + data[spot.end():]
            continue
        else:
            data = b"".join(lines)
            if not data:
                continue
            pos = draw(st.integers(0, len(data) - 1))
            if op == "flip":
                data = data[:pos] + bytes([data[pos] ^ (1 << draw(st.integers(0, 7)))]) + data[pos + 1:]
            elif op == "bytes":
                data = data[:pos] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\x80", b"\xed\xa0\x80"])) + data[pos:]
            else:
                data = data[:pos]
            continue
        data = b"".join(lines)
    return data


def check_outcome(data: bytes) -> None:
    """ParseError located on a line of the input, or an analysis both reports can print."""
    try:
        ruleset = kubechain.load(io.BytesIO(data))
    except ParseError as err:
        assert 1 <= err.line <= data.count(b"\n") + 2, err.line
        assert err.column >= 1
        assert str(err)  # describes itself without failing
        return
    analysis = kubechain.analyze(ruleset)
    documents.dumps([analysis])
    text.render(analysis)


@given(st.sampled_from(SEEDS).flatmap(lambda path: damage(path.read_bytes())))
def test_damaged_fixtures_fail_cleanly_or_analyze(data):
    check_outcome(data)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_fail_cleanly_or_analyze(data):
    check_outcome(data)


# --- regressions found by the damage fuzzer ---------------------------------------------------------
# Each of these raised ValueError/ZeroDivisionError/OverflowError (or let a walk divide by zero) before.

_SAVE = ("*nat\n:KUBE-SVC-A - [0:0]\n-A KUBE-SERVICES -d 10.0.0.1/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-A\n"
         "-A KUBE-SVC-A {} -j KUBE-SEP-B\nCOMMIT\n")
_LIST = "Chain KUBE-SVC-A (1 references)\ntarget prot opt source destination\n{}\n"


@pytest.mark.parametrize(("text", "line", "expected"), [
    (_SAVE.format("-m statistic --mode nth --every 0"), 4, "--every: a whole number of at least 1"),
    (_SAVE.format("-m statistic --mode nth --every x"), 4, "--every"),
    (_SAVE.format("-m statistic --mode nth --every 3 --packet x"), 4, "--packet"),
    (_SAVE.format("-m statistic --mode random --probability nan"), 4, "a probability from 0 to 1"),
    (_SAVE.format("-m statistic --mode random --probability 1e999"), 4, "a probability from 0 to 1"),
    (_SAVE.format("-m statistic --mode random --probability 1.5"), 4, "a probability from 0 to 1"),
    (_SAVE.format("-m statistic --mode random --probability !"), 4, "a probability from 0 to 1"),
    (_SAVE.format("-m recent --rcheck --seconds x --name A"), 4, "--seconds"),
    (_SAVE.format("-m recent --rcheck --hitcount x --name A"), 4, "--hitcount"),
    (_SAVE.format("-c x y"), 4, "-c packets"),
    (_SAVE.format("-c 1"), 4, "-c bytes"),
    (_SAVE.replace("-j KUBE-SEP-B", "-j MARK --set-xmark zz").format(""), 4, "a MARK value"),
    (_LIST.format("KUBE-SEP-B all -- 0.0.0.0/0 0.0.0.0/0 statistic mode nth every 0"), 3, "every"),
    (_LIST.format("KUBE-SEP-B all -- 0.0.0.0/0 0.0.0.0/0 statistic mode random probability nan"), 3, "probability"),
    (_LIST.format("KUBE-SEP-B all -- 0.0.0.0/0 0.0.0.0/0 statistic mode random probability inf"), 3, "probability"),
    (_LIST.format("KUBE-SEP-B all -- 0.0.0.0/0 0.0.0.0/0 statistic mode random probability 2"), 3, "probability"),
    (_LIST.format("MARK all -- 0.0.0.0/0 0.0.0.0/0 MARK xset zz"), 3, "a MARK value"),
    (_LIST.format("MARK all -- 0.0.0.0/0 0.0.0.0/0 MARK or zz"), 3, "a MARK value"),
])
def test_out_of_range_values_are_located_parse_errors(text, line, expected):
    with pytest.raises(ParseError) as info:
        kubechain.loads(text)
    assert info.value.line == line and expected in info.value.expected
    assert info.value.column >= 1


def test_nul_characters_are_located_parse_errors():
    # a NUL in a port reached socket.getservbyname (kube.py), which raised "embedded null character"
    text = _SAVE.replace("--dport 80", "--dport 8\0").format("")
    with pytest.raises(ParseError) as info:
        kubechain.loads(text)
    assert (info.value.line, info.value.column) == (3, text.split("\n")[2].index("\0") + 1)
    with pytest.raises(ParseError):
        kubechain.load(io.BytesIO(b"Chain X (1 references)\n\0\n"))


def test_one_long_cascade_costs_quadratic_not_cubic_time():
    """walk.py split the mass with `mass - hit`, whose gcd over ever-longer denominators made a
    chain of k random rules cost O(k³) (2000 rules: 5 s; 4000: 40 s). The exact shares themselves
    have Θ(k²) digits, so quadratic is the floor: 4× the rules may cost ~16× (measured: 5×; before: 34×)."""
    def chain(k: int, seed: int) -> bytes:
        rng = random.Random(k * 10 + seed)
        lines = [b"*nat", b":KUBE-SVC-AAAAAAAAAAAAAAAA - [0:0]"]
        lines += [b"-A KUBE-SVC-AAAAAAAAAAAAAAAA -m statistic --mode random --probability %.11f -j KUBE-SEP-%d"
                  % (rng.random(), i) for i in range(k)]
        return b"\n".join([*lines, b"COMMIT", b""])

    small, large = _cost(lambda seed: chain(600, seed)), _cost(lambda seed: chain(2400, seed))
    print(f"one cascade: 600 rules {small:.3f} s, 2400 rules {large:.3f} s")
    assert large <= 20 * max(small, 0.01), (small, large)

# --- size / time guard ----------------------------------------------------------------------------

def _junk(kind: str, size: int, seed: int = 0) -> bytes:
    rng = random.Random(size * 10 + seed)
    if kind == "random-bytes":
        return rng.randbytes(size)
    if kind == "one-huge-line":
        return b"-A KUBE-SVC-X -m comment --comment " + b"x" * size + b" -j KUBE-SEP-Y\n"
    if kind == "near-valid-save":  # many service chains of 50 statistic rules, each to a missing SEP chain
        line = b"-A KUBE-SVC-%016d -m statistic --mode random --probability 0.%05d -j KUBE-SEP-%05d\n"
        out, i, length = [b"*nat\n"], 0, 5
        while length < size:
            out.append(line % (i // 50, rng.randrange(100000), i))
            length += len(out[-1])
            i += 1
        return b"".join([*out, b"COMMIT\n"])
    if kind == "near-valid-list":  # many service chains of 50 statistic rules, each to a missing SEP chain
        out, i, length = [], 0, 0
        while length < size:
            out.append(b"\nChain KUBE-SVC-%016d (1 references)\ntarget prot opt source destination\n" % i)
            out.extend(b"KUBE-SEP-%05d all -- 0.0.0.0/0 0.0.0.0/0 statistic mode random probability 0.%05d\n"
                       % (j, rng.randrange(100000)) for j in range(50))
            length += sum(map(len, out[-51:]))
            i += 1
        return b"".join(out)
    if kind == "printable-lines":
        return b"".join(b"%s\n" % rng.randbytes(60).hex().encode() for _ in range(size // 121))
    raise ValueError(kind)


def _cost(make) -> float:
    """The faster of two runs, each on fresh data from `make(seed)` (so no cache serves the second)."""
    best = float("inf")
    for seed in range(2):
        data = make(seed)
        start = time.perf_counter()
        with contextlib.suppress(ParseError):
            kubechain.analyze(kubechain.load(io.BytesIO(data)))
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize("kind", ["random-bytes", "printable-lines", "one-huge-line", "near-valid-save",
                                  "near-valid-list"])
def test_junk_costs_linear_time(kind):
    """A complexity check, not a timing check: 5 MB must cost about 5× what 1 MB costs (a quadratic
    parser would cost 25×). The absolute times are printed (pytest -s), not asserted."""
    small = _cost(lambda seed: _junk(kind, 1_000_000, seed))
    large = _cost(lambda seed: _junk(kind, 5_000_000, seed))
    print(f"{kind}: 1 MB {small:.3f} s, 5 MB {large:.3f} s, ratio {large / max(small, 1e-3):.1f}")
    assert large <= 12 * max(small, 0.02), (small, large)
