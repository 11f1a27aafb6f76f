"""What iptables, nftables and the kernel define: the one home of every such fact.

Parsers, renderers and the analysis all read these; none of them writes its own copy. Sources:
iptables 1.8.9 (`extensions/libxt_statistic.c`, `iptables/xshared.c`, `libxtables/xtables.c`),
Linux `net/netfilter/xt_statistic.c`, `nft_numgen.c` and `include/linux/math.h` (see
shared/FACTS.md).
"""

from __future__ import annotations

import operator
from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:  # numpy only for the sampler's arrays; this module stays cheap to import
    import numpy as np
    from numpy.typing import NDArray

# --- tables, chains, hooks -------------------------------------------------------------------------

#: the netfilter hooks in the order a packet meets them (and iptables lists built-in chains)
HOOK_ORDER = ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")
#: the built-in chains of each iptables table, in hook order
BUILTIN_CHAINS: dict[str, tuple[str, ...]] = {
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "mangle": HOOK_ORDER,
    "raw": ("PREROUTING", "OUTPUT"),
    "security": ("INPUT", "FORWARD", "OUTPUT"),
}

#: where each iptables table's built-in chains sit among a hook's chains (the NF_IP_PRI_* values, the
#: same numbers nft's standard priorities have): nat is dstnat in PREROUTING and OUTPUT, srcnat in
#: INPUT and POSTROUTING
IPTABLES_PRIORITIES = {"raw": -300, "mangle": -150, "filter": 0, "security": 50}
NAT_PRIORITIES = {"PREROUTING": -100, "OUTPUT": -100, "INPUT": 100, "POSTROUTING": 100}


def builtin_priority(table: str, hook: str) -> int | None:
    """The priority of iptables table `table`'s built-in chain `hook`; None for a table iptables lacks."""
    if table == "nat":
        return NAT_PRIORITIES.get(hook)
    return IPTABLES_PRIORITIES.get(table)


#: addresses every node has: `addrtype LOCAL` and the routing decision see them as local
LOOPBACK_NETWORKS = ("127.0.0.0/8", "::1/128")


def interface_matches(pattern: str, name: str) -> bool:
    """`-i eth0` / `-i veth+`: a trailing `+` matches any name with that prefix (xt_iface)."""
    return name.startswith(pattern[:-1]) if pattern.endswith("+") else name == pattern


# --- verdicts and targets ----------------------------------------------------------------------------

#: the standard verdicts a rule can jump to
VERDICTS = frozenset({"ACCEPT", "DROP", "RETURN", "QUEUE"})
#: target extensions shipped with iptables 1.8.9; a user chain can never take one of these names
TARGET_EXTENSIONS = frozenset({
    "DNAT", "SNAT", "MASQUERADE", "REDIRECT", "NETMAP", "MARK", "CONNMARK", "REJECT", "LOG", "NFLOG",
    "ULOG", "TRACE", "CT", "NOTRACK", "TPROXY", "TCPMSS", "TOS", "TTL", "HL", "DSCP", "ECN",
    "CLASSIFY", "CHECKSUM", "CONNSECMARK", "SECMARK", "AUDIT", "LED", "IDLETIMER", "NFQUEUE",
    "SET", "SYNPROXY", "TEE", "HMARK", "CLUSTERIP", "RATEEST", "TCPOPTSTRIP", "MIRROR", "SAME",
})
#: target extensions that end a packet's traversal of the table (the others let it continue)
TERMINAL_EXTENSIONS = frozenset({"REDIRECT", "NETMAP", "NFQUEUE", "SYNPROXY", "TPROXY"})
#: what iptables prints for a match or target whose revision its own binary does not know (an older
#: iptables, e.g. in a container, listing the host's rules): the extension's options are not shown
UNSUPPORTED_REVISION = "[unsupported revision]"
#: flags of the NAT targets, in the order iptables prints them
NAT_FLAGS = ("random", "persistent", "random-fully")


