"""Compare every node's kube-proxy rules: one dump per node in, the nodes that disagree out.

    fleet = kubechain.fleet(["dumps/"], jobs=4)          # or dask="tcp://scheduler:8786"
    for f in fleet.findings:
        print(f.severity, f.code, f.service, f.nodes, f.message)

Each node is read and analyzed on its own (digest.digest_source, in a process pool or on a Dask
cluster) and reduced to a NodeDigest; the digests are folded into a Fleet (compare). The package is
`fleets`, not `fleet`: a subpackage `kubechain.fleet` would replace the function `kubechain.fleet`
as an attribute of the package the moment it is imported.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

from ..analysis.tolerance import DEFAULT_TOLERANCE
from .compare import Fleet, FleetBuilder, FleetNode, ServiceComparison, Variant
from .digest import (
    DiagnosticCount,
    DigestOptions,
    Distribution,
    NodeDigest,
    ServicePortDigest,
    digest,
    digest_path,
    digest_source,
)
from .engines import FleetProgress, FleetProgressCallback, default_jobs, run
from .findings import FLEET_CODES, FleetCode, FleetFinding, at_or_above
from .sources import NodeSource, SourceError, node_name, plan

SCHEMA = "kubechain/fleet/v1"

__all__ = [
    "FLEET_CODES", "SCHEMA", "DiagnosticCount", "DigestOptions", "Distribution", "Fleet", "FleetBuilder", "FleetCode",
    "FleetFinding", "FleetNode", "FleetProgress", "FleetProgressCallback", "NodeDigest", "NodeSource",
    "ServiceComparison",
    "ServicePortDigest", "SourceError", "Variant", "at_or_above", "compare", "default_jobs", "digest", "digest_path",
    "digest_source", "fleet", "node_name", "plan", "run",
]


def fleet(paths: Iterable[str | os.PathLike[str]], *, jobs: int | None = None, dask: Any = None,
          tolerance: Fraction = DEFAULT_TOLERANCE, input_format: str | None = None,
          progress: FleetProgressCallback | None = None) -> Fleet:
    """Digest every node's dump under `paths` (directories, files, tar archives; gzip allowed) with
    `jobs` processes (default: the CPU count) or on the Dask cluster `dask` (an address or a
    `distributed.Client`), and compare them. Raises SourceError for paths that make no fleet."""
    sources = plan(paths)
    options = DigestOptions(tolerance, input_format)
    return compare(run(sources, options, jobs=jobs, dask=dask, progress=progress), [s.node for s in sources])


def compare(digests: Iterable[NodeDigest], nodes: Iterable[str] | None = None) -> Fleet:
    """Fold node digests (made here or by another tool) into a Fleet; `nodes` names every node up
    front so that digests can stream in, otherwise they are collected first."""
    if nodes is None:
        collected = list(digests)
        builder = FleetBuilder(d.node for d in collected)
        digests = collected
    else:
        builder = FleetBuilder(nodes)
    for d in digests:
        builder.add(d)
    return builder.result()
