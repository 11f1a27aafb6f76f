"""What flows through the walk when a trace follows one packet: a probability mass over packet
states (the mark, the DNATed destination, the verdict of the hook being walked, whether it was
masqueraded, and the path of rules it took), and the target handlers that change them.

The walk itself is :mod:`kubechain.analysis.walk`'s (jumps, goto, RETURN, missing chains, numgen
branches). This flow is not linear, since whether a rule matches depends on the state, so the
walk follows it jump by jump, as it does the sampler's counts; states that meet the same rule in
the same mark and destination are evaluated once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any, NamedTuple

from ..analysis.walk import TARGETS, Frame, Gate, Outcome, _Walker
from ..model import (
    Dnat,
    DnatMap,
    Jump,
    MarkSet,
    MarkTarget,
    Masquerade,
    Numgen,
    OtherTarget,
    Reject,
    Rule,
    Snat,
    Table,
    Target,
    Verdict,
    VerdictMap,
)
from ..netfilter import TERMINAL_EXTENSIONS
from .index import table_index
from .matches import Context, Evaluation, Where, destination_of, evaluate, lookup


class Step(NamedTuple):
    """One rule the packet matched: its table, chain, and line in the input."""

    table: str
    chain: str
    line: int


@dataclass(frozen=True, slots=True)
class State:
    """The packet as the walk carries it. `destination` is (address, port) after a DNAT;
    `verdict` is what ended the hook being walked (None: it went on, or fell off a chain)."""

    mark: int = 0
    destination: tuple[str, int] | None = None
    dnat: bool = False
    dnat_text: str | None = None  # the DNAT target as the rule wrote it (a missing chain: its endpoint)
    verdict: str | None = None
    masquerade: bool = False
    path: tuple[Step, ...] = ()


Mass = Mapping[State, Fraction]
EMPTY: Mass = {}


def put(into: dict[State, Fraction], state: State, p: Fraction) -> None:
    """Add `p` to `into[state]`. Never `0 + p`: adding an int to a Fraction of a 3,000-endpoint
    cascade (a denominator of 2^93,000) costs a gcd of the huge values, which made a trace quadratic."""
    into[state] = into[state] + p if state in into else p


def merged(a: Mass, b: Mass) -> dict[State, Fraction]:
    out = dict(a)
    for state, p in b.items():
        put(out, state, p)
    return out


class TraceFlow:
    """The walk's flow for one hook's chain: states of one packet, weighted by probability."""

    zero: Mass = EMPTY
    linear = False
    by_gate = False  # the packet decides each rule, not the new-client gate

    def __init__(self, ctx: Context, table: Table, whole: Mass) -> None:
        self.ctx = ctx
        self.table = table
        self.whole = whole
        self._chain_of = table_index(table).chain_of
        self._cache: dict[tuple[int, int, tuple[str, int] | None], Evaluation] = {}

    def where(self, state: State) -> Where:
        pk = self.ctx.packet
        dst, dport = state.destination or (pk.dst, pk.dport)
        return Where(state.mark, dst, dport)

    def step(self, rule: Rule) -> Step:
        return Step(self.table.name, self._chain_of.get(id(rule), "?"), rule.line)

    def split(self, mass: Mass, rule: Rule, _gate: Gate) -> tuple[Mass, Mass]:
        self.ctx.table = self.table
        hit: dict[State, Fraction] = {}
        rest: dict[State, Fraction] = {}
        acts = rule.target is not None or any(type(m) is MarkSet for m in rule.matches)
        step = self.step(rule) if acts else None  # a rule that decides or changes the packet
        if step is not None and type(rule.target) is Jump:
            self.ctx.jumps[step] = rule.target.chain
        for state, p in mass.items():
            key = (id(rule), state.mark, state.destination)
            result = self._cache.get(key)
            if result is None:
                result = self._cache[key] = evaluate(self.ctx, rule, self.where(state))
            q, mark, misses = result
            if q:
                hit_state = replace(state, mark=mark, path=state.path + (step,)) if step else replace(state, mark=mark)
                put(hit, hit_state, p * q)
            for r, m in misses:
                if r:
                    miss_state = replace(state, mark=m) if m != state.mark else state
                    put(rest, miss_state, p * r)
        if hit and type(rule.target) is Jump and rule.target.chain not in self.table.chains:
            self.ctx.assume("missing-chain", f"{self.table.name} {rule.target.chain} is not in the dump: "
                            "taken as returning", rule.line)
        return hit, rest

    def add(self, a: Mass, b: Mass) -> Mass:
        return merged(a, b)

    def scale(self, _unit: Mass, _mass: Mass) -> Mass:
        raise TypeError("a trace's flow is not linear")

    def branch(self, mass: Mass, _rule: Rule, numgen: Numgen) -> list[Mass]:
        return [{s: p * numgen.probability(numgen.offset + k) for s, p in mass.items()}
                for k in range(numgen.modulus)]


def tagged(mass: Mass, **changes: Any) -> dict[State, Fraction]:
    out: dict[State, Fraction] = {}
    for state, p in mass.items():
        s = replace(state, **changes)
        put(out, s, p)
    return out


# --- the handlers that give targets their meaning for a packet -------------------------------------

def _ends(walker: _Walker[Any], frame: Frame[Any], rule: Rule, target: Target, hit: Mass, verdict: str,
          **changes: Any) -> Outcome[Any]:
    return walker.ends(frame, rule, target, tagged(hit, verdict=verdict, **changes))


def _verdict(walker: _Walker[Any], frame: Frame[Any], rule: Rule, target: Verdict, hit: Mass) -> Outcome[Any]:
    if target.name == "RETURN":
        return (walker.walk.zero, hit)
    if target.name in ("ACCEPT", "DROP"):
        return _ends(walker, frame, rule, target, hit, target.name.lower())
    flow: TraceFlow = walker.flow  # type: ignore[assignment]
    flow.ctx.assume("unknown-target", f"{target.name} taken as accepting", rule.line)
    return _ends(walker, frame, rule, target, hit, "accept")


def _reject(walker: _Walker[Any], frame: Frame[Any], rule: Rule, target: Reject, hit: Mass) -> Outcome[Any]:
    return _ends(walker, frame, rule, target, hit, "reject")


def _masquerade(walker: _Walker[Any], frame: Frame[Any], rule: Rule, target: Masquerade | Snat,
                hit: Mass) -> Outcome[Any]:
    return _ends(walker, frame, rule, target, hit, "accept", masquerade=True)


def _mark(_walker: _Walker[Any], _frame: Frame[Any], _rule: Rule, target: MarkTarget, hit: Mass) -> Outcome[Any]:
    out: dict[State, Fraction] = {}
    for state, p in hit.items():
        s = replace(state, mark=(state.mark & ~target.mask & 0xFFFFFFFF) ^ target.value)
        put(out, s, p)
    return out


def _other(walker: _Walker[Any], frame: Frame[Any], rule: Rule, target: OtherTarget, hit: Mass) -> Outcome[Any]:
    if target.name not in TERMINAL_EXTENSIONS:
        return hit  # LOG, CONNMARK…
    flow: TraceFlow = walker.flow  # type: ignore[assignment]
    flow.ctx.assume("unknown-target", f"{target.name} is not followed: taken as accepting", rule.line)
    return _ends(walker, frame, rule, target, hit, "accept")


def _dnat(walker: _Walker[Any], frame: Frame[Any], rule: Rule, target: Dnat, hit: Mass) -> Outcome[Any]:
    flow: TraceFlow = walker.flow  # type: ignore[assignment]
    pk = flow.ctx.packet
    out: dict[State, Fraction] = {}
    for state, p in hit.items():
        dport = state.destination[1] if state.destination else pk.dport
        to = destination_of(target.destination, dport)
        if to is None:
            flow.ctx.assume("unknown-target", f"DNAT {target.destination or '[unsupported revision]'}: "
                            "its destination is not known", rule.line)
        s = replace(state, destination=to, dnat=True, dnat_text=target.destination)
        put(out, s, p)
    return TARGETS[Dnat](walker, frame, rule, target, out)


def _dnat_map(walker: _Walker[Any], frame: Frame[Any], rule: Rule, target: DnatMap, hit: Mass) -> Outcome[Any]:
    """`dnat to numgen … map { K : ADDRESS . PORT }`: each value's part is DNATed to its element."""
    numgen = target.key
    parts = walker.flow.branch(hit, rule, numgen)
    stays: Mass = walker.walk.zero
    covered: set[int] = set()
    for value, destination in target.entries:
        k = value - numgen.offset
        if not 0 <= k < numgen.modulus or k in covered:
            continue
        covered.add(k)
        if parts[k]:
            _dnat(walker, frame, rule, Dnat(destination), parts[k])
    for k, part in enumerate(parts):
        if k not in covered and part:
            stays = merged(stays, part)
    return stays


