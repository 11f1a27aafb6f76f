"""`kubechain simulate`: the three ways to give pods, text, the v1 JSON contract, --plot, errors."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

import kubechain
from kubechain.cli import main
from kubechain.report.simulation_json import document

from support.paths import fixture

FAST = ["--runs", "3", "--duration", "10m", "--l7", "round-robin"]


def run(*args):
    return CliRunner().invoke(main, ["simulate", *args])


def test_the_seeds_summary_answers_the_question():
    result = run("--replicas", "2:3", "--history", "fresh", "--runs", "5", "--l7", "round-robin,random")
    assert result.exit_code == 0, result.output
    assert ("pod-3 (new) reaches 90% of its fair share (33.3%) after 50.0 min; the last connection opened before "
            "the scale-up closes at 50.0 min; per-request (L7) balancing: at once.") in result.output
    assert "L = M·C/R = 10,000 × 30 / 6,000 rpm = 50.0 min" in result.output
    assert "1431655765/4294967296" in result.output
    for title in ("L4: kube-proxy picks a pod per new connection", "L7 round-robin", "L7 random"):
        assert title in result.output


def test_json_follows_the_simulation_v1_contract():
    result = run("--replicas", "2:3", "--format", "json", "--what-if", "max-requests=100,1000", "--idle-timeout",
                 "1m", *FAST)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["schema"] == "kubechain/simulation/v1"
    p = doc["parameters"]
    assert (p["concurrency"], p["rpm"], p["max_requests"], p["idle_timeout_s"], p["duration_s"], p["bucket_s"]) == \
        (30, 6000.0, 10000, 60.0, 600.0, 60.0)
    assert p["source"] == {"replicas": "2:3", "proxy_mode": "iptables"} and p["connection_lifetime_s"] == 3000.0
    assert doc["pods"][2] == {"name": "pod-3", "new": True, "removed": False,
                              "connection_probability": "1431655765/4294967296", "before_probability": "0"}
    assert doc["fair_share"] == "1431655765/4294967296"
    assert doc["buckets_s"] == [60.0 * i for i in range(10)]
    l4 = doc["l4"]
    assert len(l4["requests_share"]) == 10 and all(len(row) == 3 for row in l4["requests_share"])
    assert len(l4["new_pods_share"]) == 10 and all(lo <= hi for lo, hi in l4["new_pods_share_band"])
    assert set(l4) == {"requests_share", "new_pods_share", "new_pods_share_band", "last_old_connection_closed_s",
                       "time_to_fair_share_s", "connections_opened", "first_new_pod_request_s"}
    assert l4["last_old_connection_closed_s"] is None  # L = 50 min outlives a 10 min run
    assert set(doc["l7"]) == {"round-robin"}
    assert set(doc["l7"]["round-robin"]) == {"requests_share", "new_pods_share", "new_pods_share_band",
                                             "time_to_fair_share_s"}
    assert [w["max_requests"] for w in doc["what_if"]] == [100, 1000]
    assert doc["what_if"][0]["last_old_connection_closed_s"] < 31


def test_the_library_returns_the_object_behind_the_json():
    sim = kubechain.simulate(replicas="2:3", runs=3, duration_s=600, l7=("round-robin",))
    result = run("--replicas", "2:3", "--format", "json", *FAST)
    assert json.loads(result.output) == json.loads(json.dumps(document(sim)))


def test_same_seed_same_output_and_a_new_seed_differs():
    first, again = run("--replicas", "2:3", "--format", "json", *FAST), run("--replicas", "2:3", "--format", "json",
                                                                            *FAST)
    other = run("--replicas", "2:3", "--format", "json", "--seed", "1", *FAST)
    assert first.output == again.output != other.output


def test_fewer_l7_balancers_change_nothing_else():
    both = kubechain.simulate(replicas="2:3", runs=3, duration_s=600, l7=("round-robin", "random"))
    one = kubechain.simulate(replicas="2:3", runs=3, duration_s=600, l7=("random",))
    assert both.l4 == one.l4 and both.l7[1] == one.l7[0]


def test_dumps_before_and_after():
    result = run("--before", str(fixture("blog-before", "nft", "save")), "--after", str(fixture("blog", "nft", "save")),
                 "--service", "namespace/example-service:http", *FAST)
    assert result.exit_code == 0, result.output
    assert "10.128.60.12:8080 (new) reaches" in result.output


def test_a_single_dump_has_no_scale_event():
    result = run(str(fixture("odd", "nft", "save")), "--service", "odd/skewed:web", *FAST)
    assert result.exit_code == 0, result.output
    assert "no scale event" in result.output and "10.244.1.10:8080" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--replicas", "2"], "not A:B"),
    (["--replicas", "2:3", "--duration", "ten"], "not a duration"),
    (["--replicas", "2:3", "--l7", "fastest"], "unknown L7 balancer fastest"),
    (["--replicas", "2:3", "--what-if", "speed=3"], "KEY=V1,V2"),
    ([str(fixture("blog", "nft", "save"))], "needs the service port"),
    (["--before", str(fixture("blog", "nft", "save")), "--service", "x"], "needs both --before and --after"),
])
def test_bad_options_exit_2_with_a_sentence(args, message):
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_plot_draws_a_png(tmp_path):
    pytest.importorskip("matplotlib", reason="the plot extra: pip install 'kubechain[plot]'")
    out = tmp_path / "seed.png"
    result = run("--replicas", "2:3", "--plot", str(out), *FAST)
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000


def test_plot_without_matplotlib_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    result = run("--replicas", "2:3", "--plot", str(tmp_path / "x.png"), *FAST)
    assert result.exit_code == 2
    assert "pip install 'kubechain[plot]'" in result.output and not (tmp_path / "x.png").exists()
