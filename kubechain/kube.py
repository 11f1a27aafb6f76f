"""Everything kube-proxy names and writes, and the Kubernetes view of a nat table built from it:
which chains are service ports, and how traffic reaches them (cluster IP, external IP,
load-balancer IP, NodePort).

kube-proxy names the chains of one service port with one hash (KUBE-SVC-H, KUBE-SVL-H, KUBE-EXT-H,
KUBE-FW-H), so they are grouped by it. Comments are used for names only when present: large
clusters drop them, and nothing else here depends on them. Source: kubernetes/kubernetes
`pkg/proxy/iptables/proxier.go` (see shared/FACTS.md).
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field

from .model import (
    Address,
    Chain,
    Comment,
    Jump,
    Negatable,
    Ports,
    Protocol,
    Recent,
    Reject,
    Rule,
    SetLookup,
    Table,
    Verdict,
)

# --- chain names ---------------------------------------------------------------------------------------

#: the chains that select endpoints for one service port, and the kind each stands for
SERVICE_CHAIN_KINDS = {"KUBE-SVC-": "cluster", "KUBE-SVL-": "local", "KUBE-EXT-": "external",
                       "KUBE-XLB-": "external"}  # KUBE-XLB- before v1.24
SERVICE_CHAIN_PREFIXES = tuple(SERVICE_CHAIN_KINDS)
FIREWALL_PREFIX = "KUBE-FW-"
#: the chains of one endpoint, each ending in its DNAT, in iptables and nftables mode (str.startswith)
ENDPOINT_PREFIX = ("KUBE-SEP-", "endpoint-")
#: chains that carry a service port's hash
HASHED_PREFIXES = (*SERVICE_CHAIN_PREFIXES, FIREWALL_PREFIX)
#: chains kube-proxy creates per service or endpoint; one that nothing jumps to is stale
PER_SERVICE_PREFIXES = (*HASHED_PREFIXES, ENDPOINT_PREFIX[0])

SERVICES_CHAIN = "KUBE-SERVICES"
#: the filter chain of the DROPs of externalTrafficPolicy: Local services without local endpoints
EXTERNAL_SERVICES_CHAIN = "KUBE-EXTERNAL-SERVICES"
NODEPORTS_CHAIN = "KUBE-NODEPORTS"
MARK_MASQ_CHAIN = "KUBE-MARK-MASQ"
MARK_DROP_CHAIN = "KUBE-MARK-DROP"
POSTROUTING_CHAIN = "KUBE-POSTROUTING"
#: the chains whose rules are a service port's frontends, and the frontend kind they imply
FRONTEND_CHAINS = ((SERVICES_CHAIN, None), (NODEPORTS_CHAIN, "nodeport"))
#: chain names that exist only in a nat table
NAT_ONLY_CHAINS = (*PER_SERVICE_PREFIXES, MARK_MASQ_CHAIN, POSTROUTING_CHAIN)
#: the mark KUBE-MARK-MASQ sets and KUBE-POSTROUTING masquerades on
MASQ_MARK = 0x4000
#: the mark KUBE-MARK-DROP sets and KUBE-FIREWALL (filter table) drops
MARK_DROP = 0x8000

# --- nftables mode (pkg/proxy/nftables/proxier.go; the kube view is kubechain.kube_nft) ---------------------

#: kube-proxy's one table, in family ip or ip6
NFT_TABLE = "kube-proxy"
#: the chains of one service port, and the kind each stands for (prefix, hash, `ns/svc/proto/port`)
NFT_SERVICE_CHAIN_KINDS = {"service-": "cluster", "local-": "local", "external-": "external"}
NFT_FIREWALL_PREFIX = "firewall-"
NFT_ENDPOINT_PREFIX = ENDPOINT_PREFIX[1]
NFT_AFFINITY_PREFIX = "affinity-"
#: chains kube-proxy creates per service port or endpoint; one that nothing reaches is stale
NFT_PER_SERVICE_PREFIXES = (*NFT_SERVICE_CHAIN_KINDS, NFT_FIREWALL_PREFIX, NFT_ENDPOINT_PREFIX)
NFT_SERVICE_IPS = "service-ips"
#: the node addresses that accept NodePort traffic: the addresses an nft dump proves local
NFT_NODEPORT_IPS = "nodeport-ips"
NFT_SERVICE_NODEPORTS = "service-nodeports"
NFT_FIREWALL_IPS = "firewall-ips"
NFT_NO_ENDPOINT_SERVICES = "no-endpoint-services"
NFT_NO_ENDPOINT_NODEPORTS = "no-endpoint-nodeports"
NFT_REJECT_CHAIN = "reject-chain"
NFT_MARK_MASQ_CHAIN = "mark-for-masquerade"

# --- what kube-proxy writes ---------------------------------------------------------------------------------

#: kube-proxy's `--probability` formats, newest first: `%0.10f` (since v1.17), `%f` (2015), `%0.5f`
KUBE_PROXY_DECIMALS = (10, 6, 5)


def kube_proxy_written(remaining: int, decimals: int) -> str:
    """The `--probability` kube-proxy writes with `remaining` endpoints left: `%0.<d>f` of 1/k."""
    return f"{1.0 / remaining:.{decimals}f}"


def affinity_check(rule: Rule) -> Recent | SetLookup | None:
    """The `recent --rcheck` (or `--update`) match of a ClientIP-affinity rule, or in nftables mode
    its `ip saddr @affinity-…` lookup, which a new client fails (and a returning one passes): the
    one test of "is this an affinity rule"."""
    for m in rule.matches:
        if type(m) is Recent and m.checks:
            return m
        if type(m) is SetLookup and m.source and not m.negated:
            return m
    return None


# --- comments --------------------------------------------------------------------------------------------

_COMMENT_ADDRESS = re.compile(r" -> (\S+)$")
FRONTEND_KINDS = ("cluster IP", "external IP", "loadbalancer IP")
_NAME_IN_COMMENT = re.compile(
    r"^(?:(?:masquerade |masquerade LOCAL |route LOCAL |pod )?traffic for (?P<a>\S+) external destinations"
    r"|(?P<b>\S+?)(?: -> \S+| cluster IP| external IP| loadbalancer IP)?)$")
#: the filter-table comments of a service without (local) endpoints
NO_ENDPOINTS_COMMENT = re.compile(r"^(?P<name>\S+) has no (?P<local>local )?endpoints$")

#: the proxy modes (nftables mode writes nft's own table, kube_nft reads it)
IPTABLES_MODE, NFTABLES_MODE = "iptables", "nftables"
#: a whole printout that holds no kube-proxy rules in any mode kubechain reads
NO_MODE = "none"


def comment_of(rule: Rule) -> str | None:
    for m in rule.matches:
        if type(m) is Comment:
            return m.text
    return None


def commented_address(rule: Rule) -> str | None:
    """The endpoint a kube-proxy comment names: `ns/svc:port -> 10.1.2.3:8080` → `10.1.2.3:8080`."""
    m = _COMMENT_ADDRESS.search(comment_of(rule) or "")
    return m[1] if m else None


def service_name(comment: str | None) -> str | None:
    """`ns/svc:port cluster IP`, `ns/svc:port -> 10.0.0.1:80`, … → `ns/svc:port`."""
    if not comment:
        return None
    m = _NAME_IN_COMMENT.match(comment)
    name = m and (m["a"] or m["b"])
    return name if name and "/" in name and " " not in name else None


# --- ports -------------------------------------------------------------------------------------------------

#: the few service names kube-proxy ports commonly get, for `-L` without -n (`dpt:http-alt`)
_SERVICE_PORTS = {"http": 80, "https": 443, "http-alt": 8080, "domain": 53, "webcache": 8080,
                  "pcsync-https": 8443, "ssh": 22, "ldap": 389, "mysql": 3306, "postgresql": 5432,
                  "redis": 6379, "amqp": 5672, "sun-sr-https": 6443}


def port_number(text: str | None, protocol: str | None = None) -> int | None:
    """`8080` → 8080; a service name as `-L` without -n prints it → its number, if known."""
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    if text in _SERVICE_PORTS:
        return _SERVICE_PORTS[text]
    try:
        return socket.getservbyname(text, protocol or "tcp")
    except OSError:
        return None


def destination_of(rule: Rule) -> Negatable[str] | None:
    """`-d X`, or `ip daddr X` where nft prints an iptables-nft rule."""
    if rule.destination is not None:
        return rule.destination
    return next((m.value for m in rule.matches if type(m) is Address and m.field == "daddr"), None)


def protocol_of(rule: Rule) -> str | None:
    """`-p tcp`, or `meta l4proto tcp` where nft prints an iptables-nft rule."""
    if rule.protocol is not None:
        return str(rule.protocol)
    return next((str(m.value) for m in rule.matches if type(m) is Protocol), None)


def dport_of(rule: Rule) -> str | None:
    for m in rule.matches:
        if type(m) is Ports and m.dport is not None:
            return m.dport.value
    return None


# --- the kube view ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frontend:
    """One way traffic enters a service port: a KUBE-SERVICES or KUBE-NODEPORTS rule."""

    kind: str  # "cluster IP", "external IP", "loadbalancer IP", "nodeport"
    address: str | None
    port: int | None
    protocol: str | None
    chain: str  # the chain it jumps to
    name: str | None  # `ns/svc:port`, from the rule's comment when there is one
    line: int


@dataclass(frozen=True, slots=True)
class ServicePort:
    """A chain that selects endpoints for one service port, with what is known about it, and the
    table it lives in (a dual-stack dump has two tables with the same chain names)."""

    chain: str
    kind: str  # "cluster", "local", "external"
    name: str | None
    cluster_ip: str | None
    port: int | None
    protocol: str | None
    frontends: tuple[Frontend, ...]
    line: int
    table: Table = field(compare=False, repr=False)


def chain_hash(name: str) -> str | None:
    """The service-port hash of a KUBE-SVC/SVL/EXT/XLB/FW chain name, else None."""
    for prefix in HASHED_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix):]
    return None


def service_chain_kind(name: str) -> str | None:
    """"cluster", "local" or "external" for a service port chain's name, else None."""
    return next((kind for prefix, kind in SERVICE_CHAIN_KINDS.items() if name.startswith(prefix)), None)


