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
@click.option("--lenient", is_flag=True,
              help="Repair pasted or edited text (indentation, code fences, grep separators, notes); every repair "
                   "is reported.")
@click.option("--tolerance", default="0.1%", show_default=True, metavar="REL",
              help="Relative deviation from 1/n allowed before `non-uniform` fires: 0.1%, 0.001 or 1/1000.")
def analyze(files: tuple[str, ...], output: str, input_format: str | None, fail_on: str, lenient: bool,
            tolerance: str) -> None:
    """Analyze each FILE (`-` for stdin) on its own: services, endpoints, exact shares."""
    from .analysis import analyze as run_analysis
    from .analysis import tolerance_from_text

    try:
        allowed = tolerance_from_text(tolerance)
    except (ValueError, ZeroDivisionError) as err:
        raise click.BadParameter(f"{tolerance!r} is not a tolerance ({err})", param_hint="--tolerance") from None
    from .analysis.diagnostics import at_or_above

    analyses = [run_analysis(_load_or_exit(path, input_format, "analyze", lenient), allowed) for path in files]
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
@click.option("--fail-on", type=click.Choice(SEVERITY_CHOICES), default="never", show_default=True,
              help="Exit 1 when a diagnostic at or above this severity is found; a NOT consistent sample is an error.")
@click.option("--lenient", is_flag=True, help="Repair pasted or edited text; every repair is reported.")
def sample(files: tuple[str, ...], draws: int, seed: int, service: str | None, output: str,
           input_format: str | None, fail_on: str, lenient: bool) -> None:
    """Sample new connections through each FILE's service chains with the kernel's own random
    test, and check the counts against the exact shares."""
    from .analysis import analyze as run_analysis
    from .analysis.diagnostics import at_or_above
    from .analysis.sampling import sample as run_sample

    samples = []
    for path in files:
        try:
            ruleset = _load_or_exit(path, input_format, "sample", lenient)
            samples.append(run_sample(run_analysis(ruleset), draws, seed, service))
        except ValueError as err:
            click.echo(f"kubechain: cannot sample {path}: {err}", err=True)
            sys.exit(2)
    if output == "json":
        from .report.documents import sample_dumps
        click.echo(sample_dumps(samples), nl=False)
    else:
        from .report.text import render_sample
        click.echo("\n".join(render_sample(s) for s in samples), nl=False)
    if fail_on != "never" and any(at_or_above(s.analysis.diagnostics, fail_on) or s.mismatches for s in samples):
        sys.exit(1)



def _load_or_exit(path: str, input_format: str | None, verb: str, lenient: bool = False) -> Ruleset:
    """The parsed dump, or one paragraph on stderr and exit status 2 (unusable input)."""
    from .parse import load

    try:
        return load(path, input_format=input_format, lenient=lenient)
    except ParseError as err:
        click.echo(f"kubechain: cannot {verb} {err.describe()}", err=True)
    except OSError as err:
        click.echo(f"kubechain: cannot read {path}: {err.strerror or err}", err=True)
    sys.exit(2)

if __name__ == "__main__":
    main()
