"""report.json_encoding writes exactly what `json.dumps(value, indent=2)` writes: with orjson, and
without it (the stdlib fallback), whole or in pieces, for any JSON-like value."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubechain.report import json_encoding

_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70), st.floats(),
    st.text(max_size=8), st.text(st.characters(min_codepoint=0x70, max_codepoint=0x2100), max_size=8),
    st.sampled_from(["\U0001F600", "\x7f", "\ud800", "a\nb\t\"\\"]),  # astral, DEL, a lone surrogate, escapes
)
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=70),  # long enough to be split element by element
    st.tuples(inner, inner),
    st.dictionaries(st.text(max_size=4), inner, max_size=4),
    st.dictionaries(st.integers(0, 3), inner, max_size=2),  # non-string keys: the stdlib's way
), max_leaves=120)


def _both(value: Any) -> tuple[str, str]:
    stream = io.StringIO()
    json_encoding.write(value, stream)
    return json_encoding.dumps(value), stream.getvalue()


@settings(max_examples=300, deadline=None)
@given(_VALUES)
def test_the_bytes_are_the_stdlibs(value: Any) -> None:
    expected = json.dumps(value, indent=2)
    assert _both(value) == (expected, expected + "\n")


@pytest.mark.parametrize("value", [
    {"p_value": 6.235852409845164e-06, "big": 1e16, "small": 1e-05, "nan": float("nan"), "inf": [float("-inf")]},
    {"services": [{"name": f"ns/svc-{i}", "share": i / 7, "ok": True} for i in range(100)], "é": "ü\U0001F600"},
    [{"count": 2**65}, {"ports": (80, 443)}, {1: "int key"}, [], {}],
])
def test_what_orjson_prints_otherwise(value: Any) -> None:
    """Floats in exponent form, NaN, non-ASCII text, big integers, tuples, non-string keys."""
    expected = json.dumps(value, indent=2)
    assert _both(value) == (expected, expected + "\n")


def test_without_orjson_the_stdlib_writes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    value = {"services": [{"p": 1e-05, "name": "ü"}] * 70}
    expected = json.dumps(value, indent=2)
    monkeypatch.setattr(json_encoding, "orjson", None)
    assert _both(value) == (expected, expected + "\n")


def test_unserializable_values_raise_as_the_stdlib_does() -> None:
    import datetime

    with pytest.raises(TypeError, match="not JSON serializable"):
        json_encoding.dumps({"when": datetime.date(2026, 12, 1)})


def test_a_binary_stream_gets_bytes() -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    json_encoding.write({"a": [1.5e-7] * 80}, stream)
    assert raw.getvalue().decode() == json.dumps({"a": [1.5e-7] * 80}, indent=2) + "\n"
