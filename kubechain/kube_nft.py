"""kube-proxy's nftables mode: the names it writes, and the kube view of its `ip kube-proxy` /
`ip6 kube-proxy` table.

Everything comes from the maps and the chain names, never from comments: a service port's
namespace, name, protocol and port name are in its chain name (`service-HASH-ns/svc/tcp/p80`), its
cluster IP and port in `service-ips`, its NodePort in `service-nodeports`, an endpoint's address in
its chain's `dnat to`, or in its chain name when the chain is not in the printout
(`endpoint-HASH-ns/svc/tcp/p80__10.180.0.4/80`, IPv6 with `.` for `:`). Source:
kubernetes/kubernetes `pkg/proxy/nftables/proxier.go` (servicePortChainNameBase,
servicePortEndpointChainNameBase, hashAndTruncate, setupNFTables).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from .kube import NFT_ENDPOINT_PREFIX as ENDPOINT_PREFIX
from .kube import NFT_FIREWALL_IPS as FIREWALL_IPS
from .kube import NFT_NO_ENDPOINT_NODEPORTS as NO_ENDPOINT_NODEPORTS
from .kube import NFT_NO_ENDPOINT_SERVICES as NO_ENDPOINT_SERVICES
from .kube import NFT_REJECT_CHAIN as REJECT_CHAIN
from .kube import NFT_SERVICE_CHAIN_KINDS as SERVICE_CHAIN_KINDS
from .kube import NFT_SERVICE_IPS as SERVICE_IPS
from .kube import NFT_SERVICE_NODEPORTS as SERVICE_NODEPORTS
from .kube import NFT_TABLE as TABLE
from .kube import Frontend, ServicePort
from .model import Address, Jump, Reject, SetElement, Table, Verdict

# `PREFIX` `HASH8-` `ns/svc/proto/port` [`__IP/port`]; the port name is empty for an unnamed port
_CHAIN_NAME = re.compile(r"^(?P<prefix>[a-z]+-)(?P<hash>[A-Z2-7]{8})-(?P<ns>[^/]+)/(?P<svc>[^/]+)/(?P<proto>[a-z]+)/"
                         r"(?P<port>[^/_]*)(?:__(?P<ip>[0-9A-Fa-f.]+)/(?P<tport>\d+))?$")


@dataclass(frozen=True, slots=True)
class ChainName:
    """A kube-proxy nftables chain (or affinity set) name, taken apart."""

    prefix: str  # "service-", "endpoint-"…
    hash: str
    namespace: str
    service: str
    protocol: str
    port_name: str  # "" for an unnamed port
    endpoint: str | None  # `10.180.0.4:80`, `[fd00:10:244:1::5]:8443`

    @property
    def base(self) -> str:
        """What the chains of one service port share: `ns/svc/proto/port`."""
        return f"{self.namespace}/{self.service}/{self.protocol}/{self.port_name}"

    @property
    def port_text(self) -> str:
        """`ns/svc:port`, or `ns/svc` for an unnamed port (what kube-proxy calls it in comments)."""
        base = f"{self.namespace}/{self.service}"
        return f"{base}:{self.port_name}" if self.port_name else base


def chain_name(name: str) -> ChainName | None:
    """`service-ULMVA6XW-ns1/svc1/tcp/p80` → its parts; None for other names."""
    m = _CHAIN_NAME.match(name)
    if m is None:
        return None
    endpoint = None
    if m["ip"] is not None:
        host = _endpoint_host(m["ip"])
        if host is None:
            return None
        endpoint = f"[{host}]:{m['tport']}" if ":" in host else f"{host}:{m['tport']}"
    return ChainName(m["prefix"], m["hash"], m["ns"], m["svc"], m["proto"], m["port"], endpoint)


def _endpoint_host(text: str) -> str | None:
    """kube-proxy writes an IPv6 endpoint with `.` for every `:` (`fd00.10.244.1..5`)."""
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        pass
    try:
        return str(ipaddress.IPv6Address(text.replace(".", ":")))
    except ValueError:
        return None


def endpoint_address(chain: str) -> str | None:
    """The endpoint an `endpoint-…__IP/port` chain is named after: `10.180.0.4:80`."""
    parsed = chain_name(chain)
    return parsed.endpoint if parsed is not None and parsed.prefix == ENDPOINT_PREFIX else None


def is_kube_proxy_table(table: Table) -> bool:
    """kube-proxy's own nftables table (not iptables-nft's `ip nat`, which the iptables view reads)."""
    return table.family is not None and table.name == TABLE


def service_chain_kind(name: str) -> str | None:
    """"cluster", "local" or "external" for a service port chain's name, else None."""
    return next((kind for prefix, kind in SERVICE_CHAIN_KINDS.items() if name.startswith(prefix)), None)


