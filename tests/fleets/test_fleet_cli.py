"""`kubechain fleet` on the command line: the text report, the kubechain/fleet/v1 document,
--fail-on, bad paths (exit 2), and no progress bar when stderr is not a terminal."""

from __future__ import annotations

import json

from click.testing import CliRunner

from kubechain.cli import main
from kubechain.fleets import FleetProgress

from support.fleet import EXPECTED, FLEET, NODES


def run(*args):
    return CliRunner().invoke(main, ["fleet", *args])


def test_text_report_has_nodes_then_findings_then_variants():
    result = run(str(FLEET), "--jobs", "1")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("fleet: 11 nodes (1 unreadable), 7 service ports, NOT consistent\n")
    nodes, findings, variants = out.index("  node-1   iptables-save"), out.index("Findings"), out.index("Inconsistent")
    assert nodes < findings < variants
    assert "variant 2 (1 node: node-5): no rules" in out
    assert "  majority (8 nodes: node-1, node-2, node-3, node-5, node-7, node-9, node-10, node-11): 3 endpoints" in out


def test_json_document_follows_the_schema():
    result = run(str(FLEET), "--format", "json", "--jobs", "1")
    doc = json.loads(result.output)
    assert doc["schema"] == "kubechain/fleet/v1" and doc["consistent"] is False
    assert [n["node"] for n in doc["nodes"]] == list(NODES)
    node8 = doc["nodes"][7]
    assert node8["error"].startswith(str(FLEET / "node-8.txt") + ":1:1: ") and node8["format"] is None
    node1 = doc["nodes"][0]
    assert node1 == {"node": "node-1", "path": str(FLEET / "node-1.txt"), "format": "iptables-save",
                     "family": "ipv4", "mode": "iptables", "tables": ["filter", "nat"], "services": 7,
                     "diagnostics": {"no-endpoints": 1}, "error": None}
    frontend = next(s for s in doc["services"] if s["name"] == "shop/frontend:http" and s["kind"] == "cluster")
    assert {k: frontend[k] for k in ("cluster_ip", "port", "protocol", "consistent", "nodes", "family")} == {
        "cluster_ip": "10.96.10.10", "port": 80, "protocol": "tcp", "consistent": False, "nodes": 10, "family": "ipv4"}
    stale = next(v for v in frontend["variants"] if v["nodes"] == ["node-4"])
    assert stale == {"nodes": ["node-4"], "state": "endpoints", "unassigned": "0",
                     "endpoints": [{"address": "10.244.1.10:8080", "probability": "1/2"},
                                   {"address": "10.244.2.10:8080", "probability": "1/2"}]}
    assert frontend["variants"][0]["endpoints"][0] == {"address": "10.244.1.10:8080",
                                                       "probability": "715827883/2147483648"}
    assert {(f["code"], f["severity"], f["service"], tuple(f["nodes"])) for f in doc["findings"]} == EXPECTED
    assert all(set(f) == {"code", "severity", "service", "nodes", "message"} for f in doc["findings"])


def test_output_is_deterministic_across_job_counts():
    assert run(str(FLEET), "--format", "json", "--jobs", "1").output == run(str(FLEET), "--format", "json",
                                                                            "--jobs", "2").output


def test_fail_on_gates_on_the_most_severe_finding():
    assert run(str(FLEET), "--fail-on", "error", "--jobs", "1").exit_code == 1  # node-8 is unreadable
    healthy = [str(FLEET / n) for n in ("node-2.txt", "node-7.txt")]
    assert run(*healthy, "--fail-on", "info").exit_code == 0
    assert run(*healthy, str(FLEET / "node-6.txt"), "--fail-on", "warning").exit_code == 1  # no-endpoints
    assert run(*healthy, str(FLEET / "node-4.txt"), "--fail-on", "error").exit_code == 0


def test_a_path_that_does_not_exist_is_exit_2():
    result = run(str(FLEET / "nope"))
    assert result.exit_code == 2
    assert "no such file or directory" in result.output


def test_progress_reports_done_failed_and_rate():
    seen: list[FleetProgress] = []
    import kubechain
    kubechain.fleet(FLEET, jobs=1, progress=seen.append)
    assert [(p.done, p.total) for p in seen] == [(i, 11) for i in range(1, 12)]
    assert seen[-1].failed == 1 and seen[-1].rate > 0


def test_quiet_prints_the_findings_only_and_yaml_is_the_document():
    quiet = run(str(FLEET), "--quiet", "--jobs", "1")
    assert quiet.output.startswith("Findings (most severe first):\n  error   unreadable-node")
    import yaml
    doc = yaml.safe_load(run(str(FLEET), "-o", "yaml", "--jobs", "1").output)
    assert doc == json.loads(run(str(FLEET), "-o", "json", "--jobs", "1").output)
