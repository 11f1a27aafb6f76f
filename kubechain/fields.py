"""Field values both input formats share: counters, protocols, addresses, interfaces."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from .model import Counters

_SUFFIX = {"K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}
ZERO_COUNTERS = Counters(0, 0)

#: protocol numbers as iptables 1.8.9 prints them with -n, mapped to the names it prints without
PROTOCOL_NAMES = {"0": None, "all": None, "1": "icmp", "2": "igmp", "4": "ipencap", "6": "tcp",
                  "17": "udp", "33": "dccp", "47": "gre", "50": "esp", "51": "ah",
                  "58": "ipv6-icmp", "icmpv6": "ipv6-icmp", "132": "sctp", "136": "udplite"}

#: the reverse: each name above → its number (`all` → 0)
PROTOCOL_NUMBERS = {name: int(num) for num, name in PROTOCOL_NAMES.items() if name and num.isdigit()} | {"all": 0}

#: the names iptables 1.8.9 knows without /etc/protocols (xtables_chain_protos), in its lookup order
CHAIN_PROTOS = (("tcp", 6), ("sctp", 132), ("udp", 17), ("udplite", 136), ("icmp", 1), ("icmpv6", 58),
                ("ipv6-icmp", 58), ("esp", 50), ("ah", 51), ("ipv6-mh", 135), ("mh", 135), ("all", 0))


def counter_value(text: str) -> tuple[int, bool]:
    """`12345` → (12345, True); `123K` → (123000, False): K/M/G/T are decimal and rounded."""
    unit = _SUFFIX.get(text[-1])
    if unit is None:
        return int(text), True
    return int(text[:-1]) * unit, False


def counters(packets: str, bytes_: str) -> Counters:
    if packets == "0" and bytes_ == "0":
        return ZERO_COUNTERS
    p, p_exact = counter_value(packets)
    b, b_exact = counter_value(bytes_)
    if p == 0 and b == 0 and p_exact and b_exact:
        return ZERO_COUNTERS
    return Counters(p, b, p_exact, b_exact)


@lru_cache(maxsize=256)
def protocol(text: str) -> str | None:
    """Normalised protocol: None for any, else the name (`6` and `tcp` are the same)."""
    negated = text.startswith("!")
    name = text[1:] if negated else text
    name = PROTOCOL_NAMES.get(name, name)
    if name is None:
        return None
    return "!" + name if negated else name


def address(text: str | None) -> tuple[str | None, bool]:
    """(address, negated) with "any" as None and host prefixes (/32, /128) dropped."""
    if text is None:
        return None, False
    negated = text.startswith("!")
    if negated:
        text = text[1:]
    if text in ("0.0.0.0/0", "::/0", "anywhere"):
        return None, negated
    if text.endswith("/32") and ":" not in text:
        text = text[:-3]
    elif text.endswith("/128"):
        text = text[:-4]
    return text, negated


def interface(text: str | None) -> str | None:
    return None if text in (None, "*", "any") else text


class BadValue(ValueError):
    """An option value iptables would never print (`--every 0`, `--probability nan`); the parsers
    turn it into a ParseError located at `token`."""

    def __init__(self, token: str, expected: str) -> None:
        super().__init__(f"{expected}, not {token!r}")
        self.token = token
        self.expected = expected


def probability(text: str) -> str:
    """A `--probability` value as iptables accepts it: a number from 0 to 1 (kept as printed)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise BadValue(text, "a probability from 0 to 1")
    return text


def number(text: str, what: str, minimum: int = 0) -> int:
    """A decimal integer option value (`--every`, `--seconds`, a counter), at least `minimum`."""
    if not text.isdigit() or not text.isascii() or int(text) < minimum:
        raise BadValue(text, f"{what}: a whole number of at least {minimum}")
    return int(text)


def address_family(address: str) -> str | None:
    """"ipv4" or "ipv6" for an address or network as the model holds it (`10.0.0.0/8`,
    `fd00::5`); None for a name that `-L` without -n printed (`localhost`, `anywhere`)."""
    host = address.split("/", 1)[0]
    try:
        return "ipv6" if ipaddress.ip_address(host).version == 6 else "ipv4"
    except ValueError:
        return None
