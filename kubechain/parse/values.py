"""Field values every input format shares: counters, protocols, addresses, interfaces, numbers.

Each value is read into the model's normal form (netfilter and model say what that is); the same
texts repeat across a dump, so the readers of repeated values are cached and their objects shared.
"""

from __future__ import annotations

from functools import lru_cache

from ..errors import BadValue
from ..model import Counters, Mark, Negatable
from ..netfilter import CONNTRACK_STATE_ORDER, COUNTER_STEPS, FULL_MARK, PROTOCOL_NAMES, statistic_threshold

ZERO_COUNTERS = Counters(0, 0)
#: what the address columns print for "any address"
ANY_ADDRESSES = frozenset({"0.0.0.0/0", "::/0", "anywhere"})


def counter_value(text: str) -> tuple[int, bool]:
    """`12345` → (12345, True); `123K` → (123000, False): K/M/G/T are decimal and rounded."""
    steps = COUNTER_STEPS.get(text[-1])
    if steps is None:
        return int(text), True
    return int(text[:-1]) * 1000 ** steps, False


def counters(packets: str, bytes_: str) -> Counters:
    if packets == "0" and bytes_ == "0":
        return ZERO_COUNTERS
    p, p_exact = counter_value(packets)
    b, b_exact = counter_value(bytes_)
    if p == 0 and b == 0 and p_exact and b_exact:
        return ZERO_COUNTERS
    return Counters(p, b, p_exact, b_exact)


def negatable(text: str) -> Negatable[str]:
    """`!x` → Negatable("x", True), as `-L` prints a negated column value."""
    return Negatable(text[1:], True) if text.startswith("!") else Negatable(text)


@lru_cache(maxsize=256)
def protocol(text: str, negated: bool = False) -> Negatable[str] | None:
    """The protocol: None for any, else its name (`6` and `tcp` are the same); `!tcp` negates."""
    if text.startswith("!"):
        text, negated = text[1:], True
    name = PROTOCOL_NAMES.get(text, text)
    return None if name is None else Negatable(name, negated)


@lru_cache(maxsize=1 << 16)
def address(text: str | None, negated: bool = False) -> Negatable[str] | None:
    """An address column or `-s`/`-d` value: "any" is None, and host prefixes (/32, /128) are dropped;
    `!` (the listing's prefix) negates."""
    if text is None:
        return None
    if text.startswith("!"):
        text, negated = text[1:], True
    if text in ANY_ADDRESSES:
        return Negatable("", True) if negated else None  # `! 0.0.0.0/0`: matches nothing
    if text.endswith("/32") and ":" not in text:
        text = text[:-3]
    elif text.endswith("/128"):
        text = text[:-4]
    return Negatable(text, negated)


@lru_cache(maxsize=4096)
def interface(text: str | None, negated: bool = False) -> Negatable[str] | None:
    """An interface column or `-i`/`-o` value: `*` and `any` are None; `!eth0` negates."""
    if text is None or text in ("*", "any"):
        return None
    if text.startswith("!"):
        text, negated = text[1:], True
    return Negatable(text, negated)


def probability(text: str, negated: bool = False) -> Negatable[int]:
    """A `--probability` value as iptables accepts it (a number from 0 to 1) → the stored threshold."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise BadValue(text, "a probability from 0 to 1")
    return _threshold(statistic_threshold(text), negated)


@lru_cache(maxsize=4096)
def _threshold(threshold: int, negated: bool) -> Negatable[int]:
    return Negatable(threshold, negated)


def number(text: str, what: str, minimum: int = 0) -> int:
    """A decimal integer option value (`--every`, `--seconds`, a counter), at least `minimum`."""
    if not text.isdigit() or not text.isascii() or int(text) < minimum:
        raise BadValue(text, f"{what}: a whole number of at least {minimum}")
    return int(text)


def mark(text: str, what: str = "a mark like 0x4000 or 0x4000/0xffffffff") -> Mark:
    """`0x4000/0x4000`, `16`, `0x10/0xff` → Mark(value, mask); no mask means all 32 bits."""
    value, _, mask = text.partition("/")
    try:
        return Mark(int(value, 0), int(mask, 0) if mask else FULL_MARK)
    except ValueError:
        raise BadValue(text, what) from None


def states(text: str, negated: bool = False) -> Negatable[tuple[str, ...]]:
    """`ESTABLISHED,NEW` → ("NEW", "ESTABLISHED"): the order conntrack prints its state bits in."""
    given = text.split(",")
    known = [s for s in CONNTRACK_STATE_ORDER if s in given]
    return Negatable((*known, *(s for s in given if s not in CONNTRACK_STATE_ORDER)), negated)
