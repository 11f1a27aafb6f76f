"""Pods and parameters → a Simulation: independent, seeded Monte Carlo runs of the L4 case, of
each L7 balancer and of each what-if, aggregated.

Seeds: run r of component k draws from PCG64(SeedSequence(seed, spawn_key=(r, k))), k = 0 for L4
(and its what-ifs, which thus share its random numbers: a paired comparison) and 1 + the index in
L7_ALGORITHMS for a balancer. So the same seed gives the same numbers, and choosing fewer L7
balancers or what-ifs changes none of the others.
"""

from __future__ import annotations

import numpy as np

from .aggregate import curves, mean_or_none
from .closed import Grid, L4Run, l4_run, l7_run
from .gateway import L7_ALGORITHMS
from .parameters import Parameters
from .pods import Pods
from .result import L4Result, L7Result, Simulation, WhatIf


def simulate_pods(pods: Pods, p: Parameters) -> Simulation:
    """Run every case of the simulation for these pods and parameters."""
    if p.workload == "open":
        from .open import open_l4_run, open_l7_run
        l4_runner, l7_runner = open_l4_run, open_l7_run
    else:
        l4_runner, l7_runner = l4_run, l7_run
    grid = Grid.of(p)
    starts = tuple(float(t) for t in grid.edges[:-1])
    new = [q.new for q in pods.pods]
    fair = pods.fair_share

    def l4(params: Parameters) -> tuple[L4Result, list[L4Run]]:
        runs = [l4_runner(pods, params, grid, _stream(params.seed, r, 0)) for r in range(params.runs)]
        result = L4Result(curves([x.counts for x in runs], new, fair, starts, [x.expected for x in runs]),
                          mean_or_none([x.last_old_closed_s for x in runs]),
                          mean_or_none([x.first_new_request_s for x in runs]) if any(new) else None,
                          float(np.mean([x.connections_opened for x in runs])))
        return result, runs

    base, _ = l4(p)
    l7 = tuple(L7Result(a, curves([l7_runner(pods, p, grid, a, _stream(p.seed, r, 1 + L7_ALGORITHMS.index(a)))
                                   for r in range(p.runs)], new, fair, starts))
               for a in p.l7)
    what_if = []
    for key, value in p.what_if:
        varied, _ = l4(p.varied(key, value))
        what_if.append(WhatIf(key, value, varied.last_old_connection_closed_s, varied.curves.time_to_fair_share_s,
                              varied.connections_opened))
    return Simulation(p, pods.source, pods.pods, fair, starts, base, l7, tuple(what_if), pods.notes + _notes(p))


def _notes(p: Parameters) -> tuple[str, ...]:
    """What the closed loop leaves out for these parameters, said rather than hidden."""
    per_worker = -(-p.concurrency // p.workers)
    if p.workload == "closed" and 0 < p.pool_size < per_worker:
        return (f"the pool ({p.pool_size} per worker) is smaller than the concurrency ({per_worker} per worker): real "
                f"nginx then closes connections whenever more responses come back together than the pool holds "
                f"(the research measured 1,194 connections for 5,845 requests with keepalive 2 and 10 clients), "
                f"which the closed loop's one-connection-per-client picture leaves out; --workload open models the "
                f"pool",)
    return ()


def _stream(seed: int, run: int, component: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(run, component))))
