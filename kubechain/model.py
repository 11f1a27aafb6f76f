"""The typed model that every input format is parsed into: ruleset → table → chain → rule.

Everything is a frozen, slotted dataclass: a 30k-service dump holds about a million rules, so the
model must be small, immutable and shareable. Format quirks are normalised away here (protocol
numbers become names, `/32` and `0.0.0.0/0` disappear, a probability is the threshold the kernel
stores, a mark is two integers), so one rule set printed by `iptables -L`, `iptables -S` or
`iptables-save` gives equal models.

Negation has one spelling: an option that `!` can negate holds a :class:`Negatable` value, as
kube-proxy's own test parser does (`IPTablesValue{Negated, Value}`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Generic, TypeVar

from .netfilter import statistic_probability

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Negatable(Generic[T]):
    """An option's value and whether `!` negates it: `! -s 10.0.0.0/8` is Negatable("10.0.0.0/8", True)."""

    value: T
    negated: bool = False

    def __str__(self) -> str:
        return f"!{self.value}" if self.negated else str(self.value)


@dataclass(frozen=True, slots=True)
class Counters:
    """Packet and byte counters; `*_exact` is False when iptables printed it with K/M/G/T (then the
    value is the printed one times the unit: 123K is 123000, and the true count lies within
    :func:`kubechain.netfilter.abbreviated_range`)."""

    packets: int
    bytes: int
    packets_exact: bool = True
    bytes_exact: bool = True


# --- matches -------------------------------------------------------------------------------------------


class Match:
    """Base of every match a rule can carry (`-m NAME …` in save format)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Comment(Match):
    text: str


@dataclass(frozen=True, slots=True)
class Ports(Match):
    """The tcp/udp/sctp/dccp/udplite match: `-m tcp --dport 80`, printed `tcp dpt:80`. Ports stay
    text (`80`, `1000:2000`) because `-L` without -n prints service names (`dpt:http-alt`);
    `extra` is the rest of the module's options (tcp flags…), kept verbatim."""

    protocol: str
    dport: Negatable[str] | None = None
    sport: Negatable[str] | None = None
    extra: str = ""


@dataclass(frozen=True, slots=True)
class Multiport(Match):
    direction: str  # "dports", "sports" or "ports"
    ports: Negatable[str]


@dataclass(frozen=True, slots=True)
class StatisticRandom(Match):
    """`statistic --mode random --probability P`: matches when (random & 0x7FFFFFFF) < threshold,
    with threshold = lround(P · 2^31), which is all the kernel keeps of P."""

    threshold: Negatable[int]

    @property
    def match_probability(self) -> Fraction:
        return statistic_probability(self.threshold.value, self.threshold.negated)


@dataclass(frozen=True, slots=True)
class StatisticNth(Match):
    """`statistic --mode nth --every N --packet P`: a counter, one packet in N over time."""

    every: Negatable[int]
    packet: int = 0

    @property
    def match_probability(self) -> Fraction:
        p = Fraction(1, self.every.value)
        return 1 - p if self.every.negated else p


#: `recent` commands that test the list (the others, SET and REMOVE, are actions that always match)
RECENT_CHECKS = frozenset({"CHECK", "UPDATE"})


@dataclass(frozen=True, slots=True)
class Recent(Match):
    """`recent`: kube-proxy's ClientIP affinity (`--rcheck` in SVC chains, `--set` in SEP)."""

    command: Negatable[str]  # CHECK, SET, UPDATE or REMOVE
    name: str
    seconds: int | None = None
    reap: bool = False
    hitcount: int | None = None
    ttl: bool = False
    side: str = "source"
    mask: str | None = None

    @property
    def checks(self) -> bool:
        """True for `--rcheck`/`--update`: a test of the list, which a new client fails."""
        return self.command.value in RECENT_CHECKS


@dataclass(frozen=True, slots=True)
class Mark:
    """A mark and the bits of it that count: `0x4000/0x4000`."""

    value: int
    mask: int


@dataclass(frozen=True, slots=True)
class MarkMatch(Match):
    mark: Negatable[Mark]


@dataclass(frozen=True, slots=True)
class AddrType(Match):
    src_type: Negatable[str] | None = None
    dst_type: Negatable[str] | None = None
    limit_iface_in: bool = False
    limit_iface_out: bool = False


@dataclass(frozen=True, slots=True)
class ConnState(Match):
    """`conntrack --ctstate` (module "conntrack") or `state --state` (module "state"); states in
    the order iptables prints them."""

    states: Negatable[tuple[str, ...]]
    module: str = "conntrack"


