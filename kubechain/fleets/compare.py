"""Digests → a Fleet: each service port's variants (which nodes do the same with a new
connection), and the findings where a node departs from the majority.

Digests are folded in one at a time and dropped (FleetBuilder.add), in any order: what is kept is
one copy of each distinct distribution and, per distribution, the indexes of the nodes that have
it. A service port is named by `ns/svc:port`; where a node's dump lacks kube-proxy's comments it is
matched by cluster IP, port and protocol, and a one-chain printout by its chains' hash, to the name
other nodes give it.

What is compared, per service port:
- its cluster chain (KUBE-SVC): the endpoint set and every exact share, or that the filter table
  rejects it for having no endpoints, or that the node has no rules for it at all. A node whose
  printout shows no nat table (or only one chain of it) says nothing about this; one that shows
  the nat table but not the filter table cannot tell "no rules" from "rejected", and agrees with
  either;
- its local-endpoint chains (KUBE-SVL, and KUBE-EXT/KUBE-XLB for external clients): with
  externalTrafficPolicy: Local each node holds its own endpoints there, so each is checked only
  against the service's cluster-wide endpoint set (a subset) and against the shares of the other
  nodes with as many local endpoints.
"""

from __future__ import annotations

import re
from array import array
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TypeVar, cast

from .digest import (
    KINDS,
    SHOWS_NO_ENDPOINTS,
    SHOWS_SERVICES,
    DiagnosticCount,
    Distribution,
    NodeDigest,
    ServicePortDigest,
    address_text,
)
from .findings import FleetFinding, finding, ordered

#: what a node does with a new connection to a service port, besides a Distribution
NO_ENDPOINTS = "no-endpoints"  # kube-proxy rejects it: the service has no endpoints
MISSING = "missing"  # no rules for it
ENDPOINTS = "endpoints"
_ABSENT = "absent"  # not in its nat table, and its filter table not shown: missing or rejected
MODE_NAMES = {"iptables": "iptables mode", "nftables": "nftables mode", "none": "no kube-proxy rules"}