def _verdict_map(walker: _Walker[Any], frame: Frame[Any], rule: Rule, target: VerdictMap,
                 hit: Mass) -> Outcome[Any]:
    """A numgen vmap branches (the walk's own handler); a vmap keyed on the packet (`ip daddr .
    meta l4proto . th dport vmap @service-ips`) sends each state to its element's verdict, and a
    state without one goes on to the next rule."""
    if type(target.key) is Numgen:
        return TARGETS[VerdictMap](walker, frame, rule, target, hit)
    flow: TraceFlow = walker.flow  # type: ignore[assignment]
    if target.set is not None:
        named = flow.table.sets.get(target.set)
        if named is None:
            flow.ctx.assume("missing-chain", f"map @{target.set} is not in the dump: taken as holding no element",
                            rule.line)
            return hit
        elements = [(e.key, e.value) for e in named.elements]
    else:
        elements = [(tuple(p.strip() for p in k.split(" . ")), v) for k, v in target.entries]
    by_verdict: dict[int, tuple[Target, dict[State, Fraction]]] = {}
    stays: dict[State, Fraction] = {}
    for state, p in hit.items():
        verdict = lookup(flow.ctx, rule, target.key, flow.where(state), elements)  # type: ignore[arg-type]
        if not isinstance(verdict, Target):  # no element: the rule did not match, and is not on the path
            if state.path and state.path[-1] == flow.step(rule):
                state = replace(state, path=state.path[:-1])
            put(stays, state, p)
            continue
        group = by_verdict.setdefault(id(verdict), (verdict, {}))[1]
        put(group, state, p)
    back: Mass = walker.walk.zero
    for verdict, part in by_verdict.values():
        if type(verdict) is Jump:
            outcome = walker.jump_now(frame, rule, verdict, part)
        else:
            outcome = walker.targets.get(type(verdict), _continues)(walker, frame, rule, verdict, part)
        if isinstance(outcome, tuple):
            outcome, left = outcome
            back = merged(back, left)
        stays = merged(stays, outcome)
    return (stays, back) if back else stays


def _continues(_walker: _Walker[Any], _frame: Frame[Any], _rule: Rule, _target: Any, hit: Any) -> Any:
    return hit


#: the walk's handlers, with the targets that change the packet or end its hook given their meaning
TRACE_TARGETS: dict[type, Any] = {
    **TARGETS,
    Verdict: _verdict,
    Reject: _reject,
    Masquerade: _masquerade,
    Snat: _masquerade,
    MarkTarget: _mark,
    OtherTarget: _other,
    Dnat: _dnat,
    DnatMap: _dnat_map,
    VerdictMap: _verdict_map,
}
