"""`--service` on the command line, progress on a terminal only, and the library's argument checks."""

from __future__ import annotations

import json

import pytest

import kubechain
from kubechain.cli import common

from support.cli import cli
from support.documents import unadjusted
from support.paths import fixture

ODD = str(fixture("odd", "nft", "L-n-v-x"))


def test_analyze_service_prints_only_the_selected_service_port():
    got = cli("analyze", "--service", "odd/skewed", "-o", "json", ODD)
    doc = json.loads(got.stdout)
    assert got.returncode == 0 and [s["name"] for s in doc["services"]] == ["odd/skewed:web"]
    full = json.loads(cli("analyze", "-o", "json", ODD).stdout)
    whole = next(s for s in full["services"] if s["name"] == "odd/skewed:web")
    assert unadjusted(doc["services"][0]) == unadjusted(whole)  # Holm's family is the selection


def test_a_service_that_matches_nothing_is_an_error_naming_the_closest():
    got = cli("analyze", "--service", "odd/skewd", ODD)
    assert got.returncode == 2 and "closest: odd/skewed:web" in got.stderr and not got.stdout
    as_json = json.loads(cli("sample", "--service", "kube-dsn", "-o", "json", ODD).stdout)
    assert as_json["schema"] == "kubechain/error/v1" and as_json["error"] == "no-service"
    assert "kube-system/kube-dns:dns" in as_json["closest"]


def test_draws_accepts_scientific_notation_and_refuses_more_than_1e9():
    assert cli("sample", "--draws", "1e3", "--seed", "1", "-o", "json", ODD).returncode == 0
    assert cli("sample", "--draws", "1e10", ODD).returncode == 2
    assert "not a whole number" in cli("sample", "--draws", "1.5", ODD).stderr


def test_tolerance_5_is_refused_and_5_percent_accepted():
    refused = cli("analyze", "--tolerance", "5", ODD)
    assert refused.returncode == 2 and "5%" in refused.stderr
    assert cli("analyze", "--tolerance", "5%", ODD).returncode == 0
    with pytest.raises(ValueError, match="500%"):
        kubechain.analyze(kubechain.load(ODD), tolerance="5")
    assert len(kubechain.analyze(kubechain.load(ODD), tolerance="60%").diagnostics) < \
           len(kubechain.analyze(kubechain.load(ODD), tolerance="0.1%").diagnostics)


def test_progress_is_reported_for_reading_parsing_and_analyzing():
    seen = []
    ruleset = kubechain.load(fixture("kube-proxy-overall", "nft", "save-c"), progress=lambda *a: seen.append(a))
    kubechain.analyze(ruleset, progress=lambda *a: seen.append(a))
    phases = [p for p, _, _ in seen]
    assert phases[0] == "reading" and "parsing" in phases and phases[-1] == "analyzing service ports"
    assert all(done <= total for _, done, total in seen)
    assert seen[-1][1] == seen[-1][2] == len(kubechain.analyze(ruleset).services)


def test_progress_only_on_a_terminal_for_a_big_file(monkeypatch, tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * (common.PROGRESS_BYTES + 1))
    out = common.Output("text")

    class Tty:
        def isatty(self):
            return True
    monkeypatch.setattr(common.sys, "stderr", Tty())
    with common.progress(str(big), out) as bar:
        assert bar.enabled
    with common.progress(str(fixture("blog", "nft", "save")), out) as bar:
        assert not bar.enabled  # small
    with common.progress(str(big), common.Output("text", quiet=True)) as bar:
        assert not bar.enabled  # --quiet
    monkeypatch.setattr(Tty, "isatty", lambda _self: False)
    with common.progress(str(big), out) as bar:
        assert not bar.enabled  # a pipe


@pytest.mark.parametrize(("call", "error"), [
    (lambda: kubechain.analyze("dump.txt"), TypeError),
    (lambda: kubechain.analyze(kubechain.loads("*nat\nCOMMIT\n"), tolerance=[1]), TypeError),
    (lambda: kubechain.analyze(kubechain.loads("*nat\nCOMMIT\n"), tolerance=float("nan")), ValueError),
    (lambda: kubechain.sample(kubechain.loads("*nat\nCOMMIT\n"), -1, 0), ValueError),
    (lambda: kubechain.sample(kubechain.loads("*nat\nCOMMIT\n"), 10, 1.5), TypeError),
    (lambda: kubechain.sample("dump.txt", 10, 1), TypeError),
    (lambda: kubechain.loads(b"*nat\nCOMMIT\n"), TypeError),
    (lambda: kubechain.load(42), TypeError),
    (lambda: kubechain.loads("*nat\nCOMMIT\n", input_format="nft"), ValueError),
    (lambda: kubechain.document("x"), TypeError),
])
def test_bad_arguments_raise_clear_errors(call, error):
    with pytest.raises(error) as info:
        call()
    assert not isinstance(info.value, KeyError)


def test_to_json_is_the_cli_document():
    analysis = kubechain.analyze(kubechain.load(ODD))
    assert kubechain.to_json(analysis) == cli("analyze", "-o", "json", ODD).stdout.replace('"' + ODD, '"' + ODD)
    assert kubechain.document(analysis)["schema"] == "kubechain/analysis/v1"
    assert kubechain.Analysis is type(analysis) and "load" in dir(kubechain)
