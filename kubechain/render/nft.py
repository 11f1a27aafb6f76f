"""Print a model as `nft list ruleset` (nft 1.0.6) prints the same rules: the inverse of parse/nft.

    text = render(ruleset, "nft")                          # nft list ruleset
    text = render(ruleset, "nft", handles=True)            # nft -a list ruleset
    text = render(ruleset, "nft", numeric=True)            # nft -n list ruleset
    text = render(ruleset, "nft", stateless=True)          # nft -s list ruleset
    text = render(ruleset, "nft", table="kube-proxy")      # nft list table FAMILY kube-proxy
    text = render(ruleset, "nft", chain="services")        # nft list chain FAMILY TABLE services

What nft computes, this computes too: sets and maps before chains, priorities by their standard
names within 10 of one (`dstnat - 10`), times in the largest units (`3h`), element lines wrapped as
nft wraps them (netfilter.nft_elements_per_line), `-n`'s numbers (protocols, `ct state` bits, fib
types, priorities, times in seconds). Element order and chain order are the model's (nft prints
kernel order, which the parser kept). Only tables read from nft (with a family) can be printed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import RenderError
from ..model import (
    Address,
    AddrType,
    Chain,
    Comment,
    ConnState,
    ConnStatus,
    CounterStatement,
    Dnat,
    DnatMap,
    Jump,
    MarkMatch,
    MarkSet,
    Masquerade,
    Match,
    MetaRandom,
    NftSet,
    Numgen,
    NumgenMatch,
    OtherStatement,
    OtherTarget,
    Ports,
    Protocol,
    Reject,
    Rule,
    Ruleset,
    SetElement,
    SetLookup,
    SetUpdate,
    Snat,
    StatisticNth,
    StatisticRandom,
    Table,
    Target,
    UnknownMatch,
    Verdict,
    VerdictMap,
    XtMatch,
)
from ..netfilter import (
    CT_STATES,
    CT_STATUSES,
    FIB_TYPES,
    FULL_MARK,
    LOW_31,
    NFT_NAT_FLAGS,
    PROTOCOL_NUMBERS,
    nft_elements_per_line,
    nft_priority_text,
    nft_time_text,
)

_CONTINUATION = ",\n\t\t\t     "
_CT_BITS = {name.upper(): (name, bit) for name, bit in CT_STATES}
_NFT_FLAG = {ipt: nft for nft, ipt in NFT_NAT_FLAGS}


def render_nft(ruleset: Ruleset, *, numeric: bool = False, handles: bool = False, stateless: bool = False,
               table: str | None = None, family: str | None = None, chain: str | None = None) -> str:
    """`nft [-n] [-a] [-s] list ruleset|table|chain` (module docstring)."""
    printer = _Printer(numeric, handles, stateless)
    tables = [t for t in ruleset.tables
              if (table is None or t.name == table) and (family is None or t.family == family)]
    if any(t.family is None for t in tables):
        raise RenderError("only tables read from nft (with a family) print as nft; an iptables dump has none")
    if chain is not None:
        found = [t for t in tables if chain in t.chains]
        if not found:
            raise RenderError(f"no table holds a chain {chain!r}")
        return printer.one_chain(found[0], found[0].chains[chain])
    return "".join(printer.table(t) for t in tables)


class _Printer:
    def __init__(self, numeric: bool, handles: bool, stateless: bool) -> None:
        self.numeric, self.handles, self.stateless = numeric, handles, stateless

    def _handle(self, handle: int | None) -> str:
        return f" # handle {handle}" if self.handles and handle is not None else ""

    # --- structure ---

    def table(self, table: Table) -> str:
        out = [f"table {table.family} {table.name} {{{self._handle(table.handle)}\n"]
        if table.comment is not None:
            out.append(f'\tcomment "{table.comment}"\n')
        blocks = [self.named_set(s) for s in table.sets.values()]
        blocks += [self.chain(table, c) for c in table.chains.values()]
        out.append("\n".join(blocks))
        out.append("}\n")
        return "".join(out)

    def one_chain(self, table: Table, chain: Chain) -> str:
        return f"table {table.family} {table.name} {{{self._handle(table.handle)}\n{self.chain(table, chain)}}}\n"

    def chain(self, table: Table, chain: Chain) -> str:
        out = [f"\tchain {chain.name} {{{self._handle(chain.handle)}\n"]
        if chain.comment is not None:
            out.append(f'\t\tcomment "{chain.comment}"\n')
        if chain.hook is not None:
            hook = chain.hook
            priority = str(hook.priority) if self.numeric else nft_priority_text(hook.priority, hook.hook)
            device = f' device "{hook.device}"' if hook.device else ""
            out.append(f"\t\ttype {hook.type} hook {hook.hook}{device} priority {priority}; "
                       f"policy {(chain.policy or 'ACCEPT').lower()};\n")
        out.extend(f"\t\t{self.rule(table, r)}{self._handle(r.handle)}\n" for r in chain.rules)
        out.append("\t}\n")
        return "".join(out)

    def named_set(self, named: NftSet) -> str:
        out = [f"\t{named.kind} {named.name} {{{self._handle(named.handle)}\n"]
        key = named.typeof if named.typeof is not None else " . ".join(named.key_types)
        data = f" : {named.data_type}" if named.data_type else ""
        out.append(f"\t\t{'typeof' if named.typeof is not None else 'type'} {key}{data}\n")
        if named.size is not None:
            out.append(f"\t\tsize {named.size}\n")
        if named.flags:
            out.append(f"\t\tflags {','.join(named.flags)}\n")
        if named.timeout_ms is not None:
            out.append(f"\t\ttimeout {self._time(named.timeout_ms)}\n")
        if named.comment is not None:
            out.append(f'\t\tcomment "{named.comment}"\n')
        if named.elements:
            per_line = nft_elements_per_line(named.key_types)
            parts = [self.element(e, named) for e in named.elements]
            text = ""
            for i, part in enumerate(parts):
                if i:
                    text += _CONTINUATION if i % per_line == 0 else ", "
                text += part
            out.append(f"\t\telements = {{ {text} }}\n")
        out.append("\t}\n")
        return "".join(out)

    def element(self, element: SetElement, named: NftSet) -> str:
        key = " . ".join(self._key_value(v, t) for v, t in zip(element.key, named.key_types or ("",) * len(element.key),
                                                               strict=False))
        text = key
        if element.timeout_ms is not None:
            text += f" timeout {self._time(element.timeout_ms)}"
        if element.expires_ms is not None and not self.stateless:
            text += f" expires {nft_time_text(element.expires_ms)}"
        if element.comment is not None:
            text += f' comment "{element.comment}"'
        if element.value is not None:
            value = element.value
            text += " : " + (self.target(value) if not isinstance(value, str) else value)
        return text

    def _key_value(self, value: str, key_type: str) -> str:
        if self.numeric and key_type == "inet_proto" and value in PROTOCOL_NUMBERS:
            return str(PROTOCOL_NUMBERS[value])
        return value

    def _time(self, ms: int) -> str:
        return nft_time_text(ms, numeric=self.numeric)

    # --- rules ---

    def rule(self, _table: Table, rule: Rule) -> str:
        parts = []
        comment = None
        for m in rule.matches:
            if type(m) is Comment:
                comment = m.text
                continue
            parts.append(self.statement(m, rule))
        if rule.target is not None:
            parts.append(self.target(rule.target))
        if comment is not None:
            parts.append(f'comment "{comment}"')
        return " ".join(parts)

    def statement(self, m: Match, rule: Rule) -> str:
        printer = _STATEMENTS.get(type(m))
        if printer is None:
            raise RenderError(f"nft cannot print {type(m).__name__} (a match read from iptables text)")
        return printer(self, m, rule)

    def target(self, target: Target) -> str:
        printer = _TARGETS.get(type(target))
        if printer is None:
            raise RenderError(f"nft cannot print the target {type(target).__name__}")
        return printer(self, target)

    def _negated(self, negated: bool) -> str:
        return "!= " if negated else ""

    def protocol_value(self, value: str) -> str:
        if not self.numeric:
            return value
        if value.startswith("{"):
            inner = [str(PROTOCOL_NUMBERS.get(p.strip(), p.strip())) for p in value[1:-1].split(",")]
            return "{ " + ", ".join(inner) + " }"
        return str(PROTOCOL_NUMBERS.get(value, value))


def _address(p: _Printer, m: Address, _rule: Rule) -> str:
    return f"{m.family} {m.field} {p._negated(m.value.negated)}{m.value.value}"


def _protocol(p: _Printer, m: Protocol, _rule: Rule) -> str:
    return f"{m.selector} {p._negated(m.value.negated)}{p.protocol_value(m.value.value)}"


def _ports(p: _Printer, m: Ports, _rule: Rule) -> str:
    port, field = (m.dport, "dport") if m.dport is not None else (m.sport, "sport")
    if port is None:
        raise RenderError("a port match without a port has no nft text")
    return f"{m.protocol} {field} {p._negated(port.negated)}{port.value}"


def _set_lookup(p: _Printer, m: SetLookup, _rule: Rule) -> str:
    return f"{' . '.join(m.key)} {p._negated(m.negated)}@{m.set}"


def _conn_state(p: _Printer, m: ConnState, _rule: Rule) -> str:
    known = [_CT_BITS[s] for s in m.states.value if s in _CT_BITS]
    if m.module != "ct xt":  # nft's own order: by bit (module docstring of ConnState)
        known.sort(key=lambda nb: nb[1])
    shown = ",".join(f"{bit:#x}" if p.numeric else name for name, bit in known)
    return f"ct state {p._negated(m.states.negated)}{shown}"


def _conn_status(p: _Printer, m: ConnStatus, _rule: Rule) -> str:
    bits = dict(CT_STATUSES)
    shown = ",".join(f"{bits[n]:#x}" if p.numeric else n for n in m.statuses.value)
    return f"ct status {p._negated(m.statuses.negated)}{shown}"


def _addr_type(p: _Printer, m: AddrType, _rule: Rule) -> str:
    side, kind = ("saddr", m.src_type) if m.src_type is not None else ("daddr", m.dst_type)
    if kind is None:
        raise RenderError("an addrtype match without a type has no nft text")
    name = kind.value.lower()
    shown = str(FIB_TYPES[name]) if p.numeric and name in FIB_TYPES else name
    return f"fib {side} type {p._negated(kind.negated)}{shown}"


def _mark_match(p: _Printer, m: MarkMatch, _rule: Rule) -> str:
    mark = m.mark.value
    if mark.mask == FULL_MARK:
        return f"meta mark {p._negated(m.mark.negated)}0x{mark.value:08x}"
    return f"meta mark & 0x{mark.mask:08x} {'!=' if m.mark.negated else '=='} 0x{mark.value:08x}"


def _statistic(_p: _Printer, m: StatisticRandom, _rule: Rule) -> str:
    return f"meta random & {LOW_31} {'>=' if m.threshold.negated else '<'} {m.threshold.value}"


def _meta_random(_p: _Printer, m: MetaRandom, _rule: Rule) -> str:
    mask = f" & {m.mask}" if m.mask is not None else ""
    return f"meta random{mask} {m.op} {m.value}"


def _nth(p: _Printer, m: StatisticNth, _rule: Rule) -> str:
    return f"numgen inc mod {m.every.value} {p._negated(m.every.negated)}{m.packet}"


def _numgen(numgen: Numgen) -> str:
    offset = f" offset {numgen.offset}" if numgen.offset else ""
    return f"numgen {numgen.mode} mod {numgen.modulus}{offset}"


def _numgen_match(_p: _Printer, m: NumgenMatch, _rule: Rule) -> str:
    op = "" if m.op == "==" else f"{m.op} "
    return f"{_numgen(m.numgen)} {op}{m.value}"


def _xt_match(_p: _Printer, m: XtMatch, _rule: Rule) -> str:
    return "" if m.name in ("", "comment") else f"xt match {m.name}"


def _counter(p: _Printer, _m: CounterStatement, rule: Rule) -> str:
    if p.stateless or rule.counters is None:
        return "counter"
    return f"counter packets {rule.counters.packets} bytes {rule.counters.bytes}"


def _mark_set(_p: _Printer, m: MarkSet, _rule: Rule) -> str:
    if m.xt:  # iptables-nft's MARK target, as libxt_MARK's xlate writes it
        if m.value == m.mask:
            return f"meta mark set mark or {m.value:#x}"
        if m.mask == 0:
            return f"meta mark set mark xor {m.value:#x}"
        if m.value == 0:
            return f"meta mark set mark and {~m.mask & FULL_MARK:#x}"
        if m.mask == FULL_MARK:
            return f"meta mark set {m.value:#x}"
        return f"meta mark set mark and {~m.mask & FULL_MARK:#x} xor {m.value:#x}"
    if m.mask == FULL_MARK:
        return f"meta mark set 0x{m.value:08x}"
    if m.value == m.mask:
        return f"meta mark set meta mark | 0x{m.value:08x}"
    if m.mask == 0:
        return f"meta mark set meta mark ^ 0x{m.value:08x}"
    if m.value == 0:
        return f"meta mark set meta mark & 0x{~m.mask & FULL_MARK:08x}"
    raise RenderError("this mark set has no single nft expression kubechain prints")


def _set_update(_p: _Printer, m: SetUpdate, _rule: Rule) -> str:
    return f"{m.op} @{m.set} {{ {' . '.join(m.key)} }}"


def _verbatim(_p: _Printer, m: UnknownMatch | OtherStatement, _rule: Rule) -> str:
    return m.text


_STATEMENTS: dict[type, Callable[[_Printer, Any, Rule], str]] = {
    Address: _address, Protocol: _protocol, Ports: _ports, SetLookup: _set_lookup, ConnState: _conn_state,
    ConnStatus: _conn_status, AddrType: _addr_type, MarkMatch: _mark_match, StatisticRandom: _statistic,
    MetaRandom: _meta_random,
    StatisticNth: _nth, NumgenMatch: _numgen_match, XtMatch: _xt_match, CounterStatement: _counter,
    MarkSet: _mark_set, SetUpdate: _set_update, UnknownMatch: _verbatim, OtherStatement: _verbatim,
}


def _flags(flags: tuple[str, ...]) -> str:
    """NAT flags in nft's order (random, fully-random, persistent)."""
    shown = [nft for nft, ipt in NFT_NAT_FLAGS if ipt in flags]
    return f" {','.join(shown)}" if shown else ""