def default_reject(family: str) -> str:
    """What `-j REJECT` stores when no `--reject-with` is given."""
    return "icmp6-port-unreachable" if family == "ipv6" else "icmp-port-unreachable"


def full_mask(family: str) -> str:
    """The mask `recent` stores when none is given: all ones, printed as an address."""
    return "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" if family == "ipv6" else "255.255.255.255"


#: all 32 bits of a mark
FULL_MARK = 0xFFFFFFFF

# --- protocols -----------------------------------------------------------------------------------------

#: protocol numbers as iptables 1.8.9 prints them with -n, mapped to the names it prints without
PROTOCOL_NAMES: dict[str, str | None] = {
    "0": None, "all": None, "1": "icmp", "2": "igmp", "4": "ipencap", "6": "tcp", "17": "udp", "33": "dccp",
    "47": "gre", "50": "esp", "51": "ah", "58": "ipv6-icmp", "icmpv6": "ipv6-icmp", "132": "sctp",
    "136": "udplite"}
#: the reverse: each name above → its number (`all` → 0)
PROTOCOL_NUMBERS: dict[str, int] = {
    name: int(num) for num, name in PROTOCOL_NAMES.items() if name and num.isdigit()} | {"all": 0}
#: the names iptables 1.8.9 knows without /etc/protocols (xtables_chain_protos), in its lookup order
CHAIN_PROTOS = (("tcp", 6), ("sctp", 132), ("udp", 17), ("udplite", 136), ("icmp", 1), ("icmpv6", 58),
                ("ipv6-icmp", 58), ("esp", 50), ("ah", 51), ("ipv6-mh", 135), ("mh", 135), ("all", 0))
#: protocols whose match module has --sport/--dport
PORT_PROTOCOLS = ("tcp", "udp", "sctp", "dccp", "udplite")
#: conntrack/state print their state bits in this order, whatever order they were given in
CONNTRACK_STATE_ORDER = ("INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED", "SNAT", "DNAT")

# --- counters ----------------------------------------------------------------------------------------

#: xtables_print_num(): without -x a value above 99999 is divided by 1000, rounding (n+500)/1000,
#: until it is at most 9999, and gets the unit of that step; T is the last unit
COUNTER_UNITS = ("K", "M", "G", "T")
#: how many divisions by 1000 each unit stands for (P is not printed by iptables 1.8.9, but read)
COUNTER_STEPS = {unit: i + 1 for i, unit in enumerate(COUNTER_UNITS)} | {"P": 5}


def abbreviate_counter(number: int) -> tuple[int, str]:
    """(printed value, unit) of a counter as `-L` without `-x` prints it; unit "" when exact."""
    if number <= 99999:
        return number, ""
    for unit in COUNTER_UNITS[:-1]:
        number = (number + 500) // 1000
        if number <= 9999:
            return number, unit
    return (number + 500) // 1000, COUNTER_UNITS[-1]


def abbreviated_range(value: int, unit: str) -> tuple[int, int]:
    """Every true counter n that `-L` without `-x` prints as `{value}{unit}`: the interval [low, high].

    Each step is v ↦ (v + 500) // 1000, so the values a step maps to v are [1000v − 500, 1000v + 499];
    a value was divided again only when it exceeded 9999 (99999 for the counter itself), which
    bounds each preimage from below. `123K` is [122500, 123499]; `10M` is [10000000 − 500·1000… ]
    cut to the values that did not print as K: [9999500, 10499499]. Exact values are their own range.
    """
    if not unit:
        return value, value
    steps = COUNTER_STEPS[unit]
    low = high = value
    for level in range(steps - 1, -1, -1):  # the value before each division, down to the counter
        low, high = low * 1000 - 500, high * 1000 + 499
        low = max(low, (99999 if level == 0 else 9999) + 1)
    return low, high


