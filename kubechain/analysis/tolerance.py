"""The `non-uniform` tolerance: how far (relative) an endpoint's share may be from 1/n."""

from __future__ import annotations

import re
from fractions import Fraction

DEFAULT_TOLERANCE = Fraction(1, 1000)
_TOLERANCE = re.compile(r"\d+(\.\d*)?([eE][-+]?\d{1,2})?|\.\d+([eE][-+]?\d{1,2})?|\d+/[1-9]\d*")


def tolerance_from_text(text: str) -> Fraction:
    """`0.001`, `1e-3`, `1/1000` or `0.1%` → Fraction(1, 1000); ValueError when it is none of these,
    a bare number of 1 or more (`5` would silently mean 500%: write `5%`), or outside 1e-30..1e30
    (`1e-999999999` would otherwise build a billion-digit number).
    Exact, so a tolerance of 0.1% means 1/1000, not the float nearest to it."""
    cleaned = text.strip()
    number = cleaned.removesuffix("%")
    if not _TOLERANCE.fullmatch(number):
        raise ValueError(f"not a number such as 0.001, 1e-3, 1/1000 or 0.1%: {text!r}")
    percent = number != cleaned
    value = Fraction(number) * (Fraction(1, 100) if percent else 1)
    if not percent and "/" not in number and value >= 1:
        raise ValueError(f"{text!r} would allow {float(value):.0%}; write a percentage ({text}%), a fraction "
                         "(1/1000) or a value below 1 (0.001)")
    if value and not Fraction(1, 10**30) <= value <= 10**30:
        raise ValueError(f"a tolerance must lie between 1e-30 and 1e30: {text!r}")
    return value


def tolerance(value: Fraction | str | float | int | None) -> Fraction:
    """What `kubechain.analyze(..., tolerance=)` accepts: None (the default, 0.1%), a Fraction or
    number, or the CLI's text (`0.1%`, `1/1000`)."""
    if value is None:
        return DEFAULT_TOLERANCE
    if isinstance(value, str):
        return tolerance_from_text(value)
    if isinstance(value, bool) or not isinstance(value, (Fraction, int, float)):
        raise TypeError(f"a tolerance is a Fraction, a number or text such as '0.1%', not {type(value).__name__}")
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"a tolerance is a finite number, not {value!r}")
    found = Fraction(value)
    if found < 0:
        raise ValueError(f"a tolerance cannot be negative: {value!r}")
    return found
