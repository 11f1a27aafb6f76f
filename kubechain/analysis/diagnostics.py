"""Findings about a rule set: the Diagnostic type, its severities, and the registry of codes.

Every code is registered once (kubechain.analysis.checks) with its severity and a one-line
"fires when"; the analysis attaches both to what a check finds, so no check chooses a severity of
its own, and README's code table is checked against the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

SEVERITIES = ("error", "warning", "info")
#: where a check looks: one analysed service port (and its walk), a nat table, a filter table, the whole
#: input, and a service port once its fit is adjusted for the whole run
SCOPES = ("service", "nat", "filter", "input", "fit")

C = TypeVar("C")


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding: a stable `code` (README's table), its `severity` ("error", "warning" or
    "info"), the `chain` it concerns, the input `line`, and a sentence to act on."""

    code: str
    severity: str
    chain: str | None
    line: int | None
    message: str

    @property
    def rank(self) -> int:
        """0 for errors: sort by it to put the most severe first."""
        return SEVERITIES.index(self.severity)


@dataclass(frozen=True, slots=True)
class Finding:
    """What a check reports; the registry adds the code and severity."""

    chain: str | None
    line: int | None
    message: str


@dataclass(frozen=True, slots=True)
class Code(Generic[C]):
    """A registered diagnostic code: its severity, the scope its check reads, what makes it fire,
    and the check itself. `partial_severity` replaces `severity` in a one-chain printout."""

    name: str
    severity: str
    scope: str
    fires_when: str
    check: Callable[[C], Iterable[Finding]]
    partial_severity: str | None = None

    def severity_in(self, partial: bool) -> str:
        return self.partial_severity if partial and self.partial_severity else self.severity


#: every diagnostic code, in README's order
CODES: dict[str, Code[Any]] = {}
_BY_SCOPE: dict[str, list[Code[Any]]] = {scope: [] for scope in SCOPES}


def register(name: str, severity: str, scope: str, fires_when: str,
             partial_severity: str | None = None) -> Callable[[Callable[[C], Iterable[Finding]]],
                                                              Callable[[C], Iterable[Finding]]]:
    """Decorator: register a check function as the one source of diagnostic code `name`."""
    assert severity in SEVERITIES and scope in SCOPES and name not in CODES

    def add(check: Callable[[C], Iterable[Finding]]) -> Callable[[C], Iterable[Finding]]:
        CODES[name] = Code(name, severity, scope, fires_when, check, partial_severity)
        _BY_SCOPE[scope].append(CODES[name])
        return check
    return add


def run(scope: str, context: Any, partial: bool = False) -> list[Diagnostic]:
    """Every registered check of `scope` on `context`, as Diagnostics."""
    found: list[Diagnostic] = []
    for code in _BY_SCOPE[scope]:
        for f in code.check(context):
            found.append(Diagnostic(code.name, code.severity_in(partial), f.chain, f.line, f.message))
    return found


def at_or_above(diagnostics: Sequence[Diagnostic], severity: str) -> bool:
    """True when any diagnostic is at least as severe as `severity` (for --fail-on)."""
    limit = SEVERITIES.index(severity)
    return any(d.rank <= limit for d in diagnostics)


def ordered(diagnostics: Iterable[Diagnostic]) -> tuple[Diagnostic, ...]:
    """Most severe first, then in input order; deterministic for equal inputs."""
    return tuple(sorted(diagnostics, key=lambda d: (d.rank, d.line or 0, d.code, d.chain or "", d.message)))
