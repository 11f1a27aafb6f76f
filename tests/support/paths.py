"""Where the test inputs are: the real-binary fixtures, and the published dumps in ../shared."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
RULE_SETS = ("blog", "kube-proxy-overall", "odd", "ipv6", "diag-broken", "diag-repaired")
HEALTHY_RULE_SETS = ("blog", "kube-proxy-overall", "ipv6", "diag-repaired")
BACKENDS = ("nft", "legacy")
NUMERIC_VARIANTS = ("L-n-v", "L-n-v-x", "L-n-line", "L-n-v-x-line", "S", "save", "save-c")
NAMED_VARIANTS = ("L", "L-v")
ALL_VARIANTS = NUMERIC_VARIANTS + NAMED_VARIANTS
#: variants whose counters are exact (the others have none, or K/M/G-rounded ones)
EXACT_COUNTER_VARIANTS = ("L-n-v-x", "L-n-v-x-line", "save-c")


def fixture(rule_set: str, backend: str, variant: str) -> Path:
    return FIXTURES / f"{rule_set}.{backend}.{variant}.txt"


def real_dumps() -> Path:
    """The published dumps with their independently computed expected.json: `../shared/real-dumps`
    beside the project, or the folder KUBECHAIN_REAL_DUMPS names."""
    return Path(os.environ.get("KUBECHAIN_REAL_DUMPS", ROOT.parent / "shared" / "real-dumps"))


#: nft fixtures (fixtures/nft/README.md): rule sets in kube-proxy's nftables layout, each printed by
#: nft 1.0.6 as these variants, and iptables rule sets loaded with iptables-nft and printed by nft
NFT = FIXTURES / "nft"
NFT_RULE_SETS = ("blog", "kube-proxy-overall", "kube-proxy-v1.29", "mixed", "ipv6")
NFT_VARIANTS = ("list.txt", "list-a.txt", "list-n.txt", "list-s.txt", "table.txt", "json")
NFT_IPTABLES_RULE_SETS = ("blog", "odd", "kube-proxy-overall", "ipv6")


def nft_fixture(rule_set: str, variant: str) -> Path:
    return NFT / f"{rule_set}.{variant}"
