"""One node's analysis reduced to what a fleet compares: per service port, where each of its
chains sends a new connection (endpoint address → exact share), whether kube-proxy rejects it for
lack of endpoints, the proxy mode, and what the printout could show at all.

A digest holds no rule text, chain order, counters, format or backend, so two printouts of the same
rules give equal digests whatever printed them; it is built from the `Analysis` types, which every
input format (and proxy mode) produces. It is small and picklable: in a fleet run only digests
travel back from the workers.
"""

from __future__ import annotations

import tarfile
import zlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from ..analysis import DEFAULT_TOLERANCE, analyze
from ..analysis.results import Analysis, Service
from ..errors import ParseError
from ..kube import (
    IPTABLES_MODE,
    NFTABLES_MODE,
    NO_MODE,
    SERVICES_CHAIN,
    chain_hash,
    destination_of,
    dport_of,
    is_iptables_mode,
    no_endpoints_rules,
    protocol_of,
)
from ..kube_nft import chain_name as nft_chain_name
from ..kube_nft import is_kube_proxy_table
from ..kube_nft import no_endpoints as nft_no_endpoints
from ..model import Ruleset, Table, table_family
from ..parse.loader import decode, loads
from .sources import NodeSource, node_name

#: what a printout may show of a family's rules (`NodeDigest.shown`)
SHOWS_SERVICES = "services"  # every service port chain: the whole nat table, or nft's kube-proxy table
SHOWS_NO_ENDPOINTS = "no-endpoints"  # every no-endpoints rejection: the whole filter table, or kube-proxy's
#: the chain kinds of a service port, as `Service.kind` names them
KINDS = ("cluster", "local", "external")


#: how a Distribution names an endpoint whose chain a one-chain printout does not show (no address)
UNSHOWN = "?"


@dataclass(frozen=True, slots=True)
class Distribution:
    """Where one chain sends a new connection: each endpoint with its exact share, sorted by
    address (shares of one address summed: two chains DNATing to it are one destination), and the
    share that leaves without reaching any endpoint. An endpoint chain without an address (no DNAT,
    no `->` comment) is named `(CHAIN: no address)`; one that a one-chain printout does not show,
    so that its address is unknown rather than absent, `?CHAIN`."""

    endpoints: tuple[tuple[str, Fraction], ...]
    unassigned: Fraction

    @property
    def addresses(self) -> frozenset[str]:
        """The endpoints' addresses, the unknown ones (`?CHAIN`) left out."""
        return frozenset(address for address, _ in self.endpoints if not address.startswith(UNSHOWN))

    @property
    def complete(self) -> bool:
        """Every endpoint's address is known."""
        return not any(address.startswith(UNSHOWN) for address, _ in self.endpoints)

    @property
    def profile(self) -> tuple[tuple[Fraction, ...], Fraction]:
        """The shares without the addresses (sorted), and the unassigned share: what two nodes'
        kube-proxies agree on when each node's chain holds its own local endpoints."""
        return tuple(sorted(share for _, share in self.endpoints)), self.unassigned

    def agrees_with(self, other: Distribution) -> bool:
        """Could be `other`, with some addresses unknown: the same shares where both know the
        address, and the unknown ones' shares are the rest of `other`'s."""
        if len(self.endpoints) != len(other.endpoints) or self.unassigned != other.unassigned:
            return False
        theirs = dict(other.endpoints)
        rest = dict(theirs)
        for address, share in self.endpoints:
            if not address.startswith(UNSHOWN):
                if theirs.get(address) != share:
                    return False
                del rest[address]
        unknown = sorted(share for address, share in self.endpoints if address.startswith(UNSHOWN))
        return unknown == sorted(rest.values())

    @classmethod
    def of(cls, service: Service, shared: dict[Fraction, Fraction] | None = None) -> Distribution:
        """`service`'s distribution; `shared` hands out one object per distinct share, so that a
        pickled digest writes each of a node's few distinct shares once."""
        shares: dict[str, Fraction] = defaultdict(Fraction)
        chains = service.kube.table.chains
        for e in service.endpoints:
            if e.address is not None:
                label = e.address
            elif e.chain not in chains:
                label = f"{UNSHOWN}{e.chain}"
            else:
                label = f"({e.chain}: no address)"
            shares[label] += e.share
        if shared is None:
            return cls(tuple(sorted(shares.items())), service.unassigned)
        return cls(tuple((a, shared.setdefault(f, f)) for a, f in sorted(shares.items())),
                   shared.setdefault(service.unassigned, service.unassigned))


