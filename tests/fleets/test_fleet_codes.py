"""README's table of fleet codes is the registry's (kubechain.fleets.FLEET_CODES), and the fleet
codes never collide with the analyze codes that node diagnostics are summarised under."""

from __future__ import annotations

import re

from kubechain.analysis import CODES
from kubechain.fleets import FLEET_CODES

from support.paths import ROOT

_ROW = re.compile(r"^\| `(?P<code>[a-z-]+)` \| (?P<severity>[^|]+) \| (?P<fires>[^|]+) \|$")


def test_readme_lists_every_fleet_code_with_its_severity_and_cause_in_order():
    text = (ROOT / "README.md").read_text()
    table = text[text.index("### Fleet findings"):text.index("### JSON (`kubechain/fleet/v1`")]
    rows = {m["code"]: (m["severity"].strip(), m["fires"].strip()) for line in table.splitlines()
            if (m := _ROW.match(line))}
    assert list(rows) == list(FLEET_CODES)
    for code, (severity, fires) in rows.items():
        assert (severity, fires) == (FLEET_CODES[code].severity, FLEET_CODES[code].fires_when), code


def test_fleet_codes_are_not_analyze_codes():
    assert not set(FLEET_CODES) & set(CODES)
