"""Any printout of a generated ruleset, put through the damage a paste does (indentation, code fences,
grep separators, blank lines in chain blocks, authors' notes, collapsed spaces, a shell prompt),
analyzes under `lenient` exactly like the original, and says it was repaired."""

from __future__ import annotations

import re

from hypothesis import given, note
from hypothesis import strategies as st

import kubechain
from kubechain.testing import Dump, renderings

from support.documents import comparable


@st.composite
def damaged(draw: st.DrawFn) -> tuple[Dump, str]:
    dump = draw(renderings().filter(lambda d: "chain" not in d.options and d.text.strip()))
    lines = dump.text.split("\n")
    headers = ("Chain ", "*", ":", "#", "COMMIT")
    rules = [i for i, line in enumerate(lines)
             if line.strip() and not line.startswith(headers) and "target" not in line]
    done = []
    if draw(st.booleans()) and rules:  # an author's note after a rule
        i = draw(st.sampled_from(rules))
        lines[i] += draw(st.sampled_from(["   ← this one", "  # the pod IP", " <-- here"]))
        done.append("note")
    if draw(st.booleans()) and dump.fmt == "iptables-list" and rules:  # a blank line inside a chain block
        i = draw(st.sampled_from(rules))
        if i > 0 and lines[i - 1].strip() and "target" not in lines[i - 1] and not lines[i - 1].startswith("Chain "):
            lines.insert(i, "")
            done.append("blank")
    if draw(st.booleans()):  # grep's separators between blocks
        lines = ["--" if not line.strip() and draw(st.booleans()) else line for line in lines]
        done.append("grep")
    if draw(st.booleans()) and dump.fmt == "iptables-save":  # the command that printed it
        lines.insert(0, "$ sudo iptables-save")
    if draw(st.booleans()):  # a web page collapses runs of spaces
        lines = [re.sub(" {2,}", " ", line) for line in lines]
    indent = draw(st.sampled_from(["", "  ", "    ", "\t"]))
    lines = [indent + line if line.strip() else line for line in lines]
    done.append("indent" if indent else "")
    if draw(st.booleans()) or not any(done):
        lines = ["```", *lines, "```"]
        done.append("fence")
    return dump, "\n".join(lines)


@given(damaged())
def test_damaged_printouts_analyze_like_the_original_under_lenient(case):
    dump, text = case
    note(text)
    original = kubechain.loads(dump.text)
    repaired = kubechain.loads(text, lenient=True)
    named = dump.fmt == "iptables-list" and not dump.options.get("numeric")
    assert comparable(repaired, addresses=not named, skip_codes=("input-repaired",)) == comparable(
        original, addresses=not named)
    if _content(text) != _content(dump.text):  # a shell prompt, or a `# Generated` line's spaces, repair nothing
        assert any(d.code == "input-repaired" for d in kubechain.analyze(repaired).diagnostics)
    assert not [n for n in repaired.notes if n.kind == "skipped"]  # nothing lost


def _content(text: str) -> list[str]:
    """The lines a repair could change: not comments, not the prompt that printed them."""
    return [line for line in text.split("\n") if not line.startswith(("#", "$ "))]
