"""The pods of a scale event and their exact shares of new connections, before and after it.

The shares are kubechain's own: `--replicas A:B` takes kube-proxy's cascade for A and for B pods
in kernel thresholds (iptables: rule i of n gets `%0.10f` of 1/(n−i), stored as lround(p·2^31);
nftables: `numgen random mod n` buckets), and `--before/--after` dumps take each endpoint's exact
share from `analyze`. Pods are matched across the event by endpoint address.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from ..analysis.cascade import kube_proxy_threshold, shares
from ..analysis.results import Analysis, Service
from ..netfilter import numgen_probability


@dataclass(frozen=True, slots=True)
class Pod:
    """One pod: `connection_probability` is its exact share of new connections under the rules
    after the event (0 for a removed pod), `before_probability` under the rules before it."""

    name: str
    new: bool
    removed: bool
    connection_probability: Fraction
    before_probability: Fraction


@dataclass(frozen=True, slots=True)
class Pods:
    """The pods of one simulation, in report order, and where their shares came from."""

    pods: tuple[Pod, ...]
    source: dict[str, str]
    notes: tuple[str, ...] = ()

    @property
    def fair_share(self) -> Fraction | None:
        """The new pods' combined share of new connections after the event; None without new pods."""
        new = [p.connection_probability for p in self.pods if p.new]
        return sum(new, Fraction(0)) if new else None

    def after_weights(self) -> list[float]:
        """Who a new connection picks after the event, as draw weights (normalised: a chain that
        can fall through is read as the gateway retrying until it reaches a pod)."""
        return _normalised([p.connection_probability for p in self.pods])

    def before_weights(self) -> list[float]:
        return _normalised([p.before_probability for p in self.pods])


def kube_proxy_shares(n: int, proxy_mode: str = "iptables") -> list[Fraction]:
    """Each of n endpoints' exact share of new connections as kube-proxy writes the rules."""
    if n <= 0:
        return []
    if proxy_mode == "nftables":
        return [numgen_probability(k, n) for k in range(n)]
    thresholds: list[int | None] = [kube_proxy_threshold(n - i, 10) for i in range(n - 1)]
    return shares([*thresholds, None])


def from_replicas(before: int, after: int, proxy_mode: str = "iptables") -> Pods:
    """A scale event from `before` to `after` pods named pod-1…; new pods come last, and on a
    scale-down the last pods are the removed ones."""
    if before < 0 or after < 1:
        raise ValueError("replicas A:B needs A ≥ 0 and B ≥ 1")
    was, now = kube_proxy_shares(before, proxy_mode), kube_proxy_shares(after, proxy_mode)
    pods = tuple(Pod(f"pod-{i + 1}", new=i >= before, removed=i >= after,
                     connection_probability=now[i] if i < after else Fraction(0),
                     before_probability=was[i] if i < before else Fraction(0))
                 for i in range(max(before, after)))
    return Pods(pods, {"replicas": f"{before}:{after}", "proxy_mode": proxy_mode})


def find_service(analysis: Analysis, name: str) -> Service:
    """The service port `name` (ns/svc:port, or a chain name) of one analysed dump; the cluster
    chain when a name has several (cluster, local, external)."""
    found = [s for s in analysis.services if name in (s.name, s.chain)]
    if not found:
        known = ", ".join(sorted({s.name or s.chain for s in analysis.services})[:12]) or "none"
        raise ValueError(f"{analysis.path or '<input>'} has no service port {name!r} (it has: {known})")
    cluster = [s for s in found if s.kind == "cluster"]
    return (cluster or found)[0]


def from_dumps(before: Analysis, after: Analysis, service: str) -> Pods:
    """Pods from two dumps of one node, before and after the event: matched by endpoint address;
    a pod only after is new, a pod only before is removed."""
    was, now = _by_address(find_service(before, service)), _by_address(find_service(after, service))
    names = list(now) + [a for a in was if a not in now]
    pods = tuple(Pod(a, new=a not in was, removed=a not in now, connection_probability=now.get(a, Fraction(0)),
                     before_probability=was.get(a, Fraction(0))) for a in names)
    return Pods(pods, {"before": before.path or "<input>", "after": after.path or "<input>", "service": service},
                _fall_through_notes((find_service(before, service), find_service(after, service))))


def from_dump(analysis: Analysis, service: str) -> Pods:
    """One dump, no scale event: its endpoints keep their shares throughout."""
    found = find_service(analysis, service)
    now = _by_address(found)
    pods = tuple(Pod(a, new=False, removed=False, connection_probability=p, before_probability=p)
                 for a, p in now.items())
    return Pods(pods, {"dump": analysis.path or "<input>", "service": service}, _fall_through_notes((found,)))


def _by_address(service: Service) -> dict[str, Fraction]:
    """Endpoint address (or chain, without one) → exact share; two chains to one address add up."""
    out: dict[str, Fraction] = {}
    for e in service.endpoints:
        key = e.address or e.chain
        out[key] = out.get(key, Fraction(0)) + e.share
    if not out or not sum(out.values()):
        raise ValueError(f"{service.name or service.chain} sends no new connection to any endpoint")
    return out


def _fall_through_notes(services: Sequence[Service]) -> tuple[str, ...]:
    """What the rules do that the simulation does not model, said rather than hidden."""
    notes = [f"{s.name or s.chain}: {float(s.unassigned):.4%} of new connections reach no endpoint; the "
             f"simulation takes the gateway to retry them, so each pod's draw is its share divided by "
             f"{float(1 - s.unassigned):.4%}" for s in services if s.unassigned]
    notes += [f"{s.name or s.chain} has ClientIP session affinity ({s.affinity_seconds} s): the simulation draws "
              f"every new connection with the shares for a new client, but a gateway connecting from one address "
              f"is one client, and kube-proxy sends all its connections to the pod its first one reached until "
              f"the affinity expires" for s in services if s.affinity_seconds is not None]
    return tuple(dict.fromkeys(notes))


def _normalised(values: Sequence[Fraction]) -> list[float]:
    total = sum(values, Fraction(0))
    return [float(v / total) if total else 0.0 for v in values]
