"""Real network namespaces for the root-only tests, and the one guard that skips them where they
cannot run and fails them instead in CI (CI=true), where they must."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator

import pytest

#: network namespaces are named PREFIX + 8 hex digits (sessions sharing a machine set their own)
NETNS_PREFIX = os.environ.get("KUBECHAIN_NETNS_PREFIX", "kubechain-test-")
IPTABLES_TOOLS = ("ip", "iptables-nft-restore", "iptables-legacy-restore", "ip6tables-nft-restore")


def kernel_unavailable(tools: tuple[str, ...] = IPTABLES_TOOLS) -> str | None:
    """Why real-kernel tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root to create a network namespace"
    for tool in tools:
        if shutil.which(tool) is None:
            return f"needs {tool} (see .ci/run for the packages)"
    return None


def require_kernel(tools: tuple[str, ...] = IPTABLES_TOOLS) -> None:
    """Skip the calling test with the reason it cannot run here; in CI, fail it instead."""
    reason = kernel_unavailable(tools)
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"real-kernel test cannot run in CI: {reason}")
        pytest.skip(reason)


class Namespace:
    """A fresh network namespace, deleted on close (use it as a context manager)."""

    def __init__(self, prefix: str = NETNS_PREFIX) -> None:
        self.name = f"{prefix}{uuid.uuid4().hex[:8]}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)

    def run(self, *argv: str, stdin: str | None = None, check: bool = True) -> str:
        """Run a command inside the namespace; its stdout (AssertionError with stderr on failure)."""
        done = subprocess.run(["ip", "netns", "exec", self.name, *argv], input=stdin, capture_output=True,
                              text=True)
        if check and done.returncode:
            raise AssertionError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def ip(self, *args: str) -> None:
        """`ip -n NAME …`: configure the namespace's links and addresses."""
        subprocess.run(["ip", "-n", self.name, *args], check=True)

    def close(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], check=False)

    def __enter__(self) -> Namespace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture
def netns() -> Iterator[Namespace]:
    """A fresh network namespace for one test, deleted afterwards; skips (fails in CI) where impossible."""
    require_kernel()
    with Namespace() as namespace:
        yield namespace


#: `python -c CONNECT SRC DST PORT FIRST COUNT`: COUNT non-blocking TCP connects from SRC, one per
#: source port from FIRST (each a new connection, so each takes the nat table's choice once);
#: prints how many failed at once (refused or unreachable) rather than going out
CONNECT = """
import socket, sys
src, ip, port, first, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
failed = 0
for sport in range(first, first + count):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, sport))
    s.setblocking(False)
    if s.connect_ex((ip, port)) not in (115, 0):  # EINPROGRESS: the SYN is out
        failed += 1
    s.close()
print(failed)
"""
