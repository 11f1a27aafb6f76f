"""A JSON document → YAML, written here rather than with PyYAML: the documents hold only dicts,
lists, strings, integers, floats, booleans and null, and for those a block-style writer is short
and exact (the tests read every document back with PyYAML's safe_load and compare).

Strings are always double-quoted with YAML's escapes, so no string can be read back as a number,
a boolean, a date or null; floats always carry a `.` or an exponent that YAML 1.1 readers accept.
"""

from __future__ import annotations

import math
from typing import Any

_ESCAPES = {"\0": "\\0", "\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f",
            "\r": "\\r", "\x1b": "\\e", '"': '\\"', "\\": "\\\\", "\x85": "\\N", "\xa0": "\\_",
            "\u2028": "\\L", "\u2029": "\\P"}


def dumps(value: Any) -> str:
    """`value` as a YAML document (block style), newline-terminated."""
    lines: list[str] = []
    _node(value, 0, lines, "")
    return "\n".join(lines) + "\n"


def _node(value: Any, indent: int, lines: list[str], lead: str) -> None:
    """Append `value` to `lines`; `lead` is what precedes it on its first line (`key:` or `-`)."""
    pad = " " * indent
    if isinstance(value, dict) and value:
        for i, (key, item) in enumerate(value.items()):
            _child(item, indent, lines, (f"{lead} " if lead and not i else pad) + f"{_key(key)}:")
    elif isinstance(value, list) and value:
        for i, item in enumerate(value):
            _item(item, indent, lines, f"{lead} -" if lead and not i else pad + "-")
    else:
        lines.append(f"{lead} {scalar(value)}" if lead else pad + scalar(value))


def _child(item: Any, indent: int, lines: list[str], prefix: str) -> None:
    """A mapping's value: inline when scalar or empty, else on the next lines, indented by 2."""
    if isinstance(item, (dict, list)) and item:
        lines.append(prefix)
        _node(item, indent + 2, lines, "")
    else:
        lines.append(f"{prefix} {scalar(item)}")


def _item(item: Any, indent: int, lines: list[str], prefix: str) -> None:
    """A sequence item: `- scalar`, or a mapping/sequence starting on the dash's line."""
    if isinstance(item, (dict, list)) and item:
        _node(item, indent + 2, lines, prefix)
    else:
        lines.append(f"{prefix} {scalar(item)}")


def _key(key: Any) -> str:
    text = str(key)
    plain = text.replace("_", "").isalnum() and text.isascii() and not text[:1].isdigit()
    return text if plain and text.lower() not in _RESERVED else _quoted(text)


#: plain words a YAML 1.1 reader takes for null or a boolean
_RESERVED = ("null", "true", "false", "yes", "no", "on", "off", "y", "n", "~")


def scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _quoted(str(value))


def _float(value: float) -> str:
    """repr, with the `.` and exponent sign YAML 1.1 readers need (1e-300 → 1.0e-300, 1e+16 stays)."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        mantissa += "" if "." in mantissa else ".0"
        exponent = exponent if exponent[0] in "+-" else "+" + exponent
        text = f"{mantissa}e{exponent}"
    return text


def _quoted(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or 0x7f <= ord(ch) < 0xa0 or 0xd800 <= ord(ch) < 0xe000 or ch == "\ufeff":
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        elif ord(ch) in (0xfffe, 0xffff):
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'
