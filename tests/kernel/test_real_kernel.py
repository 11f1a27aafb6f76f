"""Ground truth: load kube-proxy-style rules into a fresh network namespace with the real
iptables-restore, print them back with the real binaries, and require that what we parse from
every printout is what was loaded. Skips without root or binaries; fails instead in CI."""

from __future__ import annotations

import re

import pytest

import kubechain

from support.documents import comparable
from support.kernel import Namespace
from support.paths import EXACT_COUNTER_VARIANTS, FIXTURES

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
    return comparable(kubechain.loads(text), counters=keep_counters, frontends=False)["services"]


@pytest.mark.kernel
@pytest.mark.parametrize("backend", ["nft", "legacy"])
@pytest.mark.parametrize("rule_set", sorted(RULE_FILES))
def test_printouts_of_loaded_rules_parse_back_to_the_loaded_rules(netns: Namespace, rule_set, backend):
    binary = f"{RULE_FILES[rule_set]}-{backend}"
    rules = (FIXTURES / "rules" / f"{rule_set}.rules").read_text()
    loaded = "\n".join(line for line in rules.split("\n") if not line.startswith("#"))
    netns.run(f"{binary}-restore", "-c", stdin=loaded)
    # rules loaded without [packets:bytes] start at zero
    expected = services_of(re.sub(r"^-A ", "[0:0] -A ", rules, flags=re.M), keep_counters=True)
    assert expected, "the rule file itself must analyze to services"
    for variant, args in PRINTOUTS.items():
        command = [f"{binary}-save", "-c"] if args is None else [binary, *args]
        printed = netns.run(*command)
        exact_counters = variant in EXACT_COUNTER_VARIANTS
        got = services_of(printed, keep_counters=exact_counters)
        want = expected if exact_counters else services_of(rules, keep_counters=False)
        assert got == want, f"{binary} {variant}"
