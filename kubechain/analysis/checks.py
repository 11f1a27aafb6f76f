"""Every diagnostic code: one small check per code, registered with its severity and what makes it
fire (kubechain.analysis.diagnostics). README's table of codes is checked against this registry.

Checks of a service port read the analysed Service and the walk that produced it, never the rules
again; checks of a table read its structure once (who jumps where). The walk's client model
applies: a protocol-only condition (`-p tcp`) counts as met, because KUBE-SERVICES already sent
only the service's protocol here.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction

from ..kube import (
    ENDPOINT_PREFIX,
    FIREWALL_PREFIX,
    MARK_DROP,
    MARK_DROP_CHAIN,
    MARK_MASQ_CHAIN,
    NFT_MARK_MASQ_CHAIN,
    NFT_PER_SERVICE_PREFIXES,
    PER_SERVICE_PREFIXES,
    affinity_check,
    commented_address,
    destination_of,
    no_endpoints_rules,
    service_chain_kind,
)
from ..kube_nft import is_kube_proxy_table
from ..kube_nft import no_endpoints as nft_no_endpoints
from ..model import (
    Chain,
    Comment,
    Dnat,
    DnatMap,
    Jump,
    Match,
    Numgen,
    OtherStatement,
    OtherTarget,
    Ports,
    Protocol,
    Recent,
    Reject,
    Rule,
    Ruleset,
    Statement,
    StatisticRandom,
    Table,
    Target,
    UnknownMatch,
    Verdict,
    VerdictMap,
    XtMatch,
    jumps_into,
    verdicts_of,
)
from ..netfilter import UNSUPPORTED_REVISION
from .cascade import (
    cascade_precision,
    collisions,
    deviation_exceeds,
    first_collision,
    kube_proxy_deviation,
    worst_deviation,
)
from .diagnostics import Finding, register
from .fit_sentence import fit_sentence
from .results import Endpoint, Service
from .walk import PRECISION_LIMIT, Walk

SKEW_P_VALUE = 1e-6  # observed-skew fires below this fit p-value


class ServiceCheck:
    """What the checks of one service port read: its analysis and the walk that made it."""

    __slots__ = ("service", "walk", "tolerance", "label", "_thresholds")

    def __init__(self, service: Service, walk: Walk[Fraction], tolerance: Fraction) -> None:
        self.service, self.walk, self.tolerance = service, walk, tolerance
        self.label = service.name or service.chain
        self._thresholds: list[int | None] | None | bool = False

    @property
    def thresholds(self) -> list[int | None] | None:
        """The thresholds of the service chain's endpoint rules (affinity rules excluded), in
        order, or None when a rule has a shape kube-proxy never writes (several or inverted
        statistic matches…); computed once."""
        if self._thresholds is False:
            self._thresholds = _endpoint_thresholds(self)
        return self._thresholds  # type: ignore[return-value]


@dataclass(slots=True)
class TableCheck:
    """What the checks of one table read: the table, whether the printout shows only one chain,
    and who jumps where (counted once)."""

    table: Table
    partial: bool
    counted: Counter[str] | None = None  # who jumps where, when the caller has counted it already

    @property
    def jumps(self) -> Counter[str]:
        """How many rules (and map elements) reach each chain, counted on first use."""
        if self.counted is None:
            self.counted = jumps_into(self.table)
        return self.counted

    @property
    def per_service_prefixes(self) -> tuple[str, ...]:
        """The names of the chains kube-proxy writes per service port and endpoint, in this table's mode."""
        return NFT_PER_SERVICE_PREFIXES if is_kube_proxy_table(self.table) else PER_SERVICE_PREFIXES


# --- the walk -----------------------------------------------------------------------------------

@register("fall-through", "error", "service",
          "probability leaves a cluster/local service chain without reaching a DNAT")
def fall_through(c: ServiceCheck) -> Iterator[Finding]:
    s = c.service
    if s.unassigned > 0 and s.kind != "external":
        yield Finding(s.chain, s.line, f"{c.label}: {float(s.unassigned):.6%} of new connections leave "
                                       f"{s.chain} without reaching any endpoint")


@register("no-dnat", "error", "service",
          "a KUBE-SEP chain ends without DNAT, so its share passes to the next rule")
def no_dnat(c: ServiceCheck) -> Iterator[Finding]:
    lines = {e.chain: e.line for e in c.service.endpoints}
    for chain in c.walk.no_dnat:
        yield Finding(chain, lines.get(chain, c.service.line),
                      f"{chain} ({c.label}) ends without a DNAT rule, so its share of new connections silently "
                      "passes to the next rule")