@dataclass(frozen=True, slots=True)
class ServicePortDigest:
    """One service port on one node. `name` is `ns/svc:port` from kube-proxy's comments (None
    where they were dropped); `cluster_ip`, `port`, `protocol` its cluster IP entry; `group` ties its
    chains together on this node (their common hash); `cluster`, `local`, `external` what its
    KUBE-SVC, KUBE-SVL and KUBE-EXT (or KUBE-XLB) chains do, None without such a chain;
    `no_endpoints` is True when the filter table rejects it for having no endpoints."""

    family: str
    name: str | None
    cluster_ip: str | None
    port: int | None
    protocol: str | None
    group: str | None = None
    cluster: Distribution | None = None
    local: Distribution | None = None
    external: Distribution | None = None
    no_endpoints: bool = False
    affinity_seconds: int | None = None

    def chain(self, kind: str) -> Distribution | None:
        """The distribution of chain kind `kind` ("cluster", "local" or "external")."""
        found: Distribution | None = getattr(self, kind)
        return found

    @property
    def label(self) -> str:
        """How reports name it: `ns/svc:port`, else `10.96.0.1:443/tcp`, else its chain group."""
        if self.name:
            return self.name
        if self.cluster_ip is not None:
            return f"{address_text(self.cluster_ip, self.port)}/{self.protocol or '?'}"
        return f"(chains {self.group})"


@dataclass(frozen=True, slots=True)
class DiagnosticCount:
    """How often the node's own analysis reported diagnostic `code`, at its most severe `severity`,
    with the first message as an example."""

    code: str
    severity: str
    count: int
    example: str


@dataclass(frozen=True, slots=True)
class NodeDigest:
    """What a fleet knows of one node. `node` is its name (the file's stem), `path` where its dump
    came from (`ARCHIVE:MEMBER` inside an archive); `format`, `family` as the analysis says;
    `mode` the proxy mode ("iptables", "none" for a whole printout without kube-proxy rules, None
    when a partial printout cannot tell); `shown` the (family, SHOWS_…) pairs the printout shows
    whole, so that a service port absent from it is absent from the node; `services` sorted by
    label; `diagnostics` per code; `error` the one-paragraph reason when the dump could not be
    analyzed (then nothing else is known)."""

    node: str
    path: str
    format: str | None = None
    family: str | None = None
    mode: str | None = None
    tables: tuple[str, ...] = ()
    shown: frozenset[tuple[str, str]] = frozenset()
    services: tuple[ServicePortDigest, ...] = ()
    diagnostics: tuple[DiagnosticCount, ...] = ()
    error: str | None = None

    def shows(self, family: str, what: str) -> bool:
        return (family, what) in self.shown


def address_text(address: str, port: int | None) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"{host}:{port}" if port is not None else host


def digest(ruleset: Ruleset, analysis: Analysis, node: str, path: str) -> NodeDigest:
    """Reduce one node's parsed rules and their analysis to its digest."""
    ports: dict[tuple[str, str], list[Service]] = defaultdict(list)
    for service in analysis.services:
        ports[service.family, _group(service.chain)].append(service)
    entries: dict[tuple[str, ...], ServicePortDigest] = {}
    shared: dict[Fraction, Fraction] = {}
    for (family, group), chains in ports.items():
        if not ruleset.partial and not any(s.frontends for s in chains):
            continue  # nothing sends traffic here (the node's orphan-chain diagnostic says so)
        entry = _entry(family, group, chains, shared)
        _keep(entries, entry)
    for table in ruleset.tables:
        family = table_family(table) or ruleset.family
        if is_kube_proxy_table(table):
            for entry in _nft_rejected(table, family):
                _keep(entries, entry)
        elif table.name == "filter":
            for entry in _rejected(table, family):
                _keep(entries, entry)
    return NodeDigest(node, path, analysis.format, analysis.family, _mode(ruleset),
                      tuple(t.name for t in ruleset.tables), _shown(ruleset),
                      tuple(sorted(entries.values(), key=_order)), _counts(analysis), None)


def _group(chain: str) -> str:
    """What the chains of one service port share on a node: kube-proxy's hash in iptables mode
    (KUBE-SVC-H, KUBE-SVL-H, KUBE-EXT-H), `ns/svc/proto/port` in nftables mode."""
    hashed = chain_hash(chain)
    if hashed is not None:
        return hashed
    parsed = nft_chain_name(chain)
    return parsed.base if parsed is not None else chain


def _entry(family: str, group: str, chains: list[Service], shared: dict[Fraction, Fraction]) -> ServicePortDigest:
    by_kind = {s.kind: Distribution.of(s, shared) for s in chains}
    first = chains[0]
    name = next((s.name for s in chains if s.name), None)
    affinity = next((s.affinity_seconds for s in chains if s.affinity_seconds is not None), None)
    return ServicePortDigest(family, name, first.cluster_ip, first.port, first.protocol, group,
                             by_kind.get("cluster"), by_kind.get("local"), by_kind.get("external"), False, affinity)


def _rejected(table: Table, family: str) -> Iterable[ServicePortDigest]:
    """The service ports the filter table rejects for having no endpoints at all (a missing
    *local* endpoint is per node and expected)."""
    for found in no_endpoints_rules(table, uncommented=True):
        rule = found.rule
        destination = destination_of(rule)
        if found.local or destination is None or destination.negated:
            continue
        port = dport_of(rule)
        yield ServicePortDigest(family, found.name, destination.value,
                                int(port) if port is not None and port.isdigit() else None, protocol_of(rule),
                                no_endpoints=True)


