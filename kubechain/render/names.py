"""Name lookups as iptables does them without `-n`: /etc/protocols, /etc/services, /etc/networks,
/etc/hosts — and back (a name in a listing → the number iptables stored).

iptables asks the C library (getprotobynumber, getservbyport, getnetbyaddr, gethostbyaddr); on a
node these read the files above, and for hosts then DNS. Reading the files ourselves gives the
same answers without any network traffic, so rendering stays deterministic for a given machine
(or for the directory passed as `root`). DNS answers are never mimicked: an address that only
DNS could name prints numerically here.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ..netfilter import CHAIN_PROTOS, PROTOCOL_NUMBERS

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _lines(path: Path) -> list[list[str]]:
    """Whitespace-split, comment-free lines of a netdb file ([] when the file is missing)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [words for line in text.splitlines() if (words := line.split("#", 1)[0].split())]


def inet_network(text: str) -> int | None:
    """glibc inet_network(): `127.0.0.0` → 0x7f000000, but `10.1` → 0x0a01 (parts are right-aligned)."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4 or not all(p.isdigit() for p in parts):
        return None
    value = 0
    for part in parts:
        value = value << 8 | (int(part) & 0xFF)
    return value


@dataclass(frozen=True)
class Names:
    """The netdb files of one machine (default: this one). Lookups are cached per instance."""

    root: Path = field(default=Path("/etc"))

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))  # a str is fine too

    @cached_property
    def _protocols(self) -> tuple[dict[int, str], dict[str, int]]:
        by_number: dict[int, str] = {}
        by_name: dict[str, int] = {}
        for words in _lines(self.root / "protocols"):
            if len(words) >= 2 and words[1].isdigit():
                number = int(words[1])
                by_number.setdefault(number, words[0])
                for name in (words[0], *words[2:]):
                    by_name.setdefault(name, number)
        return by_number, by_name

    @cached_property
    def _services(self) -> tuple[dict[tuple[int, str], str], dict[tuple[str, str], int]]:
        by_port: dict[tuple[int, str], str] = {}
        by_name: dict[tuple[str, str], int] = {}
        for words in _lines(self.root / "services"):
            port, _, proto = words[1].partition("/") if len(words) >= 2 else ("", "", "")
            if not port.isdigit():
                continue
            by_port.setdefault((int(port), proto), words[0])
            for name in (words[0], *words[2:]):
                by_name.setdefault((name, proto), int(port))
        return by_port, by_name

    @cached_property
    def _networks(self) -> tuple[dict[int, str], dict[str, int]]:
        by_number: dict[int, str] = {}
        by_name: dict[str, int] = {}
        for words in _lines(self.root / "networks"):
            number = inet_network(words[1]) if len(words) >= 2 else None
            if number is not None:
                by_number.setdefault(number, words[0])
                for name in (words[0], *words[2:]):
                    by_name.setdefault(name, number)
        return by_number, by_name

    @cached_property
    def _hosts(self) -> tuple[dict[IPAddress, str], dict[tuple[str, int], IPAddress]]:
        by_address: dict[IPAddress, str] = {}
        by_name: dict[tuple[str, int], IPAddress] = {}
        for words in _lines(self.root / "hosts"):
            try:
                address = ipaddress.ip_address(words[0].split("%")[0])
            except ValueError:
                continue
            if len(words) < 2:
                continue
            by_address.setdefault(address, words[1])
            for name in words[1:]:
                by_name.setdefault((name, address.version), address)
        return by_address, by_name

    # --- number → name (what `iptables -L` without -n prints) --------------------------------

    def protocol_name(self, number: int, lookup: bool = True) -> str | None:
        """proto_to_name(): /etc/protocols (unless `lookup` is off, as with -n), then the names
        built into iptables (`all` for 0)."""
        if lookup and number:
            name = self._protocols[0].get(number)
            if name:
                return name
        return next((name for name, num in CHAIN_PROTOS if num == number), None)

    def service_name(self, port: int, protocol: str) -> str | None:
        return self._services[0].get((port, protocol))

    def host_name(self, address: IPAddress) -> str | None:
        return self._hosts[0].get(address)

    def network_name(self, number: int) -> str | None:
        return self._networks[0].get(number)

    # --- name → number (reading a listing printed without -n) ---------------------------------

    def protocol_number(self, name: str) -> int | None:
        if name.isdigit():
            return int(name)
        number = self._protocols[1].get(name)
        if number is None:  # no /etc/protocols entry: iptables' own names, then the parser's
            number = next((num for known, num in CHAIN_PROTOS if known == name), PROTOCOL_NUMBERS.get(name))
        return number

    def service_port(self, name: str, protocol: str) -> int | None:
        return int(name) if name.isdigit() else self._services[1].get((name, protocol))

    def host_address(self, name: str, version: int) -> IPAddress | None:
        return self._hosts[1].get((name, version))

    def network_number(self, name: str) -> int | None:
        return self._networks[1].get(name)


SYSTEM = Names()
