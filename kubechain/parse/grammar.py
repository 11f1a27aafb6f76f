"""The Lark grammars of grammars/ (shipped as kubechain.grammars), built once per process."""

from __future__ import annotations

import types
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # lark is imported where a parser is built: a plain dump is read by the scans alone
    from lark import Lark


def grammar_text(name: str) -> str:
    """The grammar beside the imported package when it is a checkout (grammars/ next to
    kubechain/: an editable install of another worktree must not shadow this one's grammars),
    else from the installed package."""
    beside = Path(__file__).resolve().parents[2] / "grammars" / f"{name}.lark"
    if beside.is_file():
        return beside.read_text(encoding="utf-8")
    return files("kubechain.grammars").joinpath(f"{name}.lark").read_text(encoding="utf-8")


#: the lenient listing grammar reads a chain's rules across blank lines (a paste's damage)
_LENIENT_RULES = ("RULES: /((?!Chain | *#| *\\n)[^\\n]*\\n)+/", "RULES: /((?!Chain | *#)[^\\n]*\\n)+/")


@cache
def lalr_parser(name: str, builder: type, lenient: bool = False) -> Lark:
    """An LALR parser whose rule callbacks, the methods of `builder` (ListBuilder, SaveBuilder,
    NftBuilder), build the model while parsing (no parse tree).

    Building the tree first and transforming it afterwards costs three times as long on a
    million-line dump; the builders are stateless so one parser serves every input. They are plain
    classes, made a lark Transformer only here: importing lark costs every command about 50 ms
    (180 M instructions), which a dump the scans read alone need not pay.
    """
    from lark import Lark, Transformer

    text = grammar_text(name)
    if lenient and name == "iptables-list":
        strict, loose = _LENIENT_RULES
        assert strict in text
        text = text.replace(strict, loose)
    transformer = types.new_class(builder.__name__, (builder, Transformer))
    return Lark(text, parser="lalr", lexer="contextual", transformer=transformer(), maybe_placeholders=False)