def _nft_rejected(table: Table, family: str) -> Iterable[ServicePortDigest]:
    """The same from kube-proxy's nftables `no-endpoint-services` map (cluster IP elements)."""
    for found in nft_no_endpoints(table):
        host, _, port = found.destination.rpartition(":")
        if found.local or found.name is None or host == "any local address":
            continue
        yield ServicePortDigest(family, found.name, host.strip("[]"), int(port) if port.isdigit() else None, None,
                                no_endpoints=True)


def _keep(entries: dict[tuple[str, ...], ServicePortDigest], entry: ServicePortDigest) -> None:
    """One entry per service port: a no-endpoints rejection joins the port's chains (a node with
    both is half-synced, and shows as both); two chain groups of one label (no names, one cluster
    IP) both stay, each under its own group."""
    key: tuple[str, ...] = (entry.family, entry.label)
    old = entries.get(key)
    if old is None:
        entries[key] = entry
    elif entry.no_endpoints:
        entries[key] = _with_rejection(old)
    elif old.group is None:  # a rejection came first
        entries[key] = _with_rejection(entry)
    else:
        entries[(*key, entry.group or "")] = entry


def _with_rejection(entry: ServicePortDigest) -> ServicePortDigest:
    return ServicePortDigest(entry.family, entry.name, entry.cluster_ip, entry.port, entry.protocol, entry.group,
                             entry.cluster, entry.local, entry.external, True, entry.affinity_seconds)


def _order(entry: ServicePortDigest) -> tuple[str, str]:
    return entry.family, entry.label


def _mode(ruleset: Ruleset) -> str | None:
    if any(is_kube_proxy_table(t) for t in ruleset.tables):
        return NFTABLES_MODE
    if any(is_iptables_mode(t) for t in ruleset.tables):
        return IPTABLES_MODE
    return None if ruleset.partial else NO_MODE


def _shown(ruleset: Ruleset) -> frozenset[tuple[str, str]]:
    """A table printed whole, with kube-proxy's KUBE-SERVICES in it, shows every service port of
    its kind; a one-chain printout shows none whole, and a missing table says nothing."""
    if ruleset.partial:
        return frozenset()
    shown = set()
    for table in ruleset.tables:
        family = table_family(table) or ruleset.family
        if is_kube_proxy_table(table):  # nftables mode: one table holds both
            shown |= {(family, SHOWS_SERVICES), (family, SHOWS_NO_ENDPOINTS)}
            continue
        if SERVICES_CHAIN not in table.chains:
            continue
        if table.name == "nat":
            shown.add((family, SHOWS_SERVICES))
        elif table.name == "filter":
            shown.add((family, SHOWS_NO_ENDPOINTS))
    return frozenset(shown)


def _counts(analysis: Analysis) -> tuple[DiagnosticCount, ...]:
    counts: dict[str, DiagnosticCount] = {}
    for d in analysis.diagnostics:  # most severe first
        old = counts.get(d.code)
        counts[d.code] = (DiagnosticCount(d.code, d.severity, 1, d.message) if old is None
                          else DiagnosticCount(d.code, old.severity, old.count + 1, old.example))
    return tuple(counts[code] for code in sorted(counts))


@dataclass(frozen=True, slots=True)
class DigestOptions:
    """How each node is analyzed: the `non-uniform` tolerance, and the input format (None: detect)."""

    tolerance: Fraction = DEFAULT_TOLERANCE
    input_format: str | None = None


def digest_source(source: NodeSource, options: DigestOptions = DigestOptions()) -> NodeDigest:
    """Read, parse, analyze and digest one node's dump: the unit of work a fleet sends to a worker.
    A dump that cannot be read or analyzed gives a digest with `error` set, never an exception, so
    one bad node does not stop the fleet."""
    error: str
    try:
        text = decode(source.read(), source.where)
        ruleset = loads(text, path=source.where, input_format=options.input_format)
        del text
        return digest(ruleset, analyze(ruleset, options.tolerance), source.node, source.where)
    except ParseError as err:
        error = err.describe()
    except OSError as err:
        error = f"cannot read {source.where}: {err.strerror or err}"
    except (EOFError, zlib.error, tarfile.TarError) as err:
        error = f"cannot decompress {source.where}: {err}"
    except Exception as err:  # a kubechain bug on one dump must not cost the whole fleet
        error = f"kubechain failed on {source.where} ({type(err).__name__}: {err}); please report this dump"
    return NodeDigest(source.node, source.where, error=error)


def digest_path(path: str, node: str | None = None, options: DigestOptions = DigestOptions()) -> NodeDigest:
    """The digest of one dump file (gzip-compressed or not), named `node` (default: the stem)."""
    return digest_source(NodeSource(node or node_name(path), path), options)