def rounded_range(value: int) -> tuple[int, int]:
    """The true counters a rounded value stands for, where the value is what `-L` printed times
    its unit (kubechain keeps 123K as 123000): the unit is the one iptables must have used, since
    it prints K from 100 to 9999, M, G from 10 to 9999, and T from 10."""
    for steps, unit in enumerate(COUNTER_UNITS, 1):
        printed, rest = divmod(value, 1000 ** steps)
        if rest:
            break
        if (100 if steps == 1 else 10) <= printed <= 9999 or (unit == COUNTER_UNITS[-1] and printed >= 10):
            return abbreviated_range(printed, unit)
    return value, value  # not a value iptables rounds: take it as it is


# --- statistic --mode random ---------------------------------------------------------------------------

TWO_31 = 1 << 31
TWO_32 = 1 << 32
#: the 31 bits of a random u32 that xt_statistic compares with the stored threshold
LOW_31 = 0x7FFFFFFF


@lru_cache(maxsize=4096)
def statistic_threshold(printed: str) -> int:
    """The integer iptables stores for `--probability printed`: lround(strtod(p) · 2^31).

    iptables computes it in double precision, so the conversion goes through float exactly as it
    does (0.3333333333 → 715827883); cached, since a dump repeats a few dozen values.
    """
    scaled = Fraction(float(printed)) * TWO_31
    return int(scaled + Fraction(1, 2)) if scaled >= 0 else -int(-scaled + Fraction(1, 2))


@overload
def statistic_matches(draws: int, threshold: int) -> bool: ...
@overload
def statistic_matches(draws: NDArray[np.uint32], threshold: int) -> NDArray[np.bool_]: ...


def statistic_matches(draws: Any, threshold: int) -> Any:
    """xt_statistic's random test, `(random_u32 & 0x7FFFFFFF) < threshold`, on one int or on a
    numpy array of u32 draws (the sampler's vectorised path). The one home of the comparison."""
    return (draws & LOW_31) < threshold


@lru_cache(maxsize=4096)
def statistic_probability(threshold: int, negated: bool = False) -> Fraction:
    """The exact probability that `statistic --mode random` matches: t / 2^31 (with `!`: 1 − t/2^31)."""
    p = Fraction(threshold, TWO_31)
    return 1 - p if negated else p


def printed_probability(threshold: int) -> str:
    """`-L` and iptables-save print the stored threshold back as `%.11f` of t / 2^31."""
    return f"{threshold / TWO_31:.11f}"


# --- statistic --mode nth --------------------------------------------------------------------------------

def nth_initial(every: int, packet: int) -> int:
    """The counter xt_statistic starts from: iptables stores every − 1, and count = every − 1 − packet."""
    return every - 1 - packet


def nth_matches(counter: int, every: int, reaching: int) -> tuple[int, int]:
    """(how many of `reaching` packets match, the counter afterwards). Each packet moves the
    counter c to 0 when c == every − 1 (a match), else to c + 1."""
    return (counter + reaching) // every, (counter + reaching) % every


# --- nftables numgen ---------------------------------------------------------------------------------------

@overload
def numgen_bucket(draws: int, modulus: int) -> int: ...
@overload
def numgen_bucket(draws: NDArray[np.uint64], modulus: int) -> NDArray[np.uint64]: ...
@overload
def numgen_bucket(draws: NDArray[np.uint32] | NDArray[np.uint64], modulus: int,
                  out: NDArray[np.uint64]) -> NDArray[np.uint64]: ...


def numgen_bucket(draws: Any, modulus: int, out: Any = None) -> Any:
    """nft `numgen random mod N`: reciprocal_scale(r, N) = (u32)(((u64) r · N) >> 32), on one int
    or on a numpy uint64 array of u32 draws. The one home of the mapping. With `out` (a uint64
    array of the draws' length, the sampler's buffer) u32 draws are widened as they are multiplied
    and the buckets written there: no new arrays."""
    if out is None:
        product = draws * modulus
    else:
        import numpy as np

        product = np.multiply(draws, np.uint64(modulus), out=out)
    product >>= 32
    return product


