"""Generated rulesets printed as iptables prints them, by kubechain.render."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ..model import Ruleset
from ._strategies import nft_rulesets, rulesets

FORMATS = ("iptables-save", "iptables-S", "iptables-list")


@dataclass(frozen=True)
class Dump:
    """A model, and the text :func:`kubechain.render.render` printed for it with `options`."""

    model: Ruleset
    fmt: str
    options: dict[str, Any] = field(default_factory=dict)
    text: str = ""


def _list_options(draw: st.DrawFn) -> dict[str, Any]:
    verbose = draw(st.booleans())
    return {"numeric": draw(st.booleans()), "verbose": verbose, "exact": verbose and draw(st.booleans()),
            "line_numbers": draw(st.booleans()), "protocol_names": draw(st.booleans())}


def renderings(fmt: str | None = None, models: st.SearchStrategy[Ruleset] | None = None) -> st.SearchStrategy[Dump]:
    """A ruleset (default: :func:`rulesets`) rendered in `fmt` (default: drawn) with drawn options:
    every `-L` variant (`-n` or not, `-v`, `-x`, `--line-numbers`, numeric or named protocol
    column, all chains or one), `-S` (one table, all chains or one, `-v` or not), and
    `iptables-save` with or without `-c`. `-L` of several tables is their listings one after
    another; `options` holds `table` (and `chain`) when the printout shows one table (chain)."""
    if fmt is not None and fmt not in FORMATS:
        raise InvalidArgument(f"fmt={fmt!r}: expected None or one of {', '.join(FORMATS)}")
    if models is not None and not isinstance(models, st.SearchStrategy):
        raise InvalidArgument(f"models={models!r}: expected a hypothesis strategy of Rulesets")
    return _renderings(fmt, models)


@st.composite
def _renderings(draw: st.DrawFn, fmt: str | None, models: st.SearchStrategy[Ruleset] | None) -> Dump:
    from ..render import render

    fmt = fmt or draw(st.sampled_from(FORMATS))
    model = draw(models if models is not None else rulesets())
    if fmt == "iptables-save":
        options: dict[str, Any] = {"counters": draw(st.booleans()), "backend": draw(st.sampled_from(["nft", "legacy"]))}
        return Dump(model, fmt, options, render(model, fmt, **options))
    if fmt == "iptables-S":
        table = draw(st.sampled_from([t.name for t in model.tables])) if model.tables else "nat"
        options = {"table": table, "verbose": draw(st.booleans()), **_one_chain(draw, model, table)}
        return Dump(model, fmt, options, render(model, fmt, **options))
    options = _list_options(draw)
    if model.tables and draw(st.integers(0, 4)) == 0:  # `iptables -t T -L CHAIN …`: one chain
        table = draw(st.sampled_from([t.name for t in model.tables]))
        options = {"table": table, **options, **_one_chain(draw, model, table, always=True)}
        return Dump(model, fmt, options, render(model, fmt, **options))
    text = "\n".join(render(model, fmt, table=t.name, **options) for t in model.tables)
    return Dump(model, fmt, options, text)


def _one_chain(draw: st.DrawFn, model: Ruleset, table: str, always: bool = False) -> dict[str, str]:
    """`{"chain": NAME}` for a one-chain printout (`-L CHAIN`, `-S CHAIN`), sometimes (or always)."""
    found = model.table(table)
    if found is None or not found.chains or not (always or draw(st.integers(0, 4)) == 0):
        return {}
    return {"chain": draw(st.sampled_from(sorted(found.chains)))}


def dumps(fmt: str | None = None, models: st.SearchStrategy[Ruleset] | None = None) -> st.SearchStrategy[str]:
    """Dump text as iptables prints it, in `fmt` (default: any format the parser reads)."""
    return renderings(fmt, models).map(lambda d: d.text)


def nft_renderings(models: st.SearchStrategy[Ruleset] | None = None) -> st.SearchStrategy[Dump]:
    """An nft ruleset (default: :func:`nft_rulesets`) printed as `nft [-n] [-s] list ruleset`, or
    `list chain` of one of its chains (`options` holds `chain` then)."""
    if models is not None and not isinstance(models, st.SearchStrategy):
        raise InvalidArgument(f"models={models!r}: expected a hypothesis strategy of Rulesets")
    return _nft_renderings(models)


@st.composite
def _nft_renderings(draw: st.DrawFn, models: st.SearchStrategy[Ruleset] | None) -> Dump:
    from ..render import render

    model = draw(models if models is not None else nft_rulesets())
    options: dict[str, Any] = {"numeric": draw(st.booleans()), "stateless": draw(st.booleans())}
    chains = sorted(c for t in model.tables for c in t.chains)
    if chains and draw(st.integers(0, 4)) == 0:
        options["chain"] = draw(st.sampled_from(chains))
    return Dump(model, "nft", options, render(model, "nft", **options))
