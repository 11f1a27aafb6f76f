"""Every example in README.md runs, and prints what README shows.

- Shell examples: fenced blocks whose first line is `$ kubechain …`. Each `$ ` line is run (as
  `python -m kubechain …`, from a folder where `fixtures/` is this checkout's and `docs/` is a
  scratch folder, in a pipe: 80 columns, no colour); the lines up to the next `$ ` line are its
  stdout. A line `...` (or `…`) stands for any number of lines; without one the output must match
  whole.
- Python examples: fenced `python` blocks, run the same way; a block fenced as `output` right
  after one is its stdout (with the same `...`). Each must also pass `mypy --strict`.

New sections are picked up as they are written: nothing here names a section.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest

from support.cli import cli_env
from support.paths import ROOT

README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)


def blocks() -> list[tuple[str, str, int]]:
    text = README.read_text(encoding="utf-8")
    return [(m[1], m[2], text.count("\n", 0, m.start()) + 1) for m in FENCE.finditer(text)]


def shell_examples() -> list[tuple[str, list[str], int]]:
    found = []
    for lang, body, line in blocks():
        lines = body.rstrip("\n").split("\n")
        if lang not in ("", "console", "shell", "sh", "text") or not lines[0].startswith("$ kubechain "):
            continue
        for i, text in enumerate(lines):
            if text.startswith("$ "):
                end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("$ ")), len(lines))
                found.append((text[2:], lines[i + 1:end], line + 1 + i))
    return found


def python_examples() -> list[tuple[str, list[str] | None, int]]:
    found: list[tuple[str, list[str] | None, int]] = []
    listed = blocks()
    for i, (lang, body, line) in enumerate(listed):
        if lang == "python":
            nxt = listed[i + 1] if i + 1 < len(listed) else None
            expected = nxt[1].rstrip("\n").split("\n") if nxt is not None and nxt[0] == "output" else None
            found.append((body, expected, line))
    return found


def matches(expected: list[str], actual: list[str]) -> bool:
    """`expected` with `...` lines standing for any run of lines (trailing spaces ignored)."""
    want = [e.rstrip() for e in expected]
    got = [a.rstrip() for a in actual]
    while got and not got[-1]:
        got.pop()
    while want and not want[-1]:
        want.pop()

    def at(w: int, g: int) -> bool:
        if w == len(want):
            return g == len(got)
        if want[w].strip() in ("...", "…"):
            return any(at(w + 1, k) for k in range(g, len(got) + 1))
        return g < len(got) and got[g] == want[w] and at(w + 1, g + 1)
    return at(0, 0)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    here = tmp_path_factory.mktemp("readme")
    (here / "fixtures").symlink_to(ROOT / "fixtures")
    (here / "docs").mkdir()
    return here


def test_readme_has_examples_of_both_kinds():
    assert len(shell_examples()) >= 8 and len(python_examples()) >= 3


@pytest.mark.parametrize(("command", "expected", "line"), shell_examples(),
                         ids=[f"README.md:{x[2]}" for x in shell_examples()])
def test_shell_example_prints_what_readme_shows(command, expected, line, workdir):
    args = shlex.split(command, comments=True)
    assert args[0] == "kubechain"
    got = subprocess.run([sys.executable, "-m", "kubechain", *args[1:]], capture_output=True, text=True,
                         cwd=workdir, env=cli_env(), timeout=600)
    assert matches(expected, got.stdout.split("\n")), (
        f"README.md:{line}: `{command}` printed (exit {got.returncode}):\n{got.stdout}{got.stderr}")


@pytest.mark.parametrize(("code", "expected", "line"), python_examples(),
                         ids=[f"README.md:{x[2]}" for x in python_examples()])
def test_python_example_runs(code, expected, line, workdir):
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=workdir, env=cli_env(),
                         timeout=600)
    assert got.returncode == 0, f"README.md:{line}:\n{got.stderr}"
    if expected is not None:
        assert matches(expected, got.stdout.split("\n")), f"README.md:{line} printed:\n{got.stdout}"


def test_python_examples_pass_mypy_strict(tmp_path):
    files = []
    for i, (code, _, line) in enumerate(python_examples()):
        path = tmp_path / f"readme_line_{line}_{i}.py"
        path.write_text(code)
        files.append(str(path))
    got = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", *files],
                         capture_output=True, text=True, cwd=ROOT, env=cli_env(), timeout=600)
    assert got.returncode == 0, got.stdout + got.stderr


def test_the_elision_rule():
    assert matches(["a", "...", "d"], ["a", "b", "c", "d", ""])
    assert not matches(["a", "d"], ["a", "b", "d"])
    assert matches(["...", "c"], ["a", "b", "c"]) and not matches(["a"], ["a", "b"])
    assert matches(["a", "  …", "c"], ["a", "b", "c"])


def test_readme_test_command_is_what_ci_runs():
    """README's "Run the tests" command is the last command of `.ci/run`, word for word."""
    text = README.read_text(encoding="utf-8")
    quick = text[text.index("Run the tests"):]
    command = next(line.strip() for line in quick.split("\n") if line.startswith("    python3 -m pip install"))
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().split("\n") if line.strip()]
    assert ci[-1] == command