@lru_cache(maxsize=65536)
def numgen_probability(bucket: int, modulus: int) -> Fraction:
    """The exact probability of bucket k of `numgen random mod N`: the u32s r with
    (r·N) >> 32 == k are ceil(k·2^32/N) ≤ r < ceil((k+1)·2^32/N). For N = 3: 1431655766,
    1431655765 and 1431655765 of 2^32."""
    if not 0 <= bucket < modulus:
        return Fraction(0)
    return Fraction(-(-(bucket + 1) * TWO_32 // modulus) + (bucket * TWO_32 // -modulus), TWO_32)


# --- nftables: numgen inc, meta random, priorities, flags, times (nft 1.0.6) ---------------------------------

def numgen_inc_buckets(counter: int, modulus: int, reaching: int) -> tuple[list[int], int]:
    """(how many of `reaching` packets get each value 0..N−1 of `numgen inc mod N`, the counter
    afterwards). The kernel starts the counter at N − 1 and moves it to (c + 1) mod N before each
    packet takes it, so the first packet gets 0 (nft_numgen.c, nft_ng_inc_gen)."""
    full, extra = divmod(reaching, modulus)
    counts = [full] * modulus
    for k in range(extra):
        counts[(counter + 1 + k) % modulus] += 1
    return counts, (counter + reaching) % modulus


def numgen_inc_initial(modulus: int) -> int:
    """The counter a freshly loaded `numgen inc mod N` starts from."""
    return modulus - 1


#: the relational operators nft prints, and what each means for two integers
COMPARISONS = ("==", "!=", "<", ">", "<=", ">=")


def random_compare_count(op: str, value: int, bits: int) -> int:
    """How many of the 2^bits equally likely values x satisfy `x OP value` (`meta random & M OP V`
    with M = 2^bits − 1, or bits = 32 without a mask)."""
    size = 1 << bits
    below = min(max(value, 0), size)  # x < value
    at = 1 if 0 <= value < size else 0  # x == value
    return {"<": below, "<=": below + at, ">": size - below - at, ">=": size - below,
            "==": at, "!=": size - at}[op]


def random_compare_probability(op: str, value: int, mask: int | None) -> Fraction:
    """The exact probability that `meta random [& MASK] OP VALUE` holds: the kernel's draw is a
    uniform u32; a mask of low bits (2^k − 1) keeps k uniform bits. Raises ValueError for another
    mask, whose set of values nft would need to enumerate."""
    bits = random_mask_bits(mask)
    return Fraction(random_compare_count(op, value, bits), 1 << bits)


def random_mask_bits(mask: int | None) -> int:
    """How many low bits `meta random & MASK` keeps (32 without a mask); ValueError unless the mask
    is 2^k − 1."""
    if mask is None:
        return 32
    if mask < 0 or mask > 0xFFFFFFFF or mask & (mask + 1):
        raise ValueError(f"meta random & {mask:#x}: only masks of low bits (2^k - 1) are supported")
    return mask.bit_length()


_COMPARISONS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
                "!=": operator.ne}


def random_compare_matches(draws: Any, op: str, value: int, mask: int | None) -> Any:
    """`(r & MASK) OP VALUE` on a numpy array of u32 draws (the sampler's path): one comparison, in
    u32 when VALUE is one (exact, and no widened copy), else in int64."""
    import numpy as np

    x = draws & np.uint32(mask) if mask is not None else draws
    if 0 <= value <= 0xFFFFFFFF:
        return _COMPARISONS[op](x, np.uint32(value))
    return _COMPARISONS[op](x.astype(np.int64), np.int64(value))


#: nft 1.0.6 prints a base chain's priority by the name of a standard priority within 10 of it
#: (`dstnat - 10`), else as a number; dstnat only in prerouting, srcnat only in postrouting
#: (rule.c, std_prios; checked against the real binary)
NFT_PRIORITIES = (("raw", -300), ("mangle", -150), ("dstnat", -100), ("filter", 0), ("security", 50),
                  ("srcnat", 100))
_PRIORITY_HOOKS = {"dstnat": ("prerouting",), "srcnat": ("postrouting",)}


def nft_priority_text(priority: int, hook: str) -> str:
    """`priority …` as nft 1.0.6 prints it without -n."""
    for name, value in NFT_PRIORITIES:
        if hook not in _PRIORITY_HOOKS.get(name, (hook,)) or abs(priority - value) > 10:
            continue
        offset = priority - value
        return name if not offset else f"{name} {'+' if offset > 0 else '-'} {abs(offset)}"
    return str(priority)


def nft_priority_value(text: str) -> int:
    """The integer of a printed priority: `-110`, `dstnat`, `dstnat - 10`, `filter + 5`."""
    parts = text.split()
    names = dict(NFT_PRIORITIES)
    base = names[parts[0]] if parts[0] in names else int(parts[0])
    if len(parts) == 3 and parts[1] in "+-":
        return base + int(parts[2]) if parts[1] == "+" else base - int(parts[2])
    if len(parts) != 1:
        raise ValueError(f"not a priority: {text!r}")
    return base


#: NAT flags: the names nft prints (in its order) and the iptables names the model keeps
NFT_NAT_FLAGS = (("random", "random"), ("fully-random", "random-fully"), ("persistent", "persistent"))

#: `ct state` bits as nft names them and prints them (bit order; `-n` prints the hex values)
CT_STATES = (("invalid", 0x1), ("established", 0x2), ("related", 0x4), ("new", 0x8), ("untracked", 0x40))
#: `ct status` bits as nft names them (bit order; `-n` prints the hex values)
CT_STATUSES = (("expected", 0x1), ("seen-reply", 0x2), ("assured", 0x4), ("confirmed", 0x8), ("snat", 0x10),
               ("dnat", 0x20), ("dying", 0x200))
#: `fib … type` values with -n (the ones kube-proxy uses)
FIB_TYPES = {"unspec": 0, "unicast": 1, "local": 2, "broadcast": 3, "anycast": 4, "multicast": 5,
             "blackhole": 6, "unreachable": 7, "prohibit": 8}

_TIME_UNITS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1))


