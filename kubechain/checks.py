"""Findings about the shape of the rules rather than where the probability goes: chains nothing
uses, rules nothing reaches, endpoints listed twice, comments that lie, services kube-proxy
rejects, and what kube-proxy's own decimal rounding does to a cascade.

Each check reads the model (and, for per-service checks, the analysed `Service`), never the
text; the walk's client model applies: a protocol-only condition (`-p tcp`) counts as met,
because KUBE-SERVICES already sent only the service's protocol here.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import TYPE_CHECKING

from .cascade import cascade_precision, collisions, first_collision, kube_proxy_deviation, relative_deviation
from .diagnostics import Diagnostic
from .kube import comment_of, commented_address
from .model import Chain, Comment, Dnat, Jump, Ports, Recent, Reject, Rule, StatisticRandom, Table, Verdict
from .verdict import verdict

if TYPE_CHECKING:
    from .analysis import Service

#: chains kube-proxy creates per service or endpoint; one that nothing jumps to is stale
PER_SERVICE_PREFIXES = ("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-XLB-", "KUBE-FW-", "KUBE-SEP-")
SKEW_P_VALUE = 1e-6  # observed-skew fires below this fit p-value
_NO_ENDPOINTS = re.compile(r"^(?P<name>\S+) has no (?P<local>local )?endpoints$")


def table_findings(table: Table, partial: bool) -> list[Diagnostic]:
    """missing-chain, orphan-chain and unreachable-rule for one nat table."""
    found = _missing(table, partial)
    if not partial:
        found.extend(_orphans(table))
    ends: dict[str, bool] = {}
    for chain in table.chains.values():
        if chain.name.startswith(PER_SERVICE_PREFIXES):
            found.extend(_unreachable(chain, table.chains, ends))
    return found


def _missing(table: Table, partial: bool) -> list[Diagnostic]:
    """Jumps to chains the dump does not define, wherever they are (reached by traffic or not);
    the walk treats them as the message says. In a one-chain printout they are expected: info."""
    first: dict[str, tuple[str, int]] = {}
    for chain in table.chains.values():
        for rule in chain.rules:
            target = rule.target
            if type(target) is Jump and target.chain not in table.chains:
                first.setdefault(target.chain, (chain.name, rule.line))
    found = []
    for missing, (source, line) in first.items():
        treated = ("its share is reported by chain name" if missing.startswith("KUBE-SEP-")
                   else "it is assumed to return, as KUBE-MARK-MASQ does")
        if partial:
            found.append(Diagnostic("missing-chain", "info", missing, line or None,
                                    f"{missing} is not in this partial listing; {treated}"))
        else:
            found.append(Diagnostic("missing-chain", "error", missing, line or None,
                                    f"{source} jumps to {missing}, which the dump does not define; {treated}"))
    return found


def _orphans(table: Table) -> list[Diagnostic]:
    referenced = {rule.target.chain for chain in table.chains.values() for rule in chain.rules
                  if type(rule.target) is Jump}
    return [Diagnostic("orphan-chain", "warning", chain.name, chain.line or None,
                       f"{chain.name} is defined but no rule jumps to it, so it receives no traffic "
                       "(left behind by a scale-down or a half-finished kube-proxy sync)")
            for chain in table.chains.values()
            if chain.name.startswith(PER_SERVICE_PREFIXES) and chain.name not in referenced]


def _unreachable(chain: Chain, chains: dict[str, Chain], ends: dict[str, bool]) -> list[Diagnostic]:
    for i, rule in enumerate(chain.rules[:-1]):
        if _leaves_chain(rule, chains, ends):
            rest = chain.rules[i + 1:]
            if chain.name.startswith("KUBE-FW-") and all(_marks_drop(r) for r in rest):
                return []  # kube-proxy before v1.24 ended every KUBE-FW chain with this dead backstop
            dead, first = len(rest), rest[0]
            return [Diagnostic("unreachable-rule", "warning", chain.name, first.line or None,
                               f"{chain.name}: {dead} rule{'s' * (dead > 1)} after the unconditional "
                               f"{_describe_target(rule)} can never match")]
    return []


def _leaves_chain(rule: Rule, chains: dict[str, Chain], ends: dict[str, bool]) -> bool:
    """True when no new connection reaching `rule` ever gets to the next rule of its chain:
    an unconditional verdict (RETURN included), DNAT, goto, or jump into a chain that always ends."""
    if not _unconditional(rule):
        return False
    target = rule.target
    if type(target) in (Verdict, Reject) or _is_dnat(target):
        return True
    return type(target) is Jump and (target.goto or _chain_always_ends(target.chain, chains, ends))


def _chain_always_ends(name: str, chains: dict[str, Chain], ends: dict[str, bool]) -> bool:
    """True when every connection jumping into `name` meets a verdict or DNAT inside it (or in the
    chains it calls): rules in order, and any way back to the caller (a RETURN, a goto to a chain
    that can fall off its end, the end of the chain) makes it False."""
    if name not in ends:
        ends[name] = False  # a cycle (or a missing chain) is not known to end
        ends[name] = _rules_always_end(chains.get(name), chains, ends)
    return ends[name]


def _rules_always_end(chain: Chain | None, chains: dict[str, Chain], ends: dict[str, bool]) -> bool:
    for rule in chain.rules if chain is not None else ():
        target = rule.target
        if type(target) is Verdict and target.name == "RETURN":
            return False  # conditional or not, some connections go back to the caller
        if type(target) is Jump and target.goto and not _chain_always_ends(target.chain, chains, ends):
            return False  # the goto'd chain can fall off its end, which returns to our caller
        if _unconditional(rule) and (type(target) in (Verdict, Reject) or _is_dnat(target) or (
                type(target) is Jump and _chain_always_ends(target.chain, chains, ends))):
            return True
    return False


def _is_dnat(target: object) -> bool:
    return type(target) is Dnat and target.name == "DNAT"


def _marks_drop(rule: Rule) -> bool:
    return type(rule.target) is Jump and rule.target.chain == "KUBE-MARK-DROP"


def _unconditional(rule: Rule) -> bool:
    if rule.source or rule.destination or rule.in_interface or rule.out_interface or rule.fragment:
        return False
    return all(type(m) is Comment or (type(m) is Ports and not (m.dport or m.sport or m.extra))
               or (type(m) is Recent and m.command == "SET" and not m.inverted)  # an action, always true
               for m in rule.matches)


def _describe_target(rule: Rule) -> str:
    target = rule.target
    if type(target) is Jump:
        return f"{'goto' if target.goto else 'jump'} to {target.chain}"
    return getattr(target, "name", None) or type(target).__name__.upper()


def no_endpoints(table: Table) -> list[Diagnostic]:
    """kube-proxy's `… has no endpoints` REJECT / `… has no local endpoints` DROP (filter table)."""
    groups: dict[tuple[str, bool], list[Rule]] = defaultdict(list)
    for chain in table.chains.values():
        for rule in chain.rules:
            m = _NO_ENDPOINTS.match(comment_of(rule) or "")
            if m and (type(rule.target) is Reject or (type(rule.target) is Verdict and rule.target.name == "DROP")):
                groups[m["name"], bool(m["local"])].append(rule)
    found = []
    for (name, local), rules in groups.items():
        where = ", ".join(_destination(r) for r in rules)
        verb = "drops" if type(rules[0].target) is Verdict else "rejects"
        if local:
            text = (f"{name} has no local endpoints on this node (externalTrafficPolicy: Local): kube-proxy {verb} "
                    f"external traffic to {where} here; the load balancer's health check should keep it away")
        else:
            text = f"{name} has no endpoints: kube-proxy {verb} every new connection to {where}"
        found.append(Diagnostic("no-endpoints", "warning", None, rules[0].line or None, text))
    return found


