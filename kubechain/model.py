"""The typed model that every input format is parsed into: ruleset → table → chain → rule.

Everything is a frozen, slotted dataclass: a 30k-service dump holds about a million rules, so the
model must be small, immutable and shareable. Format quirks are normalised away here (protocol
numbers become names, `/32` and `0.0.0.0/0` disappear, a probability is the threshold the kernel
stores, a mark is two integers), so one rule set printed by `iptables -L`, `iptables -S` or
`iptables-save` gives equal models.

Negation has one spelling: an option that `!` can negate holds a :class:`Negatable` value, as
kube-proxy's own test parser does (`IPTablesValue{Negated, Value}`).

nftables rules are the same Rule: its statements in printed order are its `matches`, the verdict
that ends it is its `target`. Where nft and iptables mean the same thing the same type is used
(`meta random & 2147483647 < t` is a StatisticRandom, `ct state new` a ConnState, `fib saddr type
local` an AddrType, `dnat to` a Dnat); what nft has and iptables has not gets its own type: header
fields (Address, Protocol), set lookups and updates, verdict maps and numgen (an n-way branch), and
the tables' named sets and maps (NftSet).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Generic, TypeVar, Union

from .memory import fast_init_all
from .netfilter import numgen_probability, random_compare_probability, statistic_probability

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
    the order iptables prints them. nft's `ct state` is module "ct" (printed in bit order), or "ct
    xt" where nft prints iptables-nft's translation of the conntrack match (in iptables' order)."""

    states: Negatable[tuple[str, ...]]
    module: str = "conntrack"