def nft_time_ms(text: str) -> int:
    """Milliseconds of an nft time: `3h`, `2h58m59s992ms`, `10800s`, `1d2h`; ValueError otherwise."""
    import re

    parts = re.findall(r"(\d+)(ms|d|h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not an nft time: {text!r}")
    units = dict(_TIME_UNITS)
    return sum(int(n) * units[u] for n, u in parts)


def nft_time_text(ms: int, numeric: bool = False) -> str:
    """An nft time as nft 1.0.6 prints it: the largest units, zero units left out (`3h`,
    `2h58m59s992ms`); with -n, whole seconds and milliseconds (`10800s`)."""
    if numeric:
        seconds, rest = divmod(ms, 1000)
        return (f"{seconds}s" if seconds else "") + (f"{rest}ms" if rest else "") or "0s"
    out = ""
    for unit, size in _TIME_UNITS:
        if ms >= size:
            out += f"{ms // size}{unit}"
            ms %= size
    return out or "0s"


#: how many elements nft 1.0.6 prints per line in a named set, by key type (expression.c,
#: calculate_delim): integer-like types 5, addresses and ct states 2, anything else (IPv6
#: addresses, concatenations, strings) 1; anonymous sets in rules never wrap
_ELEMENTS_PER_LINE = {
    **dict.fromkeys(("nf_proto", "integer", "arp_op", "inet_proto", "inet_service", "tcp_flag",
                     "dccp_pkttype", "mark", "iface_index", "classid", "uid", "gid", "ct_dir"), 5),
    **dict.fromkeys(("ipv4_addr", "ct_state", "ct_status", "pkt_type"), 2),
}


def nft_elements_per_line(key_types: tuple[str, ...]) -> int:
    """Elements per line of a named set or map with these key types (one type unless concatenated)."""
    return _ELEMENTS_PER_LINE.get(key_types[0], 1) if len(key_types) == 1 else 1
