"""A deliberately naive second implementation of the chain walk, for the property tests.

kubechain/walk.py pushes probability mass forward through the rules of a chain. This one asks,
for each (chain, rule index, call stack), "what becomes of one unit of mass arriving here?" and
answers with the full outcome distribution, computed recursively from the answers for the next
rule and for the called chain. Nothing is shared with kubechain.walk: the match semantics are
re-read from README.md ("How a chain is evaluated") and written out again here.
"""

from __future__ import annotations

from fractions import Fraction

from kubechain.model import (
    AddrType,
    Chain,
    ConnState,
    Dnat,
    Jump,
    MarkTarget,
    OtherTarget,
    Recent,
    StatisticNth,
    StatisticRandom,
    Verdict,
)

TWO_31 = 2 ** 31
# outcome kinds: ("dnat", endpoint chain), ("stop", None): ends unassigned, ("return", None): leaves the chain
Outcome = tuple[str, str | None]


def match_probability(rule) -> Fraction:
    """Probability that the rule's conditions all hold for a new outside client."""
    if rule.source is not None and (not rule.source.negated or not rule.source.value):
        return Fraction(0)  # the client is outside every named range (`! -s 0.0.0.0/0` matches nobody)
    p = Fraction(1)
    for m in rule.matches:
        if isinstance(m, StatisticRandom):
            q = Fraction(m.threshold.value, TWO_31)  # the stored threshold t: matches when (r & 2^31-1) < t
            p *= (1 - q) if m.threshold.negated else q
        elif isinstance(m, StatisticNth):
            q = Fraction(1, m.every.value)
            p *= (1 - q) if m.every.negated else q
        elif isinstance(m, Recent):
            checks = m.command.value in ("CHECK", "UPDATE")  # the client is in no list: these fail, SET passes
            if checks != m.command.negated:
                return Fraction(0)
        elif isinstance(m, AddrType):
            if m.src_type is not None and (m.src_type.value == "LOCAL") != m.src_type.negated:
                return Fraction(0)
        elif isinstance(m, ConnState) and ("NEW" in m.states.value) == m.states.negated:
            return Fraction(0)
    return p


def _add(into: dict[Outcome, Fraction], outcomes: dict[Outcome, Fraction], weight: Fraction) -> None:
    for key, p in outcomes.items():
        if p and weight:
            into[key] = into.get(key, Fraction(0)) + p * weight


def outcomes(chains: dict[str, Chain], name: str, index: int = 0, stack: tuple[str, ...] = (),
             memo: dict | None = None) -> dict[Outcome, Fraction]:
    """Distribution of what happens to one unit of mass arriving at rule `index` of chain `name`."""
    memo = {} if memo is None else memo
    stack = stack or (name,)
    key = (name, index, stack)
    if key in memo:
        return memo[key]
    rules = chains[name].rules
    if index == len(rules):
        result = {("return", None): Fraction(1)}
    else:
        rule = rules[index]
        p = match_probability(rule)
        result: dict[Outcome, Fraction] = {}
        if p != 1:
            _add(result, outcomes(chains, name, index + 1, stack, memo), 1 - p)
        if p:
            _add(result, _on_match(chains, name, index, rule, stack, memo), p)
    memo[key] = result
    return result


def _on_match(chains, name, index, rule, stack, memo) -> dict[Outcome, Fraction]:
    target = rule.target
    if target is None or isinstance(target, MarkTarget) or (
            isinstance(target, OtherTarget) and target.name in ("LOG", "CONNMARK", "NFLOG", "TRACE")):
        return outcomes(chains, name, index + 1, stack, memo)  # marks and logs: evaluation goes on
    if isinstance(target, Dnat):
        owner = next((c for c in reversed(stack) if c.startswith("KUBE-SEP-")), name)
        return {("dnat", owner): Fraction(1)}
    if isinstance(target, Verdict):
        return {("return", None): Fraction(1)} if target.name == "RETURN" else {("stop", None): Fraction(1)}
    if isinstance(target, Jump):
        if target.chain not in chains:
            raise AssertionError("naive walk: generated chains never jump to a missing chain")
        inner = outcomes(chains, target.chain, 0, (*stack, target.chain), memo)
        result: dict[Outcome, Fraction] = {}
        for (kind, label), q in inner.items():
            if kind != "return":
                _add(result, {(kind, label): Fraction(1)}, q)
            elif target.goto:  # a goto'd chain's end returns to *our* caller
                _add(result, {("return", None): Fraction(1)}, q)
            else:
                _add(result, outcomes(chains, name, index + 1, stack, memo), q)
        return result
    return {("stop", None): Fraction(1)}  # MASQUERADE, REJECT, …: terminal


def shares(chains: dict[str, Chain], start: str) -> tuple[dict[str, Fraction], Fraction]:
    """(endpoint chain → share, unassigned) for one new connection entering `start`."""
    dist = outcomes(chains, start)
    endpoints: dict[str, Fraction] = {}
    unassigned = Fraction(0)
    for (kind, label), p in dist.items():
        if kind == "dnat":
            endpoints[label] = endpoints.get(label, Fraction(0)) + p
        else:  # "stop", or "return" out of the service chain
            unassigned += p
    return endpoints, unassigned
