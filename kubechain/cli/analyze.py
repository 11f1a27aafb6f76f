"""`kubechain analyze`: each input's service ports, endpoints, exact shares and diagnostics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from .common import (
    FAIL_ON,
    Inputs,
    Output,
    epilog,
    fail_on_option,
    finish,
    input_format_option,
    lenient_option,
    output_options,
    progress,
)

if TYPE_CHECKING:
    from ..analysis.results import Analysis


@click.command(epilog=epilog(
    "kubechain analyze dump.txt",
    "kubechain analyze -o wide dump.txt              # every column, one line per endpoint",
    "kubechain analyze --service kube-dns dump.txt   # one service, fast on a big dump",
    "kubechain analyze --only-problems --fail-on warning node-*.txt",
    "ssh node iptables-save -c | kubechain analyze -o json -",
))
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True))
@output_options()
@input_format_option
@click.option("--service", default=None, metavar="TEXT",
              help="Only service ports whose name (ns/svc:port) or chain contains TEXT; reads only their chains.")
@click.option("--only-problems", is_flag=True, help="List only the service ports with an error or warning.")
@fail_on_option("Exit 1 when a diagnostic at or above this severity is found.")
@lenient_option
@click.option("--tolerance", default="0.1%", show_default=True, metavar="REL",
              help="Relative deviation from 1/n allowed before `non-uniform` fires: 0.1%, 0.001 or 1/1000.")
def analyze(files: tuple[str, ...], output: str, quiet: bool, no_color: bool, input_format: str | None,
            service: str | None, only_problems: bool, fail_on: str, lenient: bool,
            tolerance: str) -> None:
    """Analyze each FILE (`-` for stdin) on its own: a summary, then per service port its
    endpoints with their exact shares of new connections, then the diagnostics.

    The `vs 1/n` column is an endpoint's relative deviation from a fair share, share*n - 1.
    """
    import kubechain
    from kubechain.analysis.diagnostics import at_or_above
    from kubechain.analysis.findings import only_problems as keep_problems

    out = Output(output, quiet, no_color)
    try:
        allowed = kubechain.analysis.tolerance(tolerance)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--tolerance") from None
    inputs = Inputs("analyze")

    def work(path: str) -> Analysis:
        with progress(path, out) as bar:
            ruleset = kubechain.load(path, input_format=input_format, service=service, progress=bar,
                                     lenient=lenient)
            return kubechain.analyze(ruleset, tolerance=allowed, service=service, progress=bar)

    docs: list[dict[str, Any]] = []
    for result in inputs.each(files, work):
        analysis = result.value
        if analysis is None:
            docs.append(result.error or {})
            continue
        if fail_on != "never" and at_or_above(analysis.diagnostics, fail_on):
            inputs.fail(FAIL_ON)
        if only_problems:
            analysis = keep_problems(analysis)
        if out.format in ("json", "yaml"):
            docs.append(kubechain.document(analysis))
        else:
            out.report(_text(analysis, out))
    if out.format in ("json", "yaml"):
        out.documents(docs)
    finish(inputs.status)


def _text(analysis: Analysis, out: Output) -> str:
    if out.quiet:
        from kubechain.report.terminal import render_diagnostics
        return render_diagnostics(analysis, out.width, out.color)
    if out.format == "wide":
        from kubechain.report.text import render
        return render(analysis)
    from kubechain.report.terminal import render as render_terminal
    return render_terminal(analysis, out.width, out.color)
