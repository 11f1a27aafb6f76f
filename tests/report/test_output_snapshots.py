"""Every fixture's `analyze` (text and JSON) and `sample` JSON, byte for byte against the committed
snapshots in tests/snapshots/ (rewrite them with tests/snapshots/regenerate.py only for a
deliberate change of output)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
sys.path.insert(0, str(SNAPSHOTS))

from regenerate import COMMANDS, fixtures, outputs, snapshot  # noqa: E402


@pytest.mark.parametrize("fixture", fixtures())
def test_output_is_byte_identical_to_the_snapshot(fixture: str) -> None:
    got = outputs(fixture)
    for suffix in COMMANDS:
        status, text = got[suffix]
        assert status == 0
        expected = snapshot(fixture, suffix).read_text(encoding="utf-8")
        assert text == expected, f"{fixture}: {suffix} differs from its snapshot"
