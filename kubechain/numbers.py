"""Exact numbers for output: sympy Rationals (built once per distinct value) and decimals."""

from __future__ import annotations

from decimal import Context, Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any

_DIGITS = Context(prec=20)


@lru_cache(maxsize=65536)
def rational(value: Fraction) -> Any:
    """The sympy.Rational of a Fraction; cached, since a 30k-service dump has few distinct values."""
    import sympy

    return sympy.Rational(value.numerator, value.denominator)


@lru_cache(maxsize=65536)
def decimal_text(value: Fraction) -> str:
    """20 significant digits, enough to show the kernel's 2^-31 quantisation (`0.33333333348855376244`)."""
    if value == 0:
        return "0"
    if value == 1:
        return "1"
    d = _DIGITS.divide(Decimal(value.numerator), Decimal(value.denominator))
    text = format(d, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def fraction_text(value: Fraction) -> str:
    """str(sympy.Rational(value)) without paying for sympy: reduced `n/d`, or `n`."""
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
