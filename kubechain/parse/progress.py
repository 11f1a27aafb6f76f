"""Progress of a parse, for a caller's progress bar: the parsers' callbacks say which line they
reached, and this turns it into `progress("parsing", line, lines)` calls, a few hundred a parse.

The Lark transformers are shared by every parse (parse.grammar), so the callback rides on a
context variable rather than on them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_CURRENT: ContextVar[tuple[Callable[[str, int, int], None], int, list[int]] | None] = ContextVar(
    "kubechain_parse_progress", default=None)


@contextmanager
def reporting(progress: Callable[[str, int, int], None] | None, text: str) -> Iterator[None]:
    """While parsing `text`, send its progress (lines parsed of all) to `progress`, if given."""
    if progress is None:
        yield
        return
    lines = text.count("\n")
    token = _CURRENT.set((progress, lines, [0]))
    try:
        yield
        progress("parsing", lines, lines)
    finally:
        _CURRENT.reset(token)


def reached(line: int) -> None:
    """A parser reached `line`: reported when it moved on by at least 1/200 of the input."""
    current = _CURRENT.get()
    if current is None:
        return
    progress, lines, last = current
    if line - last[0] >= max(lines // 200, 1):
        last[0] = line
        progress("parsing", min(line, lines), lines)
