"""`kubechain trace` as a user runs it: the text report, the kubechain/trace/v1 document, --quiet,
and exit status 2 for a packet it cannot trace or a dump it cannot read."""

from __future__ import annotations

import json

from support.cli import cli
from support.paths import ROOT

DUMP = str(ROOT / "fixtures" / "trace.nft.save.txt")


def test_json_document():
    done = cli("trace", DUMP, "--dst", "172.30.0.47:80", "--from", "external", "-o", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["schema"] == "kubechain/trace/v1"
    assert doc["packet"] == {"src": "198.51.100.7", "dst": "172.30.0.47", "dport": 80, "proto": "tcp",
                             "from": "external", "hook": "PREROUTING", "local_addresses": [],
                             "returning_client": None, "sport": None, "in_iface": None, "out_iface": None}
    assert [(o["verdict"], o["destination"], o["masquerade"], o["probability"]) for o in doc["outcomes"]] == [
        ("dnat", "10.180.0.7:80", True, "715827883/2147483648"),
        ("dnat", "10.180.1.8:80", True, "1431655765/4294967296"),
        ("dnat", "10.180.2.9:80", True, "1431655765/4294967296")]
    assert doc["outcomes"][0]["path"][0] == {"table": "nat", "chain": "PREROUTING", "line": 67}
    assert [a["kind"] for a in doc["assumptions"]] == ["unknown-local"]


def test_text_and_quiet():
    done = cli("trace", DUMP, "--dst", "172.30.0.46:80", "--src", "10.0.3.3")
    assert done.returncode == 0, done.stderr
    assert "1  REJECT  1 (100%)  masquerade: no" in done.stdout
    assert "filter FORWARD:" in done.stdout and "no-endpoints" in done.stdout
    quiet = cli("trace", DUMP, "--dst", "172.30.0.44:80", "--src", "10.0.3.3", "-q")
    assert quiet.stdout == "dnat 10.180.0.4:80 1/2 masquerade=no\ndnat 10.180.0.5:80 1/2 masquerade=no\n"


def test_unusable_packet_or_dump_exits_2():
    for args in (["--dst", "172.30.0.47"], ["--dst", "172.30.0.47:80"], ["--dst", "nowhere:80", "--src", "10.0.0.1"],
                 ["--dst", "172.30.0.47:80", "--src", "fd00::1"]):
        done = cli("trace", DUMP, *args)
        assert done.returncode == 2, (args, done.stdout)
        assert "Traceback" not in done.stderr and done.stderr.strip()
    missing = cli("trace", "/nonexistent-kubechain-dump", "--dst", "10.0.0.1:80", "--src", "10.0.0.2")
    assert missing.returncode == 2 and "cannot read" in missing.stderr
