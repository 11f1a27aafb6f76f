"""What a command imports is part of its start-up time: numpy alone is 100-170 ms here (issue 16:
`--help` ≤ 150 ms, and every `analyze` pays its imports before it reads a line). These tests run the
command in a fresh interpreter and list the heavy modules it loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from support.paths import FIXTURES, ROOT, fixture

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


def imported(*args: str) -> tuple[set[str], str]:
    """Which of HEAVY `kubechain ARGS…` imported, and what it printed."""
    done = subprocess.run([sys.executable, "-c", RUN, json.dumps(HEAVY), *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, timeout=120)
    return set(json.loads(done.stderr.strip().splitlines()[-1])), done.stdout


def test_help_imports_only_click():
    assert imported("--help")[0] == set()


DUMPS = {"-L": fixture("blog", "nft", "L-n-v-x"), "save": fixture("blog", "nft", "save-c"),
         "nft": FIXTURES / "nft" / "blog.list.txt", "nft -j": FIXTURES / "nft" / "blog.json"}


@pytest.mark.parametrize("output", ["json", "text", "wide"])
@pytest.mark.parametrize("dump", DUMPS)
def test_a_plain_dump_is_read_without_lark_or_numpy(output, dump):
    loaded, printed = imported("analyze", "-o", output, str(DUMPS[dump]))
    assert "10.128.60.10" in printed  # it did read the dump: an endpoint is in the report
    assert not loaded & {"lark", "numpy", "matplotlib", "distributed"}


def test_lark_is_imported_where_it_reads(tmp_path):
    """A text the scans do not take (here: a chain header without its column line) goes to Lark,
    which says what is wrong, as before."""
    lines = fixture("blog", "nft", "L-n-v").read_text().split("\n")
    broken = tmp_path / "broken.txt"
    broken.write_text("\n".join(lines[:1] + lines[2:]))
    loaded, printed = imported("analyze", "-o", "json", str(broken))
    assert "lark" in loaded
    assert "the column line" in printed  # Lark's error, as the error document says it


def test_sample_imports_numpy():
    assert "numpy" in imported("sample", "--draws", "1000", str(fixture("blog", "nft", "L-n-v-x")))[0]
