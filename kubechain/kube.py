"""The Kubernetes view of a nat table: which chains are service ports, and how traffic reaches
them (cluster IP, external IP, load-balancer IP, NodePort).

kube-proxy names the chains of one service port with one hash (KUBE-SVC-H, KUBE-SVL-H,
KUBE-EXT-H, KUBE-FW-H), so they are grouped by it. Comments are used for names only when
present: large clusters drop them, and nothing else here depends on them.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

from .model import Chain, Comment, Jump, Ports, Rule, Table

SERVICE_KINDS = {"KUBE-SVC-": "cluster", "KUBE-SVL-": "local", "KUBE-EXT-": "external",
                 "KUBE-XLB-": "external"}
_ENTRY_CHAINS = ("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-XLB-", "KUBE-FW-")
_COMMENT_ADDRESS = re.compile(r" -> (\S+)$")
_FRONTEND_SUFFIXES = (" cluster IP", " external IP", " loadbalancer IP")
_NAME_IN_COMMENT = re.compile(
    r"^(?:(?:masquerade |masquerade LOCAL |route LOCAL |pod )?traffic for (?P<a>\S+) external destinations"
    r"|(?P<b>\S+?)(?: -> \S+| cluster IP| external IP| loadbalancer IP)?)$")
#: the few service names kube-proxy ports commonly get, for `-L` without -n (`dpt:http-alt`)
_SERVICE_PORTS = {"http": 80, "https": 443, "http-alt": 8080, "domain": 53, "webcache": 8080,
                  "pcsync-https": 8443, "ssh": 22, "ldap": 389, "mysql": 3306, "postgresql": 5432,
                  "redis": 6379, "amqp": 5672, "sun-sr-https": 6443}


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
    """A chain that selects endpoints for one service port, with what is known about it."""

    chain: str
    kind: str  # "cluster", "local", "external"
    name: str | None
    cluster_ip: str | None
    port: int | None
    protocol: str | None
    frontends: tuple[Frontend, ...]
    line: int


def chain_hash(name: str) -> str | None:
    for prefix in _ENTRY_CHAINS:
        if name.startswith(prefix):
            return name[len(prefix):]
    return None


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


def comment_of(rule: Rule) -> str | None:
    for m in rule.matches:
        if type(m) is Comment:
            return m.text
    return None


def commented_address(rule: Rule) -> str | None:
    """The endpoint a kube-proxy comment names: `ns/svc:port -> 10.1.2.3:8080` → `10.1.2.3:8080`."""
    m = _COMMENT_ADDRESS.search(comment_of(rule) or "")
    return m[1] if m else None


def dport_of(rule: Rule) -> str | None:
    for m in rule.matches:
        if type(m) is Ports and m.dport:
            return m.dport
    return None


def service_name(comment: str | None) -> str | None:
    """`ns/svc:port cluster IP`, `ns/svc:port -> 10.0.0.1:80`, … → `ns/svc:port`."""
    if not comment:
        return None
    m = _NAME_IN_COMMENT.match(comment)
    name = m and (m["a"] or m["b"])
    return name if name and "/" in name and " " not in name else None


def frontends(table: Table) -> list[Frontend]:
    """Rules of KUBE-SERVICES and KUBE-NODEPORTS that jump into a service port's chains."""
    found = []
    for chain_name, default_kind in (("KUBE-SERVICES", None), ("KUBE-NODEPORTS", "nodeport")):
        chain = table.chains.get(chain_name)
        for rule in chain.rules if chain else ():
            if not isinstance(rule.target, Jump) or chain_hash(rule.target.chain) is None:
                continue
            kind = default_kind or _frontend_kind(rule)
            found.append(Frontend(kind, rule.destination, port_number(dport_of(rule), rule.protocol),
                                  rule.protocol, rule.target.chain, service_name(comment_of(rule)),
                                  rule.line))
    return found


def _frontend_kind(rule: Rule) -> str:
    comment = comment_of(rule) or ""
    for suffix in _FRONTEND_SUFFIXES:
        if comment.endswith(suffix):
            return suffix.strip()
    target = rule.target.chain  # type: ignore[union-attr]
    if target.startswith("KUBE-FW-"):
        return "loadbalancer IP"
    return "external IP" if target.startswith(("KUBE-EXT-", "KUBE-XLB-")) else "cluster IP"


def service_ports(table: Table) -> list[ServicePort]:
    """Every KUBE-SVC/SVL/EXT chain of the table, ordered as KUBE-SERVICES first reaches them."""
    fronts = frontends(table)
    by_hash: dict[str, list[Frontend]] = {}
    names: dict[str, str] = {}
    for f in fronts:
        h = chain_hash(f.chain)
        by_hash.setdefault(h, []).append(f)
        if f.name:
            names.setdefault(h, f.name)
    ordered = _ordered_chains(table, fronts)
    ports = []
    for chain in ordered:
        h = chain_hash(chain.name)
        kind = next(k for p, k in SERVICE_KINDS.items() if chain.name.startswith(p))
        group = by_hash.get(h, [])
        name = names.get(h) or _name_from_rules(chain)
        cluster = next((f for f in group if f.kind == "cluster IP"), None)
        if cluster is not None:
            ip, port, protocol = cluster.address, cluster.port, cluster.protocol
        else:
            ip, port, protocol = _from_masquerade_rule(table, h)
        ports.append(ServicePort(chain.name, kind, name, ip, port, protocol, tuple(group), chain.line))
    return ports


def _ordered_chains(table: Table, fronts: list[Frontend]) -> list[Chain]:
    seen: dict[str, Chain] = {}
    hashes = [chain_hash(f.chain) for f in fronts]
    for h in dict.fromkeys(hashes):
        for prefix in SERVICE_KINDS:
            chain = table.chains.get(prefix + h)
            if chain is not None:
                seen.setdefault(chain.name, chain)
    for chain in table.chains.values():
        if chain.name.startswith(tuple(SERVICE_KINDS)):
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
        if rule.destination and not rule.destination_negated:
            return rule.destination, port_number(dport_of(rule), rule.protocol), rule.protocol
    return None, None, None