# --- the kube view ------------------------------------------------------------------------------------------


def service_ports(table: Table) -> list[ServicePort]:
    """Every service-/local-/external- chain of kube-proxy's table, in the table's chain order, with
    its cluster IP and port from `service-ips` and its frontends from `service-ips` and
    `service-nodeports` (from a `daddr` rule of its own chains when the maps are not printed)."""
    by_base: dict[str, list[Frontend]] = {}
    cluster: dict[str, tuple[str | None, int | None, str | None]] = {}
    for frontend in frontends(table):
        parsed = chain_name(frontend.chain)
        if parsed is None:
            continue
        by_base.setdefault(parsed.base, []).append(frontend)
        if frontend.kind == "cluster IP":
            cluster.setdefault(parsed.base, (frontend.address, frontend.port, frontend.protocol))
    ports = []
    for chain in table.chains.values():
        kind = service_chain_kind(chain.name)
        parsed = chain_name(chain.name) if kind else None
        if kind is None or parsed is None:
            continue
        ip, port, protocol = cluster.get(parsed.base) or _from_own_rules(table, parsed)
        ports.append(ServicePort(chain.name, kind, parsed.port_text, ip, port, protocol or parsed.protocol,
                                 tuple(by_base.get(parsed.base, ())), chain.line, table))
    return ports


def frontends(table: Table) -> list[Frontend]:
    """The elements of `service-ips` and `service-nodeports` that send traffic to a service port."""
    found: list[Frontend] = []
    lb = {element.key for element in _elements(table, FIREWALL_IPS)}
    for element in _elements(table, SERVICE_IPS):
        target = element.value
        if type(target) is not Jump or len(element.key) != 3:
            continue
        address, protocol, port = element.key
        if target.chain.startswith("service-"):
            kind = "cluster IP"
        else:
            kind = "loadbalancer IP" if element.key in lb else "external IP"
        found.append(_frontend(kind, address, port, protocol, target.chain, element))
    for element in _elements(table, SERVICE_NODEPORTS):
        target = element.value
        if type(target) is Jump and len(element.key) == 2:
            protocol, port = element.key
            found.append(_frontend("nodeport", None, port, protocol, target.chain, element))
    return found


def _frontend(kind: str, address: str | None, port: str, protocol: str, chain: str, element: SetElement) -> Frontend:
    parsed = chain_name(chain)
    return Frontend(kind, address, int(port) if port.isdigit() else None, protocol, chain,
                    parsed.port_text if parsed else None, element.line)


def _elements(table: Table, name: str) -> tuple[SetElement, ...]:
    named = table.sets.get(name)
    return named.elements if named is not None else ()


def _from_own_rules(table: Table, parsed: ChainName) -> tuple[str | None, int | None, str | None]:
    """kube-proxy repeats the cluster IP in the service chain's masquerade rule
    (`ip daddr 172.30.0.41 ip saddr != 10.0.0.0/8 jump mark-for-masquerade`)."""
    chain = table.chains.get(f"service-{parsed.hash}-{parsed.base}")
    for rule in chain.rules if chain else ():
        for m in rule.matches:
            if type(m) is Address and m.field == "daddr" and not m.value.negated and "{" not in m.value.value:
                return m.value.value, None, parsed.protocol
    return None, None, None


@dataclass(frozen=True, slots=True)
class NoEndpoints:
    """An element of `no-endpoint-services` / `no-endpoint-nodeports`: traffic kube-proxy rejects
    (no endpoints) or drops (no local endpoints, externalTrafficPolicy: Local)."""

    name: str | None  # the element's comment, `ns/svc:port`
    local: bool  # drop: no local endpoints
    destination: str  # `172.30.0.46:80`, `[fd00::e]:80`, `any local address:3001`
    line: int


def no_endpoints(table: Table) -> list[NoEndpoints]:
    """What kube-proxy's no-endpoint maps reject or drop, in printed order."""
    found = []
    for map_name in (NO_ENDPOINT_SERVICES, NO_ENDPOINT_NODEPORTS):
        for element in _elements(table, map_name):
            verdict = element.value
            rejects = type(verdict) is Jump and verdict.chain == REJECT_CHAIN or type(verdict) is Reject
            drops = type(verdict) is Verdict and verdict.name == "DROP"
            if not (rejects or drops):
                continue
            *address, _protocol, port = element.key
            host = address[0] if address else "any local address"
            destination = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            found.append(NoEndpoints(element.comment, drops, destination, element.line))
    return found


def affinity_clients(table: Table, sets: list[str]) -> int | None:
    """How many clients the named affinity sets remember; None when none of them is printed."""
    printed = [table.sets[name] for name in sets if name in table.sets]
    return sum(len(named.elements) for named in printed) if printed else None