@register("missing-chain", "error", "nat",
          "a jump to a chain the dump does not define (iptables refuses such rules, so this comes from edited or "
          "truncated text)", partial_severity="info")
def missing_chain(c: TableCheck) -> Iterator[Finding]:
    """Jumps to chains the dump does not define, wherever they are (reached by traffic or not); the
    walk treats them as the message says. In a one-chain printout they are expected."""
    first = _undefined_targets(c.table)
    for missing, (source, line) in first.items():
        treated = _missing_is_treated(missing)
        if c.partial:
            yield Finding(missing, line or None, f"{missing} is not in this partial listing; {treated}")
        else:
            yield Finding(missing, line or None,
                          f"{source} jumps to {missing}, which the dump does not define; {treated}")


def _missing_is_treated(chain: str) -> str:
    if chain.startswith(ENDPOINT_PREFIX):
        return "its share is reported by chain name"
    if chain in (MARK_MASQ_CHAIN, NFT_MARK_MASQ_CHAIN):
        return f"{chain} marks the packet for masquerading and returns: the walk follows the share on"
    if chain == MARK_DROP_CHAIN:
        return (f"KUBE-MARK-DROP sets mark {MARK_DROP:#x} for the filter table to drop the packet, and returns: "
                "the walk follows the share on")
    return "it is assumed to return, as KUBE-MARK-MASQ does"


def _undefined_targets(table: Table) -> dict[str, tuple[str, int]]:
    """Each chain jumped to (by a rule, a verdict map's element, a named map's element) that the
    table does not define → where the first such jump is."""
    first: dict[str, tuple[str, int]] = {}
    chains = table.chains
    for chain in chains.values():
        for rule in chain.rules:
            target = rule.target
            if type(target) is Jump:
                if target.chain not in chains:
                    first.setdefault(target.chain, (chain.name, rule.line))
            elif type(target) is VerdictMap:  # nft: each element of a verdict map
                for verdict in verdicts_of(target):
                    if type(verdict) is Jump and verdict.chain not in chains:
                        first.setdefault(verdict.chain, (chain.name, rule.line))
    for named in table.sets.values():
        for element in named.elements:
            _note_undefined(first, element.value, chains, f"@{named.name}", element.line)
    return first


def _note_undefined(first: dict[str, tuple[str, int]], value: object, chains: dict[str, Chain], source: str,
                    line: int) -> None:
    if type(value) is Jump and value.chain not in chains:
        first.setdefault(value.chain, (source, line))


@register("jump-cycle", "error", "service", "chains jump in a cycle (the kernel refuses these too)")
def jump_cycle(c: ServiceCheck) -> Iterator[Finding]:
    for chain, line in c.walk.cycles:
        yield Finding(chain, line, f"jumping to {chain} from {c.service.chain}'s path loops back into a chain "
                                   "already being evaluated; the kernel refuses such rules")


@register("xt-opaque", "error", "input",
          "an iptables-nft statistic match or DNAT target that nft prints without its options (`nft -j` prints "
          "every xt extension so), so the shares cannot be known")
def xt_opaque(c: InputCheck) -> Iterator[Finding]:
    """nft 1.0.6 keeps xt extensions opaque in JSON: no probability, no DNAT address."""
    found = c.verbatim
    seen, first = found.opaque, found.opaque_first
    for name, count in seen.items():
        what = "probabilities (xt match statistic)" if name == "statistic" else "DNAT addresses (xt target DNAT)"
        yield Finding(first[name][0], first[name][1] or None,
                      f"{count} rule{'s' * (count > 1)}: the {what} of these iptables-nft rules are not in this "
                      "printout, so the shares shown are not the kernel's; print them with `nft list ruleset` "
                      "(text) or `iptables-save`")


@dataclass(slots=True)
class Verbatim:
    """What the input-scope checks count, from one pass over every rule: text kept verbatim, and
    the xt extensions nft printed without their options (name → rules, and the first (chain, line))."""

    unknown: Counter[str] = field(default_factory=Counter)
    unknown_first: dict[str, tuple[str, int]] = field(default_factory=dict)
    xt: Counter[str] = field(default_factory=Counter)
    xt_first: dict[str, tuple[str, int]] = field(default_factory=dict)
    opaque: Counter[str] = field(default_factory=Counter)
    opaque_first: dict[str, tuple[str, int]] = field(default_factory=dict)
    unsupported: int = 0  # rules printed with [unsupported revision]
    unsupported_first: tuple[str, int] | None = None


