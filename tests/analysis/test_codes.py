"""The registry of diagnostic codes is the one source of each code's severity: README's table
says the same, and every diagnostic any fixture raises carries its registered severity."""

from __future__ import annotations

import re

import pytest

import kubechain
from kubechain.analysis import CODES

from support.paths import FIXTURES, ROOT

_ROW = re.compile(r"^\| `(?P<code>[a-z-]+)` \| (?P<severity>[^|]+) \| (?P<fires>[^|]+) \| ")


def readme_codes() -> dict[str, tuple[str, str]]:
    text = (ROOT / "README.md").read_text()
    table = text[text.index("## Diagnostics"):]
    return {m["code"]: (m["severity"].strip(), m["fires"].strip())
            for line in table.splitlines() if (m := _ROW.match(line))}


def registered_severity(code: str) -> str:
    found = CODES[code]
    partial = f" ({found.partial_severity} in a `-L CHAIN` listing)" if found.partial_severity else ""
    return found.severity + partial


def test_readme_lists_every_registered_code_with_its_severity_and_cause_in_order():
    readme = readme_codes()
    assert list(readme) == list(CODES)
    for code, (severity, fires) in readme.items():
        assert severity == registered_severity(code), code
        assert fires == CODES[code].fires_when, code


def test_the_severities_readme_promises():
    """The contract a `--fail-on` user relies on, spelled out once more: a change here is a
    change of every CI gate built on kubechain."""
    assert {code: c.severity for code, c in CODES.items()} == {
        "fall-through": "error", "no-dnat": "error", "missing-chain": "error", "jump-cycle": "error",
        "xt-opaque": "error", "orphan-chain": "warning", "unreachable-rule": "warning",
        "numgen-modulus": "warning", "duplicate-endpoint": "warning",
        "comment-mismatch": "warning", "no-endpoints": "warning", "non-uniform": "warning",
        "observed-skew": "warning", "session-affinity": "info", "legacy-precision": "info",
        "kernel-collision": "info", "precision-limit": "warning", "unknown-match": "info", "xt-match": "info",
        "no-nat-table": "info", "no-service-chains": "warning", "unsupported-revision": "warning",
        "input-repaired": "warning", "sections-disagree": "warning", "empty-input": "info"}
    assert CODES["missing-chain"].partial_severity == "info"


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.txt")), ids=lambda p: p.name)
def test_every_diagnostic_carries_its_registered_severity(path):
    ruleset = kubechain.load(path)
    for d in kubechain.analyze(ruleset).diagnostics:
        assert d.severity == CODES[d.code].severity_in(ruleset.partial), (d.code, d.message)
