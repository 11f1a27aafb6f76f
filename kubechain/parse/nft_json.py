"""`nft -j list ruleset` (libnftables JSON, schema version 1) → the same model as the text.

Read with the standard json module, no grammar. Tables, chains, sets and maps are read from their
objects; each rule statement is written as the text nft prints for it and read by the text
parser's statement reader (nft_statements), so one ruleset read from `nft list ruleset` and from
`nft -j list ruleset` gives the same rules. A statement the JSON holds and kubechain does not
know is kept verbatim (its JSON text) as an UnknownMatch. What nft 1.0.6 leaves out of its JSON
(table and chain comments, the `dynamic` set flag) is not in the model either. Every object of
`nft -j` output is on its one line, so every model object gets line 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..errors import BadValue, ParseError
from ..model import Chain, Comment, Counters, Hook, Match, NftSet, Rule, SetElement, Table, Target, UnknownMatch
from .nft_statements import RuleReader, element_value, normal_key

_VERDICT_WORDS = ("accept", "drop", "return", "continue", "queue")
#: the reject nft prints as plain `reject`, per family
_DEFAULT_REJECT = {"icmp": "port-unreachable", "icmpv6": "port-unreachable", "icmpx": "port-unreachable"}


def read_json(text: str) -> tuple[Table, ...]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        line_text = text.split("\n")[err.lineno - 1] if err.lineno - 1 < text.count("\n") + 1 else ""
        raise ParseError(f"this is not valid JSON ({err.msg})", path=None, line=err.lineno, column=err.colno,
                         text=line_text[:200], expected="the output of `nft -j list ruleset`") from None
    items = document.get("nftables") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise _error('an object {"nftables": [ … ]}', text)
    return _Reader(text).read(items)


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tables: dict[tuple[str, str], dict[str, Any]] = {}

    def read(self, items: list[Any]) -> tuple[Table, ...]:
        for item in items:
            if not isinstance(item, dict) or len(item) != 1:
                raise _error("one object per entry of the nftables list", self.text)
            kind, body = next(iter(item.items()))
            if kind == "metainfo":
                continue
            if not isinstance(body, dict):
                raise _error(f"an object for {kind!r}", self.text)
            if kind == "table":
                self.tables[(body["family"], body["name"])] = {"body": body, "sets": {}, "chains": {}, "rules": {}}
            elif kind in ("set", "map"):
                self._table(body)["sets"][body["name"]] = self._set(kind, body)
            elif kind == "chain":
                table = self._table(body)
                table["chains"][body["name"]] = body
                table["rules"].setdefault(body["name"], [])
            elif kind == "rule":
                table = self._table(body)
                table["rules"].setdefault(body["chain"], []).append(body)
            # other objects (flowtables, counters, quotas…) carry no rules
        return tuple(self._build(key, parts) for key, parts in self.tables.items())

    def _table(self, body: dict[str, Any]) -> dict[str, Any]:
        key = (body.get("family"), body.get("table"))
        if key not in self.tables:
            raise _error(f"the table {key[0]} {key[1]} before its objects", self.text)
        return self.tables[key]

    def _build(self, key: tuple[str, str], parts: dict[str, Any]) -> Table:
        family, name = key
        sets: dict[str, NftSet] = parts["sets"]
        reader = RuleReader(family, sets)
        chains = {}
        for chain_name, rules in parts["rules"].items():
            body = parts["chains"].get(chain_name, {"name": chain_name})
            hook = policy = None
            if "hook" in body:
                hook = Hook(body.get("type", "filter"), body["hook"], int(body.get("prio", 0)), body.get("dev"))
                policy = str(body.get("policy", "accept")).upper()
            built = tuple(self._rule(reader, r) for r in rules)
            chains[chain_name] = Chain(chain_name, built, policy, None, None, 1, hook, body.get("comment"),
                                       body.get("handle"))
        table = parts["body"]
        return Table(name, chains, 1, family, sets, table.get("comment"), table.get("handle"))

    def _rule(self, reader: RuleReader, body: dict[str, Any]) -> Rule:
        texts = [statement_text(statement) for statement in body.get("expr", ())]
        comment = (Comment(body["comment"]),) if "comment" in body else ()
        if None not in texts:  # the whole rule as nft prints it, read as the text is
            try:
                rule = reader.read(" ".join(t for t in texts if t is not None), 1, body.get("handle"))
            except BadValue:
                pass
            else:
                return Rule(rule.target, rule.matches + comment, counters=rule.counters, line=1,
                            handle=body.get("handle"))
        matches: list[Match] = []
        target: Target | None = None
        counters: Counters | None = None
        for statement, text in zip(body.get("expr", ()), texts, strict=True):
            if text is None:
                matches.append(UnknownMatch(json.dumps(statement, separators=(", ", ": "))))
                continue
            try:
                part = reader.read(text, 1, None)
            except BadValue as err:
                raise _error(f"a statement nft prints ({err.expected}): {json.dumps(statement)[:120]}",
                             self.text) from None
            matches.extend(part.matches)
            target = part.target or target
            counters = part.counters or counters
        return Rule(target, (*matches, *comment), counters=counters, line=1, handle=body.get("handle"))

    def _set(self, kind: str, body: dict[str, Any]) -> NftSet:
        key_type = body.get("type", ())
        key_types = (key_type,) if isinstance(key_type, str) else tuple(key_type)
        data = body.get("map")
        data_type = (" . ".join(data) if isinstance(data, list) else data) if data is not None else None
        flags = body.get("flags", ())
        flags = (flags,) if isinstance(flags, str) else tuple(flags)
        timeout = body.get("timeout")
        elements = tuple(self._element(e, key_types, kind) for e in body.get("elem", ()))
        return NftSet(body["name"], kind, key_types, data_type, flags, timeout * 1000 if timeout is not None else None,
                      body.get("size"), body.get("comment"), elements, 1, body.get("handle"))

    def _element(self, element: Any, key_types: tuple[str, ...], kind: str) -> SetElement:
        value: Target | str | None = None
        if kind == "map" and isinstance(element, list) and len(element) == 2:
            element, data = element
            text = data_text(data)
            value = element_value(text.split(" "), 1) if text is not None else json.dumps(data)
        comment = timeout = expires = None
        if isinstance(element, dict) and "elem" in element:
            wrapped = element["elem"]
            comment = wrapped.get("comment")
            timeout = wrapped["timeout"] * 1000 if "timeout" in wrapped else None
            expires = wrapped["expires"] * 1000 if "expires" in wrapped else None
            element = wrapped.get("val")
        key = key_text(element)
        if key is None:
            raise _error(f"a set element nft prints, not {json.dumps(element)[:80]}", self.text)
        return SetElement(normal_key(tuple(key.split(" . ")), key_types), value, comment, timeout, expires, 1)


# --- JSON expressions → the text nft prints for them ------------------------------------------------------


def key_text(value: Any) -> str | None:
    """A value or key: `10.0.0.1`, `10.0.0.0/8`, `tcp . 80`, `1-5`."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (str, int)):
        return str(value)
    if isinstance(value, dict) and len(value) == 1:
        kind, body = next(iter(value.items()))
        if kind == "concat" and isinstance(body, list):
            parts = [key_text(v) for v in body]
            return None if None in parts else " . ".join(p for p in parts if p is not None)
        if kind == "prefix" and isinstance(body, dict):
            return f"{body['addr']}/{body['len']}"
        if kind == "range" and isinstance(body, list) and len(body) == 2:
            return f"{key_text(body[0])}-{key_text(body[1])}"
        if kind == "elem" and isinstance(body, dict):
            return key_text(body.get("val"))
    return None