Key = tuple[str, ...]
Profile = tuple[tuple[Fraction, ...], Fraction]
S = TypeVar("S", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Variant:
    """Nodes that do the same with a new connection: `state` "endpoints" (to `distribution`),
    "no-endpoints" (kube-proxy rejects it) or "missing" (no rules for the service port)."""

    nodes: tuple[str, ...]
    state: str
    distribution: Distribution | None = None


@dataclass(frozen=True, slots=True)
class ServiceComparison:
    """One service port's chain of one kind ("cluster", "local", "external") across the nodes
    that show it, its variants (the majority's first), and whether any finding concerns it."""

    family: str
    name: str | None
    cluster_ip: str | None
    port: int | None
    protocol: str | None
    kind: str
    variants: tuple[Variant, ...]
    consistent: bool

    @property
    def nodes(self) -> int:
        return sum(len(v.nodes) for v in self.variants)

    @property
    def label(self) -> str:
        return _label(self.name, self.cluster_ip, self.port, self.protocol)


@dataclass(frozen=True, slots=True)
class FleetNode:
    """One node as the fleet report lists it: its digest without the service ports, and how many
    service ports it has."""

    node: str
    path: str
    format: str | None
    family: str | None
    mode: str | None
    tables: tuple[str, ...]
    services: int
    diagnostics: tuple[DiagnosticCount, ...]
    error: str | None


@dataclass(frozen=True, slots=True)
class Fleet:
    """What :func:`kubechain.fleet` returns, and what the `kubechain/fleet/v1` JSON holds: the
    nodes (by name), the service ports (by name, family, kind), the findings (most severe first)."""

    nodes: tuple[FleetNode, ...]
    services: tuple[ServiceComparison, ...]
    findings: tuple[FleetFinding, ...]

    @property
    def consistent(self) -> bool:
        """No node departs from the others: every service port agrees, every dump was read and
        every node runs the majority's mode (the nodes' own diagnostics aside)."""
        from .findings import FLEET_CODES

        return not any(f.code in FLEET_CODES for f in self.findings)


@dataclass
class _Port:
    """What the folded digests say about one service port."""

    family: str
    shown_by: tuple[int, ServicePortDigest]  # the entry of the lowest node index: names the port
    chains: dict[str, dict[Distribution, array[int]]] = field(default_factory=lambda: {k: {} for k in KINDS})
    rejected: array[int] = field(default_factory=lambda: array("I"))
    present: array[int] = field(default_factory=lambda: array("I"))

    def merge(self, other: _Port) -> None:
        if other.shown_by[0] < self.shown_by[0]:
            self.shown_by = other.shown_by
        for kind in KINDS:
            for dist, nodes in other.chains[kind].items():
                self.chains[kind].setdefault(dist, array("I")).extend(nodes)
        self.rejected.extend(other.rejected)
        self.present.extend(other.present)


class FleetBuilder:
    """Folds node digests, in any order, into a Fleet. `nodes` are every node's name, known up
    front (a node's index is its place in name order, so the result does not depend on the order
    in which digests arrive)."""

    def __init__(self, nodes: Iterable[str]) -> None:
        self.names = sorted(nodes, key=natural)
        self.index = {name: i for i, name in enumerate(self.names)}
        self.summaries: dict[int, FleetNode] = {}
        self.shown: dict[tuple[str, str], set[int]] = defaultdict(set)
        self.ports: dict[Key, _Port] = {}
        self.address_names: dict[Key, set[Key]] = defaultdict(set)
        self.group_keys: dict[Key, set[Key]] = defaultdict(set)

    def add(self, d: NodeDigest) -> None:
        i = self.index[d.node]
        self.summaries[i] = FleetNode(d.node, d.path, d.format, d.family, d.mode, d.tables,
                                      len({(s.family, s.label) for s in d.services}), d.diagnostics, d.error)
        if d.error is not None:
            return
        for shown in d.shown:
            self.shown[shown].add(i)
        for entry in d.services:
            self._fold(i, entry)

    def _fold(self, i: int, entry: ServicePortDigest) -> None:
        key = _key(entry)
        port = self.ports.get(key)
        if port is None:
            port = self.ports[key] = _Port(entry.family, (i, entry))
        elif i < port.shown_by[0]:
            port.shown_by = (i, entry)
        if entry.name and entry.cluster_ip is not None:
            self.address_names[(entry.family, entry.cluster_ip, str(entry.port), str(entry.protocol))].add(key)
        if entry.group is not None and key[1] != "group":
            self.group_keys[(entry.family, entry.group)].add(key)
        for kind in KINDS:
            dist = entry.chain(kind)
            if dist is not None:
                port.chains[kind].setdefault(dist, array("I")).append(i)
        if entry.no_endpoints:
            port.rejected.append(i)
        port.present.append(i)

    def result(self) -> Fleet:
        missing = [n for i, n in enumerate(self.names) if i not in self.summaries]
        if missing:
            raise ValueError(f"no digest for {', '.join(missing)}")
        ports = self._resolved()
        services: list[ServiceComparison] = []
        found: list[FleetFinding] = []
        for port in sorted(ports.values(), key=lambda p: (p.family, p.shown_by[1].label)):
            services.extend(self._compare(port, found))
        found.extend(self._node_findings())
        services.sort(key=lambda s: (s.label, s.family, KINDS.index(s.kind)))
        nodes = tuple(self.summaries[i] for i in range(len(self.names)))
        return Fleet(nodes, tuple(services), ordered(_unique(found)))

    # -- matching nameless entries to named ones ------------------------------------------------------------

    def _resolved(self) -> dict[Key, _Port]:
        ports = dict(self.ports)
        target: dict[Key, Key] = {}
        for key in ports:
            if key[1] == "addr":
                names = self.address_names.get((key[0], *key[2:]), set())
                if len(names) == 1:
                    target[key] = next(iter(names))
        for key in ports:
            if key[1] == "group":
                keys = {target.get(k, k) for k in self.group_keys.get((key[0], key[2]), set())}
                if len(keys) == 1:
                    target[key] = next(iter(keys))
        for key, into in target.items():
            if into in ports and into != key:
                ports[into].merge(ports.pop(key))
        return ports

    # -- one service port ------------------------------------------------------------------------------------

    def _compare(self, port: _Port, found: list[FleetFinding]) -> list[ServiceComparison]:
        entry = port.shown_by[1]
        label = entry.label
        out = []
        cluster, reference = self._cluster(port, label, found)
        if cluster is not None:
            out.append(cluster)
        for kind in ("local", "external"):
            if port.chains[kind]:
                out.append(self._local(port, kind, label, reference, found))
        return out

    def _cluster(self, port: _Port, label: str,
                 found: list[FleetFinding]) -> tuple[ServiceComparison | None, Distribution | None]:
        chains = port.chains["cluster"]
        if not chains and not port.rejected:
            return None, None  # only local chains on every node (internalTrafficPolicy: Local)
        state = self._cluster_states(port)
        majority, tie = _settle(state)
        groups: dict[object, list[int]] = defaultdict(list)
        for i in sorted(state):
            groups[state[i]].append(i)
        ordered_groups = sorted(groups.items(), key=lambda g: (g[0] != majority, -len(g[1]), g[1][0]))
        variants = tuple(self._variant(s, nodes) for s, nodes in ordered_groups)
        total = len(state)
        base = len(groups.get(majority, ()))
        before = len(found)
        for s, nodes in ordered_groups[1:]:
            if isinstance(s, Distribution) and isinstance(majority, Distribution) and s.addresses == majority.addresses:
                found.extend(self._share_findings(label, s, nodes, groups))
            else:
                found.append(_cluster_finding(label, self._names(nodes), s, majority, base, total, tie))
        comparison = _comparison(port, "cluster", variants, len(found) == before)
        return comparison, majority if isinstance(majority, Distribution) else None

    def _cluster_states(self, port: _Port) -> dict[int, object]:
        """Per node that shows it: the cluster chain's Distribution, NO_ENDPOINTS, MISSING, or
        _ABSENT (not in a nat table shown without its filter table)."""
        state: dict[int, object] = {}
        for dist, nodes in port.chains["cluster"].items():
            for i in nodes:
                state[i] = dist
        for i in port.rejected:
            state.setdefault(i, NO_ENDPOINTS)  # a chain as well: DNAT comes first, the rejection never matches
        for i in self.shown[(port.family, SHOWS_SERVICES)]:
            if i not in state:
                state[i] = MISSING if i in self.shown[(port.family, SHOWS_NO_ENDPOINTS)] else _ABSENT
        return state

    def _share_findings(self, label: str, dist: Distribution, nodes: list[int],
                        groups: Mapping[object, list[int]]) -> Iterator[FleetFinding]:
        """Same endpoints as the majority, other exact shares: compared with the nodes of the same
        proxy mode only, since iptables' cascade and nftables' numgen buckets quantise 1/n
        differently (by up to about 1e-9, relative) when nothing is wrong."""
        by_mode: dict[str | None, list[int]] = defaultdict(list)
        for i in nodes:
            by_mode[self._mode(i)].append(i)
        for mode, members in by_mode.items():
            peers: dict[Distribution, list[int]] = defaultdict(list)
            for other, holders in groups.items():
                if isinstance(other, Distribution) and other.addresses == dist.addresses:
                    for j in holders:
                        if self._mode(j) == mode:
                            peers[other].append(j)
            reference, tie = _majority({j: d for d, holders in peers.items() for j in holders})
            if reference == dist:
                continue  # what every node of its mode does
            names = self._names(members)
            those = f"{len(peers[reference])} of {sum(map(len, peers.values()))} nodes in {mode} mode"
            yield finding("probability-mismatch", label, names,
                          f"{label}: {_who(names)} {_verb(names, 'gives', 'give')} the same {len(dist.endpoints)} "
                          f"endpoints other shares than {those}{' (a tie)' if tie else ''}: "
                          f"{_share_difference(_shares(dist), _shares(reference))}")

    def _mode(self, i: int) -> str | None:
        return self.summaries[i].mode

    def _local(self, port: _Port, kind: str, label: str, reference: Distribution | None,
               found: list[FleetFinding]) -> ServiceComparison:
        chains = port.chains[kind]
        before = len(found)
        by_count: dict[tuple[int, str | None], dict[Profile, list[int]]] = defaultdict(lambda: defaultdict(list))
        for dist, nodes in chains.items():
            if reference is not None and not dist.addresses <= reference.addresses:
                strays = sorted(dist.addresses - reference.addresses)
                found.append(finding("stale-endpoints", label, self._names(sorted(nodes)),
                                     f"{label}: the {_chain_text(kind)} of {_who(self._names(sorted(nodes)))} sends "
                                     f"new connections to {_list(strays)}, not among the service's "
                                     f"{len(reference.endpoints)} endpoints"))
            for i in nodes:  # shares compare within a proxy mode (see _share_findings)
                by_count[len(dist.endpoints), self._mode(i)][dist.profile].append(i)
        for (count, mode), profiles in by_count.items():
            if len(profiles) < 2:
                continue
            winner, tie = _majority({i: p for p, nodes in profiles.items() for i in nodes})
            for profile, holders in profiles.items():
                if profile != winner:
                    names = self._names(sorted(holders))
                    found.append(finding(
                        "probability-mismatch", label, names,
                        f"{label}: the {_chain_text(kind)} of {_who(names)} gives its {count} endpoints other "
                        f"shares than {len(profiles[winner])} other nodes in {mode} mode with {count}"
                        f"{' (a tie)' if tie else ''}: "
                        f"{_share_difference(profile[0], winner[0])}"))
        groups = sorted(chains.items(), key=lambda g: (-len(g[1]), min(g[1])))
        variants = tuple(Variant(self._names(sorted(nodes)), ENDPOINTS, dist) for dist, nodes in groups)
        return _comparison(port, kind, variants, len(found) == before)

    def _variant(self, state: object, nodes: list[int]) -> Variant:
        if isinstance(state, Distribution):
            return Variant(self._names(nodes), ENDPOINTS, state)
        return Variant(self._names(nodes), str(state))

    def _names(self, nodes: Sequence[int]) -> tuple[str, ...]:
        return tuple(self.names[i] for i in nodes)

    # -- whole nodes ----------------------------------------------------------------------------------------

    def _node_findings(self) -> list[FleetFinding]:
        found = []
        readable = {i: s for i, s in self.summaries.items() if s.error is None}
        for _, s in sorted(self.summaries.items()):
            if s.error is not None:
                first = s.error.strip().splitlines()[0] if s.error.strip() else "unknown error"
                found.append(finding("unreadable-node", None, (s.node,),
                                     f"{s.node} could not be analyzed (the other nodes were): {first}"))
        modes = {i: s.mode for i, s in readable.items() if s.mode is not None}
        if len(set(modes.values())) > 1:
            winner, tie = _majority(modes)
            base = sum(1 for m in modes.values() if m == winner)
            for mode in sorted(set(modes.values()) - {winner}, key=str):
                names = self._names([i for i, m in sorted(modes.items()) if m == mode])
                has = "holds" if mode == "none" else "runs"
                found.append(finding("mode-mismatch", None, names,
                                     f"{_who(names)} {has if len(names) == 1 else has[:-1]} "
                                     f"{MODE_NAMES.get(str(mode), str(mode))} where {base} of {len(modes)} nodes "
                                     f"run {MODE_NAMES.get(str(winner), str(winner))}{' (a tie)' if tie else ''}"))
        found.extend(_diagnostic_findings(readable[i] for i in sorted(readable)))
        return found


def natural(name: str) -> tuple[tuple[int, int | str], ...]:
    """node-2 before node-10: digits compare as numbers."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name))


def _key(entry: ServicePortDigest) -> Key:
    if entry.name:
        return entry.family, "name", entry.name
    if entry.cluster_ip is not None:
        return entry.family, "addr", entry.cluster_ip, str(entry.port), str(entry.protocol)
    return entry.family, "group", entry.group or ""


def _comparison(port: _Port, kind: str, variants: tuple[Variant, ...], consistent: bool) -> ServiceComparison:
    e = port.shown_by[1]
    return ServiceComparison(port.family, e.name, e.cluster_ip, e.port, e.protocol, kind, variants, consistent)


def _settle(state: dict[int, object]) -> tuple[object, bool]:
    """The cluster chain's majority, and each node's state settled against it (in place): a
    one-chain printout without comments (addresses unknown) does not vote and takes the
    majority's state where it could be it; a nat table shown without its filter table (_ABSENT)
    agrees with no-endpoints, and is missing otherwise."""
    unshown: dict[int, Distribution] = {}
    for i, known in list(state.items()):
        if isinstance(known, Distribution) and not known.complete:
            unshown[i] = known
            del state[i]
    majority, tie = _majority(state) if state else (next(iter(unshown.values())), False)
    for i, partly in unshown.items():
        state[i] = majority if isinstance(majority, Distribution) and partly.agrees_with(majority) else partly
    for i, st in list(state.items()):
        if st == _ABSENT:
            if majority == NO_ENDPOINTS:
                del state[i]  # no rules in its nat table, filter table not shown: agrees
            else:
                state[i] = MISSING
    return majority, tie


def _majority(state: Mapping[int, S]) -> tuple[S, bool]:
    """The state most nodes agree with, and whether another one ties with it. A node that shows
    the nat table without the filter table (absent) agrees with "missing" and "no-endpoints";
    ties prefer endpoints over no rules, then the state of the first node."""
    counts: Counter[S] = Counter(state.values())
    absent = counts.pop(cast(S, _ABSENT), 0)
    first: dict[S, int] = {}
    for i in sorted(state, reverse=True):
        first[state[i]] = i
    support: dict[S, int] = dict(counts)
    if absent:
        for s in cast("tuple[S, S]", (MISSING, NO_ENDPOINTS)):
            support[s] = counts.get(s, 0) + absent
            first.setdefault(s, min(i for i, v in state.items() if v == _ABSENT))

    def rank(s: S) -> tuple[int, bool, bool, int]:
        return (-support[s], not isinstance(s, Distribution), s != MISSING, first[s])

    best = sorted(support, key=rank)
    tie = len(best) > 1 and support[best[0]] == support[best[1]]
    return best[0], tie


def _cluster_finding(label: str, names: tuple[str, ...], state: object, majority: object, base: int, total: int,
                     tie: bool) -> FleetFinding:
    who = _who(names)
    theirs = f"{base} of {total} nodes{' (a tie)' if tie else ''}"
    if state == MISSING:
        return finding("missing-service", label, names,
                       f"{label}: {who} {_verb(names, 'has', 'have')} no rules for it where {theirs} "
                       f"{_does(majority)}")
    if majority == MISSING:
        return finding("extra-service", label, names,
                       f"{label}: {who} {_does(state, names)} where {theirs} have no rules for it")
    if isinstance(state, Distribution) and isinstance(majority, Distribution) and state.addresses == majority.addresses:
        return finding("probability-mismatch", label, names,
                       f"{label}: {who} {_verb(names, 'gives', 'give')} the same {len(state.endpoints)} endpoints "
                       f"other shares than {theirs}: {_share_difference(_shares(state), _shares(majority))}")
    detail = ""
    if isinstance(state, Distribution) and isinstance(majority, Distribution):
        lacks = sorted(majority.addresses - state.addresses)
        extra = sorted(state.addresses - majority.addresses)
        detail = "; ".join(part for part in (f"lacking {_list(lacks)}" if lacks else "",
                                             f"with {_list(extra)}" if extra else "") if part)
        detail = f" ({detail})" if detail else ""
    return finding("stale-endpoints", label, names,
                   f"{label}: {who} {_does(state, names)}{detail} where {theirs} {_does(majority)}")


def _does(state: object, names: tuple[str, ...] = ("", "")) -> str:
    """What a state does with a new connection, as a verb phrase (plural unless one name)."""
    one = len(names) == 1
    if state == NO_ENDPOINTS:
        return f"{'rejects' if one else 'reject'} new connections for want of endpoints"
    if state == MISSING:
        return f"{'has' if one else 'have'} no rules"
    assert isinstance(state, Distribution)
    n = len(state.endpoints)
    return f"{'sends' if one else 'send'} new connections to {n} endpoint{'s' if n != 1 else ''}"


def _shares(dist: Distribution) -> tuple[Fraction, ...]:
    return tuple(share for _, share in dist.endpoints)


def _share_difference(mine: tuple[Fraction, ...], theirs: tuple[Fraction, ...]) -> str:
    """The largest relative difference between two share vectors of one length, in words."""
    worst = max(range(len(mine)), key=lambda k: abs(mine[k] - theirs[k]) / theirs[k] if theirs[k] else 0)
    a, b = mine[worst], theirs[worst]
    rel = float(abs(a - b) / b) if b else float("inf")
    return f"{float(a) * 100:.10f}% instead of {float(b) * 100:.10f}% at worst (relative {rel:.1e})"


def _label(name: str | None, ip: str | None, port: int | None, protocol: str | None) -> str:
    if name:
        return name
    return f"{address_text(ip, port)}/{protocol or '?'}" if ip is not None else "(unnamed)"


def _chain_text(kind: str) -> str:
    return "local-endpoint chain" if kind == "local" else "external-traffic chain"


def _who(names: tuple[str, ...]) -> str:
    return names[0] if len(names) == 1 else f"{len(names)} nodes ({_list(names)})"


def _verb(names: tuple[str, ...], one: str, many: str) -> str:
    return one if len(names) == 1 else many


def _list(items: Sequence[str], most: int = 5) -> str:
    shown = ", ".join(items[:most])
    return shown if len(items) <= most else f"{shown} and {len(items) - most} more"


def _unique(found: list[FleetFinding]) -> list[FleetFinding]:
    """One finding per code, service and node set (a stale node's cluster and external chains
    differ the same way: the first, the cluster chain's, says it)."""
    seen: dict[tuple[str, str | None, tuple[str, ...]], FleetFinding] = {}
    for f in found:
        seen.setdefault((f.code, f.service, f.nodes), f)
    return list(seen.values())


def _diagnostic_findings(nodes: Iterable[FleetNode]) -> list[FleetFinding]:
    """Each node's own diagnostics, one finding per code: how many, on which nodes, an example."""
    by_code: dict[str, list[tuple[FleetNode, DiagnosticCount]]] = defaultdict(list)
    for node in nodes:
        for d in node.diagnostics:
            by_code[d.code].append((node, d))
    out = []
    for code, hits in sorted(by_code.items()):
        severity = min((d.severity for _, d in hits), key=("error", "warning", "info").index)
        names = tuple(n.node for n, _ in hits)
        total = sum(d.count for _, d in hits)
        example_node, example = next((n, d) for n, d in hits if d.severity == severity)
        out.append(FleetFinding(code, severity, None, names,
                                f"{total} {code} diagnostic{'s' if total != 1 else ''} on {_who(names)}; on "
                                f"{example_node.node}: {example.example}"))
    return out
