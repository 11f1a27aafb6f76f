"""The typed model that every input format is parsed into: ruleset → table → chain → rule.

Everything is a frozen, slotted dataclass: a 30k-service dump holds about a million rules, so
the model must be small, immutable and shareable. Format quirks are normalised away here
(protocol numbers become names, `/32` and `0.0.0.0/0` disappear), so that one rule set printed
by `iptables -L`, `iptables -S` or `iptables-save` gives equal models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

TWO_31 = 1 << 31


@dataclass(frozen=True, slots=True)
class Counters:
    """Packet and byte counters; `*_exact` is False when iptables printed it with K/M/G/T."""

    packets: int
    bytes: int
    packets_exact: bool = True
    bytes_exact: bool = True


# --- matches -------------------------------------------------------------------------------


class Match:
    """Base of every match a rule can carry (`-m NAME …` in save format)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Comment(Match):
    text: str


@dataclass(frozen=True, slots=True)
class Ports(Match):
    """The tcp/udp/sctp match: `-m tcp --dport 80`, printed `tcp dpt:80`. Ports stay strings
    because `-L` without `-n` prints service names (`dpt:http-alt`)."""

    protocol: str
    dport: str | None = None
    sport: str | None = None
    dport_negated: bool = False
    sport_negated: bool = False
    extra: str = ""


@dataclass(frozen=True, slots=True)
class Multiport(Match):
    direction: str  # "dports", "sports" or "ports"
    ports: str
    negated: bool = False


@dataclass(frozen=True, slots=True)
class StatisticRandom(Match):
    """`statistic --mode random --probability P`: matches when (random & 0x7FFFFFFF) < t."""

    probability: str  # as printed; the kernel only ever sees `threshold`
    inverted: bool = False

    @property
    def threshold(self) -> int:
        return probability_threshold(self.probability)

    @property
    def match_probability(self) -> Fraction:
        return random_match_probability(self.probability, self.inverted)


@dataclass(frozen=True, slots=True)
class StatisticNth(Match):
    """`statistic --mode nth --every N --packet P`: a counter, one packet in N over time."""

    every: int
    packet: int = 0
    inverted: bool = False

    @property
    def match_probability(self) -> Fraction:
        p = Fraction(1, self.every)
        return 1 - p if self.inverted else p


@dataclass(frozen=True, slots=True)
class Recent(Match):
    """`recent`: kube-proxy's ClientIP affinity (`--rcheck` in SVC chains, `--set` in SEP)."""

    command: str  # CHECK, SET, UPDATE or REMOVE
    name: str
    seconds: int | None = None
    reap: bool = False
    hitcount: int | None = None
    ttl: bool = False
    side: str = "source"
    mask: str | None = None
    inverted: bool = False


@dataclass(frozen=True, slots=True)
class MarkMatch(Match):
    value: str
    negated: bool = False


@dataclass(frozen=True, slots=True)
class AddrType(Match):
    src_type: str | None = None
    dst_type: str | None = None
    src_negated: bool = False
    dst_negated: bool = False
    extra: str = ""


@dataclass(frozen=True, slots=True)
class ConnState(Match):
    """`conntrack --ctstate` (module "conntrack") or `state --state` (module "state")."""

    states: str
    negated: bool = False
    module: str = "conntrack"


@dataclass(frozen=True, slots=True)
class UnknownMatch(Match):
    """Match text the parser does not interpret, kept verbatim (never dropped)."""

    text: str


# --- targets -------------------------------------------------------------------------------


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
    """DNAT (or SNAT, by `name`) to `destination`: `10.1.2.3:80` or `[fd00::5]:80`."""

    destination: str
    flags: str = ""
    name: str = "DNAT"


@dataclass(frozen=True, slots=True)
class MarkTarget(Target):
    """MARK, normalised to --set-xmark VALUE/MASK (what iptables-save prints)."""

    value: int
    mask: int


@dataclass(frozen=True, slots=True)
class Masquerade(Target):
    flags: str = ""


@dataclass(frozen=True, slots=True)
class Reject(Target):
    with_: str | None = None


@dataclass(frozen=True, slots=True)
class OtherTarget(Target):
    """Any other target extension (LOG, CONNMARK, SNAT options…), options kept verbatim."""

    name: str
    text: str = ""


VERDICTS = frozenset({"ACCEPT", "DROP", "RETURN", "QUEUE"})
#: Target extensions shipped with iptables 1.8.9; a user chain can never take one of these names.
TARGET_EXTENSIONS = frozenset({
    "DNAT", "SNAT", "MASQUERADE", "REDIRECT", "NETMAP", "MARK", "CONNMARK", "REJECT", "LOG", "NFLOG",
    "ULOG", "TRACE", "CT", "NOTRACK", "TPROXY", "TCPMSS", "TOS", "TTL", "HL", "DSCP", "ECN",
    "CLASSIFY", "CHECKSUM", "CONNSECMARK", "SECMARK", "AUDIT", "LED", "IDLETIMER", "NFQUEUE",
    "SET", "SYNPROXY", "TEE", "HMARK", "CLUSTERIP", "RATEEST", "TCPOPTSTRIP", "MIRROR", "SAME",
})


# --- structure -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule. `line` is its 1-based line in the input; addresses are None for "any"."""

    target: Target | None
    matches: tuple[Match, ...] = ()
    protocol: str | None = None
    source: str | None = None
    destination: str | None = None
    source_negated: bool = False
    destination_negated: bool = False
    in_interface: str | None = None
    out_interface: str | None = None
    fragment: str | None = None
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
    family: str  # "ipv4" or "ipv6"
    path: str | None = None
    has_counters: bool = False
    partial: bool = False  # a `-L CHAIN` / `-S CHAIN` printout: other chains exist but are not shown

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)


@lru_cache(maxsize=4096)
def random_match_probability(printed: str, inverted: bool) -> Fraction:
    """t / 2^31 (or 1 - t / 2^31 when inverted), one Fraction per distinct printed value."""
    p = Fraction(probability_threshold(printed), TWO_31)
    return 1 - p if inverted else p


@lru_cache(maxsize=4096)
def probability_threshold(printed: str) -> int:
    """The integer iptables stores for `--probability printed`: lround(strtod(p) * 2^31).

    iptables computes it in double precision, so convert through float exactly as it does;
    the cache keeps a 30k-service dump to a handful of distinct conversions.
    """
    scaled = Fraction(float(printed)) * TWO_31
    return int(scaled + Fraction(1, 2)) if scaled >= 0 else -int(-scaled + Fraction(1, 2))