_VERBATIM_TYPES = frozenset({UnknownMatch, OtherStatement, XtMatch})


class InputCheck:
    """What the checks of the whole input read: the ruleset, and one pass over its rules (on first use)."""

    __slots__ = ("ruleset", "_verbatim")

    def __init__(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset
        self._verbatim: Verbatim | None = None

    @property
    def verbatim(self) -> Verbatim:
        if self._verbatim is None:
            self._verbatim = _scan(self.ruleset)
        return self._verbatim


def _scan(ruleset: Ruleset) -> Verbatim:
    """One pass over every rule. Written for a million rules: a comment, a rule's commonest match,
    costs one type test."""
    found = Verbatim()
    for table in ruleset.tables:
        for chain in table.chains.values():
            for rule in chain.rules:
                target = rule.target
                unsupported = _unsupported_target(target)
                if type(target) is OtherTarget and target.name == "DNAT":
                    found.opaque["DNAT"] += 1
                    found.opaque_first.setdefault("DNAT", (chain.name, rule.line))
                for m in rule.matches:
                    if type(m) not in _VERBATIM_TYPES:
                        continue
                    if type(m) is XtMatch:
                        counts, firsts = (found.opaque, found.opaque_first) if m.name == "statistic" else (
                            found.xt, found.xt_first)
                        key = m.name
                    elif type(m) is OtherStatement and m.text == "continue":
                        continue
                    else:
                        counts, firsts, key = found.unknown, found.unknown_first, m.text  # type: ignore[attr-defined]
                        unsupported = unsupported or (type(m) is UnknownMatch and key.endswith(UNSUPPORTED_REVISION))
                    counts[key] += 1
                    firsts.setdefault(key, (chain.name, rule.line))
                if unsupported:
                    found.unsupported += 1
                    found.unsupported_first = found.unsupported_first or (chain.name, rule.line)
    return found


# --- the table's structure --------------------------------------------------------------------------

@register("orphan-chain", "warning", "nat",
          "a KUBE-SVC/SVL/EXT/FW/SEP chain nothing jumps to (not checked in a `-L CHAIN` listing)")
def orphan_chain(c: TableCheck) -> Iterator[Finding]:
    if c.partial:
        return
    prefixes = c.per_service_prefixes
    for chain in c.table.chains.values():
        if chain.name.startswith(prefixes) and not c.jumps[chain.name]:
            yield Finding(chain.name, chain.line or None,
                          f"{chain.name} is defined but no rule jumps to it, so it receives no traffic "
                          "(left behind by a scale-down or a half-finished kube-proxy sync)")


@register("unreachable-rule", "warning", "nat",
          "rules after an unconditional verdict, DNAT, goto, or jump into a chain that always ends (no RETURN, no "
          "goto to a chain that can fall off its end), in a service or endpoint chain; kube-proxy's own dead "
          "`KUBE-MARK-DROP` backstop at the end of a pre-v1.24 KUBE-FW chain is not reported")
def unreachable_rule(c: TableCheck) -> Iterator[Finding]:
    ends = _Ends(c.table.chains)
    prefixes = c.per_service_prefixes
    for chain in c.table.chains.values():
        if not chain.name.startswith(prefixes):
            continue
        for i, rule in enumerate(chain.rules[:-1]):
            if not ends.leaves_chain(rule):
                continue
            rest = chain.rules[i + 1:]
            if chain.name.startswith(FIREWALL_PREFIX) and all(_marks_drop(r) for r in rest):
                break  # kube-proxy before v1.24 ended every KUBE-FW chain with this dead backstop
            yield Finding(chain.name, rest[0].line or None,
                          f"{chain.name}: {len(rest)} rule{'s' * (len(rest) > 1)} after the unconditional "
                          f"{_describe_target(rule)} can never match")
            break


@register("numgen-modulus", "warning", "nat",
          "an nft numgen map whose elements are not exactly the values it generates: a value without an element "
          "falls through to the next rule, an element no value reaches gets nothing")
def numgen_modulus(c: TableCheck) -> Iterator[Finding]:
    """kube-proxy writes `numgen random mod N` with elements 0..N-1 for its N endpoints; anything else
    is a half-applied sync or a hand edit."""
    for chain in c.table.chains.values():
        for rule in chain.rules:
            target = rule.target
            if not isinstance(target, (VerdictMap, DnatMap)) or type(target.key) is not Numgen:
                continue
            key = target.key
            generated = set(range(key.offset, key.offset + key.modulus))
            values = [int(k) for k, _ in target.entries]
            missing = sorted(generated - set(values))
            extra = sorted(set(values) - generated)
            if not missing and not extra:
                continue
            spelled = f"numgen {key.mode} mod {key.modulus}" + (f" offset {key.offset}" if key.offset else "")
            parts = []
            if missing:
                share = sum((key.probability(v) for v in missing), Fraction(0))
                several = len(missing) > 1
                parts.append(f"value{'s' * several} {_values(missing)} ({float(share):.6%} of what reaches it) "
                             f"ha{'ve' if several else 's'} no element and go{'' if several else 'es'} on to the "
                             "next rule")
            if extra:
                parts.append(f"element{'s' * (len(extra) > 1)} {_values(extra)} {'are' if len(extra) > 1 else 'is'} "
                             "never generated, so never chosen")
            yield Finding(chain.name, rule.line or None,
                          f"{chain.name}: {spelled} has {len(values)} element{'s' * (len(values) != 1)}: "
                          + "; ".join(parts))


def _values(values: list[int]) -> str:
    return ", ".join(str(v) for v in values[:8]) + (", …" if len(values) > 8 else "")


class _Ends:
    """Which chains every connection jumping in leaves by a verdict or DNAT (memoised per table)."""

    def __init__(self, chains: dict[str, Chain]) -> None:
        self.chains = chains
        self.known: dict[str, bool] = {}

    def leaves_chain(self, rule: Rule) -> bool:
        """True when no new connection reaching `rule` ever gets to the next rule of its chain: an
        unconditional verdict (RETURN included), DNAT, goto, or jump into a chain that always ends."""
        if not _unconditional(rule):
            return False
        target = rule.target
        if isinstance(target, (VerdictMap, DnatMap)):  # nft: every value generated has an element that leaves
            return _covers_every_value(target) and all(self._verdict_leaves(t) for t in _map_verdicts(target))
        return self._verdict_leaves(target)

    def _verdict_leaves(self, target: Target | None) -> bool:
        if type(target) in (Verdict, Reject, Dnat):
            return True
        return type(target) is Jump and (target.goto or self.always_ends(target.chain))

    def always_ends(self, name: str) -> bool:
        """Every connection jumping into `name` meets a verdict or DNAT inside it (or in the chains
        it calls): rules in order, and any way back to the caller (a RETURN, a goto to a chain that
        can fall off its end, the end of the chain) makes it False."""
        if name not in self.known:
            self.known[name] = False  # a cycle (or a missing chain) is not known to end
            self.known[name] = self._rules_end(self.chains.get(name))
        return self.known[name]

    def _rules_end(self, chain: Chain | None) -> bool:
        for rule in chain.rules if chain is not None else ():
            target = rule.target
            if type(target) is Verdict and target.name == "RETURN":
                return False  # conditional or not, some connections go back to the caller
            if type(target) is Jump and target.goto and not self.always_ends(target.chain):
                return False  # the goto'd chain can fall off its end, which returns to our caller
            if _unconditional(rule) and (type(target) in (Verdict, Reject, Dnat) or (
                    type(target) is Jump and self.always_ends(target.chain))):
                return True
        return False


def _covers_every_value(target: Target) -> bool:
    """A numgen verdict or DNAT map with an element for every value it can generate."""
    key = target.key  # type: ignore[attr-defined]
    if type(key) is not Numgen:
        return False
    values = {int(k) for k, _ in target.entries}  # type: ignore[attr-defined]
    return values >= set(range(key.offset, key.offset + key.modulus))


def _map_verdicts(target: Target) -> list[Target]:
    """The verdict each element of a map leads to (a DNAT map's elements are DNATs)."""
    if type(target) is DnatMap:
        return [Dnat(d) for _, d in target.entries]
    return list(verdicts_of(target))


def _marks_drop(rule: Rule) -> bool:
    return type(rule.target) is Jump and rule.target.chain == MARK_DROP_CHAIN


def _unconditional(rule: Rule) -> bool:
    if rule.source or rule.destination or rule.in_interface or rule.out_interface or rule.fragment:
        return False
    return all(_passive(m) or (type(m) is Ports and not (m.dport or m.sport or m.extra))
               or (type(m) is Recent and m.command.value == "SET" and not m.command.negated)  # an action
               or type(m) is Protocol  # protocol-only, as `-p tcp` (module docstring)
               for m in rule.matches)


def _passive(m: Match) -> bool:
    """A comment, or an nft statement that decides nothing (counter, mark set, set update…), or
    the nothing iptables-nft's comment match prints as."""
    return type(m) is Comment or isinstance(m, Statement) or (type(m) is XtMatch and m.name in ("", "comment"))


def _describe_target(rule: Rule) -> str:
    target = rule.target
    if type(target) is Jump:
        return f"{'goto' if target.goto else 'jump'} to {target.chain}"
    if type(target) is Verdict:
        return target.name
    if type(target) is VerdictMap:
        return "numgen verdict map"
    if type(target) is DnatMap:
        return "numgen DNAT map"
    return type(target).__name__.upper()


# --- the service's endpoints ----------------------------------------------------------------------

@register("duplicate-endpoint", "warning", "service", "two endpoint chains of one service DNAT to the same address")
def duplicate_endpoint(c: ServiceCheck) -> Iterator[Finding]:
    by_address = defaultdict(list)
    for endpoint in c.service.endpoints:
        if endpoint.address is not None:
            by_address[endpoint.address].append(endpoint)
    for address, same in by_address.items():
        if len(same) > 1:
            yield Finding(same[1].chain, same[1].line,
                          f"{c.label}: {len(same)} endpoint chains ({', '.join(e.chain for e in same)}) DNAT to "
                          f"{address}, which therefore gets {float(sum(e.share for e in same)):.4%} of new connections")


@register("comment-mismatch", "warning", "service",
          "a rule's `-> A` comment names another address than its endpoint chain's DNAT")
def comment_mismatch(c: ServiceCheck) -> Iterator[Finding]:
    # an endpoint chain missing from the dump took its address from this very comment
    actual = {s.chain: s.destination for s in c.walk.endpoints.values() if s.destination and not s.missing}
    seen = set()
    for chain, rule in c.walk.endpoint_jumps:
        target = rule.target
        said = commented_address(rule)
        if chain != c.service.chain or not said or type(target) is not Jump or target.chain not in actual:
            continue
        if target.chain not in seen and said != actual[target.chain]:
            seen.add(target.chain)
            yield Finding(target.chain, rule.line or None,
                          f"{c.label}: the comment says \"-> {said}\" but {target.chain} DNATs to "
                          f"{actual[target.chain]}; trust the DNAT")


@register("no-endpoints", "warning", "filter",
          "kube-proxy's `… has no endpoints` REJECT or `… has no local endpoints` DROP in the filter table "
          "(one per service)")
def no_endpoints(c: TableCheck) -> Iterator[Finding]:
    groups: dict[tuple[str, bool], list[Rule]] = defaultdict(list)
    # nft prints iptables-nft's rules without their comments: their names are lost, not their rejections
    for rejection in no_endpoints_rules(c.table, uncommented=c.table.family is not None):
        groups[rejection.name or UNNAMED, rejection.local].append(rejection.rule)
    places: dict[tuple[str, bool], list[tuple[str, int, bool]]] = {
        key: [(_destination(r), r.line, type(r.target) is Verdict) for r in rules] for key, rules in groups.items()}
    for gone in nft_no_endpoints(c.table) if is_kube_proxy_table(c.table) else ():
        place = (gone.destination, gone.line, gone.local)
        places.setdefault((gone.name or "(a service)", gone.local), []).append(place)
    for (name, local), found in places.items():
        where = ", ".join(destination for destination, _, _ in found)
        verb = "drops" if found[0][2] else "rejects"
        if local:
            text = (f"{name} has no local endpoints on this node (externalTrafficPolicy: Local): kube-proxy {verb} "
                    f"external traffic to {where} here; the load balancer's health check should keep it away")
        else:
            text = f"{name} has no endpoints: kube-proxy {verb} every new connection to {where}"
        yield Finding(None, found[0][1] or None, text)


#: how no-endpoints names a service whose name was only in a comment the printout lacks
UNNAMED = "a service port (named in a comment nft does not print)"


def _destination(rule: Rule) -> str:
    port = next((m.dport.value for m in rule.matches if type(m) is Ports and m.dport), None)
    destination = destination_of(rule)
    address = destination.value if destination is not None else "any local address"
    if port and ":" in address:  # IPv6: bracketed, as kube-proxy writes endpoints
        return f"[{address}]:{port}"
    return f"{address}:{port}" if port else address


# --- the shares -----------------------------------------------------------------------------------

@register("non-uniform", "warning", "service",
          "an endpoint's exact share differs from 1/n by more than the tolerance (relative)")
def non_uniform(c: ServiceCheck) -> Iterator[Finding]:
    endpoints = c.service.endpoints
    n = len(endpoints)
    if n < 2 or _surely_within(endpoints, n, c.tolerance):
        return
    found = worst_deviation([e.share for e in endpoints])
    if found is None or not deviation_exceeds(endpoints[found[0]].share, n, c.tolerance):
        return
    worst = endpoints[found[0]]
    yield Finding(c.service.chain, c.service.line,
                  f"{c.label}: {worst.address or worst.chain} gets {float(worst.share):.4%} of new connections where "
                  f"a fair 1/{n} is {1 / n:.4%} ({_relative_text(found[1])} off; tolerance "
                  f"{_relative_text(c.tolerance)})")


def _surely_within(endpoints: tuple[Endpoint, ...], n: int, tolerance: Fraction) -> bool:
    """True when every share is surely within the tolerance, from doubles: for a share x ≤ 1,
    float(x)·n − 1 is off from x·n − 1 by at most n·2^-51 < n·1e-12, which the limit leaves room
    for. Saves the exact big-integer test on nearly every service; it decides everything else."""
    limit = float(tolerance) - 1e-12 * n
    if limit < 1e-9:
        return False
    return all(abs(float(e.share) * n - 1) < limit for e in endpoints)


def _relative_text(value: Fraction) -> str:
    return f"{float(value):.1%}" if value >= Fraction(1, 1000) or not value else f"{float(value):.2e}"


@register("observed-skew", "warning", "fit",
          "the dump's counters contradict the exact shares (Holm-adjusted fit p < 1e-6; for K/M/G-rounded "
          "counters, even at the most favourable true counts; see \"Observed counters\")")
def observed_skew(service: Service) -> Iterator[Finding]:
    """p < 1e-6 after Holm's adjustment over every service port tested, so a whole node's healthy
    services raise it by chance about once in a million runs (the verdict line's 0.001 is for
    reading, this is for alerting)."""
    fit = service.fit
    exact = fit.vs_exact if fit is not None else None
    p = exact.decisive if exact is not None else None
    if fit is not None and p is not None and p < SKEW_P_VALUE:
        yield Finding(service.chain, service.line, f"{service.name or service.chain}: the counters contradict "
                                                   f"the rules: {fit_sentence(service, fit)}")


@register("session-affinity", "info", "service",
          "ClientIP affinity (`recent --rcheck`; nftables mode: `ip saddr @affinity-…`), reported on the chain "
          "holding those rules")
def session_affinity(c: ServiceCheck) -> Iterator[Finding]:
    held = [m for m in c.walk.affinity.get(c.service.chain, ())
            if not (m.command.negated if isinstance(m, Recent) else m.negated)]
    if not held:
        return
    seconds = [m.seconds for m in held if m.seconds is not None]
    timeout = f"{max(seconds)} s" if seconds else "no timeout"
    clients = c.service.affinity_clients
    remembered = f"; the affinity sets remember {clients} client{'s' * (clients != 1)}" if clients else ""
    yield Finding(c.service.chain, c.service.line,
                  f"{c.label} has ClientIP affinity ({timeout}): the shares are for new clients; a returning "
                  f"client keeps its endpoint until the entry expires{remembered}")


def _endpoint_thresholds(c: ServiceCheck) -> list[int | None] | None:
    thresholds: list[int | None] = []
    for chain, rule in c.walk.endpoint_jumps:
        if chain != c.service.chain or affinity_check(rule) is not None:
            continue
        if type(rule.target) is not Jump:  # nft: one numgen rule for all endpoints, not a cascade
            return None
        statistic = [m for m in rule.matches if not _passive(m)]
        if not statistic:
            thresholds.append(None)
        elif len(statistic) == 1 and type(statistic[0]) is StatisticRandom and not statistic[0].threshold.negated:
            thresholds.append(statistic[0].threshold.value)
        else:
            return None
    return thresholds


@register("legacy-precision", "info", "service",
          "the cascade is kube-proxy's, written with 5 (`%0.5f`, before v1.17) or 6 (`%f`) decimals")
def legacy_precision(c: ServiceCheck) -> Iterator[Finding]:
    thresholds = c.thresholds
    decimals = cascade_precision(thresholds) if thresholds else None
    if thresholds and decimals is not None and decimals < 10:
        endpoints = c.service.endpoints  # rules may be more: two may lead to one endpoint
        found = worst_deviation([e.share for e in endpoints])
        worst = found[1] if found else Fraction(0)
        yield Finding(c.service.chain, c.service.line,
                      f"{c.label}: probabilities written with {decimals} decimals (kube-proxy before v1.17); the "
                      f"kernel's shares differ from 1/{len(endpoints)} by up to {float(worst):.4%} (relative); "
                      f"kube-proxy's current 10 decimals leave {float(kube_proxy_deviation(len(thresholds), 10)):.1e}")


@register("kernel-collision", "info", "service",
          "two neighbouring endpoint rules get one kernel threshold where kube-proxy meant 1/k and 1/(k-1)")
def kernel_collision(c: ServiceCheck) -> Iterator[Finding]:
    thresholds = c.thresholds
    hits = collisions(thresholds) if thresholds else []
    if thresholds and hits:
        i, k, written = hits[0]
        yield Finding(c.service.chain, c.service.line,
                      f"{c.label}: endpoint rules {i + 1} and {i + 2} (meant as 1/{k} and 1/{k - 1}; {len(hits)} "
                      f"such pair{'s' * (len(hits) > 1)}) get the same kernel threshold {thresholds[i]}/2^31, so the "
                      f"kernel cannot give them different odds; kube-proxy's {written}-decimal cascade first does "
                      f"this at {first_collision(written):,} endpoints")


@register("precision-limit", "warning", "service",
          "exact shares would need more than 10^6 bits (deeply nested statistic chains): certified intervals "
          "are reported instead, and the JSON's `probability` is null")
def precision_limit(c: ServiceCheck) -> Iterator[Finding]:
    interval = c.service.unassigned_interval
    if interval is not None:
        widest = max((e.share_interval[1] - e.share_interval[0] for e in c.service.endpoints if e.share_interval),
                     default=interval[1] - interval[0])
        yield Finding(c.service.chain, c.service.line,
                      f"{c.label}: the exact shares would need more than {PRECISION_LIMIT:,} bits; each is given as "
                      f"a certified interval instead (the widest {float(widest):.1e} wide)")


# --- the input --------------------------------------------------------------------------------------

@register("unknown-match", "info", "input", "match text kept verbatim and not interpreted (one per distinct text)")
def unknown_match(c: InputCheck) -> Iterator[Finding]:
    found = c.verbatim
    seen, first = found.unknown, found.unknown_first
    for text, count in seen.items():
        yield Finding(first[text][0], first[text][1],
                      f"match text kept verbatim, not interpreted ({count} rule{'s' * (count > 1)}; taken as "
                      f"matching where it lies on a service path): {text}")


@register("no-nat-table", "info", "input",
          "the input holds tables but no nat table (`iptables -L` without `-t nat` lists the filter table), where "
          "the rules that choose endpoints are")
def no_nat_table(c: InputCheck) -> Iterator[Finding]:
    ruleset = c.ruleset
    shown = [t.name for t in ruleset.tables if t.chains]
    if any(is_kube_proxy_table(t) for t in ruleset.tables):
        return  # nftables mode: kube-proxy's own table chooses the endpoints
    if shown and "nat" not in shown:
        tables = " and ".join(dict.fromkeys(shown))
        plural = "s" * (len(set(shown)) > 1)
        yield Finding(None, None, f"the input holds the {tables} table{plural} and no nat table: the rules that "
                                  "choose endpoints are in the nat table; run `iptables -t nat -L -n -v` or "
                                  "`iptables-save`")


@register("no-service-chains", "warning", "input",
          "kube-proxy's rules are in the input but no service port chain (KUBE-SVC/SVL/EXT) is analyzed: they are "
          "not in this printout, or in a table other than nat")
def no_service_chains(c: InputCheck) -> Iterator[Finding]:
    """Never answer "0 service port chains" silently when the input shows there are some."""
    ruleset = c.ruleset
    nat = [t for t in ruleset.tables if t.name == "nat"]
    if any(service_chain_kind(n) for t in nat for n in t.chains):
        return
    elsewhere = sorted({f"{t.name}" for t in ruleset.tables if t.name != "nat"
                        and any(n.startswith(PER_SERVICE_PREFIXES) for n in t.chains)})
    wanted = sorted({r.target.chain for t in nat for c in t.chains.values() for r in c.rules
                     if type(r.target) is Jump and service_chain_kind(r.target.chain)
                     and r.target.chain not in t.chains})
    if elsewhere:
        tables = " and ".join(elsewhere)
        yield Finding(None, None, f"kube-proxy's service chains are in the {tables} table, not in a nat table, so none "
                                  "is analyzed; name the table (`iptables -t nat …`, or paste the command line with "
                                  "the output)")
    elif wanted:
        shown = ", ".join(wanted[:3]) + (f" and {len(wanted) - 3:,} more" if len(wanted) > 3 else "")
        yield Finding(wanted[0], None, f"the rules jump to {shown}, which this printout does not hold, so no service "
                                       "port is analyzed; print the whole nat table (`iptables -t nat -L -n -v` or "
                                       "`iptables-save`)")


@register("unsupported-revision", "warning", "input",
          "iptables printed `[unsupported revision]`: its binary is older than the rule's extension (iptables in a "
          "container listing the host's rules), so the extension's options, a DNAT's address among them, are not "
          "shown")
def unsupported_revision(c: InputCheck) -> Iterator[Finding]:
    count, first = c.verbatim.unsupported, c.verbatim.unsupported_first
    if count and first is not None:
        chain, line = first
        yield Finding(chain, line or None,
                      f"{count} rule{'s' * (count > 1)} printed with {UNSUPPORTED_REVISION} (first in {chain}): this "
                      "iptables is older than the rules' extensions; DNAT rules keep their endpoints' shares, with "
                      "the address from a `->` comment where there is one; print the rules with the node's own "
                      "iptables (e.g. `kubectl debug node/NAME … chroot /host iptables-save`) to see them whole")


def _unsupported_target(target: Target | None) -> bool:
    """A target printed `[unsupported revision]` (a DNAT so printed has no destination); _scan
    finds such matches."""
    return (type(target) is Dnat and target.destination is None) or (
        type(target) is OtherTarget and target.text == UNSUPPORTED_REVISION)


@register("input-repaired", "warning", "input",
          "`--lenient` repaired a line of edited or pasted text, or skipped one it could not read (its chain lost a "
          "rule)")
def input_repaired(c: InputCheck) -> Iterator[Finding]:
    for note in c.ruleset.notes:
        if note.kind in ("repaired", "skipped"):
            yield Finding(note.chain, note.line, f"{'skipped' if note.kind == 'skipped' else 'repaired'}: "
                                                 f"{note.text}")


@register("sections-disagree", "warning", "input",
          "two command outputs pasted together print one chain differently (the first is analyzed)")
def sections_disagree(c: InputCheck) -> Iterator[Finding]:
    for note in c.ruleset.notes:
        if note.kind == "disagree":
            yield Finding(note.chain, note.line, note.text)


@register("xt-match", "info", "input",
          "an iptables-nft match that nft prints without its options (`xt match recent`, or nothing for a comment), "
          "read by kube-proxy's convention (one per name)")
def xt_match(c: InputCheck) -> Iterator[Finding]:
    found = c.verbatim
    seen, first = found.xt, found.xt_first
    for name, count in seen.items():
        rules = f"{count} rule{'s' * (count > 1)}"
        if name in ("", "comment"):
            text = (f"{rules} carry iptables-nft's comment match, which nft prints as nothing: service names and "
                    "`->` comments are not in this printout (`iptables-save` shows them)")
        elif name == "recent":
            text = (f"{rules} carry `xt match recent`, iptables-nft's `recent` printed without its options: taken as "
                    "kube-proxy's ClientIP affinity (`--rcheck` on a jump, which a new client fails; `--set` "
                    "elsewhere); its timeout is not in this printout")
        else:
            text = f"{rules} carry `xt match {name}`, printed without its options: taken as matching"
        yield Finding(first[name][0], first[name][1] or None, text)


@register("empty-input", "info", "input", "no chains at all (e.g. `iptables-save` on an nftables-mode node)")
def empty_input(c: InputCheck) -> Iterator[Finding]:
    ruleset = c.ruleset
    if ruleset.selection is None and not any(t.chains for t in ruleset.tables):
        yield Finding(None, None, "the input holds no chains (iptables-save prints nothing on a node whose "
                                  "kube-proxy uses nftables): no services to analyze")
