"""The packet a trace follows: one new connection's first packet, where it enters netfilter, and
what the node knows about its addresses.

Addresses are normalised text (`10.96.0.10`, `fd00::a`); a destination or endpoint is written
`IP:PORT` (`[IPv6]:PORT`), as kube-proxy's DNAT targets are.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

#: where a packet comes from, and the hook it enters netfilter at
ORIGINS = {"node": "OUTPUT", "pod": "PREROUTING", "external": "PREROUTING"}
PROTOCOLS = ("tcp", "udp", "sctp")


@dataclass(frozen=True, slots=True)
class Packet:
    """A new connection's first packet. `src` None is "a representative source" (chosen by
    :func:`kubechain.trace`: the first local address for `node`, an address outside every CIDR the
    dump names for `external`; `pod` needs one). `local_addresses` are the node's own addresses
    (what `addrtype LOCAL` / `fib … type local` test); `returning_client` is an endpoint
    (`IP:PORT`) whose affinity list (`recent`, an nft affinity set) already holds the client."""

    dst: str
    dport: int
    proto: str = "tcp"
    origin: str = "pod"  # "node", "pod" or "external"
    src: str | None = None
    sport: int | None = None
    local_addresses: tuple[str, ...] = ()
    returning_client: str | None = None
    in_iface: str | None = None
    out_iface: str | None = None

    def __post_init__(self) -> None:
        if self.origin not in ORIGINS:
            raise ValueError(f"origin is one of {', '.join(ORIGINS)}, not {self.origin!r}")
        if self.proto not in PROTOCOLS:
            raise ValueError(f"proto is one of {', '.join(PROTOCOLS)}, not {self.proto!r}")
        for name, port in (("dport", self.dport), ("sport", self.sport)):
            if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
                raise ValueError(f"{name} is a port number (1-65535), not {port!r}")
        family = {address_version(a, "dst") for a in (self.dst,)}
        for name, address in (("src", self.src), *(("local address", a) for a in self.local_addresses)):
            if address is not None and address_version(address, name) not in family:
                raise ValueError(f"{name} {address} is not of the destination's family ({self.dst})")
        if self.returning_client is not None:
            split_endpoint(self.returning_client)

    @property
    def hook(self) -> str:
        """The netfilter hook the packet enters at: OUTPUT from the node, PREROUTING otherwise."""
        return ORIGINS[self.origin]

    @property
    def family(self) -> str:
        return "ipv6" if address_version(self.dst, "dst") == 6 else "ipv4"


def address_version(address: str, what: str = "address") -> int:
    try:
        return ipaddress.ip_address(address).version
    except ValueError:
        raise ValueError(f"{what} is an IP address, not {address!r}") from None


def split_endpoint(text: str) -> tuple[str, int | None]:
    """`10.0.0.1:80` → ("10.0.0.1", 80); `[fd00::1]:80` → ("fd00::1", 80); a bare address has no
    port. ValueError for anything else."""
    host, port = text, None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
        if rest and port is None:
            raise ValueError(f"not an address or IP:PORT: {text!r}")
    elif text.count(":") == 1:
        host, port = text.split(":")
    try:
        host = str(ipaddress.ip_address(host))
        number = int(port) if port is not None else None
    except ValueError:
        raise ValueError(f"not an address or IP:PORT: {text!r}") from None
    if number is not None and not 0 < number < 65536:
        raise ValueError(f"not a port number: {port!r}")
    return host, number


def endpoint_text(host: str, port: int | None) -> str:
    """The inverse of :func:`split_endpoint`."""
    if port is None:
        return host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
