"""Ground truth: load kube-proxy-style rules into a fresh network namespace with the real
iptables-restore, print them back with the real binaries, and require that what we parse from
every printout is what was loaded. Skips without root or binaries; fails instead in CI."""

from __future__ import annotations

import re
import subprocess

import pytest
from helpers import FIXTURES

import kubechain
from kubechain.report_json import document

PRINTOUTS = {
    "L-n-v": ["-t", "nat", "-L", "-n", "-v"],
    "L-n-v-x": ["-t", "nat", "-L", "-n", "-v", "-x"],
    "L-n-line": ["-t", "nat", "-L", "-n", "--line-numbers"],
    "L-n-v-x-line": ["-t", "nat", "-L", "-n", "-v", "-x", "--line-numbers"],
    "save-c": None,  # iptables-save -c
}
RULE_FILES = {"blog": "iptables", "odd": "iptables", "kube-proxy-overall": "iptables", "ipv6": "ip6tables",
              "diag-broken": "iptables", "diag-repaired": "iptables"}


def services_of(text: str, keep_counters: bool) -> list[dict]:
    services = document(kubechain.analyze(kubechain.loads(text)))["services"]
    for service in services:
        service.pop("frontends")
        if not keep_counters:
            service["observed_total"] = service["fit"] = None
        for e in service["endpoints"]:
            if not keep_counters:
                e["observed"] = e["observed_exact"] = None
    return services


@pytest.mark.kernel
@pytest.mark.parametrize("backend", ["nft", "legacy"])
@pytest.mark.parametrize("rule_set", sorted(RULE_FILES))
def test_printouts_of_loaded_rules_parse_back_to_the_loaded_rules(netns, rule_set, backend):
    binary = f"{RULE_FILES[rule_set]}-{backend}"
    rules = (FIXTURES / "rules" / f"{rule_set}.rules").read_text()
    loaded = "\n".join(line for line in rules.split("\n") if not line.startswith("#"))
    subprocess.run(["ip", "netns", "exec", netns, f"{binary}-restore", "-c"], input=loaded, text=True,
                   check=True)
    # rules loaded without [packets:bytes] start at zero
    expected = services_of(re.sub(r"^-A ", "[0:0] -A ", rules, flags=re.M), keep_counters=True)
    assert expected, "the rule file itself must analyze to services"
    for variant, args in PRINTOUTS.items():
        command = [f"{binary}-save", "-c"] if args is None else [binary, *args]
        printed = subprocess.run(["ip", "netns", "exec", netns, *command], capture_output=True, text=True,
                                 check=True).stdout
        exact_counters = variant in ("L-n-v-x", "L-n-v-x-line", "save-c")
        got = services_of(printed, keep_counters=exact_counters)
        want = expected if exact_counters else services_of(rules, keep_counters=False)
        assert got == want, f"{binary} {variant}"