@dataclass(frozen=True, slots=True)
class ConnStatus(Match):
    """nft `ct status dnat` (iptables' `conntrack --ctstatus`): the connection's status bits, by
    nft's names in bit order. A new connection has none of them yet."""

    statuses: Negatable[tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class UnknownMatch(Match):
    """Match text the parser does not interpret, kept verbatim (never dropped): save form starts
    with `-m `, listing form does not."""

    text: str


# --- nftables matches and statements --------------------------------------------------------------------


class Statement(Match):
    """An nft statement that acts without deciding whether the rule matches (counter, mark set,
    set update, log…): a rule's evaluation passes over it."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Address(Match):
    """nft `ip saddr 10.0.0.0/8`, `ip6 daddr != fd00::a`: the rule's source or destination, as `-s`
    and `-d` are in iptables; an anonymous set keeps its text (`{ 10.0.0.1, 10.0.0.2 }`)."""

    family: str  # "ip" or "ip6"
    field: str  # "saddr" or "daddr"
    value: Negatable[str]

    @property
    def source(self) -> bool:
        return self.field == "saddr"


@dataclass(frozen=True, slots=True)
class Protocol(Match):
    """`meta l4proto tcp`, `ip protocol udp`, `ip6 nexthdr tcp`: the transport protocol, by name
    (`-n` prints numbers; an anonymous set keeps its text)."""

    selector: str  # "meta l4proto", "ip protocol", "ip6 nexthdr"
    value: Negatable[str]


@dataclass(frozen=True, slots=True)
class SetLookup(Match):
    """`ip saddr @affinity-…`, `ip daddr @nodeport-ips`: the packet's key is in a named set.
    `timeout_ms` is the set's timeout where the printout defines the set (an affinity set)."""

    key: tuple[str, ...]  # selectors, in order: ("ip saddr",), ("ip daddr", "meta l4proto", "th dport")
    set: str
    negated: bool = False
    timeout_ms: int | None = None

    @property
    def source(self) -> bool:
        """True when the key is the packet's source address (a client set: affinity)."""
        return self.key in (("ip saddr",), ("ip6 saddr",))

    @property
    def seconds(self) -> int | None:
        """The set's timeout in whole seconds (the affinity timeout), None when unknown."""
        return self.timeout_ms // 1000 if self.timeout_ms is not None else None


@dataclass(frozen=True, slots=True)
class MetaRandom(Match):
    """nft `meta random [& MASK] OP VALUE` other than the `< t` / `>= t` of xt_statistic (which are a
    StatisticRandom): `<=`, `>`, `==`, `!=`, or another mask."""

    op: str  # one of netfilter.COMPARISONS
    value: int
    mask: int | None = 0x7FFFFFFF

    @property
    def match_probability(self) -> Fraction:
        return random_compare_probability(self.op, self.value, self.mask)


@dataclass(frozen=True, slots=True)
class Numgen:
    """`numgen random|inc mod N [offset K]`: a number in K..K+N−1 per packet: random picks
    reciprocal_scale(u32, N) + K, inc counts round (kubechain.netfilter)."""

    mode: str  # "random" or "inc"
    modulus: int
    offset: int = 0

    def probability(self, value: int) -> Fraction:
        """The exact probability (random) or long-run fraction (inc) of `value`."""
        if self.mode == "inc":
            return Fraction(1, self.modulus) if 0 <= value - self.offset < self.modulus else Fraction(0)
        return numgen_probability(value - self.offset, self.modulus)


@dataclass(frozen=True, slots=True)
class NumgenMatch(Match):
    """`numgen random mod 2 0`, `numgen random mod 3 != 1`: the generated number compared with a
    value (`numgen inc mod N P` is a StatisticNth, which is exactly what it is)."""

    numgen: Numgen
    op: str
    value: int

    def holds(self, generated: int) -> bool:
        v = self.value
        return {"==": generated == v, "!=": generated != v, "<": generated < v, ">": generated > v,
                "<=": generated <= v, ">=": generated >= v}[self.op]

    @property
    def match_probability(self) -> Fraction:
        g = self.numgen
        return sum((g.probability(k) for k in range(g.offset, g.offset + g.modulus) if self.holds(k)), Fraction(0))


@dataclass(frozen=True, slots=True)
class XtMatch(Match):
    """An xtables match of an iptables-nft rule that nft prints without its options: `xt match
    recent` in text, `{"xt": …}` in JSON (all of them there). The comment match prints as nothing
    in nft 1.0.6 text and is `XtMatch("comment")`."""

    name: str


@dataclass(frozen=True, slots=True)
class CounterStatement(Statement):
    """Where a rule's `counter` statement stands; its values are the rule's `counters` (None when
    `nft -s` printed it without them)."""


@dataclass(frozen=True, slots=True)
class MarkSet(Statement):
    """`meta mark set …`: the new mark is (mark & ~mask) ^ value, as MARK's --set-xmark. `xt` is
    iptables-nft's MARK target, which nft prints `meta mark set mark or 0x4000`."""

    value: int
    mask: int
    xt: bool = False


@dataclass(frozen=True, slots=True)
class SetUpdate(Statement):
    """`update @affinity-… { ip saddr }` (or `add`): remembers the packet's key in a named set."""

    op: str  # "update" or "add"
    set: str
    key: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OtherStatement(Statement):
    """An nft statement kubechain does not interpret and that lets evaluation go on (`log …`,
    `limit …` is a match: UnknownMatch), kept verbatim."""

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
    """DNAT to `destination`: `10.1.2.3:80`, `10.1.2.3`, `1.2.3.4:80-90` or `[fd00::5]:80`, or
    None where iptables printed `[unsupported revision]` instead of it; `flags` are
    netfilter.NAT_FLAGS names, in the order iptables prints them."""

    destination: str | None
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


@dataclass(frozen=True, slots=True)
class VerdictMap(Target):
    """nft `KEY vmap { K : VERDICT, … }` or `KEY vmap @name`. The packet's key picks an element's
    verdict; a key without an element: the rule does not match, evaluation goes on with the next
    rule. With a numgen key this is an n-way branch (kube-proxy's endpoint choice)."""

    key: Numgen | tuple[str, ...]  # a numgen, or selectors (`ip daddr . meta l4proto . th dport`)
    entries: tuple[tuple[str, Target], ...] = ()  # (key text, verdict) in printed order; numgen keys are ints
    set: str | None = None  # `vmap @service-ips`: the elements are in the table's set

    def branches(self) -> list[tuple[int, Target]]:
        """(generated value, verdict) of a numgen vmap's entries."""
        return [(int(k), t) for k, t in self.entries]


@dataclass(frozen=True, slots=True)
class DnatMap(Target):
    """`dnat ip to numgen random mod N map { 0 : 10.244.0.9 . 8080, … }`: kube-proxy's one-rule
    endpoint choice (v1.36), each value's destination as `IP:PORT` (`[IPv6]:PORT`); a value without
    an element: the rule does not match, evaluation goes on."""

    family: str  # "ip" or "ip6"
    key: Numgen
    entries: tuple[tuple[int, str], ...]


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
    handle: int | None = field(default=None, compare=False)  # nft's `# handle N` (`nft -a`)


@dataclass(frozen=True, slots=True)
class Hook:
    """What makes an nft chain a base chain: `type nat hook prerouting priority dstnat;`."""

    type: str  # "filter", "nat", "route"
    hook: str  # "prerouting", "input", "forward", "output", "postrouting", "ingress"
    priority: int  # nft prints names for some (netfilter.nft_priority_text)
    device: str | None = None


@dataclass(frozen=True, slots=True)
class Chain:
    name: str
    rules: tuple[Rule, ...] = ()
    policy: str | None = None  # built-in chains (nft base chains) only: ACCEPT, DROP
    counters: Counters | None = None  # the policy counters
    references: int | None = None  # as `-L` prints them
    line: int = field(default=0, compare=False)
    hook: Hook | None = None  # an nft base chain
    comment: str | None = None  # an nft chain comment
    handle: int | None = field(default=None, compare=False)

    @property
    def builtin(self) -> bool:
        return self.policy is not None


#: what a map element maps to: a verdict (vmap), data text (`10.0.0.1 . 80`), or nothing (a set)
ElementValue = Union[Target, str, None]  # noqa: UP007


@dataclass(frozen=True, slots=True)
class SetElement:
    """One element of a named nft set or map: its key (one value per concatenated field, protocol
    numbers as names), what it maps to, its comment and its own timeout (in ms, when it differs
    from the set's). `expires_ms` is the time left when it was printed: state, not meaning."""

    key: tuple[str, ...]
    value: ElementValue = None
    comment: str | None = None
    timeout_ms: int | None = None
    expires_ms: int | None = field(default=None, compare=False)
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class NftSet:
    """A named nft set or map (`set cluster-ips { … }`, `map service-ips { … }`)."""

    name: str
    kind: str  # "set" or "map"
    key_types: tuple[str, ...]  # ("ipv4_addr", "inet_proto", "inet_service")
    data_type: str | None = None  # maps: "verdict", or "ipv4_addr . inet_service"
    flags: tuple[str, ...] = ()
    timeout_ms: int | None = None
    size: int | None = None
    comment: str | None = None
    elements: tuple[SetElement, ...] = ()
    line: int = field(default=0, compare=False)
    handle: int | None = field(default=None, compare=False)
    typeof: str | None = None  # `typeof ip saddr`: the key as an expression (then key_types are empty)


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    chains: dict[str, Chain] = field(default_factory=dict)
    line: int = field(default=0, compare=False)
    family: str | None = None  # nft: "ip", "ip6", "inet"…; None for an iptables dump
    sets: dict[str, NftSet] = field(default_factory=dict)  # nft: named sets and maps, in printed order
    comment: str | None = None
    handle: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class InputNote:
    """What reading the input changed or left out: a `repaired` line (lenient reading), a
    `skipped` rule line that could not be read (its chain lost a rule), or sections of a paste
    that `disagree` about a chain (the first one is kept)."""

    line: int
    kind: str  # "repaired", "skipped" or "disagree"
    text: str
    chain: str | None = None


@dataclass(frozen=True, slots=True)
class Ruleset:
    """What :func:`kubechain.load` returns: the tables of one input, in input order."""

    tables: tuple[Table, ...]
    format: str  # "iptables-list", "iptables-save", "nft", "nft-json", or "mixed" (a paste of several outputs)
    family: str  # "ipv4" or "ipv6": that of the first table that shows one
    path: str | None = None
    has_counters: bool = False
    partial: bool = False  # a `-L CHAIN` / `-S CHAIN` printout: other chains exist but are not shown
    notes: tuple[InputNote, ...] = field(default=(), compare=False)  # what reading changed or skipped
    #: `--service TEXT`: the tables hold only what the service ports TEXT selects need (kubechain.selection)
    selection: str | None = None

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)


