"""Exact numbers as text, at any size: reduced fractions, 20-digit decimals, and a short form for tables."""

from __future__ import annotations

import sys
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal
from fractions import Fraction
from functools import lru_cache

_DIGITS = Context(prec=20)


_DOWN = Context(prec=20, rounding=ROUND_FLOOR)
_UP = Context(prec=20, rounding=ROUND_CEILING)


@lru_cache(maxsize=65536)
def decimal_text(value: Fraction, down: bool | None = None) -> str:
    """20 significant digits, enough to show the kernel's 2^-31 quantisation (`0.33333333348855376244`);
    rounded to nearest, or down/up for the ends of a certified interval."""
    if value == 0:
        return "0"
    if value == 1:
        return "1"
    context = _DIGITS if down is None else _DOWN if down else _UP
    d = context.divide(Decimal(value.numerator), Decimal(value.denominator))
    text = format(d, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def fraction_text(value: Fraction) -> str:
    """str(sympy.Rational(value)) without paying for sympy: reduced `n/d`, or `n`. Exact at any
    size: the k-th rule of a cascade has a denominator of about 2^(31k), past CPython's
    4,300-digit int→str guard from about 460 endpoints."""
    if value.denominator == 1:
        return _int_text(value.numerator)
    return f"{_int_text(value.numerator)}/{_int_text(value.denominator)}"


def short_fraction_text(value: Fraction, width: int = 44) -> str:
    """fraction_text, or for a long dyadic one `n/2^k (b-bit n)`, for tables (JSON has it whole)."""
    den = value.denominator
    digits = (den.bit_length() + value.numerator.bit_length()) * 0.30103  # log10(2)
    if den & (den - 1) or digits < width:  # not dyadic, or short enough to print whole
        return fraction_text(value)
    return f"n/2^{den.bit_length() - 1} ({value.numerator.bit_length():,}-bit n)"


def _int_text(n: int) -> str:
    try:
        return str(n)
    except ValueError:  # CPython's guard against slow huge conversions; these are ours, and needed
        limit = sys.get_int_max_str_digits()
        sys.set_int_max_str_digits(0)
        try:
            return str(n)
        finally:
            sys.set_int_max_str_digits(limit)
