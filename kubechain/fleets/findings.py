"""What a fleet comparison reports: the FleetFinding type and the registry of its own codes (each
node's `analyze` diagnostics are summarised under their own codes beside these)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..analysis.diagnostics import SEVERITIES


@dataclass(frozen=True, slots=True)
class FleetCode:
    """A fleet finding code: its severity and when it fires (README's table is checked against
    this registry)."""

    name: str
    severity: str
    fires_when: str


#: every fleet comparison code, in README's order
FLEET_CODES: dict[str, FleetCode] = {c.name: c for c in (
    FleetCode("unreadable-node", "error",
              "a node's dump cannot be read or analyzed; the error is kept and the other nodes are still compared"),
    FleetCode("stale-endpoints", "warning",
              "a node sends a service port's new connections to another endpoint set than the majority (or "
              "rejects them for want of endpoints, or the other way round), or one of its local-endpoint chains "
              "(externalTrafficPolicy: Local) sends to an endpoint that is not among the service's"),
    FleetCode("missing-service", "warning",
              "a node whose printout shows all its service ports has no rules for one the majority has"),
    FleetCode("extra-service", "warning", "a node has rules for a service port the majority has not"),
    FleetCode("mode-mismatch", "warning",
              "a node runs kube-proxy in another proxy mode than the majority, or its whole dump holds no "
              "kube-proxy rules"),
    FleetCode("probability-mismatch", "info",
              "a node gives the same endpoints other exact shares than the majority (kube-proxy before v1.17 "
              "wrote 5 decimals), or a local-endpoint chain other shares than the nodes with as many local "
              "endpoints"),
)}


@dataclass(frozen=True, slots=True)
class FleetFinding:
    """One finding: a stable `code` (a fleet code, or an `analyze` code summarising the nodes'
    own diagnostics), its `severity`, the `service` port it concerns (None for a node-wide
    finding), the `nodes` it concerns, and one sentence."""

    code: str
    severity: str
    service: str | None
    nodes: tuple[str, ...]
    message: str

    @property
    def rank(self) -> int:
        return SEVERITIES.index(self.severity)


def finding(code: str, service: str | None, nodes: Iterable[str], message: str) -> FleetFinding:
    """A finding of a registered fleet code (its severity from the registry)."""
    return FleetFinding(code, FLEET_CODES[code].severity, service, tuple(nodes), message)


def at_or_above(findings: Iterable[FleetFinding], severity: str) -> bool:
    """True when any finding is at least as severe as `severity` (for --fail-on)."""
    limit = SEVERITIES.index(severity)
    return any(f.rank <= limit for f in findings)


def ordered(findings: Iterable[FleetFinding]) -> tuple[FleetFinding, ...]:
    """Most severe first, then by code, service and nodes; exact duplicates once."""
    unique = dict.fromkeys(findings)
    return tuple(sorted(unique, key=lambda f: (f.rank, f.code, f.service or "", f.nodes, f.message)))
