"""`kubechain fleet` on one cluster printed per node by the real binaries (fixtures/fleet): it
finds exactly the planted differences, across formats and backends, and nothing else."""

from __future__ import annotations

import gzip
import shutil
import tarfile
from fractions import Fraction

import pytest

import kubechain
from kubechain.fleets import digest_path

from support.fleet import EXPECTED, FLEET, NODES, summary
from support.paths import ALL_VARIANTS, BACKENDS, RULE_SETS, fixture


@pytest.fixture(scope="module")
def fleet():
    return kubechain.fleet(FLEET, jobs=1)


def test_exactly_the_planted_differences(fleet):
    assert summary(fleet) == EXPECTED
    assert not fleet.consistent
    assert [n.node for n in fleet.nodes] == list(NODES)


def test_the_stale_node_lacks_the_endpoint_its_kube_proxy_missed(fleet):
    (stale,) = [f for f in fleet.findings if f.code == "stale-endpoints"]
    assert "lacking 10.244.3.10:8080" in stale.message
    frontend = next(s for s in fleet.services if s.name == "shop/frontend:http" and s.kind == "cluster")
    majority, *others = frontend.variants
    assert majority.nodes == ("node-1", "node-2", "node-3", "node-5", "node-7", "node-9", "node-10", "node-11")
    assert majority.distribution is not None
    assert [a for a, _ in majority.distribution.endpoints] == ["10.244.1.10:8080", "10.244.2.10:8080",
                                                              "10.244.3.10:8080"]
    assert sorted(v.nodes for v in others) == [("node-4",), ("node-6",)]


def test_a_printout_without_a_filter_table_says_nothing_of_a_service_without_endpoints(fleet):
    """shop/empty:http has no endpoints: only printouts of the filter table show it (node-11's
    through nft, without its comment; node-10's in nftables mode's own map); the nat-only ones
    (node-2, -4, -5, -7) are not counted, and nobody is missing it."""
    (empty,) = [s for s in fleet.services if s.name == "shop/empty:http"]
    assert empty.consistent
    assert [(v.nodes, v.state) for v in empty.variants] == [
        (("node-1", "node-3", "node-6", "node-10", "node-11"), "no-endpoints")]


def test_local_endpoint_chains_differ_per_node_legitimately(fleet):
    """shop/checkout:http (externalTrafficPolicy: Local): each node's KUBE-SVL holds its own pods."""
    local = next(s for s in fleet.services if s.name == "shop/checkout:http" and s.kind == "local")
    external = next(s for s in fleet.services if s.name == "shop/checkout:http" and s.kind == "external")
    assert local.consistent and external.consistent
    assert {v.nodes: [a for a, _ in v.distribution.endpoints] for v in local.variants} == {
        ("node-1",): ["10.244.1.20:8080"], ("node-2",): ["10.244.2.20:8080", "10.244.2.21:8080"],
        ("node-3",): ["10.244.3.20:8080"]}
    empty = [v for v in external.variants if not v.distribution.endpoints]
    assert [v.nodes for v in empty] == [("node-4", "node-5", "node-6", "node-7", "node-10", "node-11")]


def test_a_node_in_nftables_mode_differs_only_in_its_mode_and_numgen_rounding(fleet):
    """node-10 runs kube-proxy in nftables mode: numgen's buckets give 5 endpoints other exact
    shares than the iptables cascade (within 1e-9), its own rounding, not a finding."""
    catalog = next(s for s in fleet.services if s.name == "shop/catalog:grpc" and s.kind == "cluster")
    (nft,) = [v for v in catalog.variants if "node-10" in v.nodes]
    assert nft.nodes == ("node-10",)
    # the kernel's (r·5) >> 32: bucket k gets ceil((k+1)·2^32/5) − ceil(k·2^32/5) of 2^32 draws
    buckets = [Fraction(-(-(k + 1) * 2**32 // 5) - -(-k * 2**32 // 5), 2**32) for k in range(5)]
    assert [p for _, p in nft.distribution.endpoints] == buckets  # endpoints sort by address, as the vmap
    assert not [f for f in fleet.findings if "node-10" in f.nodes and f.code not in ("mode-mismatch", "no-endpoints")]


def test_unreadable_node_keeps_its_error(fleet):
    node8 = next(n for n in fleet.nodes if n.node == "node-8")
    assert node8.error is not None and "node-8.txt:1:1" in node8.error and "neither iptables -L" in node8.error
    node3 = next(n for n in fleet.nodes if n.node == "node-3")
    assert node3.error is None and node3.path.endswith("node-3.txt.gz")


@pytest.mark.parametrize("rule_set", RULE_SETS)
def test_every_printout_of_the_same_rules_digests_alike(rule_set):
    """Formats, backends, counters, -n or names, line numbers: nothing of it is in a digest. (A
    printout with the filter table adds its no-endpoints rejections, and only those.)"""
    digests = {(backend, variant): digest_path(str(fixture(rule_set, backend, variant)), "n")
               for backend in BACKENDS for variant in ALL_VARIANTS}
    chains = {key: {s for s in d.services if not (s.no_endpoints and s.group is None)}
              for key, d in digests.items()}
    first = chains["nft", "save"]
    assert first
    for key, found in chains.items():
        assert found == {_without_rejection(s) for s in first} or found == first, key
        assert digests[key].mode == "iptables" and digests[key].error is None


def _without_rejection(s):
    from dataclasses import replace
    return replace(s, no_endpoints=False)


def test_process_pool_gives_the_same_fleet(fleet):
    assert kubechain.fleet(FLEET, jobs=2) == fleet


def test_a_tar_archive_of_the_dumps_gives_the_same_fleet(fleet, tmp_path):
    archive = tmp_path / "dumps.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(FLEET.iterdir(), reverse=True):  # out of node order
            tar.add(path, arcname=f"dumps/{path.name}")
    from_archive = kubechain.fleet(archive, jobs=2)
    assert summary(from_archive) == summary(fleet)
    assert from_archive.services == fleet.services
    assert next(n for n in from_archive.nodes if n.node == "node-3").path == f"{archive}:dumps/node-3.txt.gz"


def test_files_and_directories_mix(fleet, tmp_path):
    some = tmp_path / "some"
    some.mkdir()
    for n in ("node-1.txt", "node-2.txt", "node-3.txt.gz"):
        shutil.copy(FLEET / n, some / n)
    (some / ".hidden").write_text("not a node")
    with gzip.open(tmp_path / "node-4.txt.gz", "wb") as out:
        out.write((FLEET / "node-4.txt").read_bytes())
    mixed = kubechain.fleet([some, tmp_path / "node-4.txt.gz", FLEET / "node-5.txt"], jobs=1)
    assert [n.node for n in mixed.nodes] == ["node-1", "node-2", "node-3", "node-4", "node-5"]
    assert summary(mixed) == {
        ("stale-endpoints", "warning", "shop/frontend:http", ("node-4",)),
        ("missing-service", "warning", "shop/cart:http", ("node-5",)),
        ("no-endpoints", "warning", None, ("node-1", "node-3")),
    }


def test_two_dumps_of_one_node_are_refused(tmp_path):
    (tmp_path / "a").mkdir()
    shutil.copy(FLEET / "node-1.txt", tmp_path / "a" / "node-1.txt")
    with pytest.raises(kubechain.fleets.SourceError, match="two dumps for node node-1"):
        kubechain.fleet([tmp_path / "a", FLEET / "node-1.txt"])
