"""`kubechain simulate`: why a new pod starves, replayed through kube-proxy's exact shares."""

from __future__ import annotations

import sys

import click

from .common import UNUSABLE, epilog, error, input_format_option, load_or_exit


@click.command(epilog=epilog(
    "kubechain simulate --replicas 2:3",
    "kubechain simulate --before before.txt --after after.txt --service ns/web:http -o json",
))
@click.argument("dump", required=False, type=click.Path(allow_dash=True))
@click.option("--replicas", metavar="A:B", help="A scale event from A to B pods, with kube-proxy's own shares.")
@click.option("--before", type=click.Path(allow_dash=True), help="Dump of the node before the event (with --after).")
@click.option("--after", type=click.Path(allow_dash=True), help="Dump of the node after the event.")
@click.option("--service", metavar="NAME", help="The service port (ns/svc:port) of a dump, or its chain.")
@click.option("--proxy-mode", type=click.Choice(["iptables", "nftables"]), default="iptables", show_default=True,
              help="How --replicas pods' shares are written: the statistic cascade or numgen buckets.")
@click.option("--concurrency", type=click.IntRange(min=1), default=30, show_default=True, metavar="C")
@click.option("--rpm", type=click.FloatRange(min=0, min_open=True), default=6000.0, show_default=True, metavar="R",
              help="Requests per minute (may be fractional).")
@click.option("--workload", type=click.Choice(["closed", "open"]), default="closed", show_default=True,
              help="closed: C clients back to back, each request 60·C/R s; open: Poisson arrivals at R/min, "
                   "exponential service times of that mean (simulated per request: slower).")
@click.option("--max-requests", type=click.IntRange(min=0), default=10_000, show_default=True, metavar="M",
              help="Requests per upstream connection before the gateway closes it; 0 = unlimited.")
@click.option("--idle-timeout", default="60s", show_default=True, metavar="DURATION")
@click.option("--pool-size", type=click.IntRange(min=0), default=512, show_default=True,
              help="Idle connections kept per worker (Kong's default); beyond it the least recently used closes.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--history", type=click.Choice(["steady", "fresh"]), default="steady", show_default=True,
              help="steady: connections of random age at t = 0; fresh: all opened just before it.")
@click.option("--duration", default="90m", show_default=True, metavar="DURATION")
@click.option("--bucket", default="1m", show_default=True, metavar="DURATION")
@click.option("--runs", type=click.IntRange(min=1, max=10_000), default=20, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--l7", default="round-robin,least-request,random", show_default=True, metavar="LIST",
              help="Per-request balancers to run beside L4 (none to skip).")
@click.option("--what-if", "what_if", multiple=True, metavar="KEY=V1,V2",
              help="Rerun L4 with other values: max-requests, pool-size, idle-timeout, workers, concurrency.")
@click.option("-o", "--output", "--format", "output", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--plot", type=click.Path(dir_okay=False), default=None, metavar="FILE.png",
              help="Also draw L4 and L7 side by side (needs pip install 'kubechain[plot]').")
@input_format_option
def simulate(dump: str | None, replicas: str | None, before: str | None, after: str | None, service: str | None,
             proxy_mode: str, concurrency: int, rpm: float, workload: str, max_requests: int, idle_timeout: str,
             pool_size: int, workers: int, history: str, duration: str, bucket: str, runs: int, seed: int, l7: str,
             what_if: tuple[str, ...], output: str, plot: str | None, input_format: str | None) -> None:
    """Why a new pod starves: replay a scale event through kube-proxy's exact shares of new
    connections and a gateway that reuses each connection, beside per-request (L7) balancing."""
    from ..simulation import duration_s, pods_for, simulate_pods, what_if_items
    from ..simulation.parameters import Parameters

    try:
        parameters = Parameters(
            concurrency=concurrency, rpm=rpm, workload=workload, max_requests=max_requests,
            idle_timeout_s=duration_s(idle_timeout), pool_size=pool_size, workers=workers, history=history,
            duration_s=duration_s(duration), bucket_s=duration_s(bucket), runs=runs, seed=seed,
            l7=tuple(a.strip() for a in l7.split(",") if a.strip() and a.strip() != "none"), proxy_mode=proxy_mode,
            what_if=tuple(item for text in what_if for item in what_if_items(text)))
        if plot is not None:
            from ..report.plot import require_matplotlib
            require_matplotlib()
        dumps = {name: load_or_exit(path, input_format, "simulate") if path else None
                 for name, path in (("dump", dump), ("before", before), ("after", after))}
        pods = pods_for(replicas_ab=replicas, service=service, proxy_mode=proxy_mode, **dumps)
    except ValueError as err:
        error(f"cannot simulate: {err}")
        sys.exit(UNUSABLE)
    result = simulate_pods(pods, parameters)
    if output == "json":
        from ..report.simulation_json import dumps as json_dumps
        click.echo(json_dumps(result), nl=False)
    else:
        from ..report.simulation_text import render
        click.echo(render(result), nl=False)
    if plot is not None:
        from ..report.plot import plot as draw
        draw(result, plot)
        if output == "text":
            click.echo(f"plot written to {plot}")
