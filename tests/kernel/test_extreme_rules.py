"""Rule sets iptables-legacy accepts and nf_tables refuses ("Too many links": it caps the jump stack
at 16): a 600-deep chain of jumps and 40 chains that each jump to the next twice (2^40 paths). Loaded
in a fresh namespace and printed by the real binary, they are the committed fixtures/field/ printouts,
and analyze and sample without hanging (root; skips without it, fails instead in CI)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import kubechain

from support.kernel import Namespace, require_kernel
from support.paths import FIXTURES
from support.render_variants import without_timestamps

pytestmark = pytest.mark.kernel
FIELD = FIXTURES / "field"
ANALYZE = ("import sys, kubechain; a = kubechain.analyze(kubechain.loads(sys.stdin.read())); "
           "print(len(a.services), a.services[0].exact)")


@pytest.mark.parametrize("rule_set", ["deep", "fanout"])
def test_legacy_accepts_what_nf_tables_refuses_and_kubechain_reads_it(netns: Namespace, rule_set):
    require_kernel(("ip", "iptables-legacy-restore", "iptables-nft-restore"))
    rules = (FIELD / f"{rule_set}.rules").read_text()
    with Namespace() as other:  # nf_tables' jump stack is 16 deep: the kernel refuses the load
        refused = subprocess.run(["ip", "netns", "exec", other.name, "iptables-nft-restore"], input=rules,
                                 capture_output=True, text=True)
    assert refused.returncode != 0
    netns.run("iptables-legacy-restore", stdin=rules)
    for printout, argv in ((f"{rule_set}.legacy.L-n-v-x.txt", ["iptables-legacy", "-t", "nat", "-L", "-n", "-v", "-x"]),
                           (f"{rule_set}.legacy.save.txt", ["iptables-legacy-save"])):
        printed = netns.run(*argv)
        assert without_timestamps(printed) == without_timestamps((FIELD / printout).read_text())
        # analyze in a child with a generous bound: work must stay bounded, never hang
        done = subprocess.run([sys.executable, "-c", ANALYZE], input=printed, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["1", "True" if rule_set == "deep" else "False"]
    assert kubechain.sample(kubechain.loads(printed), 500, 1).services[0].endpoints[0].sampled > 0
