"""`--dask`: the per-node analysis on a Dask cluster, here a 2-worker LocalCluster (processes),
gives the same fleet as the local process pool, archives included."""

from __future__ import annotations

import tarfile

import pytest

import kubechain

from support.fleet import EXPECTED, FLEET, require_dask, summary


@pytest.fixture(scope="module")
def cluster():
    require_dask()
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c, \
            Client(c) as client:
        yield c, client


def test_a_local_cluster_finds_the_same_differences(cluster):
    local_cluster, client = cluster
    on_dask = kubechain.fleet(FLEET, dask=client)
    assert summary(on_dask) == EXPECTED
    assert on_dask == kubechain.fleet(FLEET, jobs=1)
    by_address = kubechain.fleet(FLEET, dask=local_cluster.scheduler_address)
    assert by_address == on_dask


def test_archive_members_travel_to_the_workers_as_bytes(cluster, tmp_path):
    _, client = cluster
    archive = tmp_path / "fleet.tar"
    with tarfile.open(archive, "w") as tar:
        for path in sorted(FLEET.iterdir()):
            tar.add(path, arcname=path.name)
    assert summary(kubechain.fleet(archive, dask=client)) == EXPECTED


def test_the_cli_takes_a_scheduler_address(cluster):
    from click.testing import CliRunner

    from kubechain.cli import main

    local_cluster, _ = cluster
    result = CliRunner().invoke(main, ["fleet", str(FLEET), "--dask", local_cluster.scheduler_address,
                                       "--format", "json"])
    assert result.exit_code == 0, result.output
    assert '"schema": "kubechain/fleet/v1"' in result.output