def frontends(table: Table) -> list[Frontend]:
    """Rules of KUBE-SERVICES and KUBE-NODEPORTS that jump into a service port's chains."""
    found = []
    for chain_name, default_kind in FRONTEND_CHAINS:
        chain = table.chains.get(chain_name)
        for rule in chain.rules if chain else ():
            target = rule.target
            if type(target) is not Jump or chain_hash(target.chain) is None:
                continue
            kind = default_kind or _frontend_kind(rule, target.chain)
            protocol = protocol_of(rule)
            destination = destination_of(rule)
            address = destination.value if destination is not None else None
            found.append(Frontend(kind, address, port_number(dport_of(rule), protocol), protocol, target.chain,
                                  service_name(comment_of(rule)), rule.line))
    return found


def _frontend_kind(rule: Rule, target: str) -> str:
    comment = comment_of(rule) or ""
    for kind in FRONTEND_KINDS:
        if comment.endswith(" " + kind):
            return kind
    if target.startswith(FIREWALL_PREFIX):
        return "loadbalancer IP"
    return "external IP" if service_chain_kind(target) == "external" else "cluster IP"


def service_ports(table: Table) -> list[ServicePort]:
    """Every KUBE-SVC/SVL/EXT chain of the table, ordered as KUBE-SERVICES first reaches them."""
    fronts = frontends(table)
    by_hash: dict[str | None, list[Frontend]] = {}
    names: dict[str | None, str] = {}
    for f in fronts:
        h = chain_hash(f.chain)
        by_hash.setdefault(h, []).append(f)
        if f.name:
            names.setdefault(h, f.name)
    ports = []
    for chain in _ordered_chains(table, fronts):
        h = chain_hash(chain.name)
        kind = service_chain_kind(chain.name)
        assert kind is not None
        group = by_hash.get(h, [])
        name = names.get(h) or _name_from_rules(chain)
        cluster = next((f for f in group if f.kind == "cluster IP"), None)
        if cluster is not None:
            ip, port, protocol = cluster.address, cluster.port, cluster.protocol
        else:
            ip, port, protocol = _from_masquerade_rule(table, h)
        ports.append(ServicePort(chain.name, kind, name, ip, port, protocol, tuple(group), chain.line, table))
    return ports