def data_text(value: Any) -> str | None:
    """A map element's value: a verdict (`goto X`, `drop`) or data (`10.0.0.1 . 80`)."""
    if isinstance(value, dict) and len(value) == 1:
        kind, body = next(iter(value.items()))
        if kind in ("jump", "goto") and isinstance(body, dict):
            return f"{kind} {body['target']}"
        if kind in _VERDICT_WORDS:
            return str(kind)
    return key_text(value)


def expr_text(value: Any) -> str | None:
    """An expression on either side of a match: selectors, values, sets, binops."""
    if isinstance(value, list):  # flags: ["established", "related"]
        parts = [expr_text(v) for v in value]
        return None if None in parts else ",".join(p for p in parts if p is not None)
    if not isinstance(value, dict) or len(value) != 1:
        return key_text(value)
    kind, body = next(iter(value.items()))
    if kind == "payload" and isinstance(body, dict) and "field" in body:
        return f"{body['protocol']} {body['field']}"
    if kind in ("meta", "ct") and isinstance(body, dict):
        return f"{kind} {body['key']}"
    if kind == "fib" and isinstance(body, dict):
        flags = body.get("flags", ())
        return f"fib {' . '.join([flags] if isinstance(flags, str) else flags)} {body['result']}"
    if kind == "numgen" and isinstance(body, dict):
        offset = f" offset {body['offset']}" if body.get("offset") else ""
        return f"numgen {body['mode']} mod {body['mod']}{offset}"
    if kind == "concat" and isinstance(body, list):
        parts = [expr_text(v) for v in body]
        return None if None in parts else " . ".join(p for p in parts if p is not None)
    if kind in ("&", "|", "^") and isinstance(body, list) and len(body) == 2:
        left, right = expr_text(body[0]), body[1]
        shown = f"0x{right:08x}" if isinstance(right, int) else expr_text(right)
        return None if left is None or shown is None else f"{left} {kind} {shown}"
    if kind == "set" and isinstance(body, list):
        parts = [_set_item(v) for v in body]
        return None if None in parts else "{ " + ", ".join(p for p in parts if p is not None) + " }"
    return key_text(value)


