"""The Lark grammars of grammars/ (shipped as kubechain.grammars), built once per process."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from lark import Lark, Token, Transformer


def grammar_text(name: str) -> str:
    """The grammar beside this package's source when it runs from a checkout (grammars/ sits
    beside kubechain/: the checkout's own grammars, whatever is installed), else the installed
    package's copy (kubechain.grammars)."""
    checkout = Path(__file__).resolve().parents[2] / "grammars" / f"{name}.lark"
    if checkout.is_file():
        return checkout.read_text(encoding="utf-8")
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
