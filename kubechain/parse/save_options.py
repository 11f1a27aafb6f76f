"""The option groups of one `iptables-save` / `iptables -S` rule line → typed matches and target.

Options are grouped as iptables does: `-m NAME` opens a match whose `--options` follow, `-j` /
`-g` opens the target, and `!` negates the option after it. A match module, or a module option,
that is not interpreted here is kept verbatim in an UnknownMatch, never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache

from ..errors import BadValue
from ..model import (
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
    Negatable,
    OtherTarget,
    Ports,
    Recent,
    Reject,
    Snat,
    StatisticNth,
    StatisticRandom,
    Target,
    UnknownMatch,
    Verdict,
)
from ..netfilter import FULL_MARK, NAT_FLAGS, PORT_PROTOCOLS, TARGET_EXTENSIONS, UNSUPPORTED_REVISION, VERDICTS
from . import values

# a quoted string with backslash escapes (what iptables-save writes), a single-quoted one, a word
TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|(\S+)')
_UNESCAPE = re.compile(r"\\(.)")

Option = tuple[str, tuple[str, ...], bool]  # (--name, values, negated)


def tokens(text: str) -> list[tuple[str, bool]]:
    """(value, quoted) pairs of one line.

    Most lines hold no quote, or one double-quoted comment without escapes: those are split by
    str.split (the same whitespace as the regex's \\S), the rest read by TOKEN."""
    if "'" not in text and "\\" not in text:
        quotes = text.count('"')
        if not quotes:
            return [(word, False) for word in text.split()]
        if quotes == 2:
            before, _, rest = text.partition('"')
            if not before or before[-1].isspace():
                value, _, after = rest.partition('"')
                return [*((word, False) for word in before.split()), (value, True),
                        *((word, False) for word in after.split())]
    out = []
    for m in TOKEN.finditer(text):
        if m.group(3) is not None:
            if m.group(3).startswith('"'):  # iptables-save closes every quote it opens
                raise BadValue(m.group(3), "a quoted value closed by '\"'")
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
    for name, found, negated in options:
        parts.append(("! " if negated else "") + " ".join([name, *map(quote, found)]))
    return " ".join(parts)


# --- matches -------------------------------------------------------------------------------------------

def _first(options: Sequence[Option], *names: str) -> Negatable[str] | None:
    """The first value of the first option named `names`, with its negation."""
    for name, found, negated in options:
        if name in names:
            return Negatable(found[0] if found else "", negated)
    return None


_PORT_OPTIONS = {"--dport": "dport", "--destination-port": "dport", "--sport": "sport", "--source-port": "sport"}


def _ports_for(protocol: str) -> Callable[[Sequence[Option]], Match | None]:
    def build(options: Sequence[Option]) -> Match | None:
        extra = [o for o in options if o[0] not in _PORT_OPTIONS]
        extra_text = option_text(protocol, extra)[len(protocol) + 4:] if extra else ""
        return Ports(protocol, _first(options, "--dport", "--destination-port"),
                     _first(options, "--sport", "--source-port"), extra_text)
    return build


def _statistic(options: Sequence[Option]) -> Match | None:
    mode = _first(options, "--mode")
    if mode is None:
        return None
    if mode.value == "random":
        p = _first(options, "--probability")
        return StatisticRandom(values.probability(p.value, p.negated)) if p is not None and len(options) == 2 else None
    if mode.value == "nth":
        every, packet = _first(options, "--every"), _first(options, "--packet")
        if every is None or len(options) > 3:
            return None
        return StatisticNth(Negatable(values.number(every.value, "--every", 1), every.negated),
                            values.number(packet.value if packet else "0", "--packet"))
    return None


_RECENT_COMMANDS = {"--set": "SET", "--rcheck": "CHECK", "--update": "UPDATE", "--remove": "REMOVE"}
_RECENT_KNOWN = {*_RECENT_COMMANDS, "--seconds", "--reap", "--hitcount", "--rttl", "--name", "--mask",
                 "--rsource", "--rdest"}


def _recent(options: Sequence[Option]) -> Match | None:
    if any(name not in _RECENT_KNOWN for name, _, _ in options):
        return None
    command = next((Negatable(_RECENT_COMMANDS[n], neg) for n, _, neg in options if n in _RECENT_COMMANDS), None)
    if command is None:
        return None
    name, mask = _first(options, "--name"), _first(options, "--mask")
    names = {n for n, _, _ in options}
    return Recent(command, name.value if name else "DEFAULT", _optional_number(options, "--seconds"),
                  "--reap" in names, _optional_number(options, "--hitcount"), "--rttl" in names,
                  "dest" if "--rdest" in names else "source", mask.value if mask else None)


def _optional_number(options: Sequence[Option], name: str) -> int | None:
    found = _first(options, name)
    return values.number(found.value, name) if found and found.value else None


def _mark(options: Sequence[Option]) -> Match | None:
    mark = _first(options, "--mark")
    return MarkMatch(Negatable(values.mark(mark.value), mark.negated)) if mark and len(options) == 1 else None


def _addrtype(options: Sequence[Option]) -> Match | None:
    src, dst = _first(options, "--src-type"), _first(options, "--dst-type")
    names = [n for n, _, _ in options]
    limit_in, limit_out = "--limit-iface-in" in names, "--limit-iface-out" in names
    if len(options) != (src is not None) + (dst is not None) + limit_in + limit_out:
        return None
    return AddrType(src, dst, limit_in, limit_out)


def _state_for(module: str, option: str) -> Callable[[Sequence[Option]], Match | None]:
    def build(options: Sequence[Option]) -> Match | None:
        found = _first(options, option)
        return ConnState(values.states(found.value, found.negated), module) if found and len(options) == 1 else None
    return build


_MULTIPORT_DIRECTIONS = {"--dports": "dports", "--destination-ports": "dports", "--sports": "sports",
                         "--source-ports": "sports", "--ports": "ports"}


def _multiport(options: Sequence[Option]) -> Match | None:
    if len(options) != 1:
        return None
    name, found, negated = options[0]
    direction = _MULTIPORT_DIRECTIONS.get(name)
    return Multiport(direction, Negatable(found[0], negated)) if direction and found else None


MATCH_BUILDERS: dict[str, Callable[[Sequence[Option]], Match | None]] = {
    **{protocol: _ports_for(protocol) for protocol in PORT_PROTOCOLS},
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


# --- targets -------------------------------------------------------------------------------------------

def _flags(options: Sequence[Option]) -> tuple[str, ...]:
    return tuple(n[2:] for n, _, _ in options if n[2:] in NAT_FLAGS)


def build_target(name: str, goto: bool, options: Sequence[Option]) -> Target:
    if options and options[-1][0] == UNSUPPORTED_REVISION:  # an older iptables printed no options
        return Dnat(None) if name == "DNAT" else OtherTarget(name, UNSUPPORTED_REVISION)
    if name in VERDICTS and not options:
        return Verdict(name)
    if name == "DNAT" and (to := _first(options, "--to-destination", "--to")) is not None:
        return Dnat(to.value, _flags(options))
    if name == "SNAT" and (to := _first(options, "--to-source", "--to")) is not None:
        return Snat(to.value, _flags(options))
    if name == "MARK" and len(options) == 1 and (mark := _mark_target(options[0])) is not None:
        return mark
    if name == "MASQUERADE":
        ports = _first(options, "--to-ports")
        return Masquerade(ports.value if ports else None, _flags(options))
    if name == "REJECT":
        with_ = _first(options, "--reject-with")
        return Reject(with_.value if with_ else None)
    if name in TARGET_EXTENSIONS or name in VERDICTS:
        return OtherTarget(name, option_text(name, options)[len(name) + 4:])
    return Jump(name, goto)


def _mark_target(option: Option) -> MarkTarget | None:
    name, found, _ = option
    if not found:
        return None
    value, _, mask = found[0].partition("/")
    try:
        v = int(value, 0)
        m = int(mask, 0) if mask else FULL_MARK
    except ValueError:
        raise BadValue(found[0], "a MARK value like 0x4000 or 0x4000/0xffffffff") from None
    if name == "--set-xmark":
        return MarkTarget(v, m)
    if name == "--set-mark":
        return MarkTarget(v, v | m)
    return {"--or-mark": MarkTarget(v, v), "--xor-mark": MarkTarget(v, 0),
            "--and-mark": MarkTarget(0, ~v & FULL_MARK)}.get(name)