def _set_item(item: Any) -> str | None:
    if isinstance(item, list) and len(item) == 2:
        key, data = key_text(item[0]), data_text(item[1])
        return None if key is None or data is None else f"{key} : {data}"
    return key_text(item)


def statement_text(statement: Any) -> str | None:
    """The text `nft list` prints for one JSON statement, or None when kubechain does not know it."""
    if not isinstance(statement, dict) or len(statement) != 1:
        return None
    kind, body = next(iter(statement.items()))
    if kind in _VERDICT_WORDS:
        return str(kind)
    writer = _STATEMENTS.get(kind)
    if writer is None:
        return None
    try:
        return writer(kind, body)
    except (KeyError, TypeError, AttributeError):
        return None  # a shape nft does not print: kept verbatim


def _jump_text(kind: str, body: Any) -> str:
    return f"{kind} {body['target']}"


def _counter_text(_kind: str, body: Any) -> str:
    return f"counter packets {body['packets']} bytes {body['bytes']}" if isinstance(body, dict) else "counter"


def _vmap_text(_kind: str, body: Any) -> str | None:
    key, data = expr_text(body.get("key")), body.get("data")
    shown = data if isinstance(data, str) else expr_text(data)
    return None if key is None or shown is None else f"{key} vmap {shown}"


def _mangle_text(_kind: str, body: Any) -> str | None:
    key, value = expr_text(body.get("key")), body.get("value")
    shown = f"0x{value:08x}" if isinstance(value, int) else expr_text(value)
    return None if key is None or shown is None else f"{key} set {shown}"


def _set_statement_text(_kind: str, body: Any) -> str | None:
    elem = expr_text(body.get("elem"))
    if body.get("op") not in ("update", "add") or elem is None:
        return None
    return f"{body['op']} {body['set']} {{ {elem} }}"


def _xt_text(_kind: str, body: Any) -> str:
    return f"xt {body.get('type', 'match')} {body.get('name', '')}"


def _match_text(_kind: str, body: dict[str, Any]) -> str | None:
    left, right = expr_text(body.get("left")), body.get("right")
    shown = right if isinstance(right, str) and right.startswith("@") else expr_text(right)
    if left is None or shown is None:
        return None
    op = body.get("op", "==")
    if op in ("==", "in"):
        op = "==" if " & " in left else ""
    return f"{left} {op} {shown}" if op else f"{left} {shown}"


def _flags(body: dict[str, Any]) -> str:
    flags = body.get("flags", ())
    flags = [flags] if isinstance(flags, str) else list(flags)
    return (" " + ",".join(flags)) if flags else ""


def _nat_text(kind: str, body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    addr, port = body.get("addr"), body.get("port")
    if isinstance(addr, dict) and "map" in addr:
        mapped = addr["map"]
        key, data = expr_text(mapped.get("key")), expr_text(mapped.get("data"))
        if key is None or data is None:
            return None
        return f"{kind} {body.get('family', 'ip')} to {key} map {data}{_flags(body)}"
    address = key_text(addr)
    if address is None:
        return None
    if port is not None:
        address = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    return f"{kind} to {address}{_flags(body)}"


def _masquerade_text(_kind: str, body: Any) -> str:
    if not isinstance(body, dict):
        return "masquerade"
    port = body.get("port")
    to = f" to :{key_text(port)}" if port is not None else ""
    return f"masquerade{to}{_flags(body)}"


def _reject_text(_kind: str, body: Any) -> str:
    if not isinstance(body, dict) or _DEFAULT_REJECT.get(body.get("type", "")) == body.get("expr"):
        return "reject"
    return f"reject with {body.get('type')} {body.get('expr')}"


_STATEMENTS: dict[str, Callable[[str, Any], str | None]] = {
    "jump": _jump_text, "goto": _jump_text, "match": _match_text, "counter": _counter_text, "vmap": _vmap_text,
    "dnat": _nat_text, "snat": _nat_text, "masquerade": _masquerade_text, "reject": _reject_text,
    "mangle": _mangle_text, "set": _set_statement_text, "xt": _xt_text,
}


def _error(expected: str, text: str) -> ParseError:
    first = text.split("\n", 1)[0]
    return ParseError("this JSON is not nft -j list ruleset output", path=None, line=1, column=1,
                      text=first[:120], expected=expected)
