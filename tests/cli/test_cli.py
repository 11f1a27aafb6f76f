"""The click CLI: text and JSON output, several inputs, stdin, --fail-on."""

from __future__ import annotations

import json

from click.testing import CliRunner

from kubechain.cli import main

from support.paths import fixture


def run(*args, stdin=None):
    return CliRunner().invoke(main, list(args), input=stdin)


def test_text_report_shows_exact_shares_deviation_and_counters():
    result = run("analyze", str(fixture("blog", "nft", "L-n-v")))
    assert result.exit_code == 0, result.output
    assert "715827883/2147483648" in result.output and "1431655765/4294967296" in result.output
    assert "33.333333349%" in result.output and "+4.66e-10" in result.output and "33,412" in result.output


def test_json_document_follows_the_schema():
    result = run("analyze", "--format", "json", str(fixture("blog", "nft", "save-c")))
    doc = json.loads(result.output)
    assert doc["schema"] == "kubechain/analysis/v1"
    assert doc["inputs"] == [{"path": str(fixture("blog", "nft", "save-c")), "format": "iptables-save",
                              "family": "ipv4"}]
    (svc,) = doc["services"]
    assert svc["unassigned_probability"] == "0" and svc["affinity"] is None and svc["kind"] == "cluster"
    first = svc["endpoints"][0]
    assert first == {"chain": "KUBE-SEP-AAAAAAAAAAAAAAAA", "address": "10.128.60.10:8080",
                     "probability": "715827883/2147483648", "probability_decimal": "0.33333333348855376244",
                     "probability_interval": None, "observed": 33412, "observed_exact": True}


def test_several_inputs_give_an_array_and_stdin_works():
    text = fixture("ipv6", "legacy", "L-n-v").read_text()
    result = run("analyze", "--format", "json", str(fixture("blog", "nft", "S")), "-", stdin=text)
    docs = json.loads(result.output)
    assert [d["inputs"][0]["family"] for d in docs] == ["ipv4", "ipv6"]
    assert docs[1]["services"][0]["endpoints"][0]["address"] == "[fd00:10:244:1::5]:8443"


def test_output_is_deterministic():
    args = ("analyze", "--format", "json", str(fixture("odd", "nft", "L-v")))
    assert run(*args).output == run(*args).output


def test_fail_on_gates_on_severity():
    odd = str(fixture("odd", "nft", "save"))
    assert run("analyze", odd).exit_code == 0
    assert run("analyze", "--fail-on", "error", odd).exit_code == 1
    blog = str(fixture("blog", "nft", "save"))
    assert run("analyze", "--fail-on", "warning", blog).exit_code == 0


def kube_proxy_save_text(n: int) -> str:
    """iptables-save text of one kube-proxy service with n endpoints (comments dropped, as
    kube-proxy does above 1000 endpoints); probabilities as iptables prints them back."""
    from kubechain.analysis.cascade import kube_proxy_threshold

    seps = [f"KUBE-SEP-BIG{i:013d}" for i in range(n)]
    lines = ["*nat", ":KUBE-SERVICES - [0:0]", ":KUBE-SVC-BIGAAAAAAAAAAAAA - [0:0]"]
    lines += [f":{s} - [0:0]" for s in seps]
    lines.append("-A KUBE-SERVICES -d 10.96.9.9/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-BIGAAAAAAAAAAAAA")
    for i, s in enumerate(seps):
        printed = f"{kube_proxy_threshold(n - i, 10) / 2**31:.11f}"
        statistic = f"-m statistic --mode random --probability {printed} " if i < n - 1 else ""
        lines.append(f"-A KUBE-SVC-BIGAAAAAAAAAAAAA {statistic}-j {s}")
    lines += [f"-A {s} -p tcp -m tcp -j DNAT --to-destination 10.64.{i // 256}.{i % 256}:80"
              for i, s in enumerate(seps)]
    return "\n".join(lines) + "\nCOMMIT\n"


def test_a_600_endpoint_service_prints_exact_shares_past_the_4300_digit_guard():
    import sys
    from fractions import Fraction

    text = kube_proxy_save_text(600)
    doc = json.loads(run("analyze", "--format", "json", "-", stdin=text).output)  # under CPython's default guard
    probabilities = [e["probability"] for e in doc["services"][0]["endpoints"]]
    assert len(probabilities) == 600 and max(map(len, probabilities)) > 4300
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)  # only to read the long fractions back here
    try:
        assert sum(map(Fraction, probabilities)) == 1  # exact: conservation holds to the last bit
    finally:
        sys.set_int_max_str_digits(limit)
    report = run("analyze", "-", stdin=text)
    assert report.exit_code == 0 and "n/2^" in report.output and "-bit n)" in report.output


def test_ipv6_service_addresses_are_bracketed_in_text_reports():
    path = str(fixture("ipv6", "nft", "save-c"))
    for args in (("analyze", path), ("sample", path, "--draws", "100", "--seed", "1")):
        assert "[fd00:10:96::a]:443/tcp" in run(*args).output
