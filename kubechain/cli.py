"""The `kubechain` command: a thin click layer over the library (no logic of its own)."""

from __future__ import annotations

import sys

import click

from .errors import ParseError

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
    from .numbers import tolerance_from_text

    try:
        allowed = tolerance_from_text(tolerance)
    except (ValueError, ZeroDivisionError) as err:
        raise click.BadParameter(f"{tolerance!r} is not a tolerance ({err})", param_hint="--tolerance") from None
    from .diagnostics import at_or_above
    from .loader import load

    analyses = []
    for path in files:
        try:
            ruleset = load(path, input_format=input_format)
        except ParseError as err:
            click.echo(f"kubechain: cannot analyze {err.describe()}", err=True)
            sys.exit(2)
        except OSError as err:
            click.echo(f"kubechain: cannot read {path}: {err.strerror or err}", err=True)
            sys.exit(2)
        analyses.append(run_analysis(ruleset, allowed))
    if output == "json":
        from .report_json import dumps
        click.echo(dumps(analyses), nl=False)
    else:
        from .report_text import render
        click.echo("\n".join(render(a) for a in analyses), nl=False)
    if fail_on != "never" and any(at_or_above(a.diagnostics, fail_on) for a in analyses):
        sys.exit(1)


if __name__ == "__main__":
    main()
