"""The `kubechain` command: a thin click layer over the library (no logic of its own)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from .errors import ParseError

if TYPE_CHECKING:
    from .model import Ruleset

SEVERITY_CHOICES = ("error", "warning", "info", "never")


@click.group()
@click.version_option(package_name="kubechain")
def main() -> None:  # noqa: D103
    """Where kube-proxy sends your traffic, exactly: reads iptables dumps (iptables -L, -S,
    iptables-save) and gives each Service endpoint's exact share of new connections."""


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Report for people, or the kubechain/analysis/v1 JSON document.")
@click.option("--input-format", type=click.Choice(["iptables-list", "iptables-save"]), default=None,
              help="Skip auto-detection (iptables-save also covers iptables -S).")
@click.option("--fail-on", type=click.Choice(SEVERITY_CHOICES), default="never", show_default=True,
              help="Exit 1 when a diagnostic at or above this severity is found.")
@click.option("--tolerance", default="0.1%", show_default=True, metavar="REL",
              help="Relative deviation from 1/n allowed before `non-uniform` fires: 0.1%, 0.001 or 1/1000.")
def analyze(files: tuple[str, ...], output: str, input_format: str | None, fail_on: str, tolerance: str) -> None:
    """Analyze each FILE (`-` for stdin) on its own: services, endpoints, exact shares."""
    from .analysis import analyze as run_analysis
    from .analysis import tolerance_from_text

    try:
        allowed = tolerance_from_text(tolerance)
    except (ValueError, ZeroDivisionError) as err:
        raise click.BadParameter(f"{tolerance!r} is not a tolerance ({err})", param_hint="--tolerance") from None
    from .analysis.diagnostics import at_or_above

    analyses = [run_analysis(_load_or_exit(path, input_format, "analyze"), allowed) for path in files]
    if output == "json":
        from .report.documents import dumps
        click.echo(dumps(analyses), nl=False)
    else:
        from .report.text import render
        click.echo("\n".join(render(a) for a in analyses), nl=False)
    if fail_on != "never" and any(at_or_above(a.diagnostics, fail_on) for a in analyses):
        sys.exit(1)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("--draws", type=click.IntRange(min=1, max=10**9), default=100_000, show_default=True,
              help="New connections per service port chain (at most 1e9: about 12 s for 10 endpoints).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Same seed, same input: same counts. Each service port has its own stream.")
@click.option("--service", "service", default=None, metavar="TEXT",
              help="Only service ports whose name (ns/svc:port) or chain contains TEXT.")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--input-format", type=click.Choice(["iptables-list", "iptables-save"]), default=None,
              help="Skip auto-detection (iptables-save also covers iptables -S).")
def sample(files: tuple[str, ...], draws: int, seed: int, service: str | None, output: str,
           input_format: str | None) -> None:
    """Sample new connections through each FILE's service chains with the kernel's own random
    test, and check the counts against the exact shares."""
    from .analysis import analyze as run_analysis
    from .analysis.sampling import sample as run_sample

    samples = [run_sample(run_analysis(_load_or_exit(path, input_format, "sample")), draws, seed, service)
               for path in files]
    if output == "json":
        from .report.documents import sample_dumps
        click.echo(sample_dumps(samples), nl=False)
    else:
        from .report.text import render_sample
        click.echo("\n".join(render_sample(s) for s in samples), nl=False)



@main.command()
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
@click.option("--workload", type=click.Choice(["closed"]), default="closed", show_default=True,
              help="closed: C clients back to back, each request taking 60·C/R s.")
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
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--plot", type=click.Path(dir_okay=False), default=None, metavar="FILE.png",
              help="Also draw L4 and L7 side by side (needs pip install 'kubechain[plot]').")
@click.option("--input-format", type=click.Choice(["iptables-list", "iptables-save"]), default=None)
def simulate(dump: str | None, replicas: str | None, before: str | None, after: str | None, service: str | None,
             proxy_mode: str, concurrency: int, rpm: float, workload: str, max_requests: int, idle_timeout: str,
             pool_size: int, workers: int, history: str, duration: str, bucket: str, runs: int, seed: int, l7: str,
             what_if: tuple[str, ...], output: str, plot: str | None, input_format: str | None) -> None:
    """Why a new pod starves: replay a scale event through kube-proxy's exact shares of new
    connections and a gateway that reuses each connection, beside per-request (L7) balancing."""
    from .simulation import duration_s, pods_for, simulate_pods, what_if_items
    from .simulation.parameters import Parameters

    try:
        parameters = Parameters(
            concurrency=concurrency, rpm=rpm, workload=workload, max_requests=max_requests,
            idle_timeout_s=duration_s(idle_timeout), pool_size=pool_size, workers=workers, history=history,
            duration_s=duration_s(duration), bucket_s=duration_s(bucket), runs=runs, seed=seed,
            l7=tuple(a.strip() for a in l7.split(",") if a.strip() and a.strip() != "none"), proxy_mode=proxy_mode,
            what_if=tuple(item for text in what_if for item in what_if_items(text)))
        if plot is not None:
            from .report.plot import require_matplotlib
            require_matplotlib()
        dumps = {name: _load_or_exit(path, input_format, "simulate") if path else None
                 for name, path in (("dump", dump), ("before", before), ("after", after))}
        pods = pods_for(replicas_ab=replicas, service=service, proxy_mode=proxy_mode, **dumps)
    except ValueError as err:
        click.echo(f"kubechain: cannot simulate: {err}", err=True)
        sys.exit(2)
    result = simulate_pods(pods, parameters)
    if output == "json":
        from .report.simulation_json import dumps as json_dumps
        click.echo(json_dumps(result), nl=False)
    else:
        from .report.simulation_text import render
        click.echo(render(result), nl=False)
    if plot is not None:
        from .report.plot import plot as draw
        draw(result, plot)
        if output == "text":
            click.echo(f"plot written to {plot}")


def _load_or_exit(path: str, input_format: str | None, verb: str) -> Ruleset:
    """The parsed dump, or one paragraph on stderr and exit status 2 (unusable input)."""
    from .parse import load

    try:
        return load(path, input_format=input_format)
    except ParseError as err:
        click.echo(f"kubechain: cannot {verb} {err.describe()}", err=True)
    except OSError as err:
        click.echo(f"kubechain: cannot read {path}: {err.strerror or err}", err=True)
    sys.exit(2)

if __name__ == "__main__":
    main()
