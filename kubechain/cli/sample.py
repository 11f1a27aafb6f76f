"""`kubechain sample`: new connections sent through each service chain with the kernel's own random test."""

from __future__ import annotations

import re
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
    from ..analysis.sampling import Sample

MAX_DRAWS = 10**9


class Count(click.ParamType):  # type: ignore[type-arg]
    """A whole number written as 100000, 100_000, 1e6 or 2.5e5 (the help writes 1e9, so it is accepted)."""

    name = "N"
    _FORM = re.compile(r"\d[\d_]*|\d+(?:\.\d+)?[eE]\+?\d+")

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            number = value
        else:
            text = str(value).strip()
            if not self._FORM.fullmatch(text):
                self.fail(f"{value!r} is not a whole number such as 100000, 100_000 or 1e6", param, ctx)
            if "e" in text.lower():
                mantissa, exponent = re.split("[eE]", text)
                if int(exponent.lstrip("+")) > 30:
                    self.fail(f"{value!r} is more than {self.high:.0e}", param, ctx)
                from fractions import Fraction
                exact = Fraction(mantissa) * 10 ** int(exponent.lstrip("+"))
                if exact.denominator != 1:
                    self.fail(f"{value!r} is not a whole number", param, ctx)
                number = int(exact)
            else:
                number = int(text.replace("_", ""))
        if not self.low <= number <= self.high:
            self.fail(f"{value!r} is not between {self.low:,} and {self.high:,} (1e9)", param, ctx)
        return number


@click.command(epilog=epilog(
    "kubechain sample dump.txt --draws 1e6 --seed 1",
    "kubechain sample dump.txt --service ns/web -o json",
))
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("--draws", type=Count(1, MAX_DRAWS), default=100_000, show_default=True,
              help="New connections per service port chain, up to 1e9 (which takes about 25 s for a "
                   "10-endpoint service port).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Same seed, same input: same counts. Each service port has its own stream.")
@click.option("--service", "service", default=None, metavar="TEXT",
              help="Only service ports whose name (ns/svc:port) or chain contains TEXT; reads only their chains.")
@output_options()
@input_format_option
@fail_on_option("Exit 1 when a diagnostic at or above this severity is found; a sample NOT consistent with the "
                "exact shares (Holm-adjusted p < 0.001) counts as an error.")
@lenient_option
def sample(files: tuple[str, ...], draws: int, seed: int, service: str | None, output: str, quiet: bool,
           no_color: bool, input_format: str | None, fail_on: str, lenient: bool) -> None:
    """Sample new connections through each FILE's service chains with the kernel's own random
    test, and check the counts against the exact shares."""
    import kubechain
    from kubechain.analysis.diagnostics import at_or_above

    out = Output(output, quiet, no_color)
    inputs = Inputs("sample")

    def work(path: str) -> Sample:
        with progress(path, out) as bar:
            ruleset = kubechain.load(path, input_format=input_format, service=service, progress=bar,
                                     lenient=lenient)
            return kubechain.sample(ruleset, draws, seed, service=service)

    docs: list[dict[str, Any]] = []
    for result in inputs.each(files, work):
        got = result.value
        if got is None:
            docs.append(result.error or {})
            continue
        if fail_on != "never" and (at_or_above(got.analysis.diagnostics, fail_on) or got.mismatches):
            inputs.fail(FAIL_ON)
        if out.format in ("json", "yaml"):
            docs.append(kubechain.document(got))
        else:
            out.report(_text(got, out))
    if out.format in ("json", "yaml"):
        out.documents(docs)
    finish(inputs.status)


def _text(got: Sample, out: Output) -> str:
    if out.quiet:
        from kubechain.report.terminal import render_diagnostics
        return render_diagnostics(got.analysis, out.width, out.color)
    if out.format == "wide":
        from kubechain.report.text import render_sample
        return render_sample(got)
    from kubechain.report.terminal import render_sample as render_terminal
    return render_terminal(got, out.width, out.color)
