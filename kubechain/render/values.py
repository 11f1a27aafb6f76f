"""Field values as iptables 1.8.9 prints them, shared by the listing and the save renderers.

The model keeps some values as an input printed them (`loopback/8`, `dpt:http`); iptables prints
what the kernel stores (a masked address, a port number).
So each value is first brought back to that stored form, then printed the way one format does.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from functools import lru_cache

from ..errors import RenderError
from ..model import Chain, Counters, Mark, Negatable, Ruleset, Table, jumps_into
from ..netfilter import BUILTIN_CHAINS, FULL_MARK, HOOK_ORDER, abbreviate_counter
from .names import Names

ZERO = Counters(0, 0)


# --- structure ---------------------------------------------------------------------------------

def listed_table(ruleset: Ruleset, name: str) -> Table:
    """The table `iptables -t NAME` would print: a table the ruleset lacks is created on first use."""
    table = ruleset.table(name)
    if table is None and name not in BUILTIN_CHAINS:
        raise RenderError(f"the ruleset has no {name!r} table (it has {[t.name for t in ruleset.tables]})")
    return with_builtins(table or Table(name), ruleset.partial)


def with_builtins(table: Table, partial: bool = False) -> Table:
    """A table always holds its built-in chains (iptables-restore creates them even when the input
    does not declare them): missing ones print empty, policy ACCEPT, zero counters. A one-chain
    listing (`partial`) shows only its chain."""
    missing = [c for c in BUILTIN_CHAINS.get(table.name, ()) if c not in table.chains]
    if partial or not missing:
        return table
    return Table(table.name, {**{c: Chain(c, (), "ACCEPT", ZERO) for c in missing}, **table.chains}, table.line)


def ordered_chains(table: Table) -> list[Chain]:
    """Built-in chains in hook order, then user chains sorted by name: both backends print this
    order whatever order the chains were created in."""
    chains = table.chains.values()
    builtin = sorted((c for c in chains if c.builtin),
                     key=lambda c: HOOK_ORDER.index(c.name) if c.name in HOOK_ORDER else len(HOOK_ORDER))
    return builtin + sorted((c for c in chains if not c.builtin), key=lambda c: c.name)


def references(table: Table) -> dict[str, int]:
    """Each chain's `(N references)`: a listing's own number where the model has it, else the rules
    of the table that jump or go to the chain (what both backends count). One pass per table."""
    counted = jumps_into(table)
    return {name: c.references if c.references is not None else counted[name] for name, c in table.chains.items()}


def or_zero(value: Counters | None) -> Counters:
    """Rules loaded without counters start at zero."""
    return value if value is not None else ZERO


# --- numbers -----------------------------------------------------------------------------------

def print_num(number: int, exact: bool, table: bool = True) -> str:
    """xtables_print_num(): `%8llu ` with -x, else `%5llu ` up to 99999 and `%4llu` + unit above
    (netfilter.abbreviate_counter); without the column widths outside the rule table."""
    if exact:
        return f"{number:8d} " if table else f"{number} "
    value, unit = abbreviate_counter(number)
    if not unit:
        return f"{value:5d} " if table else f"{value} "
    return f"{value:4d}{unit} " if table else f"{value}{unit} "


# --- protocols and ports -------------------------------------------------------------------------

def protocol_number(protocol: Negatable[str] | None, names: Names) -> tuple[int, bool]:
    """(number, negated) of the model's protocol (None is `all`, 0)."""
    if protocol is None:
        return 0, False
    bare, negated = protocol.value, protocol.negated
    number = names.protocol_number(bare)
    if number is None:
        raise RenderError(f"unknown protocol {bare!r} (not in {names.root}/protocols)")
    return number, negated


def port_number(text: str, protocol: str, names: Names) -> int:
    number = names.service_port(text, protocol)
    if number is None:
        raise RenderError(f"unknown {protocol} service {text!r} (not in {names.root}/services)")
    return number


def port_range(text: str, protocol: str, names: Names) -> tuple[int, int]:
    """`80`, `1000:2000`, `https:snpp` → (min, max) as stored."""
    low, _, high = text.partition(":")
    first = port_number(low, protocol, names)
    return first, port_number(high, protocol, names) if high else first


def port_text(port: int, protocol: str, numeric: bool, names: Names) -> str:
    return str(port) if numeric else (names.service_name(port, protocol) or str(port))