def _destination(rule: Rule) -> str:
    port = next((m.dport for m in rule.matches if type(m) is Ports and m.dport), None)
    address = rule.destination or "any local address"
    if port and ":" in address:  # IPv6: bracketed, as kube-proxy writes endpoints
        return f"[{address}]:{port}"
    return f"{address}:{port}" if port else address


def service_findings(service: Service, chains: dict[str, Chain]) -> list[Diagnostic]:
    """duplicate-endpoint, comment-mismatch, observed-skew, session-affinity, legacy-precision and
    kernel-collision of one service."""
    label = service.name or service.chain
    found = _duplicates(service, label) + _observed_skew(service, label)
    chain = chains.get(service.chain)
    if chain is not None:
        found.extend(_comment_mismatches(service, chain, chains, label))
        found.extend(_precision(service, chain, label))
        found.extend(_affinity(service, chain, label))
    return found


def _affinity(service: Service, chain: Chain, label: str) -> list[Diagnostic]:
    """Reported where the `recent --rcheck` rules are, not on every chain that leads there."""
    seconds = [m.seconds for r in chain.rules for m in r.matches
               if type(m) is Recent and m.command in ("CHECK", "UPDATE") and not m.inverted]
    if not seconds:
        return []
    timeout = f"{max(s for s in seconds if s is not None)} s" if any(s is not None for s in seconds) else "no timeout"
    return [Diagnostic("session-affinity", "info", service.chain, service.line,
                       f"{label} has ClientIP affinity ({timeout}): the shares are for new clients; a returning "
                       "client keeps its endpoint until the entry expires")]


