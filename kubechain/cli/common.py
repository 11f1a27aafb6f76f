"""What every kubechain command shares, so a command module holds only its own options and the
library calls it makes:

- the output options (`-o/--output text|wide|json|yaml`, `--format` kept as an alias, `--quiet`,
  `--no-color`) and where text goes: width from the terminal (or `COLUMNS`, else 80 in a pipe),
  colour only on a terminal, never with `NO_COLOR` or `--no-color`;
- the exit statuses (:data:`OK`, :data:`FAIL_ON`, :data:`UNUSABLE`, :data:`INTERRUPTED`), the
  worst of which a command exits with, and the help text that documents them;
- one loop over the inputs (:class:`Inputs`) that keeps going past an unusable one: its
  paragraph goes to stderr, and a `kubechain/error/v1` document takes its place among the JSON
  or YAML documents;
- progress on stderr for big inputs on a terminal (:func:`progress`);
- output that any stdout can take: a stream that cannot encode `—` gets ASCII stand-ins.

Heavy modules (rich, the parsers, the analysis) are imported inside functions: `--help` must stay fast.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import IO, TYPE_CHECKING, Any, Generic, TypeVar

import click

if TYPE_CHECKING:
    from ..model import Ruleset

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

#: exit statuses: analyzed; `--fail-on` triggered; an input was unusable; interrupted (Ctrl-C)
OK, FAIL_ON, UNUSABLE, INTERRUPTED = 0, 1, 2, 130
OUTPUTS = ("text", "wide", "json", "yaml")
#: inputs above this size show a progress bar on a terminal
PROGRESS_BYTES = 10 * 1024 * 1024

EXIT_STATUSES = """\b
Exit status:
  0    analyzed
  1    --fail-on found a diagnostic at or above its severity
  2    an input was unusable (every other input is still reported)
  130  interrupted (Ctrl-C)"""


def epilog(*examples: str) -> str:
    """The end of a command's --help: examples (one command line each), then the exit statuses."""
    lines = "\n".join(f"  {e}" for e in examples)
    return f"\b\nExamples:\n{lines}\n\n{EXIT_STATUSES}"


# --- options --------------------------------------------------------------------------------------


def output_options(choices: Sequence[str] = OUTPUTS) -> Callable[[F], F]:
    """`-o/--output` (alias `--format`), `-q/--quiet` and `--no-color`, as every command takes them."""
    def decorate(f: F) -> F:
        f = click.option("--no-color", "no_color", is_flag=True,
                         help="No colour, even on a terminal (NO_COLOR=1 does the same).")(f)
        f = click.option("-q", "--quiet", is_flag=True,
                         help="Print only the diagnostics; the exit status tells the rest. No progress.")(f)
        f = click.option("-o", "--output", "--format", "output", type=click.Choice(list(choices)), default="text",
                         show_default=True,
                         help="text: fitted to the terminal; wide: every column on one line; json/yaml: the "
                              "versioned documents (README: JSON).")(f)
        return f
    return decorate


#: kubechain.parse.FORMATS, written out so that --help imports no parser (a test holds them equal)
INPUT_FORMATS = ("iptables-list", "iptables-save", "nft", "nft-json")


def input_format_option(f: F) -> F:
    return click.option("--input-format", type=click.Choice(INPUT_FORMATS), default=None,
                        help="Skip auto-detection (iptables-save also covers iptables -S; nft covers nft list "
                             "ruleset, table and chain; nft-json is nft -j list ruleset).")(f)


def lenient_option(f: F) -> F:
    return click.option("--lenient", is_flag=True,
                        help="Repair pasted or edited text (code fences, grep separators, elisions, indentation, "
                             "notes); every repair is reported as an input-repaired warning.")(f)


SEVERITY_CHOICES = ("error", "warning", "info", "never")


def fail_on_option(help_text: str) -> Callable[[F], F]:
    """`--fail-on error|warning|info|never`: exit 1 when a diagnostic at or above it is found."""
    return click.option("--fail-on", type=click.Choice(SEVERITY_CHOICES), default="never", show_default=True,
                        help=help_text)


# --- where output goes ----------------------------------------------------------------------------


class Output:
    """How this invocation prints: the chosen format, quietness, width and colour. (A plain class:
    importing dataclasses and building one costs `kubechain --help` 5 ms.)"""

    def __init__(self, format: str, quiet: bool = False, no_color: bool = False,  # noqa: A002
                 stream: IO[str] | None = None) -> None:
        self.format, self.quiet, self.no_color = format, quiet, no_color
        self.stream: IO[str] = stream if stream is not None else sys.stdout
        self._reported = False
        if self.quiet and self.format in ("json", "yaml"):
            raise click.UsageError("--quiet prints the diagnostics as text; leave out -o json/yaml, or --quiet")
        _forgiving(self.stream)
        _forgiving(sys.stderr)

    @property
    def width(self) -> int:
        """The terminal's width; in a pipe `COLUMNS`, else 80 (so piped text is stable)."""
        if self.stream.isatty():
            return max(shutil.get_terminal_size().columns, 40)
        columns = os.environ.get("COLUMNS", "")
        return max(int(columns), 40) if columns.isdigit() else 80

    @property
    def color(self) -> bool:
        """Only on a terminal, and never with `--no-color`, `NO_COLOR` (any value) or TERM=dumb."""
        return (self.stream.isatty() and not self.no_color and "NO_COLOR" not in os.environ
                and os.environ.get("TERM") != "dumb")

    def text(self, text: str) -> None:
        """Write text as it is, or with ASCII stand-ins where the stream cannot encode it."""
        write(text, self.stream)

    def report(self, text: str) -> None:
        """One input's text report; a blank line separates it from the one before."""
        if text:
            self.text(text if not self._reported else "\n" + text)
            self._reported = True

    def documents(self, docs: Sequence[dict[str, Any]]) -> None:
        """One document for one input, an array (a YAML sequence) of them for several."""
        from ..report.documents import write_value
        from ..report.yaml import dumps as yaml_dumps

        value: Any = docs[0] if len(docs) == 1 else list(docs)
        if self.format == "yaml":
            self.text(yaml_dumps(value))
        else:  # pure ASCII (every other character escaped), so any stream takes it as it is
            write_value(value, self.stream)