@dataclass(frozen=True, slots=True)
class UnknownMatch(Match):
    """Match text the parser does not interpret, kept verbatim (never dropped): save form starts
    with `-m `, listing form does not."""

    text: str


# --- targets ---------------------------------------------------------------------------------------------


class Target:
    """Base of what a rule does when it matches (`-j` / `-g`)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Jump(Target):
    """A jump (`-j CHAIN`, returns at the end of CHAIN) or goto (`-g CHAIN`, does not)."""

    chain: str
    goto: bool = False


@dataclass(frozen=True, slots=True)
class Verdict(Target):
    """ACCEPT, DROP, RETURN or QUEUE."""

    name: str


@dataclass(frozen=True, slots=True)
class Dnat(Target):
    """DNAT to `destination`: `10.1.2.3:80`, `10.1.2.3`, `1.2.3.4:80-90` or `[fd00::5]:80`;
    `flags` are netfilter.NAT_FLAGS names, in the order iptables prints them."""

    destination: str
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Snat(Target):
    """SNAT to `source`."""

    source: str
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MarkTarget(Target):
    """MARK, normalised to --set-xmark VALUE/MASK (what iptables-save prints): the new mark is
    (mark & ~mask) ^ value."""

    value: int
    mask: int


@dataclass(frozen=True, slots=True)
class Masquerade(Target):
    """MASQUERADE, optionally to a port range (`to_ports`, `1000-2000`); `flags` are
    netfilter.NAT_FLAGS names, in the order iptables prints them."""

    to_ports: str | None = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Reject(Target):
    with_: str | None = None


@dataclass(frozen=True, slots=True)
class OtherTarget(Target):
    """Any other target extension (LOG, CONNMARK, REDIRECT…), its options kept verbatim in the
    save form they were read in."""

    name: str
    text: str = ""


# --- structure -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule. `line` is its 1-based line in the input; an address or interface of None is "any"."""

    target: Target | None
    matches: tuple[Match, ...] = ()
    protocol: Negatable[str] | None = None
    source: Negatable[str] | None = None
    destination: Negatable[str] | None = None
    in_interface: Negatable[str] | None = None
    out_interface: Negatable[str] | None = None
    fragment: Negatable[bool] | None = None  # `-f`, or `! -f`
    counters: Counters | None = None
    line: int = field(default=0, compare=False)  # where it was read; not part of its meaning


@dataclass(frozen=True, slots=True)
class Chain:
    name: str
    rules: tuple[Rule, ...] = ()
    policy: str | None = None  # built-in chains only
    counters: Counters | None = None  # the policy counters
    references: int | None = None  # as `-L` prints them
    line: int = field(default=0, compare=False)

    @property
    def builtin(self) -> bool:
        return self.policy is not None


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    chains: dict[str, Chain] = field(default_factory=dict)
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Ruleset:
    """What :func:`kubechain.load` returns: the tables of one input, in input order."""

    tables: tuple[Table, ...]
    format: str  # "iptables-list" or "iptables-save"
    family: str  # "ipv4" or "ipv6": that of the first table that shows one
    path: str | None = None
    has_counters: bool = False
    partial: bool = False  # a `-L CHAIN` / `-S CHAIN` printout: other chains exist but are not shown
    #: `--service TEXT`: the tables hold only what the service ports TEXT selects need (kubechain.selection)
    selection: str | None = None

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)


def jumps_into(table: Table) -> Counter[str]:
    """How many rules of the table jump or go to each chain: the `(N references)` both backends
    print, orphans, and endpoint chains shared by several service chains all come from this."""
    return Counter(rule.target.chain for chain in table.chains.values() for rule in chain.rules
                   if type(rule.target) is Jump)


def address_family(address: str) -> str | None:
    """"ipv4" or "ipv6" for an address or network as the model holds it (`10.0.0.0/8`, `fd00::5`);
    None for a name that `-L` without -n printed (`localhost`)."""
    import ipaddress

    host = address.split("/", 1)[0]
    try:
        return "ipv6" if ipaddress.ip_address(host).version == 6 else "ipv4"
    except ValueError:
        return None


def table_family(table: Table) -> str | None:
    """The family of the first address literal in the table's rules; None when there is none (names
    printed by `-L` without -n do not count). A dual-stack dump holds one table of each."""
    for chain in table.chains.values():
        for rule in chain.rules:
            for address in (rule.source, rule.destination):
                family = address_family(address.value) if address is not None else None
                if family is not None:
                    return family
    return None
