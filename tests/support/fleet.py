"""The fleet fixtures (fixtures/fleet: one cluster printed per node by the real binaries, with
planted differences) and the findings they must give, exactly."""

from __future__ import annotations

import os

import pytest

from support.paths import FIXTURES

FLEET = FIXTURES / "fleet" / "dumps"
NODES = tuple(f"node-{i}" for i in range(1, 12))
HEALTHY = ("node-1", "node-2", "node-3", "node-7")  # nft save -c, legacy -L -n -v, legacy save (gzip), nft -L

#: (code, severity, service, nodes): every finding the fleet fixtures give, and no other
EXPECTED = {
    ("unreadable-node", "error", None, ("node-8",)),
    ("stale-endpoints", "warning", "shop/frontend:http", ("node-4",)),
    ("missing-service", "warning", "shop/cart:http", ("node-5",)),
    ("probability-mismatch", "info", "shop/frontend:http", ("node-6",)),
    ("probability-mismatch", "info", "shop/catalog:grpc", ("node-6",)),
    ("probability-mismatch", "info", "shop/checkout:http", ("node-6",)),
    # node-10's kube-proxy runs in nftables mode: numgen's shares differ from the cascade's by
    # ~1e-9 (its own rounding, so no probability-mismatch), and nothing else differs
    ("mode-mismatch", "warning", None, ("node-10",)),
    # the nodes' own diagnostics, one finding per code: shop/empty:http has no endpoints (seen where
    # the filter table was printed; on node-11 nameless, its comment not printed by nft),
    # shop/checkout:http no local ones on node-6, node-6's 5 decimals,
    # node-9's one-chain listing lacking the chains it jumps to, and node-11's printout by nft,
    # which shows no comments
    ("no-endpoints", "warning", None, ("node-1", "node-3", "node-6", "node-10", "node-11")),
    ("xt-match", "info", None, ("node-11",)),
    ("legacy-precision", "info", None, ("node-6",)),
    ("missing-chain", "info", None, ("node-9",)),
}


def summary(fleet) -> set[tuple[str, str, str | None, tuple[str, ...]]]:
    return {(f.code, f.severity, f.service, f.nodes) for f in fleet.findings}


def require_dask() -> None:
    """Skip without dask.distributed (the optional extra kubechain[dask]); in CI, fail instead."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("dask.distributed is not installed in CI (pip install '.[test,dask]')")
        pytest.skip("dask.distributed is not installed (pip install 'kubechain[dask]')")
