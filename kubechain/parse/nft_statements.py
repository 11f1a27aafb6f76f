"""One nft rule line → the model's Rule: its statements read left to right.

Each statement becomes the model type of what it means (model.py's nftables section): header
fields (Address, Protocol, Ports), set lookups, `ct state`, `fib … type`, marks, `meta random`
(xt_statistic's `< t` is a StatisticRandom), numgen (an n-way verdict map, a DNAT map, or
`numgen inc mod N P`, which is xt_statistic's nth), counters, verdicts and NAT. A statement it does
not know is kept verbatim as an UnknownMatch up to the next statement it knows.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..errors import BadValue
from ..model import (
    Address,
    AddrType,
    Comment,
    ConnState,
    ConnStatus,
    Counters,
    CounterStatement,
    Dnat,
    DnatMap,
    Jump,
    Mark,
    MarkMatch,
    MarkSet,
    Masquerade,
    Match,
    MetaRandom,
    Negatable,
    NftSet,
    Numgen,
    NumgenMatch,
    OtherStatement,
    OtherTarget,
    Ports,
    Protocol,
    Reject,
    Rule,
    SetLookup,
    SetUpdate,
    Snat,
    StatisticNth,
    StatisticRandom,
    Target,
    UnknownMatch,
    Verdict,
    VerdictMap,
    XtMatch,
)
from ..netfilter import (
    COMPARISONS,
    CONNTRACK_STATE_ORDER,
    CT_STATES,
    CT_STATUSES,
    FIB_TYPES,
    FULL_MARK,
    LOW_31,
    NAT_FLAGS,
    NFT_NAT_FLAGS,
    PROTOCOL_NAMES,
    random_mask_bits,
)

_TOKEN = re.compile(r'"[^"]*"|[{},]|[^\s{},]+')
# the shapes of RuleReader._fast: a chain name, an address or prefix, a protocol name or number
_NAME = r'([^\s{},@"#]+)'
_ADDRESS = r"([0-9a-fA-F][0-9a-fA-F.:]*(?:/\d+)?)"
_VERDICT = r"(jump|goto) " + _NAME
_SADDR_JUMP = re.compile(rf"(ip6?) saddr {_ADDRESS} {_VERDICT}$")
_MASQUERADE_RULE = re.compile(rf"(ip6?) daddr {_ADDRESS} (ip6?) saddr != {_ADDRESS} {_VERDICT}$")
_AFFINITY_LOOKUP = re.compile(rf"(ip6?) saddr @{_NAME} {_VERDICT}$")
_DNAT_RULE = re.compile(r"meta l4proto (\w+) dnat to ([0-9a-fA-F.:\[\]]+)$")
_NUMGEN_VMAP = re.compile(r"numgen (random|inc) mod (\d+) vmap \{ ([^{}]*) \}$")
_VMAP_ENTRY = re.compile(rf"(\d+) : {_VERDICT}$")
_BARE_JUMP = re.compile(rf"{_VERDICT}$")
#: words that begin a statement: an unknown statement ends before the next one of these
STATEMENT_WORDS = frozenset({
    "", "counter", "comment", "jump", "goto", "accept", "drop", "return", "continue", "queue", "reject", "dnat",
    "snat", "masquerade", "redirect", "ip", "ip6", "meta", "ct", "fib", "numgen", "tcp", "udp", "sctp", "th",
    "update", "add", "xt", "#", "iifname", "oifname"})
_VERDICTS = {"accept": "ACCEPT", "drop": "DROP", "return": "RETURN", "queue": "QUEUE"}
_PORT_PROTOCOLS = ("tcp", "udp", "sctp", "dccp", "udplite", "th")
_PROTOCOL_SELECTORS = ("meta l4proto", "ip protocol", "ip6 nexthdr")
_NAT_FLAGS = dict(NFT_NAT_FLAGS)
_CT_STATE_NAMES = {name: name.upper() for name, _ in CT_STATES} | {f"{bit:#x}": name.upper() for name, bit in CT_STATES}
_FIB_NAMES = {str(number): name for name, number in FIB_TYPES.items()}
_CT_BIT_ORDER = {name.upper(): bit for name, bit in CT_STATES}
_CT_STATUS_NAMES = {f"{bit:#x}": name for name, bit in CT_STATUSES}


def tokens(text: str) -> list[str]:
    """The words of a rule line; `{`, `}` and `,` are words of their own. Each extra space is an
    empty word: an xtables match that nft 1.0.6 translates to nothing (iptables-nft's comment)."""
    if "  " not in text and not text.startswith(" "):
        return _TOKEN.findall(text)  # no empty statement: the common case, at C speed
    out: list[str] = []
    end = 0
    for m in _TOKEN.finditer(text):
        gap = m.start() - end
        if gap > 1 or (end == 0 and gap > 0):
            out.extend([""] * (gap - (end != 0)))
        out.append(m.group())
        end = m.end()
    return out


def join(words: list[str]) -> str:
    """Words back into text as nft prints them: `{ 80, 443 }`, `established,related`."""
    out: list[str] = []
    depth = 0
    for w in words:
        if w == ",":
            out.append(",")
            continue
        if out and not (out[-1] == "," and depth == 0):
            out.append(" ")
        out.append(w)
        depth += (w == "{") - (w == "}")
    return "".join(out)


def protocol_name(text: str) -> str:
    """`6` → `tcp` (nft -n prints numbers); names stay."""
    name = PROTOCOL_NAMES.get(text, text)
    return name or text


def normal_key(key: tuple[str, ...], key_types: tuple[str, ...]) -> tuple[str, ...]:
    """A set element's key with protocol numbers (`-n`) as names."""
    if "inet_proto" not in key_types or len(key) != len(key_types):
        return key
    return tuple(protocol_name(k) if t == "inet_proto" else k for k, t in zip(key, key_types, strict=True))


def element_value(words: list[str], line: int) -> Target | str:
    """What a map element maps to: a verdict (`goto X`, `drop`), or data text (`10.0.0.1 . 80`)."""
    if len(words) == 2 and words[0] in ("jump", "goto"):
        return Jump(words[1], words[0] == "goto")
    if len(words) == 1 and words[0] in _VERDICTS:
        return Verdict(_VERDICTS[words[0]])
    if not words:
        raise BadValue(":", f"a value after ':' (line {line})")
    return join(words)


def _int(text: str, what: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise BadValue(text, what) from None


def _nat_flags(words: list[str]) -> tuple[str, ...]:
    named = {_NAT_FLAGS[w] for w in words if w in _NAT_FLAGS}
    return tuple(f for f in NAT_FLAGS if f in named)


class RuleReader:
    """Reads the rule lines of one table (stateless between lines, except the table's sets, whose
    timeouts a lookup records: an affinity set's timeout is the service's affinity)."""

    def __init__(self, family: str, sets: dict[str, NftSet]) -> None:
        self.family = family
        self.sets = sets
        self.words: list[str] = []
        self.at = 0
        self.counters: Counters | None = None
        self._statements: dict[str, Callable[[], Match | Target]] = {
            "": self._empty, "counter": self._counter, "jump": self._jump, "goto": self._jump,
            "reject": self._reject, "dnat": self._nat, "snat": self._nat, "masquerade": self._masquerade,
            "redirect": self._redirect, "update": self._set_update, "add": self._set_update, "xt": self._xt,
            "#": self._xt_comment, "continue": self._continue}

    # --- the line ---

    def read(self, text: str, line: int, handle: int | None) -> Rule:
        fast = self._fast(text)
        if fast is not None:
            return Rule(fast[0], fast[1], line=line, handle=handle)
        self.words, self.at, self.counters = tokens(text), 0, None
        matches: list[Match] = []
        target: Target | None = None
        comment: str | None = None
        while self.at < len(self.words):
            word = self.words[self.at]
            if comment is not None:
                raise BadValue(word, "the end of the rule after its comment")
            if word == "comment":
                comment = self._comment()
                continue
            if target is not None:
                raise BadValue(word, "the end of the rule (or its comment) after its verdict")
            item = self._statement()
            if isinstance(item, Target):
                target = item
            else:
                matches.append(item)
        if comment is not None:
            matches.append(Comment(comment))
        return Rule(target, tuple(matches), counters=self.counters, line=line, handle=handle)

    def _fast(self, text: str) -> tuple[Target, tuple[Match, ...]] | None:
        """The few line shapes that make up nearly all of a big kube-proxy table, each read by one
        regex; None sends the line to the general reader (the tests hold both readers equal)."""
        reader = _FAST.get(text[:2])
        return reader(self, text) if reader is not None else None

    def _fast_address(self, text: str) -> tuple[Target, tuple[Match, ...]] | None:
        m = _SADDR_JUMP.match(text)
        if m:
            return Jump(m[4], m[3] == "goto"), (Address(m[1], "saddr", Negatable(m[2])),)
        m = _MASQUERADE_RULE.match(text)
        if m:
            return Jump(m[6], m[5] == "goto"), (Address(m[1], "daddr", Negatable(m[2])),
                                                 Address(m[3], "saddr", Negatable(m[4], True)))
        m = _AFFINITY_LOOKUP.match(text)
        if m:
            return Jump(m[4], m[3] == "goto"), (SetLookup((f"{m[1]} saddr",), m[2], False, self._timeout("@" + m[2])),)
        return None

    def _fast_dnat(self, text: str) -> tuple[Target, tuple[Match, ...]] | None:
        m = _DNAT_RULE.match(text)
        return (Dnat(m[2]), (Protocol("meta l4proto", Negatable(protocol_name(m[1]))),)) if m else None

    def _fast_numgen(self, text: str) -> tuple[Target, tuple[Match, ...]] | None:
        m = _NUMGEN_VMAP.match(text)
        if m is None:
            return None
        entries = []
        for part in m[3].split(", "):
            e = _VMAP_ENTRY.match(part)
            if e is None:
                return None
            entries.append((e[1], Jump(e[3], e[2] == "goto")))
        return VerdictMap(Numgen(m[1], int(m[2])), tuple(entries)), ()

    def _fast_jump(self, text: str) -> tuple[Target, tuple[Match, ...]] | None:
        m = _BARE_JUMP.match(text)
        return (Jump(m[2], m[1] == "goto"), ()) if m else None

    def _peek(self, offset: int = 0) -> str | None:
        i = self.at + offset
        return self.words[i] if i < len(self.words) else None

    def _take(self, what: str) -> str:
        word = self._peek()
        if word is None:
            raise BadValue(self.words[-1] if self.words else "", what)
        self.at += 1
        return word

    def _expect(self, word: str) -> None:
        got = self._take(f"'{word}'")
        if got != word:
            raise BadValue(got, f"'{word}'")

    def _statement(self) -> Match | Target:
        word = self.words[self.at]
        if word in _VERDICTS:
            self.at += 1
            return Verdict(_VERDICTS[word])
        reader = self._statements.get(word)
        if reader is not None:
            return reader()
        start = self.at
        try:
            found = self._expression()
        except BadValue:
            return self._unknown(start)
        return found if found is not None else UnknownMatch(join(self.words[start:self.at]))

    def _unknown(self, start: int) -> UnknownMatch:
        """Words up to the next statement kubechain knows, verbatim."""
        self.at = start + 1
        depth = int(self.words[start] == "{")
        while self.at < len(self.words):
            w = self.words[self.at]
            if depth == 0 and w in STATEMENT_WORDS:
                break
            depth += (w == "{") - (w == "}")
            self.at += 1
        return UnknownMatch(join(self.words[start:self.at]))

    # --- statements of their own ---

    def _empty(self) -> Match:
        self.at += 1
        return XtMatch("")

    def _continue(self) -> Match:
        self.at += 1
        return OtherStatement("continue")

    def _counter(self) -> Match:
        self.at += 1
        if self._peek() == "packets":
            self.at += 1
            packets = _int(self._take("a packet count"), "a packet count")
            self._expect("bytes")
            self.counters = Counters(packets, _int(self._take("a byte count"), "a byte count"))
        return CounterStatement()

    def _comment(self) -> str:
        self.at += 1
        text = self._take('a double-quoted comment')
        if len(text) < 2 or not (text.startswith('"') and text.endswith('"')):
            raise BadValue(text, 'a double-quoted comment ("…")')
        return text[1:-1]

    def _jump(self) -> Target:
        word = self._take("jump or goto")
        return Jump(self._take("a chain name"), word == "goto")

    def _reject(self) -> Target:
        self.at += 1
        if self._peek() != "with":
            return Reject(None)
        self.at += 1
        kind = self._take("a reject type (icmp, icmpx, tcp…)")
        code = self._take("a reject code")
        return Reject(f"{kind} {code}")

    def _flags_after(self) -> list[str]:
        flags = []
        while self._peek() in _NAT_FLAGS:
            flags.append(self._take("a flag"))
            if self._peek() == ",":
                self.at += 1
        return flags

    def _nat(self) -> Target:
        kind = self._take("dnat or snat")
        family = None
        if self._peek() in ("ip", "ip6"):
            family = self._take("ip or ip6")
            if self._peek() == "addr":  # `dnat ip addr . port to …` (older and newer nft print this)
                self.at += 1
                self._expect(".")
                self._expect("port")
        self._expect("to")
        if self._peek() == "numgen" and kind == "dnat":
            numgen = self._numgen()
            self._expect("map")
            entries = self._dnat_entries()
            if self._flags_after():
                raise BadValue(self.words[self.at - 1], "no flags after a numgen map")
            return DnatMap(family or self.family, numgen, entries)
        destination = self._take("an address")
        if self._peek() == "." and kind == "dnat":  # `A . P`
            self.at += 1
            port = self._take("a port")
            destination = f"[{destination}]:{port}" if ":" in destination else f"{destination}:{port}"
        if destination in ("ip", "ip6", "numgen", "meta") or destination.startswith("@"):
            raise BadValue(destination, "an address (a DNAT through a named map is not read)")
        flags = _nat_flags(self._flags_after())
        return Dnat(destination, flags) if kind == "dnat" else Snat(destination, flags)

    def _dnat_entries(self) -> tuple[tuple[int, str], ...]:
        self._expect("{")
        entries = []
        while True:
            value = _int(self._take("a numgen value"), "a numgen value")
            self._expect(":")
            address = self._take("an address")
            self._expect(".")
            port = self._take("a port")
            entries.append((value, f"[{address}]:{port}" if ":" in address else f"{address}:{port}"))
            word = self._take("',' or '}'")
            if word == "}":
                return tuple(entries)
            if word != ",":
                raise BadValue(word, "',' or '}'")

    def _masquerade(self) -> Target:
        self.at += 1
        ports = None
        if self._peek() == "to":
            self.at += 1
            ports = self._take("a port range").lstrip(":")
        return Masquerade(ports, _nat_flags(self._flags_after()))

    def _redirect(self) -> Target:
        start = self.at
        self.at += 1
        if self._peek() == "to":
            self.at += 2
        self._flags_after()
        return OtherTarget("REDIRECT", join(self.words[start:self.at]))

    def _set_update(self) -> Match:
        start = self.at
        op = self._take("update or add")
        name = self._take("@SET")
        if not name.startswith("@") or self._peek() != "{":
            self.at = start
            return self._unknown(start)
        self.at += 1
        keys = []
        while self._peek() not in ("}", None):
            keys.append(self._selector())
            if self._peek() == ".":
                self.at += 1
        self._expect("}")
        return SetUpdate(op, name[1:], tuple(keys))

    def _xt(self) -> Match | Target:
        self.at += 1
        kind = self._take("match or target")
        name = self._take("an xtables extension's name").strip('"')
        if kind == "target":
            return OtherTarget(name, f"xt target {name}")
        return XtMatch(name)

    def _xt_comment(self) -> Match:
        """Older nft prints an untranslated match as `# xt_recent`."""
        self.at += 1
        name = self._take("xt_NAME")
        return XtMatch(name.removeprefix("xt_"))

    # --- expressions: a selector (or a concatenation) and what is done with it ---

    def _numgen(self) -> Numgen:
        self._expect("numgen")
        mode = self._take("random or inc")
        if mode not in ("random", "inc"):
            raise BadValue(mode, "random or inc")
        self._expect("mod")
        modulus = _int(self._take("a modulus"), "a modulus")
        offset = 0
        if self._peek() == "offset":
            self.at += 1
            offset = _int(self._take("an offset"), "an offset")
        if modulus < 1:
            raise BadValue(str(modulus), "a modulus of at least 1")
        return Numgen(mode, modulus, offset)

    def _selector(self) -> str:
        word = self._take("a selector")
        if word in ("ip", "ip6", "meta", "th", "ct", *_PORT_PROTOCOLS):
            return f"{word} {self._take('a field')}"
        if word == "fib":
            parts = []
            while self._peek() not in ("type", "oif", "oifname", None):
                parts.append(self._take("a fib flag"))
            return f"fib {' '.join(parts)} {self._take('a fib result')}"
        if word in ("iifname", "oifname", "iif", "oif", "mark"):
            return word
        raise BadValue(word, "a selector")

    def _expression(self) -> Match | Target | None:
        """`SELECTOR [. SELECTOR…]` followed by `vmap`, `set`, `&`, a comparison or a value."""
        start = self.at
        keys: list[str | Numgen] = [self._numgen() if self._peek() == "numgen" else self._selector()]
        while self._peek() == ".":
            self.at += 1
            keys.append(self._numgen() if self._peek() == "numgen" else self._selector())
        word = self._peek()
        if word == "vmap":
            self.at += 1
            return self._vmap(keys)
        if len(keys) > 1:
            op, value = self._relation()
            if value.startswith("@"):
                return SetLookup(tuple(str(k) for k in keys), value[1:], op == "!=", self._timeout(value))
            return None
        key = keys[0]
        if isinstance(key, Numgen):
            op, value = self._relation()
            return self._numgen_match(key, op, value)
        if word == "set":
            return self._set_statement(key, start)
        if word == "&":
            self.at += 1
            mask = self._take("a mask")
            op, value = self._relation()
            return self._masked(key, mask, op, value)
        op, value = self._relation()
        if value.startswith("@"):
            return SetLookup((key,), value[1:], op == "!=", self._timeout(value))
        return self._relational(key, op, value)

    def _timeout(self, reference: str) -> int | None:
        named = self.sets.get(reference[1:])
        return named.timeout_ms if named is not None else None

    def _relation(self) -> tuple[str, str]:
        """(operator, value): `!= 10.0.0.0/8`, `{ 80, 443 }`, `established,related`; "" is implicit."""
        op = ""
        if self._peek() in COMPARISONS:
            op = self._take("a comparison")
        word = self._take("a value")
        if word == "{":
            start = self.at - 1
            depth = 1
            while depth:
                w = self._take("'}'")
                depth += (w == "{") - (w == "}")
            return op, join(self.words[start:self.at])
        while self._peek() == ",":
            self.at += 1
            word += "," + self._take("a flag")
        return op, word

    def _vmap(self, keys: list[str | Numgen]) -> Target:
        key: Numgen | tuple[str, ...] = keys[0] if len(keys) == 1 and isinstance(keys[0], Numgen) else \
            tuple(str(k) for k in keys)
        word = self._take("@MAP or { … }")
        if word.startswith("@"):
            return VerdictMap(key, (), word[1:])
        if word != "{":
            raise BadValue(word, "@MAP or { … }")
        entries: list[tuple[str, Target]] = []
        while True:
            start = self.at
            while self._peek() not in (":", None):
                self.at += 1
            element_key = join(self.words[start:self.at])
            self._expect(":")
            verdict_start = self.at
            while self._peek() not in (",", "}", None):
                self.at += 1
            verdict = element_value(self.words[verdict_start:self.at], 0)
            if not isinstance(verdict, Target):
                raise BadValue(verdict, "a verdict (goto, jump, drop, accept, return)")
            entries.append((element_key, verdict))
            if self._take("',' or '}'") == "}":
                return VerdictMap(key, tuple(entries))

    def _set_statement(self, key: str, start: int) -> Match:
        """`meta mark set …` (MARK); anything else `… set …` is kept verbatim."""
        self.at += 1
        if key == "meta mark":
            size = {"meta": 4, "mark": 5 if self._peek(2) == "and" and self._peek(4) == "xor" else 3}.get(
                self._peek() or "", 1)
            words = self.words[self.at:self.at + size]
            found = _mark_set(words)
            if found is not None:
                self.at += size
                return found
        while self._peek() is not None and self._peek() not in STATEMENT_WORDS - {"meta"}:
            self.at += 1
        return OtherStatement(join(self.words[start:self.at]))

    def _masked(self, key: str, mask: str, op: str, value: str) -> Match | None:
        if key == "meta mark":
            mark = Mark(_int(value, "a mark"), _int(mask, "a mask"))
            return MarkMatch(Negatable(mark, op == "!="))
        if key == "meta random":
            return _random(_int(mask, "a mask"), op, _int(value, "a number"))
        return None

    def _relational(self, key: str, op: str, value: str) -> Match | None:
        negated = op == "!="
        if op not in ("", "==", "!="):
            if key == "meta random":
                return _random(None, op, _int(value, "a number"))
            return None
        family, _, field = key.partition(" ")
        if family in ("ip", "ip6") and field in ("saddr", "daddr"):
            return Address(family, field, Negatable(value, negated))
        if key in _PROTOCOL_SELECTORS:
            return Protocol(key, Negatable(_protocols(value), negated))
        if family in _PORT_PROTOCOLS and field in ("dport", "sport"):
            on = Negatable(value, negated)
            return Ports(family, on, None) if field == "dport" else Ports(family, None, on)
        if key in ("ct status", "ct state"):
            return _ct(key, value, negated)
        if family == "fib" and key.endswith(" type") and key.split()[1] in ("saddr", "daddr") and len(key.split()) == 3:
            kind = Negatable(_FIB_NAMES.get(value, value).upper(), negated)
            return AddrType(src_type=kind) if key.split()[1] == "saddr" else AddrType(dst_type=kind)
        if key == "meta mark":
            return MarkMatch(Negatable(Mark(_int(value, "a mark"), FULL_MARK), negated))
        if key == "meta random":
            return _random(None, op or "==", _int(value, "a number"))
        return None

    @staticmethod
    def _numgen_match(numgen: Numgen, op: str, value: str) -> Match:
        v = _int(value, "a number")
        if numgen.mode == "inc" and not numgen.offset and op in ("", "==", "!=") and 0 <= v < numgen.modulus:
            return StatisticNth(Negatable(numgen.modulus, op == "!="), v)
        return NumgenMatch(numgen, op or "==", v)


#: RuleReader._fast's readers, by a line's first two characters
_FAST: dict[str, Callable[[RuleReader, str], tuple[Target, tuple[Match, ...]] | None]] = {
    "ip": RuleReader._fast_address, "me": RuleReader._fast_dnat, "nu": RuleReader._fast_numgen,
    "ju": RuleReader._fast_jump, "go": RuleReader._fast_jump}


def _ct(key: str, value: str, negated: bool) -> Match | None:
    """`ct status dnat`, `ct state established,related` (`-n`: hex bits)."""
    if key == "ct status":
        names = {_CT_STATUS_NAMES.get(v, v) for v in value.split(",")}
        ordered = tuple(n for n, _ in CT_STATUSES if n in names)
        if len(ordered) != len(names):
            return None
        return ConnStatus(Negatable(ordered, negated))
    if key == "ct state":
        printed = [_CT_STATE_NAMES.get(s, s.upper()) for s in value.split(",")]
        states = set(printed)
        ordered = tuple(s for s in CONNTRACK_STATE_ORDER if s in states) + tuple(sorted(states - set(
            CONNTRACK_STATE_ORDER)))
        # nft prints the bits in bit order; xt conntrack's translation (iptables-nft) in iptables' order
        by_bit = tuple(sorted(printed, key=lambda name: _CT_BIT_ORDER.get(name, 0)))
        module = "ct xt" if len(printed) > 1 and tuple(printed) == ordered != by_bit else "ct"
        return ConnState(Negatable(ordered, negated), module)
    return None


def _protocols(value: str) -> str:
    if value.startswith("{"):
        inner = [protocol_name(p.strip()) for p in value[1:-1].split(",")]
        return "{ " + ", ".join(inner) + " }"
    return protocol_name(value)


def _random(mask: int | None, op: str, value: int) -> Match:
    """xt_statistic's `(r & 0x7FFFFFFF) < t` (and its `!`, `>= t`) is a StatisticRandom."""
    try:
        random_mask_bits(mask)
    except ValueError:
        raise BadValue(f"{mask:#x}" if mask is not None else "", "a mask of low bits (2^k - 1)") from None
    if mask == LOW_31 and op in ("<", ">=") and 0 <= value <= 1 << 31:
        return StatisticRandom(Negatable(value, op == ">="))
    return MetaRandom(op, value, mask)


def _mark_set(words: list[str]) -> MarkSet | None:
    """`meta mark | 0x00004000` (nft), `mark or 0x4000` (iptables-nft's MARK target), `0x00000001`…"""
    try:
        if len(words) == 1:
            value = int(words[0], 0)
            return MarkSet(value, FULL_MARK, xt=len(words[0]) != 10)
        if len(words) == 4 and words[:2] == ["meta", "mark"]:
            op, value, xt = words[2], int(words[3], 0), False
        elif len(words) == 3 and words[0] == "mark":
            op, value, xt = words[1], int(words[2], 0), True
        elif len(words) == 5 and words[0] == "mark" and words[1] == "and" and words[3] == "xor":
            return MarkSet(int(words[4], 0), ~int(words[2], 0) & FULL_MARK, True)
        else:
            return None
    except ValueError:
        return None
    if op in ("|", "or"):
        return MarkSet(value, value, xt)
    if op in ("^", "xor"):
        return MarkSet(value, 0, xt)
    if op in ("&", "and"):
        return MarkSet(0, ~value & FULL_MARK, xt)
    return None