def _duplicates(service: Service, label: str) -> list[Diagnostic]:
    by_address: dict[str, list] = defaultdict(list)
    for endpoint in service.endpoints:
        if endpoint.address is not None:
            by_address[endpoint.address].append(endpoint)
    return [Diagnostic("duplicate-endpoint", "warning", same[1].chain, same[1].line,
                       f"{label}: {len(same)} endpoint chains ({', '.join(e.chain for e in same)}) DNAT to "
                       f"{address}, which therefore gets {float(sum(e.share for e in same)):.4%} of new connections")
            for address, same in by_address.items() if len(same) > 1]


def _observed_skew(service: Service, label: str) -> list[Diagnostic]:
    """The counters contradict the exact shares: p < 1e-6, so about one healthy service in a
    million is flagged by chance (the verdict line's 0.001 is for reading, this is for alerting)."""
    fit = service.fit
    exact = fit.vs_exact if fit is not None else None
    if exact is None or exact.p_value is None or exact.p_value >= SKEW_P_VALUE:
        return []
    return [Diagnostic("observed-skew", "warning", service.chain, service.line,
                       f"{label}: the counters contradict the rules: {verdict(service, fit)}")]


def _comment_mismatches(service: Service, chain: Chain, chains: dict[str, Chain], label: str) -> list[Diagnostic]:
    # an endpoint chain missing from the dump took its address from this very comment
    actual = {e.chain: e.address for e in service.endpoints if e.address is not None and e.chain in chains}
    found, seen = [], set()
    for rule in chain.rules:
        target = rule.target
        said = commented_address(rule)
        if not said or type(target) is not Jump or target.chain not in actual or target.chain in seen:
            continue
        if said != actual[target.chain]:
            seen.add(target.chain)
            found.append(Diagnostic("comment-mismatch", "warning", target.chain, rule.line or None,
                                    f"{label}: the comment says \"-> {said}\" but {target.chain} DNATs to "
                                    f"{actual[target.chain]}; trust the DNAT"))
    return found


def endpoint_thresholds(chain: Chain) -> list[int | None] | None:
    """The thresholds of a service chain's endpoint rules (rcheck rules excluded), or None when
    a rule has a shape kube-proxy never writes (several or inverted statistic matches…)."""
    thresholds: list[int | None] = []
    for rule in chain.rules:
        target = rule.target
        if type(target) is not Jump or not target.chain.startswith("KUBE-SEP-"):
            continue
        if any(type(m) is Recent for m in rule.matches):
            continue
        statistic = [m for m in rule.matches if type(m) is not Comment]
        if not statistic:
            thresholds.append(None)
        elif len(statistic) == 1 and type(statistic[0]) is StatisticRandom and not statistic[0].inverted:
            thresholds.append(statistic[0].threshold)
        else:
            return None
    return thresholds


def _precision(service: Service, chain: Chain, label: str) -> list[Diagnostic]:
    thresholds = endpoint_thresholds(chain)
    if not thresholds:
        return []
    found = []
    n = len(thresholds)
    decimals = cascade_precision(thresholds)
    if decimals is not None and decimals < 10:
        endpoints = len(service.endpoints)  # n counts rules; two may lead to one endpoint
        worst = max(relative_deviation(e.share, endpoints) for e in service.endpoints)
        found.append(Diagnostic("legacy-precision", "info", service.chain, service.line,
                                f"{label}: probabilities written with {decimals} decimals (kube-proxy before "
                                f"v1.17); the kernel's shares differ from 1/{endpoints} by up to {float(worst):.4%} "
                                f"(relative); kube-proxy's current 10 decimals leave "
                                f"{float(kube_proxy_deviation(n, 10)):.1e}"))
    hits = collisions(thresholds)
    if hits:
        i, k, written = hits[0]
        found.append(Diagnostic("kernel-collision", "info", service.chain, service.line,
                                f"{label}: endpoint rules {i + 1} and {i + 2} (meant as 1/{k} and 1/{k - 1}; "
                                f"{len(hits)} such pair{'s' * (len(hits) > 1)}) get the same kernel threshold "
                                f"{thresholds[i]}/2^31, so the kernel cannot give them different odds; "
                                f"kube-proxy's {written}-decimal cascade first does this at "
                                f"{first_collision(written):,} endpoints"))
    return found