def _jump(_p: _Printer, t: Jump) -> str:
    return f"{'goto' if t.goto else 'jump'} {t.chain}"


def _verdict(_p: _Printer, t: Verdict) -> str:
    return t.name.lower()


def _reject(_p: _Printer, t: Reject) -> str:
    return f"reject with {t.with_}" if t.with_ else "reject"


def _dnat(_p: _Printer, t: Dnat) -> str:
    return f"dnat to {t.destination}{_flags(t.flags)}"


def _snat(_p: _Printer, t: Snat) -> str:
    return f"snat to {t.source}{_flags(t.flags)}"


def _masquerade(_p: _Printer, t: Masquerade) -> str:
    ports = f" to :{t.to_ports}" if t.to_ports else ""
    return f"masquerade{ports}{_flags(t.flags)}"


def _other_target(_p: _Printer, t: OtherTarget) -> str:
    if not t.text:
        raise RenderError(f"the target {t.name} has no nft text")
    return t.text


def _verdict_map(p: _Printer, t: VerdictMap) -> str:
    key = _numgen(t.key) if isinstance(t.key, Numgen) else " . ".join(t.key)
    if t.set is not None:
        return f"{key} vmap @{t.set}"
    return f"{key} vmap {{ {', '.join(f'{k} : {p.target(v)}' for k, v in t.entries)} }}"


def _dnat_map(_p: _Printer, t: DnatMap) -> str:
    entries = ", ".join(f"{k} : {_concat(d)}" for k, d in t.entries)
    return f"dnat {t.family} to {_numgen(t.key)} map {{ {entries} }}"


def _concat(destination: str) -> str:
    """`10.244.0.9:8080` → `10.244.0.9 . 8080`, `[fd00::8]:8080` → `fd00::8 . 8080`."""
    host, _, port = destination.rpartition(":")
    return f"{host.strip('[]')} . {port}"


_TARGETS: dict[type, Callable[[_Printer, Any], str]] = {
    Jump: _jump, Verdict: _verdict, Reject: _reject, Dnat: _dnat, Snat: _snat, Masquerade: _masquerade,
    OtherTarget: _other_target, VerdictMap: _verdict_map, DnatMap: _dnat_map,
}
