"""`kubechain fleet` on a generated fleet (bench/make_fleet.sh: 200 nodes of 1,000 service ports),
serial against a 2-process pool (`--jobs 2`) against a 2-worker Dask LocalCluster, in one run so
that the figures compare as ratios. Each mode runs in its own fresh process, which also gives
each its own peak RSS (the driver, and the largest worker).

    sudo bench/make_fleet.sh && python bench/fleet.py        # -> bench/out/fleet-results.json
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODES = ("serial", "jobs-2", "dask-2")


def one(mode: str, dumps: Path) -> dict[str, object]:
    """Run one mode here and return its figures."""
    import kubechain
    from kubechain.fleets import digest_path

    extra: dict[str, object] = {}
    if mode == "dask-2":
        from distributed import Client, LocalCluster

        t0 = time.perf_counter()
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(cluster)
        extra["cluster_start_seconds"] = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), time.process_time()
        fleet = kubechain.fleet(dumps, dask=client)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        client.close()
        cluster.close()
    else:
        t0, c0 = time.perf_counter(), time.process_time()
        fleet = kubechain.fleet(dumps, jobs=1 if mode == "serial" else 2)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if mode == "serial":
        sizes = [len(pickle.dumps(digest_path(str(p)))) for p in sorted(dumps.iterdir())[:2]]
        extra["digest_pickle_bytes"] = sizes
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    extra["workers_cpu_seconds"] = children.ru_utime + children.ru_stime  # reaped workers (pool, cluster)
    extra["load_average_after"] = os.getloadavg()
    return {"mode": mode, "nodes": len(fleet.nodes), "wall_seconds": wall, "driver_cpu_seconds": cpu,
            "findings": sorted({(f.code, f.service or "", ",".join(f.nodes)) for f in fleet.findings}),
            "driver_max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "worker_max_rss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, **extra}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dumps", type=Path, default=HERE / "out" / "fleet-1000" / "dumps")
    parser.add_argument("--one", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.dumps)))
        return 0
    if not args.dumps.is_dir():
        sys.exit(f"{args.dumps}: missing; make it with: sudo bench/make_fleet.sh")
    runs = []
    load_before = os.getloadavg()  # the machine may be shared: ratios of one run, and CPU seconds, compare
    for mode in MODES:
        # this checkout's kubechain, in the run and in its workers, whatever else is installed
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(HERE.parent),
                                                                          os.environ.get("PYTHONPATH"))))}
        out = subprocess.run([sys.executable, __file__, "--one", mode, "--dumps", str(args.dumps)],
                             check=True, capture_output=True, text=True, env=env).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
        r = runs[-1]
        cpu = r["driver_cpu_seconds"] + r["workers_cpu_seconds"]
        r["cpu_seconds_per_node"] = cpu / r["nodes"]
        print(f"{mode:7} {r['wall_seconds']:8.1f} s  {r['nodes'] / r['wall_seconds']:5.2f} nodes/s  "
              f"{r['cpu_seconds_per_node']:5.2f} CPU s/node  driver {r['driver_max_rss_kb'] / 1024:6.0f} MiB  "
              f"worker {r['worker_max_rss_kb'] / 1024:6.0f} MiB  load {r['load_average_after'][0]:.1f}")
    serial = runs[0]["wall_seconds"]
    for r in runs:
        r["speedup_vs_serial"] = serial / r["wall_seconds"]
    same = all(r["findings"] == runs[0]["findings"] for r in runs)
    print("speed-up vs serial: " + ", ".join(f"{r['mode']} {r['speedup_vs_serial']:.2f}x" for r in runs)
          + f"; same findings in every mode: {same}")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=HERE).stdout.strip()
    doc = {"dumps": str(args.dumps), "machine": platform.platform(), "python": platform.python_version(),
           "load_average_before": load_before,
           "commit": commit, "runs": runs, "same_findings": same}
    (HERE / "out" / "fleet-results.json").write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
