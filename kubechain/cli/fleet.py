"""`kubechain fleet`: every node's rules compared; which nodes disagree, on which service ports."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from .common import FAIL_ON, UNUSABLE, Output, epilog, error, finish, input_format_option, output_options

if TYPE_CHECKING:
    from ..fleets import FleetProgress

SEVERITY_CHOICES = ("error", "warning", "info", "never")


@click.command(epilog=epilog(
    "kubechain fleet dumps/                          # one file per node; a file's stem is its node",
    "kubechain fleet node-a.txt node-b.save.txt.gz --jobs 8 -o json",
    "kubechain fleet dumps.tar.gz --fail-on warning",
    "kubechain fleet /shared/dumps --dask tcp://scheduler:8786",
))
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@output_options()
@input_format_option
@click.option("--jobs", type=click.IntRange(min=1), default=None, metavar="N",
              help="Processes that analyze the nodes' dumps (default: the CPU count).")
@click.option("--dask", "scheduler", default=None, metavar="SCHEDULER",
              help="Analyze on this Dask cluster (tcp://host:8786; needs kubechain[dask]); its workers must "
                   "read the dumps under the same paths.")
@click.option("--fail-on", type=click.Choice(SEVERITY_CHOICES), default="never", show_default=True,
              help="Exit 1 when a finding at or above this severity is found.")
@click.option("--tolerance", default="0.1%", show_default=True, metavar="REL",
              help="Each node's `non-uniform` tolerance, as for analyze.")
def fleet(paths: tuple[str, ...], output: str, quiet: bool, no_color: bool, input_format: str | None,
          jobs: int | None, scheduler: str | None, fail_on: str, tolerance: str) -> None:
    """Compare every node's rules. PATHS are directories of per-node dumps (a file's stem is its
    node's name), dump files (gzip-compressed too) or tar archives of them, in any format
    kubechain reads, mixed. Prints each node, the findings, then the variants of every service
    port the nodes disagree on."""
    import kubechain
    from kubechain.fleets import SourceError, at_or_above

    out = Output(output, quiet, no_color)
    try:
        allowed = kubechain.analysis.tolerance(tolerance)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--tolerance") from None
    bar = _Bar() if sys.stderr.isatty() and not quiet else None
    try:
        result = kubechain.fleet(paths, jobs=jobs, dask=scheduler, tolerance=allowed, input_format=input_format,
                                 progress=bar)
    except (SourceError, RuntimeError, OSError) as err:
        error(f"cannot compare the fleet: {err}")
        sys.exit(UNUSABLE)
    finally:
        if bar is not None:
            bar.close()
    if out.format in ("json", "yaml"):
        out.documents([kubechain.document(result)])
    elif quiet:
        from kubechain.report.fleet_text import render_findings
        out.report(render_findings(result))
    else:
        from kubechain.report.fleet_text import render
        out.report(render(result))
    finish(FAIL_ON if fail_on != "never" and at_or_above(result.findings, fail_on) else 0)


class _Bar:
    """The fleet's progress on stderr: nodes done of all, how many failed, the rate (rich)."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._task: Any = None

    def __call__(self, p: FleetProgress) -> None:
        if self._bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("nodes"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[failed]} failed, {task.fields[rate]:.1f} nodes/s"),
                                 TimeElapsedColumn(), console=Console(file=sys.stderr), transient=True)
            self._bar.start()
            self._task = self._bar.add_task("nodes", total=p.total, failed=0, rate=0.0)
        self._bar.update(self._task, completed=p.done, total=p.total, failed=p.failed, rate=p.rate)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
