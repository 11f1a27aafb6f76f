"""JSON text exactly as `json.dumps(value, indent=2)` writes it, fast, and written in pieces.

The standard library's encoder runs in pure Python as soon as `indent` is given (its C
accelerator writes compact JSON only): a 30,000-service document took seconds. orjson (a
dependency; the stdlib is the fallback when it is missing) writes the same structure 10-15x
faster, but differs in three ways, handled here so that the bytes stay identical:

- floats: orjson prints its own shortest form (`1e-6`, `0.00001`), the stdlib `float.__repr__`
  (`1e-06`, `1e-05`), so each float is handed to orjson already encoded (`orjson.Fragment`);
- characters from U+007F up: orjson writes them raw, the stdlib as `\\uXXXX` escapes, so they
  are escaped afterwards (outside strings JSON has none);
- what orjson refuses (integers beyond 64 bits, subclasses, lone surrogates, non-string keys)
  is encoded by the stdlib, piece by piece.

A value is written top-down in pieces, one per element of its big lists (a service of
`services`), so a 69 MB document never exists as one string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import IO, Any

try:
    import orjson
except ImportError:  # pragma: no cover - the fallback is tested by hiding orjson (tests/report)
    orjson = None  # type: ignore[assignment]
if orjson is not None and not hasattr(orjson, "Fragment"):  # pragma: no cover - orjson < 3.9
    orjson = None  # type: ignore[assignment]

#: containers above this depth are written piece by piece (the document, its lists)
SPLIT_LEVELS = 2
#: a list at least this long is written element by element at any depth
SPLIT_LENGTH = 64
_SCALARS = frozenset({str, int, bool, type(None)})
_NOT_ASCII = re.compile("[\x7f-\U0010ffff]")


def dumps(value: Any) -> str:
    """`json.dumps(value, indent=2)`, byte for byte."""
    return b"".join(pieces(value)).decode("ascii")


def write(value: Any, stream: IO[str]) -> None:
    """`json.dumps(value, indent=2)` and a newline, written to `stream` in pieces (as bytes to
    its buffer where it has one)."""
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        stream.flush()
        for piece in pieces(value):
            buffer.write(piece)
        buffer.write(b"\n")
        buffer.flush()
        return
    for piece in pieces(value):
        stream.write(piece.decode("ascii"))
    stream.write("\n")
    stream.flush()


def pieces(value: Any, level: int = 0) -> Iterator[bytes]:
    """The JSON of `value` nested `level` deep, as consecutive pieces of ASCII bytes."""
    kind = type(value)
    if value and (kind is dict or kind is list) and (level < SPLIT_LEVELS or (kind is list and
                                                                           len(value) >= SPLIT_LENGTH)):
        if kind is dict and not all(type(key) is str for key in value):
            yield _encoded(value, level)
            return
        pad = b"\n" + b"  " * (level + 1)
        yield b"{" if kind is dict else b"["
        if kind is dict:
            for number, (key, item) in enumerate(value.items()):
                yield (b"," + pad if number else pad) + _encoded(key, 0) + b": "
                yield from pieces(item, level + 1)
        else:
            for number, item in enumerate(value):
                yield b"," + pad if number else pad
                yield from pieces(item, level + 1)
        yield b"\n" + b"  " * level + (b"}" if kind is dict else b"]")
        return
    yield _encoded(value, level)


def _encoded(value: Any, level: int) -> bytes:
    """One piece: orjson's bytes made the stdlib's, else the stdlib's own."""
    if orjson is not None:
        try:
            out = orjson.dumps(_fragments(value) if _has_float(value) else value,
                               option=orjson.OPT_INDENT_2 | orjson.OPT_PASSTHROUGH_SUBCLASS
                               | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME,
                               default=_refuse)
        except TypeError:  # orjson.JSONEncodeError: refused, so the stdlib decides (or raises)
            out = json.dumps(value, indent=2).encode("ascii")
        else:
            if not out.isascii() or b"\x7f" in out:
                out = _NOT_ASCII.sub(_escape, out.decode("utf-8")).encode("ascii")
    else:
        out = json.dumps(value, indent=2).encode("ascii")
    return out.replace(b"\n", b"\n" + b"  " * level) if level and b"\n" in out else out


def _refuse(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _has_float(value: Any) -> bool:
    kind = type(value)
    if kind is float:
        return True
    if kind is dict:
        value = value.values()
    elif kind is not list and kind is not tuple:
        return False
    return any(type(item) not in _SCALARS and _has_float(item) for item in value)


def _fragments(value: Any) -> Any:
    """`value` with every float replaced by its stdlib text (NaN and the infinities included)."""
    kind = type(value)
    if kind is float:
        return orjson.Fragment(json.dumps(value))
    if kind is dict:
        return {key: _fragments(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_fragments(item) for item in value]
    return value


def _escape(found: re.Match[str]) -> str:
    code = ord(found.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}"
