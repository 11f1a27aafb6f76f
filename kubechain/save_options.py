"""The options of one `iptables-save` / `iptables -S` rule line → typed matches and target.

Options are grouped as iptables does: `-m NAME` opens a match whose `--options` follow, `-j` /
`-g` opens the target, and `!` negates the option after it. A match module, or a module option,
that is not interpreted here is kept verbatim in an UnknownMatch, never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache

from . import fields
from .list_matches import FULL_MASK
from .model import (
    TARGET_EXTENSIONS,
    VERDICTS,
    AddrType,
    Comment,
    ConnState,
    Dnat,
    Jump,
    MarkMatch,
    MarkTarget,
    Masquerade,
    Match,
    Multiport,
    OtherTarget,
    Ports,
    Recent,
    Reject,
    StatisticNth,
    StatisticRandom,
    Target,
    UnknownMatch,
    Verdict,
)

# a quoted string with backslash escapes (what iptables-save writes), a single-quoted one, a word
TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|(\S+)')
_UNESCAPE = re.compile(r"\\(.)")

Option = tuple[str, tuple[str, ...], bool]  # (--name, values, negated)


def tokens(text: str) -> list[tuple[str, bool]]:
    """(value, quoted) pairs of one line."""
    out = []
    for m in TOKEN.finditer(text):
        if m.group(3) is not None:
            out.append((m.group(3), False))
        elif m.group(1) is not None:
            out.append((_UNESCAPE.sub(r"\1", m.group(1)), True))
        else:
            out.append((m.group(2), True))
    return out


def quote(value: str) -> str:
    """A value as iptables-save writes it (for verbatim text of unknown options)."""
    if value and not re.search(r"[\s\"'\\]", value):
        return value
    return '"' + re.sub(r'(["\\\'])', r"\\\1", value) + '"'


def option_text(module: str, options: Sequence[Option]) -> str:
    parts = [f"-m {module}"]
    for name, values, negated in options:
        parts.append(("! " if negated else "") + " ".join([name, *map(quote, values)]))
    return " ".join(parts)


# --- matches -----------------------------------------------------------------------------------

def _first(options: Sequence[Option], *names: str) -> tuple[str | None, bool]:
    for name, values, negated in options:
        if name in names:
            return (values[0] if values else ""), negated
    return None, False


def _comment(options: Sequence[Option]) -> Match | None:
    text, _ = _first(options, "--comment")
    return Comment(text) if text is not None and len(options) == 1 else None


def _ports_for(protocol: str) -> Callable[[Sequence[Option]], Match | None]:
    def build(options: Sequence[Option]) -> Match | None:
        dport, dneg = _first(options, "--dport", "--destination-port")
        sport, sneg = _first(options, "--sport", "--source-port")
        known = ("--dport", "--destination-port", "--sport", "--source-port")
        extra = [o for o in options if o[0] not in known]
        extra_text = option_text(protocol, extra)[len(protocol) + 4:] if extra else ""
        return Ports(protocol, dport, sport, dneg, sneg, extra_text)
    return build


def _statistic(options: Sequence[Option]) -> Match | None:
    mode, _ = _first(options, "--mode")
    if mode == "random":
        p, inverted = _first(options, "--probability")
        return StatisticRandom(fields.probability(p), inverted) if p is not None and len(options) == 2 else None
    if mode == "nth":
        every, inverted = _first(options, "--every")
        packet, _ = _first(options, "--packet")
        if every is None or len(options) > 3:
            return None
        return StatisticNth(fields.number(every, "--every", 1), fields.number(packet or "0", "--packet"), inverted)
    return None


_RECENT_COMMANDS = {"--set": "SET", "--rcheck": "CHECK", "--update": "UPDATE", "--remove": "REMOVE"}
_RECENT_KNOWN = {*_RECENT_COMMANDS, "--seconds", "--reap", "--hitcount", "--rttl", "--name", "--mask",
                 "--rsource", "--rdest"}


def _recent(options: Sequence[Option]) -> Match | None:
    if any(name not in _RECENT_KNOWN for name, _, _ in options):
        return None
    command = next(((_RECENT_COMMANDS[n], neg) for n, _, neg in options if n in _RECENT_COMMANDS), None)
    if command is None:
        return None
    seconds, _ = _first(options, "--seconds")
    hitcount, _ = _first(options, "--hitcount")
    name, _ = _first(options, "--name")
    mask, _ = _first(options, "--mask")
    names = {n for n, _, _ in options}
    return Recent(command[0], name or "DEFAULT", fields.number(seconds, "--seconds") if seconds else None,
                  "--reap" in names, fields.number(hitcount, "--hitcount") if hitcount else None, "--rttl" in names,
                  "dest" if "--rdest" in names else "source", mask, command[1])


def _mark(options: Sequence[Option]) -> Match | None:
    value, negated = _first(options, "--mark")
    return MarkMatch(value, negated) if value is not None and len(options) == 1 else None


def _addrtype(options: Sequence[Option]) -> Match | None:
    src, src_neg = _first(options, "--src-type")
    dst, dst_neg = _first(options, "--dst-type")
    limits = {"--limit-iface-in": "limit-in", "--limit-iface-out": "limit-out"}
    extra = [limits[n] for n, _, _ in options if n in limits]
    if len(options) != (src is not None) + (dst is not None) + len(extra):
        return None
    return AddrType(src, dst, src_neg, dst_neg, " ".join(extra))


def _state_for(module: str, option: str) -> Callable[[Sequence[Option]], Match | None]:
    def build(options: Sequence[Option]) -> Match | None:
        states, negated = _first(options, option)
        return ConnState(states, negated, module) if states is not None and len(options) == 1 else None
    return build


def _multiport(options: Sequence[Option]) -> Match | None:
    if len(options) != 1:
        return None
    name, values, negated = options[0]
    direction = {"--dports": "dports", "--destination-ports": "dports", "--sports": "sports",
                 "--source-ports": "sports", "--ports": "ports"}.get(name)
    return Multiport(direction, values[0], negated) if direction and values else None


MATCH_BUILDERS: dict[str, Callable[[Sequence[Option]], Match | None]] = {
    "comment": _comment,
    "tcp": _ports_for("tcp"),
    "udp": _ports_for("udp"),
    "sctp": _ports_for("sctp"),
    "dccp": _ports_for("dccp"),
    "udplite": _ports_for("udplite"),
    "statistic": _statistic,
    "recent": _recent,
    "mark": _mark,
    "addrtype": _addrtype,
    "conntrack": _state_for("conntrack", "--ctstate"),
    "state": _state_for("state", "--state"),
    "multiport": _multiport,
}


def build_match(module: str, options: tuple[Option, ...]) -> Match:
    """The typed match of one `-m MODULE --options…` group. Apart from comments (unique text),
    the same groups repeat across a dump, so they are built once and the objects shared."""
    if module == "comment" and len(options) == 1 and options[0][0] == "--comment" and options[0][1]:
        return Comment(options[0][1][0])
    return _build_match(module, options)


@lru_cache(maxsize=65536)
def _build_match(module: str, options: tuple[Option, ...]) -> Match:
    builder = MATCH_BUILDERS.get(module)
    built = builder(options) if builder else None
    return built if built is not None else UnknownMatch(option_text(module, options))


# --- targets -----------------------------------------------------------------------------------

def _flags(options: Sequence[Option], names: tuple[str, ...]) -> str:
    return " ".join(n[2:] for n, _, _ in options if n in names)


def build_target(name: str, goto: bool, options: Sequence[Option]) -> Target:
    if name in VERDICTS and not options:
        return Verdict(name)
    if name in ("DNAT", "SNAT"):
        to, _ = _first(options, "--to-destination", "--to-source", "--to")
        if to is not None:
            return Dnat(to, _flags(options, ("--random", "--persistent", "--random-fully")), name)
    if name == "MARK" and len(options) == 1:
        mark = _mark_target(options[0])
        if mark is not None:
            return mark
    if name == "MASQUERADE":
        ports, _ = _first(options, "--to-ports")
        flags = _flags(options, ("--random", "--random-fully"))
        return Masquerade(" ".join(filter(None, [f"masq ports: {ports}" if ports else "", flags])))
    if name == "REJECT":
        with_, _ = _first(options, "--reject-with")
        return Reject(with_)
    if name in TARGET_EXTENSIONS or name in VERDICTS:
        return OtherTarget(name, option_text(name, options)[len(name) + 4:])
    return Jump(name, goto)


def _mark_target(option: Option) -> MarkTarget | None:
    name, values, _ = option
    if not values:
        return None
    value, _, mask = values[0].partition("/")
    try:
        v = int(value, 0)
        m = int(mask, 0) if mask else FULL_MASK
    except ValueError:
        raise fields.BadValue(values[0], "a MARK value like 0x4000 or 0x4000/0xffffffff") from None
    if name == "--set-xmark":
        return MarkTarget(v, m)
    if name == "--set-mark":
        return MarkTarget(v, v | m)
    return {"--or-mark": MarkTarget(v, v), "--xor-mark": MarkTarget(v, 0),
            "--and-mark": MarkTarget(0, ~v & FULL_MASK)}.get(name)