def jumps_into(table: Table) -> Counter[str]:
    """How many rules (and nft map elements) of the table jump or go to each chain: the `(N
    references)` both backends print, orphans, and endpoint chains shared by several service
    chains all come from this. A verdict map counts once per element."""
    found = Counter(rule.target.chain for chain in table.chains.values() for rule in chain.rules
                    if type(rule.target) is Jump)
    if not table.family:
        return found
    for chain in table.chains.values():
        for rule in chain.rules:
            if type(rule.target) is VerdictMap:
                found.update(v.chain for _, v in rule.target.entries if type(v) is Jump)
    for named in table.sets.values():
        found.update(e.value.chain for e in named.elements if type(e.value) is Jump)
    return found


def verdicts_of(target: Target | None) -> tuple[Target, ...]:
    """The verdicts a target can take: itself, or each entry of an nft verdict map."""
    if target is None:
        return ()
    return tuple(v for _, v in target.entries) if type(target) is VerdictMap else (target,)


def address_family(address: str) -> str | None:
    """"ipv4" or "ipv6" for an address or network as the model holds it (`10.0.0.0/8`, `fd00::5`);
    None for a name that `-L` without -n printed (`localhost`)."""
    import ipaddress

    host = address.split("/", 1)[0]
    try:
        return "ipv6" if ipaddress.ip_address(host).version == 6 else "ipv4"
    except ValueError:
        return None


#: nft table families and the address family each implies
NFT_FAMILIES = {"ip": "ipv4", "ip6": "ipv6"}


def table_family(table: Table) -> str | None:
    """The family of the first address literal in the table's rules; None when there is none (names
    printed by `-L` without -n do not count). A dual-stack dump holds one table of each. An nft
    `ip` or `ip6` table says it outright."""
    if table.family in NFT_FAMILIES:
        return NFT_FAMILIES[table.family]
    for chain in table.chains.values():
        for rule in chain.rules:
            for address in (rule.source, rule.destination):
                family = address_family(address.value) if address is not None else None
                if family is not None:
                    return family
    return None


fast_init_all(globals())  # a parse builds a million of these: constructors without object.__setattr__
