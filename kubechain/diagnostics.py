"""Findings about a rule set, each with a stable code (documented in README.md)."""

from __future__ import annotations

from dataclasses import dataclass

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    severity: str  # "error", "warning" or "info"
    chain: str | None
    line: int | None
    message: str

    @property
    def rank(self) -> int:
        """0 for errors: sort by it to put the most severe first."""
        return SEVERITIES.index(self.severity)


def at_or_above(diagnostics: list[Diagnostic] | tuple[Diagnostic, ...], severity: str) -> bool:
    """True when any diagnostic is at least as severe as `severity` (for --fail-on)."""
    limit = SEVERITIES.index(severity)
    return any(d.rank <= limit for d in diagnostics)


def ordered(diagnostics: list[Diagnostic]) -> tuple[Diagnostic, ...]:
    """Most severe first, then in input order; deterministic for equal inputs."""
    return tuple(sorted(diagnostics, key=lambda d: (d.rank, d.line or 0, d.code, d.chain or "", d.message)))