def port_list(text: str, protocol: str, numeric: bool, names: Names) -> str:
    """A multiport list (`80,443,8000:8080`) with each port printed as one format does."""
    items = []
    for item in text.split(","):
        low, high = port_range(item, protocol, names)
        printed = port_text(low, protocol, numeric, names)
        items.append(printed + (":" + port_text(high, protocol, numeric, names) if high != low else ""))
    return ",".join(items)


# --- addresses ---------------------------------------------------------------------------------

Address = tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]  # (masked address, mask)


@lru_cache(maxsize=65536)
def address(text: str | None, family: str, names: Names) -> Address:
    """The stored (address & mask, mask) of a model address: numeric, CIDR, dotted mask, or a name
    from a listing printed without -n (a host in /etc/hosts, a network in /etc/networks)."""
    version = 6 if family == "ipv6" else 4
    bits = 128 if version == 6 else 32
    full = (1 << bits) - 1
    if not text:  # any address (None; "" when negated: `! -s 0.0.0.0/0`)
        return ipaddress.ip_address(0 if version == 4 else "::"), 0
    base, _, mask_text = text.partition("/")
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    try:
        addr = ipaddress.ip_address(base)
    except ValueError:
        addr = names.host_address(base, version)
        if addr is None and version == 4 and (net := names.network_number(base)) is not None:
            addr = ipaddress.IPv4Address(net)
        if addr is None:
            raise RenderError(f"cannot resolve {base!r} without DNS (not in {names.root}/hosts or networks)") from None
    if not mask_text:
        mask = full
    elif mask_text.isdigit():
        mask = full ^ (full >> int(mask_text)) if int(mask_text) else 0
    else:
        mask = int(ipaddress.ip_address(mask_text))
    return ipaddress.ip_address(int(addr) & mask) if version == 4 else ipaddress.IPv6Address(int(addr) & mask), mask


def _ntop(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """inet_ntop(): the C library's spelling (IPv6 `::1.2.3.4` forms included)."""
    return socket.inet_ntop(socket.AF_INET6 if addr.version == 6 else socket.AF_INET, addr.packed)


def _cidr(mask: int, bits: int) -> int | None:
    inverted = ~mask & ((1 << bits) - 1)
    return bits - inverted.bit_length() if inverted & (inverted + 1) == 0 else None


def mask_suffix(mask: int, version: int, save: bool) -> str:
    """`/8`, a dotted mask when not contiguous, and nothing for a host in listings."""
    bits = 128 if version == 6 else 32
    cidr = _cidr(mask, bits)
    if cidr is None:
        return "/" + _ntop(ipaddress.ip_address(mask) if version == 4 else ipaddress.IPv6Address(mask))
    return "" if cidr == bits and not save else f"/{cidr}"


def address_text(value: Address, numeric: bool, names: Names) -> str:
    """One address column of `iptables -L`: `anywhere` and names without -n, as iptables resolves them."""
    addr, mask = value
    if not numeric:
        if mask == 0:
            return "anywhere"
        name = names.host_name(addr)
        if name is None and addr.version == 4:
            name = names.network_name(int(addr))
        if name is not None:
            return name + mask_suffix(mask, addr.version, save=False)
    return _ntop(addr) + mask_suffix(mask, addr.version, save=False)


def save_address(value: Address) -> str:
    addr, mask = value
    return _ntop(addr) + mask_suffix(mask, addr.version, save=True)


# --- small shared forms ---------------------------------------------------------------------------

def states(states: tuple[str, ...]) -> str:
    """The states as conntrack/state print them (the model keeps them in that order)."""
    return ",".join(states)


def mark_value(mark: Mark) -> str:
    """`--mark 16` / `0x10/0xff` as printed: hex, the mask only when it is not all 32 bits."""
    return f"0x{mark.value:x}" + (f"/0x{mark.mask:x}" if mark.mask != FULL_MARK else "")


_BARE = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPED = re.compile(r"[\"\\']")


def save_string(value: str) -> str:
    """xtables_save_string(): bare when only [A-Za-z0-9_-], else double-quoted with \\ before " \\ '."""
    if _BARE.fullmatch(value):
        return value
    return '"' + _ESCAPED.sub(r"\\\g<0>", value) + '"'