def _ordered_chains(table: Table, fronts: list[Frontend]) -> list[Chain]:
    seen: dict[str, Chain] = {}
    for h in dict.fromkeys(chain_hash(f.chain) for f in fronts):
        for prefix in SERVICE_CHAIN_PREFIXES:
            chain = table.chains.get(f"{prefix}{h}")
            if chain is not None:
                seen.setdefault(chain.name, chain)
    for chain in table.chains.values():
        if chain.name.startswith(SERVICE_CHAIN_PREFIXES):
            seen.setdefault(chain.name, chain)
    return list(seen.values())


def _name_from_rules(chain: Chain) -> str | None:
    for rule in chain.rules:
        name = service_name(comment_of(rule))
        if name:
            return name
    return None


def _from_masquerade_rule(table: Table, h: str | None) -> tuple[str | None, int | None, str | None]:
    """kube-proxy repeats `-d clusterIP --dport P` on the KUBE-MARK-MASQ rule of KUBE-SVC-H."""
    chain = table.chains.get(f"KUBE-SVC-{h}") or table.chains.get(f"KUBE-SVL-{h}")
    for rule in chain.rules if chain else ():
        destination = destination_of(rule)
        if destination is not None and not destination.negated:
            protocol = protocol_of(rule)
            return destination.value, port_number(dport_of(rule), protocol), protocol
    return None, None, None


