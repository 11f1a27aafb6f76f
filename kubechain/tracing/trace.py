"""Follow one new packet through a node's tables, hook by hook, and give every outcome exactly.

The order is the kernel's: the chains of a hook by priority (iptables' tables at their fixed
priorities: raw, mangle, nat, filter, security; nft base chains at theirs), then the routing
decision on the destination as DNAT left it (a local address goes to INPUT, anything else is
forwarded), then POSTROUTING, where MASQUERADE or SNAT rewrite the source. From the node a
packet starts at OUTPUT and, to a local address, comes back in at INPUT. Each hook's chain is
walked by :mod:`kubechain.analysis.walk` with a :class:`~kubechain.tracing.flow.TraceFlow`, so
statistic matches and numgen branches split the mass exactly and one walk gives every outcome.

An ACCEPT (or the end of a chain whose policy is ACCEPT) lets the packet on to the next chain of
the hook; DROP and REJECT end it. Outcomes with the same verdict, destination and masquerade are
merged; the most likely of their paths is kept.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from fractions import Fraction

from ..analysis.diagnostics import Diagnostic
from ..analysis.walk import walk_chain
from ..kube import NFT_NODEPORT_IPS
from ..kube_nft import endpoint_address
from ..model import Chain, Dnat, Recent, Ruleset, SetUpdate, Table, table_family
from ..netfilter import BUILTIN_CHAINS, builtin_priority
from .flow import EMPTY, TRACE_TARGETS, Mass, State, Step, TraceFlow, put
from .index import table_index
from .matches import Assumption, Context, local_networks
from .packet import Packet, endpoint_text, split_endpoint

SCHEMA = "kubechain/trace/v1"
VERDICTS = ("dnat", "accept", "reject", "drop")
#: where a packet goes after each hook: PREROUTING → INPUT or FORWARD by the routing decision
ORDER = ("PREROUTING", "OUTPUT", "FORWARD", "POSTROUTING", "INPUT")
#: addresses an external client can have that no dump names (documentation ranges, RFC 5737/3849)
EXTERNAL_CANDIDATES = {"ipv4": ("203.0.113.7", "198.51.100.7", "192.0.2.7", "100.64.0.7", "11.0.0.7"),
                       "ipv6": ("2001:db8::7", "2001:db8:7::7", "3fff::7")}


@dataclass(frozen=True, slots=True)
class Outcome:
    """One way the packet ends: its verdict (`dnat` is delivered with its destination rewritten,
    `accept` delivered as sent, `reject`, `drop`), the DNAT destination (also of a packet dropped
    or rejected after its DNAT), whether its source is
    masqueraded, the exact probability, and the most likely path (`paths` counts the distinct
    paths merged into it)."""

    verdict: str
    destination: str | None
    masquerade: bool
    probability: Fraction
    path: tuple[Step, ...]
    paths: int = 1


@dataclass(frozen=True, slots=True)
class Trace:
    """What :func:`trace` returns: the packet (its representative source filled in), the outcomes
    (most likely first; probabilities sum to 1), what was assumed, and the dump's diagnostics on
    the chains the packet went through."""

    packet: Packet
    outcomes: tuple[Outcome, ...]
    assumptions: tuple[Assumption, ...]
    diagnostics: tuple[Diagnostic, ...]
    path: str | None = None  # the dump's
    tables: tuple[str, ...] = ()  # the tables walked, as `nat`, `filter` or `ip kube-proxy`
    local_proven: tuple[str, ...] = ()  # local addresses the dump proves (nft nodeport-ips)


@dataclass(frozen=True, slots=True)
class Stage:
    """One base chain a hook runs: its priority, table and chain."""

    priority: int
    table: Table
    chain: Chain

    @property
    def table_name(self) -> str:
        return table_name(self.table)


def table_name(table: Table) -> str:
    """`nat`, `filter` (iptables), or `ip kube-proxy` (nft: family and name)."""
    return f"{table.family} {table.name}" if table.family else table.name


def trace(ruleset: Ruleset, packet: Packet, diagnostics: tuple[Diagnostic, ...] = ()) -> Trace:
    """Every outcome of `packet` through `ruleset`, with exact probabilities (see the module)."""
    tables = [t for t in ruleset.tables if table_family(t) in (None, packet.family) and _hooked_family(t, packet)]
    proven = _proven_local(tables)
    local = tuple(dict.fromkeys((*packet.local_addresses, *proven)))
    packet = replace(packet, src=packet.src or _representative_source(ruleset, packet, local))
    ctx = Context(packet, local_networks(local), _remembered(tables, packet.returning_client),
                  frozenset(s for t in tables for s in table_index(t).updated_sets))
    if not packet.local_addresses:
        ctx.assume("unknown-local", "no --local-address: only loopback" + (f" and {', '.join(proven)} (the "
                   f"{NFT_NODEPORT_IPS} set) count" if proven else " counts") + " as the node's addresses", None)
    _missing_tables(ctx, ruleset, tables)
    visited: set[str] = set()
    finals: dict[State, Fraction] = {}
    pending: dict[str, dict[State, Fraction]] = {packet.hook: {State(): Fraction(1)}}
    for hook in ORDER:
        mass = pending.pop(hook, None)
        if not mass:
            continue
        for stage in _stages(tables, hook):
            mass = _run_stage(ctx, stage, mass, finals, visited)
            if not mass:
                break
        for state, p in mass.items():
            after = _next_hook(ctx, packet, hook, state)
            if after is None:
                put(finals, state, p)
            else:
                pending.setdefault(after, {})
                put(pending[after], state, p)
    outcomes = _outcomes(ctx, finals)
    lines = {step.line for o in outcomes for step in o.path}
    chains = {step.chain for o in outcomes for step in o.path} | visited
    diags = tuple(d for d in diagnostics
                  if d.line in lines or (d.line is None and (d.chain is None or d.chain in chains)))
    return Trace(packet, outcomes, tuple(ctx.assumptions.values()), diags, ruleset.path,
                 tuple(dict.fromkeys(table_name(t) for t in tables)), proven)


def _hooked_family(table: Table, packet: Packet) -> bool:
    return table.family in (None, "inet", "ip" if packet.family == "ipv4" else "ip6")


def _stages(tables: list[Table], hook: str) -> list[Stage]:
    """The base chains of `hook`, by priority (a stable sort: equal priorities in dump order)."""
    found = []
    for table in tables:
        for chain in table_index(table).base_chains:
            if chain.hook is not None:
                if chain.hook.hook == hook.lower() and chain.hook.type in ("filter", "nat", "route"):
                    found.append(Stage(chain.hook.priority, table, chain))
            elif table.family is None and chain.name == hook and hook in BUILTIN_CHAINS.get(table.name, ()):
                priority = builtin_priority(table.name, hook)
                if priority is not None:
                    found.append(Stage(priority, table, chain))
    return sorted(found, key=lambda s: s.priority)


def _run_stage(ctx: Context, stage: Stage, mass: Mass, finals: dict[State, Fraction],
               visited: set[str]) -> dict[State, Fraction]:
    """Walk one base chain: what goes on to the next chain of the hook (DROP/REJECT go to finals)."""
    flow = TraceFlow(ctx, stage.table, mass)
    walk = walk_chain(stage.table.chains, stage.chain.name, flow, TRACE_TARGETS)
    visited.update(s.chain for s in walk.endpoints.values())
    goes_on: dict[State, Fraction] = {}
    policy = (stage.chain.policy or "ACCEPT").lower()
    for key, share in walk.endpoints.items():
        for state, p in share.mass.items():
            if not state.dnat:  # a jump to an endpoint chain the dump lacks: its DNAT is not known
                address = endpoint_address(key)
                ctx.assume("missing-chain", f"{stage.table_name} {key} is not in the dump: "
                           + (f"taken as DNAT to {address} (its name)" if address else "its DNAT is not known"), None)
                host, port = split_endpoint(address) if address else ("", None)
                to = (host, port if port is not None else ctx.packet.dport) if address else None
                state = replace(state, dnat=True, destination=to, dnat_text=address)
            put(goes_on, state, p)
    for state, p in (walk.unassigned or EMPTY).items():
        verdict = state.verdict or policy
        if state.path:
            visited.update(step.chain for step in state.path)
        target = finals if verdict in ("drop", "reject") else goes_on
        s = replace(state, verdict=verdict if target is finals else None)
        put(target, s, p)
    for state in list(goes_on) + list(finals):
        visited.update(step.chain for step in state.path)
    visited.add(stage.chain.name)
    return goes_on


def _next_hook(ctx: Context, packet: Packet, hook: str, state: State) -> str | None:
    dst = state.destination[0] if state.destination else packet.dst
    if hook == "PREROUTING":
        return "INPUT" if ctx.is_local(dst) else "FORWARD"
    if hook in ("OUTPUT", "FORWARD"):
        return "POSTROUTING"
    if hook == "POSTROUTING" and packet.hook == "OUTPUT" and ctx.is_local(dst):
        return "INPUT"
    return None


def _outcomes(ctx: Context, finals: dict[State, Fraction]) -> tuple[Outcome, ...]:
    merged_outcomes: dict[tuple[str, str | None, bool], list[tuple[Fraction, State]]] = {}
    for state, p in finals.items():
        verdict = state.verdict if state.verdict in ("drop", "reject") else "dnat" if state.dnat else "accept"
        destination = None
        if state.dnat:
            destination = endpoint_text(*state.destination) if state.destination else state.dnat_text
        state = replace(state, path=_decisive(ctx, state.path))
        merged_outcomes.setdefault((verdict, destination, state.masquerade), []).append((p, state))
    out = []
    for (verdict, destination, masq), parts in merged_outcomes.items():
        best = min(parts, key=lambda ps: (-float(ps[0]), -ps[0], [s.line for s in ps[1].path]))[1]
        out.append(Outcome(verdict, destination, masq, sum((p for p, _ in parts), Fraction(0)), best.path,
                           len(parts)))
    # by a float first: comparing two Fractions of a long cascade multiplies their huge terms, and
    # sorting 3,000 endpoints that way took seconds; the exact value still decides near ties
    return tuple(sorted(out, key=lambda o: (-float(o.probability), -o.probability, VERDICTS.index(o.verdict),
                                            o.destination or "", o.masquerade)))


def _decisive(ctx: Context, path: tuple[Step, ...]) -> tuple[Step, ...]:
    """The path without the jumps into chains where nothing matched (KUBE-PROXY-FIREWALL, a
    firewall-check that holds no element for the packet): they came back with the packet unchanged."""
    kept = []
    for i, step in enumerate(path):
        into = ctx.jumps.get(step)
        if into is not None and (i + 1 == len(path) or path[i + 1].chain != into):
            continue
        kept.append(step)
    return tuple(kept)


def _remembered(tables: list[Table], client: str | None) -> frozenset[str]:
    """The affinity lists that hold a client returning to endpoint `client`: the `recent --set`
    lists (and nft sets updated) in the chains that DNAT to it."""
    if client is None:
        return frozenset()
    host, port = split_endpoint(client)
    names: set[str] = set()
    for table in tables:
        for chain in table.chains.values():
            if not any(type(r.target) is Dnat and r.target.destination is not None
                       and _same_endpoint(r.target.destination, host, port) for r in chain.rules):
                continue
            for rule in chain.rules:
                for m in rule.matches:
                    if type(m) is Recent and not m.checks:
                        names.add(m.name)
                    elif type(m) is SetUpdate:
                        names.add(m.set)
    return frozenset(names)


def _same_endpoint(text: str, host: str, port: int | None) -> bool:
    try:
        h, p = split_endpoint(text)
    except ValueError:
        return False
    return h == host and (port is None or p == port)


def _proven_local(tables: list[Table]) -> tuple[str, ...]:
    found: list[str] = []
    for table in tables:
        named = table.sets.get(NFT_NODEPORT_IPS)
        if named is not None:
            found.extend(e.key[0] for e in named.elements if e.key)
    return tuple(dict.fromkeys(found))


def _representative_source(ruleset: Ruleset, packet: Packet, local: tuple[str, ...]) -> str:
    if packet.origin == "node":
        if not local:
            raise ValueError("a packet from the node needs --src or --local-address (the node's address)")
        return local[0]
    if packet.origin == "pod":
        raise ValueError("a packet from a pod needs --src (the pod's address)")
    named = _named_networks(ruleset)
    for candidate in EXTERNAL_CANDIDATES[packet.family]:
        address = ipaddress.ip_address(candidate)
        if not any(address.version == n.version and address in n for n in named):
            return candidate
    raise ValueError("every representative external address is inside a CIDR the dump names: give --src")


def _named_networks(ruleset: Ruleset) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    from ..model import Address

    texts: set[str] = set()
    for table in ruleset.tables:
        for chain in table.chains.values():
            for rule in chain.rules:
                texts.update(v.value for v in (rule.source, rule.destination) if v is not None)
                texts.update(m.value.value for m in rule.matches if type(m) is Address)
        for named in table.sets.values():
            texts.update(k for e in named.elements for k in e.key)
    networks = []
    for text in texts:
        for part in text.strip("{} ").split(","):
            try:
                networks.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                continue
    return networks


def _missing_tables(ctx: Context, ruleset: Ruleset, tables: list[Table]) -> None:
    if any(t.family for t in tables):
        return
    names = {t.name for t in tables}
    for name in ("nat", "filter"):
        if name not in names:
            ctx.assume("missing-table", f"the dump has no {name} table: its chains are taken as accepting", None)
        else:
            table = next(t for t in tables if t.name == name)
            for hook in BUILTIN_CHAINS[name]:
                if hook not in table.chains and ruleset.partial:
                    ctx.assume("missing-chain", f"{name} {hook} is not in the dump: taken as accepting", None)
