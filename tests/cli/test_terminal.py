"""The terminal report: 80 columns by default in a pipe, the terminal's width on one, exact
fractions never broken, colour only on a terminal (rich's capture and a real tmux pane)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import uuid

import pytest
import yaml
from click.testing import CliRunner

import kubechain
from kubechain.cli import main
from kubechain.cli.common import Output
from kubechain.report.terminal import render

from support.cli import cli_env
from support.paths import FIXTURES, ROOT, fixture

ANSI = re.compile(r"\x1b\[[0-9;]*m")
ALL = sorted(p.name for p in FIXTURES.glob("*.txt"))


def run(*args, **env):
    return CliRunner(env={"COLUMNS": None, "NO_COLOR": None, **env}).invoke(main, list(args))


@pytest.mark.parametrize("name", ALL)
def test_text_fits_80_columns_and_keeps_every_exact_fraction_whole(name):
    path = str(FIXTURES / name)
    text = run("analyze", path).output
    assert max(map(len, text.splitlines())) <= 80, text
    assert not ANSI.search(text)  # not a terminal: plain
    doc = json.loads(run("analyze", "-o", "json", path).output)
    words = set(text.split())
    for s in doc["services"]:
        for e in s["endpoints"]:
            if len(e["probability"]) <= 40:
                assert e["probability"] in words, (s["chain"], e["probability"])
        assert s["chain"] in words
    for d in doc["diagnostics"]:
        assert d["code"] in words


@pytest.mark.parametrize("name", ALL[::7])
def test_yaml_is_the_json_document(name):
    path = str(FIXTURES / name)
    for command in (["analyze"], ["sample", "--draws", "500", "--seed", "3"]):
        as_json = json.loads(run(*command, "-o", "json", path).output)
        assert yaml.safe_load(run(*command, "-o", "yaml", path).output) == as_json
        assert run(*command, "--format", "json", path).output == run(*command, "-o", "json", path).output


def test_columns_widens_a_piped_report_and_adds_the_chain_column():
    path = str(fixture("blog", "nft", "L-n-v"))
    narrow, wide = run("analyze", path).output, run("analyze", path, COLUMNS="140").output
    assert "KUBE-SEP-AAAAAAAAAAAAAAAA" not in narrow and "KUBE-SEP-AAAAAAAAAAAAAAAA" in wide
    assert 80 < max(map(len, wide.splitlines())) <= 140
    assert "33,412 (33.41%)" in wide and "33,412 (33.41%)" not in narrow  # wrapped at its space at 80


def test_wide_is_the_full_width_report():
    out = run("analyze", "-o", "wide", str(fixture("odd", "nft", "save-c"))).output
    assert any(len(line) > 200 for line in out.splitlines())
    assert "  1  10.244.1.10:8080  KUBE-SEP-SKEW0AAAAAAAAAAAA  1/2" in out


def test_summary_comes_first_and_counts_what_follows():
    out = run("analyze", str(fixture("odd", "nft", "save-c"))).output
    head = out.split("\n\n")[0]
    assert "9 service ports, 23 endpoints, 4 non-uniform, 1 failed fit, 5 with problems" in head
    assert "diagnostics: 2 errors, 5 warnings, 2 info" in head


def test_only_problems_lists_the_service_ports_with_an_error_or_warning():
    path = str(fixture("odd", "nft", "save-c"))
    doc = json.loads(run("analyze", "-o", "json", "--only-problems", path).output)
    assert {s["name"] for s in doc["services"]} == {"odd/skewed:web", "odd/nodnat", "odd/fallthru", "odd/invert",
                                                    "kube-system/kube-dns:dns"}
    assert len(doc["diagnostics"]) == 9  # every finding is still listed
    text = run("analyze", "--only-problems", path).output
    assert "odd/goto" not in text and "odd/legacy5" in text  # legacy5 only in its (info) diagnostic
    healthy = run("analyze", "--only-problems", str(fixture("blog", "nft", "save-c"))).output
    assert "example-service" not in healthy.split("\n\n", 1)[1] if "\n\n" in healthy else True


def test_color_only_when_asked_and_plain_text_is_the_same_text():
    analysis = kubechain.analyze(kubechain.load(fixture("odd", "nft", "save-c")))
    colored, plain = render(analysis, 80, color=True), render(analysis, 80, color=False)
    assert ANSI.search(colored) and not ANSI.search(plain)
    assert ANSI.sub("", colored) == plain


class _Tty:
    encoding = "utf-8"

    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None: ...


def test_colour_rules(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert Output("text", stream=_Tty(True)).color
    assert not Output("text", stream=_Tty(False)).color
    assert not Output("text", no_color=True, stream=_Tty(True)).color
    monkeypatch.setenv("NO_COLOR", "1")
    assert not Output("text", stream=_Tty(True)).color


def _tmux_screen(command: str, width: int = 80, height: int = 30, **env: str) -> str:
    name = f"kubechain-test-{uuid.uuid4().hex[:8]}"
    environment = cli_env(**env)
    exports = " ".join(f"{k}={v!s}" for k, v in environment.items() if k in ("PYTHONPATH", "NO_COLOR"))
    script = f"cd {ROOT} && env -u COLUMNS {exports} TERM=xterm-256color {command}; echo __DONE__; sleep 60"
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", str(width), "-y", str(height), script],
                   check=True, env=environment)
    try:
        for _ in range(120):
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-e", "-J", "-t", name, "-S", "-2000"],
                                    capture_output=True, text=True, check=True).stdout
            if "__DONE__" in screen:
                return screen
            time.sleep(0.25)
        raise AssertionError("the command did not finish in tmux")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")
def test_a_real_80x30_terminal_gets_colour_and_nothing_wider_than_80():
    import sys

    command = f"{sys.executable} -m kubechain analyze fixtures/odd.nft.save-c.txt"
    screen = _tmux_screen(command)
    assert ANSI.search(screen), "no colour on a terminal"
    lines = ANSI.sub("", screen).splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any("9 service ports, 23 endpoints" in line for line in lines)
    assert any("1/16" in line for line in lines)
    plain = _tmux_screen(command, NO_COLOR="1")
    assert not re.search(r"\x1b\[[0-9;]*3[1-7]m", plain), "NO_COLOR still coloured"