@dataclass(frozen=True, slots=True)
class NoEndpointsRule:
    """A filter-table rule by which kube-proxy rejects (or, when `local`, drops) new connections
    because the service port `name` has no endpoints (no local endpoints) on this node."""

    name: str | None  # None: a rule of the filter KUBE-SERVICES chain whose comment is not printed
    local: bool
    rule: Rule


def no_endpoints_rules(table: Table, uncommented: bool = False) -> list[NoEndpointsRule]:
    """kube-proxy's `… has no endpoints` REJECT and `… has no local endpoints` DROP rules; with
    `uncommented`, also the REJECTs of the filter table's KUBE-SERVICES chain and the DROPs of its
    KUBE-EXTERNAL-SERVICES chain (kube-proxy writes nothing else there) whose comments the printout
    lacks, as nft prints iptables-nft rules."""
    found = []
    for chain in table.chains.values():
        for rule in chain.rules:
            comment = comment_of(rule)
            m = NO_ENDPOINTS_COMMENT.match(comment or "")
            if m and (type(rule.target) is Reject or (type(rule.target) is Verdict and rule.target.name == "DROP")):
                found.append(NoEndpointsRule(m["name"], bool(m["local"]), rule))
            elif uncommented and comment is None and (
                    chain.name == SERVICES_CHAIN and type(rule.target) is Reject and destination_of(rule) is not None
                    or chain.name == EXTERNAL_SERVICES_CHAIN and type(rule.target) is Verdict
                    and rule.target.name == "DROP"):
                found.append(NoEndpointsRule(None, chain.name == EXTERNAL_SERVICES_CHAIN, rule))
    return found


def is_iptables_mode(table: Table) -> bool:
    """The table holds kube-proxy's iptables-mode rules: its KUBE-SERVICES chain, or a chain of a
    service port or endpoint (a one-chain printout)."""
    return SERVICES_CHAIN in table.chains or any(name.startswith(PER_SERVICE_PREFIXES) for name in table.chains)
