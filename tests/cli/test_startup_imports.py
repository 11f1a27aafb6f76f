"""What a command imports is part of its start-up time: numpy alone is 100-170 ms here (issue 16:
`--help` ≤ 150 ms, and every `analyze` pays its imports before it reads a line). These tests run the
command in a fresh interpreter and list the heavy modules it loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from support.paths import ROOT, fixture

#: runs `kubechain ARGS…` in this interpreter, then prints which of HEAVY it imported
RUN = """
import json, sys
from kubechain.cli import main
try:
    main(sys.argv[2:], prog_name="kubechain")
except SystemExit:
    pass
sys.stdout.flush()
print(json.dumps(sorted(m for m in json.loads(sys.argv[1]) if m in sys.modules)), file=sys.stderr)
"""
HEAVY = ["numpy", "sympy", "mpmath", "matplotlib", "distributed", "fractions", "dataclasses", "lark", "rich"]


def imported(*args: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", RUN, json.dumps(HEAVY), *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, timeout=120)
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def test_help_imports_only_click():
    assert imported("--help") == set()


@pytest.mark.parametrize("output", ["json", "text", "wide"])
def test_analyze_imports_no_numpy(output):
    loaded = imported("analyze", "-o", output, str(fixture("blog", "nft", "L-n-v-x")))
    assert "lark" in loaded  # the command did run: it read the dump
    assert not loaded & {"numpy", "matplotlib", "distributed"}


def test_sample_imports_numpy():
    assert "numpy" in imported("sample", "--draws", "1000", str(fixture("blog", "nft", "L-n-v-x")))
