"""`--service TEXT`: which service ports a text selects, and the part of a rule set they need.

A service port is selected when its name (`ns/svc:port`) or its chain name contains TEXT (a plain,
case-sensitive substring). What it needs, its *slice*, is:

- every chain of its hash (KUBE-SVC/SVL/EXT/XLB/FW-H) and every chain reachable from them by
  jumps and gotos (its KUBE-SEP chains, KUBE-MARK-MASQ…), whole;
- the rules, in any other chain, that jump into those chains (KUBE-SERVICES' and
  KUBE-NODEPORTS' frontends among them), alone in their chains;
- in a filter table, kube-proxy's `… has no endpoints` rules for a name containing TEXT;
- in kube-proxy's nftables table: the chains of its service port and every chain they reach
  (verdict maps included), the map elements that send traffic into them, the no-endpoint map
  elements whose comment contains TEXT, and the other sets whole.

Analysing a slice gives the selected service ports exactly what analysing the whole rule set
gives them (the walk and every per-service check read only those chains), and the diagnostics
about the chains in the slice. `kubechain.load(…, service=TEXT)` builds the same slice from the
text without parsing the rest (kubechain.parse.index); :func:`select` builds it from a parsed
rule set, and the tests hold the two equal.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import replace

from .kube import (
    NFT_NO_ENDPOINT_NODEPORTS,
    NFT_NO_ENDPOINT_SERVICES,
    NO_ENDPOINTS_COMMENT,
    chain_hash,
    comment_of,
    service_ports,
)
from .kube_nft import chain_name, is_kube_proxy_table
from .kube_nft import service_ports as nft_service_ports
from .model import Chain, Jump, NftSet, Rule, Ruleset, Table, table_family, verdicts_of


def matches(name: str | None, chain: str, text: str | None) -> bool:
    """The `--service` test: TEXT is a substring of the service port's name or of its chain."""
    return text is None or text in (name or "") or text in chain


def select(ruleset: Ruleset, text: str) -> Ruleset:
    """The slice of `ruleset` that the service ports `text` selects need (see the module docstring)."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"a service selection is a non-empty text, not {text!r}")
    if ruleset.selection == text:
        return ruleset
    tables = []
    for table in ruleset.tables:
        if table.name == "nat":
            hashes = {chain_hash(p.chain) for p in service_ports(table) if matches(p.name, p.chain, text)}
            roots = [name for name in table.chains if chain_hash(name) in hashes]
            kept = nat_slice(table, roots)
        elif table.name == "filter":
            kept = {name: chain for name, chain in _no_endpoint_rules(table, text)}
        elif is_kube_proxy_table(table):
            nft = _nft_slice(table, text)
            if nft.chains:
                tables.append(nft)
            continue
        else:
            continue
        if kept:
            tables.append(Table(table.name, kept, table.line))
    family = next((f for t in tables if (f := table_family(t))), ruleset.family)
    return replace(ruleset, tables=tuple(tables), family=family, selection=text)


def _nft_slice(table: Table, text: str) -> Table:
    """kube-proxy's nftables table cut to the service ports `text` selects (module docstring)."""
    bases = {parsed.base for p in nft_service_ports(table) if matches(p.name, p.chain, text)
             and (parsed := chain_name(p.chain)) is not None}
    roots = [name for name in table.chains if (parsed := chain_name(name)) is not None and parsed.base in bases]
    whole = set(reachable(table.chains, roots))
    chains = {name: chain for name, chain in table.chains.items() if name in whole}
    sets: dict[str, NftSet] = {}
    for name, named in table.sets.items():
        if name in (NFT_NO_ENDPOINT_SERVICES, NFT_NO_ENDPOINT_NODEPORTS):
            named = replace(named, elements=tuple(e for e in named.elements if text in (e.comment or "\0")))
        elif any(type(e.value) is Jump for e in named.elements):
            named = replace(named, elements=tuple(e for e in named.elements
                                                  if type(e.value) is not Jump or e.value.chain in whole))
        sets[name] = named
    return replace(table, chains=chains, sets=sets)


def nat_slice(table: Table, roots: Iterable[str]) -> dict[str, Chain]:
    """The chains (in table order) of a nat table's slice for the service chains `roots`."""
    whole = set(reachable(table.chains, roots))
    entries: dict[str, list[Rule]] = {}
    for chain in table.chains.values():
        if chain.name in whole:
            continue
        for rule in chain.rules:
            if type(rule.target) is Jump and rule.target.chain in whole and chain_hash(rule.target.chain) is not None:
                entries.setdefault(chain.name, []).append(rule)
    kept = {}
    for name, chain in table.chains.items():
        if name in whole:
            kept[name] = chain
        elif name in entries:
            kept[name] = replace(chain, rules=tuple(entries[name]))
    return kept


def reachable(chains: dict[str, Chain], roots: Iterable[str]) -> list[str]:
    """`roots` and every chain they reach by jumps and gotos, in the order first reached (only
    chains present in `chains`; a jump to a missing one is the walk's and missing-chain's concern)."""
    seen: dict[str, None] = {}
    stack = [r for r in roots if r in chains][::-1]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen[name] = None
        targets = [t.chain for r in chains[name].rules for t in verdicts_of(r.target) if type(t) is Jump]
        stack.extend(t for t in reversed(targets) if t in chains and t not in seen)
    return list(seen)


def no_endpoints_name(rule: Rule) -> str | None:
    """The service a filter-table `… has no (local) endpoints` rule is about."""
    m = NO_ENDPOINTS_COMMENT.match(comment_of(rule) or "")
    return m["name"] if m else None


def _no_endpoint_rules(table: Table, text: str) -> list[tuple[str, Chain]]:
    found = []
    for chain in table.chains.values():
        rules = tuple(r for r in chain.rules if text in (no_endpoints_name(r) or "\0"))
        if rules:
            found.append((chain.name, replace(chain, rules=rules)))
    return found


def closest(text: str, candidates: Iterable[str], n: int = 5) -> list[str]:
    """The candidates most like `text`, for "matches nothing" errors: case-insensitive substring
    matches first, then difflib's closest."""
    names = sorted(set(c for c in candidates if c))
    folded = text.casefold()
    found = [c for c in names if folded in c.casefold()][:n]

    def likeness(name: str) -> float:
        """How like TEXT the name, or its namespace, service or port part, is (0..1)."""
        parts = [name, *re.split(r"[/:]", name), name.split(":")[0]]
        return max(difflib.SequenceMatcher(None, folded, part.casefold()).ratio() for part in parts if part)

    scored = sorted(((likeness(c), c) for c in names if c not in found), key=lambda x: (-x[0], x[1]))
    found.extend(c for score, c in scored[: n - len(found)] if score >= 0.6)
    return found


def candidates(ruleset: Ruleset) -> list[str]:
    """Everything `--service` could have matched: service port names and chain names."""
    found: list[str] = []
    for table in ruleset.tables:
        if table.name == "nat" or is_kube_proxy_table(table):
            for p in nft_service_ports(table) if is_kube_proxy_table(table) else service_ports(table):
                found.extend(x for x in (p.name, p.chain) if x)
        elif table.name == "filter":
            found.extend(n for c in table.chains.values() for r in c.rules if (n := no_endpoints_name(r)))
    return found
