"""Where the per-node work runs: in this process, in a local process pool, or on a Dask cluster
(dask.distributed, the optional extra `kubechain[dask]`). Each node is digested on its own; only
the digests come back, and at most a few sources per worker are in flight, so a worker holds one
dump at a time and the caller one digest per finished node."""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from .digest import DigestOptions, NodeDigest, digest_source
from .sources import NodeSource, members

#: sources in flight per worker: one being analyzed, one waiting, so no worker idles between nodes
IN_FLIGHT_PER_WORKER = 2


@dataclass(frozen=True, slots=True)
class FleetProgress:
    """How far a fleet run is: nodes done (of `total`), how many of them failed, seconds elapsed."""

    done: int
    failed: int
    total: int
    elapsed: float

    @property
    def rate(self) -> float:
        """Nodes per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0


FleetProgressCallback = Callable[[FleetProgress], None]


def default_jobs() -> int:
    """The CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def run(sources: list[NodeSource], options: DigestOptions, *, jobs: int | None = None, dask: Any = None,
        progress: FleetProgressCallback | None = None) -> Iterator[NodeDigest]:
    """Every source's digest, in the order they finish. `dask` is a scheduler address or a
    `distributed.Client`; else `jobs` processes (default: the CPU count; 1 runs here)."""
    if dask is not None:
        digests = _dask(sources, options, dask)
    else:
        workers = default_jobs() if jobs is None else jobs
        if workers < 1:
            raise ValueError(f"jobs={jobs}: expected at least 1")
        digests = _serial(sources, options) if workers == 1 or len(sources) <= 1 else _pool(sources, options, workers)
    start, failed = time.monotonic(), 0
    for done, d in enumerate(digests, 1):
        failed += d.error is not None
        if progress is not None:
            progress(FleetProgress(done, failed, len(sources), time.monotonic() - start))
        yield d


def _serial(sources: list[NodeSource], options: DigestOptions) -> Iterator[NodeDigest]:
    for source in members(sources):
        yield digest_source(source, options)


def _pool(sources: list[NodeSource], options: DigestOptions, workers: int) -> Iterator[NodeDigest]:
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: set[Future[NodeDigest]] = set()
        for source in members(sources):
            if len(pending) >= workers * IN_FLIGHT_PER_WORKER:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (f.result() for f in done)
            pending.add(pool.submit(digest_source, source, options))
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            yield from (f.result() for f in done)


def _dask(sources: list[NodeSource], options: DigestOptions, scheduler: Any) -> Iterator[NodeDigest]:
    try:
        distributed: Any = importlib.import_module("distributed")  # untyped: used through Any
    except ImportError as err:
        raise RuntimeError("--dask needs dask.distributed: pip install 'kubechain[dask]'") from err
    client = scheduler if isinstance(scheduler, distributed.Client) else distributed.Client(scheduler)
    try:
        threads = sum(client.nthreads().values()) or 1
        queue = iter(members(sources))
        running = distributed.as_completed()
        nodes: dict[Any, NodeSource] = {}

        def send() -> bool:
            source = next(queue, None)
            if source is None:
                return False
            # archive members travel as bytes: straight to a worker, not through the scheduler
            payload = client.scatter(source) if source.data is not None else source
            future = client.submit(digest_source, payload, options, pure=False)
            nodes[future.key] = source
            running.add(future)
            return True

        for _ in range(threads * IN_FLIGHT_PER_WORKER):
            if not send():
                break
        for future in running:
            source = nodes.pop(future.key)
            try:
                d = future.result()
            except distributed.KilledWorker:  # e.g. out of memory on this dump: the fleet goes on without it
                d = NodeDigest(source.node, source.where,
                               error=f"{source.where}: every Dask worker that analyzed it died (out of memory?)")
            future.release()
            yield d
            send()
    finally:
        if client is not scheduler:
            client.close()