def write(text: str, stream: IO[str] | None = None) -> None:
    stream = stream or sys.stdout
    if not _encodes(stream, "—"):
        text = ascii_text(text)
    stream.write(text)
    stream.flush()


def error(message: str) -> None:
    """One paragraph on stderr, prefixed `kubechain: ` (control characters already escaped)."""
    write(f"kubechain: {message}\n", sys.stderr)


#: typographic characters the reports use, and what an ASCII-only stream gets instead
_ASCII = str.maketrans({"—": "-", "–": "-", "−": "-", "·": "*", "…": "...", "≥": ">=", "≤": "<=", "×": "x",
                        "→": "->", "±": "+/-", "²": "^2", "√": "sqrt ", "≈": "~", "’": "'", "“": '"', "”": '"'})


def ascii_text(text: str) -> str:
    """The report with ASCII stand-ins for its typography; anything else becomes `\\uXXXX`."""
    return text.translate(_ASCII).encode("ascii", "backslashreplace").decode("ascii")


def _encodes(stream: IO[str], sample: str) -> bool:
    try:
        sample.encode(getattr(stream, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _forgiving(stream: IO[str]) -> None:
    """A stream that meets a character it cannot encode escapes it instead of raising."""
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        with suppress(ValueError, OSError):
            reconfigure(errors="backslashreplace")


# --- the inputs -----------------------------------------------------------------------------------


class Result(Generic[T]):
    """One input's outcome: what the command made of it, or the error document that replaces it."""

    def __init__(self, path: str, value: T | None = None, error: dict[str, Any] | None = None) -> None:
        self.path, self.value, self.error = path, value, error


class Inputs:
    """Runs a command's work on each input in turn, keeping going past unusable ones.

    An unusable input (unreadable, or a ParseError) prints one paragraph on stderr, raises the
    exit status to :data:`UNUSABLE`, and leaves a `kubechain/error/v1` document in its place.
    """

    def __init__(self, verb: str) -> None:
        self.verb = verb
        self.status = OK

    def each(self, paths: Sequence[str], work: Callable[[str], T]) -> Iterator[Result[T]]:
        from ..errors import ParseError, SelectionError, printable
        from ..report.documents import error_document

        for path in paths:
            try:
                yield Result(path, value=work(path))
            except ParseError as err:
                error(f"cannot {self.verb} {err.describe()}")
                self.status = max(self.status, UNUSABLE)
                yield Result(path, error=error_document(path, err))
            except SelectionError as err:
                error(printable(str(err)))
                self.status = max(self.status, UNUSABLE)
                yield Result(path, error=error_document(path, err))
            except OSError as err:
                reason = err.strerror or str(err)
                error(printable(f"cannot read {path}: {reason}"))
                self.status = max(self.status, UNUSABLE)
                yield Result(path, error=error_document(path, err))

    def fail(self, status: int) -> None:
        self.status = max(self.status, status)


def load_or_exit(path: str, input_format: str | None, verb: str) -> Ruleset:
    """The parsed dump, or one paragraph on stderr and exit status 2 (for a command that needs
    every one of its dumps; commands that take several inputs use :class:`Inputs`)."""
    from ..errors import ParseError, printable
    from ..parse import load

    try:
        return load(path, input_format=input_format)
    except ParseError as err:
        error(f"cannot {verb} {err.describe()}")
    except OSError as err:
        error(printable(f"cannot read {path}: {err.strerror or err}"))
    sys.exit(UNUSABLE)


def finish(status: int) -> None:
    """Exit with `status` (the worst of the inputs)."""
    if status != OK:
        sys.exit(status)


# --- progress -------------------------------------------------------------------------------------


class Progress:
    """A progress bar on stderr (bytes read, lines parsed, then service ports analyzed), or nothing.

    The library reports through a callback `(phase, done, total)`; this draws it with rich."""

    def __init__(self, enabled: bool, label: str) -> None:
        self.enabled, self.label = enabled, label
        self._bar: Any = None
        self._task: Any = None
        self._phase: str | None = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=Console(file=sys.stderr), transient=True)
            self._bar.start()
        if phase != self._phase:
            if self._task is not None:
                self._bar.remove_task(self._task)
            self._phase = phase
            self._task = self._bar.add_task(f"{self.label}: {phase}", total=total)
        self._bar.update(self._task, completed=done, total=total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


@contextmanager
def progress(path: str, out: Output) -> Iterator[Progress]:
    """Progress for one input: only on a terminal (stderr), not with --quiet, and only for a
    file over :data:`PROGRESS_BYTES` (stdin's size is unknown: none)."""
    enabled = not out.quiet and sys.stderr.isatty() and path != "-" and _size(path) > PROGRESS_BYTES
    bar = Progress(enabled, path)
    try:
        yield bar
    finally:
        bar.close()


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


# --- the group ------------------------------------------------------------------------------------


class Group(click.Group):
    """The `kubechain` group: Ctrl-C exits 130 with one line, not click's `Aborted!` and 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            error("interrupted")
            raise click.exceptions.Exit(INTERRUPTED) from None
