"""Analysis → the terminal report (`-o text`), drawn with rich for a given width and colour.

Like kubectl's default output it fits the terminal: a summary first, then per service port a
heading and a table sized to the width (the endpoint chain column only where it fits; `-o wide`
is report.text, with every column); an exact fraction is never broken, an observed count wraps
at its space, and messages and long headings wrap. Colour is a choice of the caller (the CLI gives
it only to a terminal); without it the text is plain and stable for grep and diffs.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from ..analysis.diagnostics import Diagnostic
from ..analysis.findings import Summary, summarize
from ..analysis.fit_sentence import fit_sentence
from ..analysis.results import Analysis, Service
from .exact_text import short_fraction_text
from .text import (
    counter_notes,
    decimal_percent,
    endpoint_label,
    heading_parts,
    observed_cell,
    observed_whole,
    relative_deviation,
    repaired_warning,
    sample_rows,
    tested_suffix,
)

if TYPE_CHECKING:  # numpy (150 ms to import) only where a sample is drawn
    from ..analysis.sampling import Sample

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
GAP = 2  # spaces between columns


@dataclass(frozen=True, slots=True)
class Column:
    """A column of a width-fitted table: `fixed` columns are never wrapped; `split` ones may wrap
    at spaces; `fold` ones may be folded anywhere as a last resort; `optional` ones are left out
    when the table does not fit."""

    header: str
    justify: str = "left"
    kind: str = "fixed"  # fixed, split, fold
    drop: int = 0  # when the table does not fit, columns with drop > 0 are left out, 1 first


def render(analysis: Analysis, width: int = 80, color: bool = False, summary: bool = True) -> str:
    """The whole report of one input as text (with ANSI colour codes when `color`)."""
    console = _console(width, color)
    console.print(Text(_title(analysis), style="bold"))
    for line in repaired_warning(analysis):
        console.print(Text(line, style="yellow"))
    if summary:
        console.print(Padding(_summary(summarize(analysis), tested_suffix(analysis)), (0, 0, 0, 2)))
    for service in analysis.services:
        console.print()
        _service(console, service, analysis.has_counters)
    if analysis.diagnostics:
        console.print()
        console.print(Text("Diagnostics (most severe first):", style="bold"))
        console.print(Padding(diagnostics_table(analysis.diagnostics, width - 2), (0, 0, 0, 2)))
    return _text(console)


def render_diagnostics(analysis: Analysis, width: int = 80, color: bool = False) -> str:
    """Only the diagnostics, one block per input (`--quiet`); empty when there are none."""
    if not analysis.diagnostics:
        return ""
    console = _console(width, color)
    console.print(Text(f"{analysis.path or '<input>'}:", style="bold"))
    console.print(Padding(diagnostics_table(analysis.diagnostics, width - 2), (0, 0, 0, 2)))
    return _text(console)


def render_sample(sample: Sample, width: int = 80, color: bool = False) -> str:
    """Per sampled service port: exact share, sampled count and share, 99.9% Wilson interval, verdict."""
    a = sample.analysis
    console = _console(width, color)
    count = len(sample.services)
    console.print(Text(f"{a.path or '<input>'}: {sample.connections:,} new connections sampled per service port "
                       f"(seed {sample.seed}), {count} service port chain{'s' * (count != 1)}", style="bold"))
    columns = [Column("#", "right"), Column("endpoint", kind="fold"), Column("exact share"), Column("sampled", "right"),
               Column("share"), Column("99.9% interval (Wilson)", kind="split")]
    for got in sample.services:
        s = got.service
        console.print()
        console.print(_heading(s, width))
        console.print(fitted_table(columns, sample_rows(got, sample.connections), width))
        console.print(_sentence("verdict: ", fit_sentence(s, got.fit)))
    return _text(console)


def _console(width: int, color: bool) -> Console:
    return Console(file=io.StringIO(), width=width, force_terminal=color, color_system="standard" if color else None,
                   no_color=not color, highlight=False, emoji=False, markup=False, soft_wrap=False,
                   legacy_windows=False, _environ={})


def _text(console: Console) -> str:
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(out, str)
    return _TRAILING.sub(lambda m: "".join(_ANSI.findall(m.group())), out)


#: the end of a line: spaces and colour codes mixed (the spaces go, the codes stay)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TRAILING = re.compile(r"(?: |\x1b\[[0-9;]*m)+$", re.M)


def _title(analysis: Analysis) -> str:
    return f"{analysis.path or '<input>'}: {analysis.format}, {analysis.family}"


def _summary(s: Summary, tested: str = "") -> Text:
    ports = f"{s.service_ports:,} service port{'s' * (s.service_ports != 1)}"
    endpoints = f"{s.endpoints:,} endpoint{'s' * (s.endpoints != 1)}"
    text = Text(f"{ports}, {endpoints}, {s.non_uniform:,} non-uniform, {s.failed_fit:,} failed fit, "
                f"{s.problems:,} with problems{tested}\ndiagnostics: ")
    for i, (severity, count) in enumerate(s.by_severity.items()):
        text.append(", " if i else "")
        label = f"{count:,} {severity}{'s' * (count != 1 and severity != 'info')}"
        text.append(label, style=SEVERITY_STYLE[severity] if count else None)
    return text


def _heading(s: Service, width: int) -> Text:
    """`name  kind  address  chain C  affinity …` on one line where it fits; otherwise the chain
    and the affinity go on their own indented lines."""
    name, kind, address, chain = heading_parts(s)
    parts = [f"chain {chain}"]
    if s.affinity_seconds is not None:
        parts.append(f"affinity ClientIP {s.affinity_seconds}s (shares are for new clients)")
    first = f"{name}  {kind}  {address}"
    text = Text(name, style="bold")
    text.append(first[len(name):])
    if len(first) + sum(2 + len(p) for p in parts) <= width:
        text.append("".join(f"  {p}" for p in parts))
    else:
        text.append("".join(f"\n  {p}" for p in parts))
    return text


def _service(console: Console, s: Service, has_counters: bool) -> None:
    console.print(_heading(s, console.width))
    if not s.endpoints:
        console.print("  no endpoints")
    else:
        # the chain column goes first when space runs out; then the exact shares move below the table
        columns = [Column("#", "right"), Column("endpoint", kind="fold"), Column("share"),
                   Column("exact share", drop=2), Column("vs 1/n"), Column("observed", kind="split"),
                   Column("chain", kind="fold", drop=1)]
        n = len(s.endpoints)
        total = observed_whole(s)
        rows = [(str(i), endpoint_label(e), decimal_percent(e.share), short_fraction_text(e.share),
                 relative_deviation(e.share, n), observed_cell(e, has_counters, total), e.chain)
                for i, e in enumerate(s.endpoints, 1)]
        keep, _ = fit_columns(columns, rows, console.width)
        console.print(fitted_table(columns, rows, console.width))
        if 3 not in keep:
            console.print(_exact_block([r[3] for r in rows], console.width))
    if s.unassigned:
        console.print(_sentence("unassigned (no endpoint reached): ",
                                f"{short_fraction_text(s.unassigned)} = {decimal_percent(s.unassigned)}"))
    if s.fit is not None:
        sentence = fit_sentence(s, s.fit)
        style = "red" if s.fit.vs_exact is not None and s.fit.vs_exact.consistent is False else None
        console.print(_sentence("counters: ", sentence, style))
        for note in counter_notes(s):
            console.print(_sentence("", note))


def _exact_block(fractions: list[str], width: int) -> Text:
    """`exact share: 1 = n/d` per endpoint, one a line, when the table has no room for them."""
    text = Text("exact share:", style="bold")
    pad = len(str(len(fractions)))
    for i, fraction in enumerate(fractions, 1):
        text.append(f"{'' if i == 1 else chr(10) + ' ' * 12} {i:>{pad}} = {fraction}")
    del width
    return text


def _sentence(label: str, body: str, style: str | None = None) -> Padding:
    text = Text(label, style="bold")
    text.append(body, style=style)
    return Padding(text, (0, 0, 0, 2))


def diagnostics_table(diagnostics: Sequence[Diagnostic], width: int) -> Table:
    """Severity, code, line and message; the message column takes what is left and wraps."""
    columns = [Column("severity"), Column("code"), Column("line", "right"), Column("message", kind="split")]
    rows = [(d.severity, d.code, str(d.line) if d.line else "-", d.message) for d in diagnostics]
    return fitted_table(columns, rows, width, header=False,
                        styles=[SEVERITY_STYLE.get(d.severity) for d in diagnostics])


def fitted_table(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int, header: bool = True,
                 styles: Sequence[str | None] | None = None) -> Table:
    """A rich Table of the columns :func:`fit_columns` keeps, at the widths it chose."""
    keep, widths = fit_columns(columns, rows, width, header)
    table = Table(box=None, pad_edge=False, padding=(0, GAP // 2), show_edge=False, show_header=header,
                  header_style="bold", expand=False)
    for i in keep:
        c = columns[i]
        table.add_column(c.header, justify=c.justify,  # type: ignore[arg-type]
                         width=widths[i], no_wrap=c.kind == "fixed", overflow="fold")
    for r, row in enumerate(rows):
        table.add_row(*(row[i] for i in keep), style=styles[r] if styles else None)
    return table


def fit_columns(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int,
                header: bool = True) -> tuple[list[int], dict[int, int]]:
    """Which columns to show and how wide, chosen here rather than by rich's proportional
    shrinking (which folds addresses and numbers mid-way): `split` columns narrow to their
    longest word; then columns with `drop` are left out (1 first); then `fold` columns narrow
    to 8. A terminal too narrow even for that overflows rather than break a number."""
    natural = {i: max([len(c.header) if header else 0, *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)}
    keep = list(range(len(columns)))

    def shrunk(kinds: tuple[str, ...]) -> dict[int, int]:
        widths = dict(natural)
        for kind in kinds:
            for i in keep:
                excess = sum(widths[j] for j in keep) + GAP * (len(keep) - 1) - width
                if excess <= 0 or columns[i].kind != kind:
                    continue
                least = 8 if kind == "fold" else max(
                    [len(w) for r in rows for w in r[i].split()] + [len(columns[i].header) if header else 1])
                widths[i] = max(min(least, natural[i]), widths[i] - excess)
        return widths

    widths = shrunk(("split",))
    for i in sorted((i for i, c in enumerate(columns) if c.drop), key=lambda i: columns[i].drop):
        if sum(widths[j] for j in keep) + GAP * (len(keep) - 1) <= width:
            break
        keep.remove(i)
        widths = shrunk(("split",))
    return keep, shrunk(("split", "fold"))
