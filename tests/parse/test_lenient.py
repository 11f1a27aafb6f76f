"""`--lenient`: text a person or a web page edited analyzes like the original, and every repair is
reported; the default stays strict and points at --lenient when the text looks pasted."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import kubechain
from kubechain.cli import main

from support.documents import comparable
from support.paths import fixture


def damaged_listing(text: str) -> str:
    """A listing as a chat or a blog shows it: in a code fence, under a Markdown list, with a blank
    line in a chain block, grep's `--` between blocks and an author's note on a rule."""
    lines = ["    " + line if line else line for line in text.split("\n")]
    rule = next(i for i, line in enumerate(lines) if "KUBE-SEP-BBBB" in line and "statistic" in line)
    lines[rule] += "   ← the second pod"
    lines.insert(rule, "")  # a blank line between two rules of the KUBE-SVC block
    first_blank = lines.index("")
    lines[first_blank] = "--"
    return "\n".join(["```", *lines, "```"])


def test_a_damaged_listing_analyzes_like_the_original_with_every_repair_reported():
    text = fixture("blog", "nft", "L-n-v").read_text()
    damaged = damaged_listing(text)
    with pytest.raises(kubechain.ParseError, match="--lenient"):
        kubechain.loads(damaged)
    repaired = kubechain.loads(damaged, lenient=True)
    assert comparable(repaired, skip_codes=("input-repaired",)) == comparable(kubechain.loads(text))
    what = sorted(d.message for d in kubechain.analyze(repaired).diagnostics if d.code == "input-repaired")
    assert len(what) == 6 and any("indentation of 4" in m for m in what) and any("← the second pod" in m for m in what)
    assert sum("code fence" in m for m in what) == 2 and any("blank line" in m for m in what)


def test_a_rule_line_that_cannot_be_read_is_skipped_and_its_chain_named():
    text = fixture("blog", "nft", "save").read_text()
    broken = text.replace("-A KUBE-SVC-EXAMPLEAAAAAAAAAA -m comment --comment \"namespace/example-service:http -> "
                          "10.128.60.11:8080\"", "-A KUBE-SVC-EXAMPLEAAAAAAAAAA -m comment --comment \"namespace/exam")
    assert broken != text
    with pytest.raises(kubechain.ParseError):
        kubechain.loads(broken)
    result = CliRunner().invoke(main, ["analyze", "--lenient", "-"], input=broken)
    assert result.exit_code == 0
    assert "the input was repaired" in result.output.splitlines()[1]
    (skipped,) = [d for d in kubechain.analyze(kubechain.loads(broken, lenient=True)).diagnostics
                  if d.code == "input-repaired"]
    assert skipped.chain == "KUBE-SVC-EXAMPLEAAAAAAAAAA" and "unreliable" in skipped.message


def test_runs_of_spaces_collapsed_by_a_web_page_still_read_strictly():
    text = fixture("kube-proxy-overall", "nft", "L-n-v").read_text()
    collapsed = "\n".join(_collapse(line) for line in text.split("\n"))
    assert collapsed != text
    assert comparable(kubechain.loads(collapsed), addresses=False) == comparable(kubechain.loads(text), addresses=False)


def _collapse(line: str) -> str:
    import re

    return re.sub(" {2,}", " ", line)


def test_the_library_takes_lenient_too(tmp_path):
    path = tmp_path / "paste.md"
    path.write_text(damaged_listing(fixture("blog", "nft", "L-n-v").read_text()))
    assert kubechain.load(path, lenient=True).notes
