"""The Lark grammars of grammars/ (shipped as kubechain.grammars), built once per process."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from lark import Lark, Token, Transformer


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
def lalr_parser(name: str, transformer: type[Transformer[Token, object]], lenient: bool = False) -> Lark:
    """An LALR parser whose rule callbacks build the model while parsing (no parse tree).

    Building the tree first and transforming it afterwards costs three times as long on a
    million-line dump; the transformer classes are stateless so one parser serves every input.
    """
    text = grammar_text(name)
    if lenient and name == "iptables-list":
        strict, loose = _LENIENT_RULES
        assert strict in text
        text = text.replace(strict, loose)
    return Lark(text, parser="lalr", lexer="contextual", transformer=transformer(), maybe_placeholders=False)
