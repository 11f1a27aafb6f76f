"""Shared test helpers: fixture paths, and real network namespaces for kernel tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
RULE_SETS = ("blog", "kube-proxy-overall", "odd", "ipv6", "diag-broken", "diag-repaired")
HEALTHY_RULE_SETS = ("blog", "kube-proxy-overall", "ipv6", "diag-repaired")
BACKENDS = ("nft", "legacy")
NUMERIC_VARIANTS = ("L-n-v", "L-n-v-x", "L-n-line", "L-n-v-x-line", "S", "save", "save-c")
NAMED_VARIANTS = ("L", "L-v")
ALL_VARIANTS = NUMERIC_VARIANTS + NAMED_VARIANTS
#: network namespaces are named PREFIX + 8 hex digits (sessions sharing a machine set their own)
NETNS_PREFIX = os.environ.get("KUBECHAIN_NETNS_PREFIX", "kubechain-test-")


def fixture(rule_set: str, backend: str, variant: str) -> Path:
    return FIXTURES / f"{rule_set}.{backend}.{variant}.txt"


def kernel_unavailable() -> str | None:
    """Why real-kernel tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root to create a network namespace"
    for tool in ("ip", "iptables-nft-restore", "iptables-legacy-restore", "ip6tables-nft-restore"):
        if shutil.which(tool) is None:
            return f"needs {tool} (apt-get install iptables iproute2)"
    return None


@pytest.fixture
def netns() -> Iterator[str]:
    """A fresh network namespace, deleted afterwards. Skips where impossible, but fails in CI."""
    reason = kernel_unavailable()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"real-kernel test cannot run in CI: {reason}")
        pytest.skip(reason)
    name = f"{NETNS_PREFIX}{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
