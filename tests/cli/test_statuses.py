"""Exit statuses 0/1/2/130, several inputs with per-input errors, error documents, encodings."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import yaml

from support.cli import cli, cli_env
from support.paths import fixture

BLOG = str(fixture("blog", "nft", "save-c"))
ODD = str(fixture("odd", "nft", "save-c"))


def test_statuses_analyzed_fail_on_and_unusable():
    assert cli("analyze", BLOG).returncode == 0
    assert cli("analyze", "--fail-on", "error", ODD).returncode == 1
    assert cli("analyze", "/no/such/file").returncode == 2
    assert cli("analyze", "-", stdin="hello\n").returncode == 2


def test_one_unreadable_input_among_several_still_reports_the_others():
    got = cli("analyze", BLOG, "/no/such/file", ODD)
    assert got.returncode == 2
    assert got.stdout.count("service port") >= 2 and "odd/skewed:web" in got.stdout and "example-service" in got.stdout
    assert "kubechain: cannot read /no/such/file: No such file or directory" in got.stderr
    assert "Traceback" not in got.stderr


def test_unusable_worst_status_wins_over_fail_on():
    got = cli("analyze", "--fail-on", "error", ODD, "/no/such/file")
    assert got.returncode == 2 and "odd/nodnat" in got.stdout


def test_json_keeps_one_document_per_input_and_an_error_document_for_each_unusable_one():
    got = cli("analyze", "-o", "json", BLOG, "/no/such/file", "-", stdin="*nat\n-A X -j\nCOMMIT\n")
    assert got.returncode == 2
    docs = json.loads(got.stdout)
    assert [d["schema"] for d in docs] == ["kubechain/analysis/v1", "kubechain/error/v1", "kubechain/error/v1"]
    assert docs[1] == {"schema": "kubechain/error/v1", "path": "/no/such/file", "error": "unreadable",
                       "message": "No such file or directory", "line": None, "column": None, "text": None,
                       "expected": None}
    assert docs[2]["error"] == "unparsable" and (docs[2]["line"], docs[2]["column"]) == (2, 6)
    assert docs[2]["path"] == "<stdin>" and docs[2]["text"] == "-A X -j" and "a name after -j" in docs[2]["expected"]


def test_a_single_unusable_input_in_json_is_its_error_document():
    got = cli("analyze", "-o", "yaml", "/no/such/file")
    assert got.returncode == 2 and yaml.safe_load(got.stdout)["schema"] == "kubechain/error/v1"


def test_ctrl_c_exits_130_with_one_line():
    """SIGINT while the command waits for stdin (a pipe that stays open)."""
    process = subprocess.Popen([sys.executable, "-m", "kubechain", "analyze", "-"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/", env=cli_env())
    try:
        time.sleep(1.5)  # imports done, blocked in read
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert err.strip() == "kubechain: interrupted" and "Aborted" not in err and not out


def test_a_stdout_without_the_dash_falls_back_to_ascii():
    for output in ("text", "wide"):
        got = cli("analyze", "-o", output, BLOG, PYTHONIOENCODING="latin-1")
        assert got.returncode == 0 and "Traceback" not in got.stderr, got.stderr
        assert "the rules give 33.3% - consistent" in " ".join(got.stdout.split())
    ascii_only = cli("analyze", ODD, PYTHONIOENCODING="ascii")
    assert ascii_only.returncode == 0 and ascii_only.stdout.isascii()


def test_binary_input_is_refused_with_its_control_bytes_escaped():
    data = b"Chain KUBE-X (1 references)\n\x1b[2J\x07\x00\xff garbage\n"
    got = subprocess.run([sys.executable, "-m", "kubechain", "analyze", "-"], input=data, capture_output=True,
                         cwd="/", env=cli_env())
    assert got.returncode == 2
    assert not any(b in got.stderr for b in (b"\x1b", b"\x07", b"\x00", b"\xff")), got.stderr
    assert b"\\x" in got.stderr and b"Traceback" not in got.stderr


def test_quiet_prints_only_the_diagnostics_and_keeps_the_status():
    got = cli("analyze", "--quiet", "--fail-on", "warning", ODD)
    assert got.returncode == 1
    assert "no-dnat" in got.stdout and "#  endpoint" not in got.stdout and "service ports" not in got.stdout
    clean = cli("analyze", "-q", BLOG)
    assert clean.returncode == 0 and clean.stdout == ""
    assert cli("analyze", "-q", "-o", "json", BLOG).returncode == 2  # a usage error: says why


def test_every_help_has_examples_and_exit_statuses():
    for command in ("analyze", "sample"):
        got = cli(command, "-h")
        assert got.returncode == 0 and "Examples:" in got.stdout and "130  interrupted" in got.stdout
        assert "-o, --output, --format [text|wide|json|yaml]" in got.stdout
    top = cli("--help")
    assert "Commands:" in top.stdout and "analyze" in top.stdout and "completion" in top.stdout.lower()
    assert cli("--version").stdout.strip().endswith("0.1.0")


def test_python_m_kubechain_is_the_command():
    got = subprocess.run([sys.executable, "-m", "kubechain", "analyze", "-o", "json", BLOG], capture_output=True,
                         text=True, cwd="/", env=cli_env())
    assert json.loads(got.stdout)["schema"] == "kubechain/analysis/v1"
    assert os.path.exists(fixture("blog", "nft", "save-c"))
