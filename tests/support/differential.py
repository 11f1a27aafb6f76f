"""Differential check of render() against the real iptables 1.8.9 binaries.

    printouts = real_printouts(rules, "nft")          # {variant: text} from the real binaries
    assert_renders_like_real(rules, "legacy")         # render() must print the same, byte for byte

`rules` is iptables-save text or a Ruleset (rendered with counters, then loaded). The rules are
loaded with `iptables-restore -c` into a fresh network namespace that is always deleted again.
Needs root and the binaries; callers skip or fail through `support.kernel.require_kernel()`.
"""

from __future__ import annotations

import dataclasses
import difflib

import kubechain
from kubechain.errors import RenderError
from kubechain.model import Ruleset
from kubechain.render import render

from .kernel import Namespace
from .render_variants import VARIANTS, without_timestamps

#: namespaces made here start with this (lets a test session find and clean its own)
NETNS_PREFIX = "kcr-diff-"
#: observed in iptables 1.8.9: ip6tables-nft ignores rule counters given with -c (restore and -A);
#: policy counters are kept, so rules come back with zero counters on that backend only
DROPS_RULE_COUNTERS = {("ipv6", "nft")}


def _text_and_model(rules: str | Ruleset) -> tuple[str, Ruleset]:
    if isinstance(rules, Ruleset):
        return render(rules, "iptables-save", counters=True), rules
    return rules, kubechain.loads(rules)


def _binary(family: str, backend: str) -> str:
    return ("ip6tables" if family == "ipv6" else "iptables") + f"-{backend}"


def real_printouts(rules: str | Ruleset, backend: str, prefix: str = NETNS_PREFIX) -> dict[str, str]:
    """What the real binaries print once `rules` are loaded: keys are `TABLE.VARIANT` for the
    per-table printouts (-L and -S in every variant of render_variants.VARIANTS) and `save`,
    `save-c` for iptables-save."""
    text, model = _text_and_model(rules)
    binary = _binary(model.family, backend)
    with Namespace(prefix) as ns:
        ns.run(f"{binary}-restore", "-c", stdin=text)
        out = {}
        for variant, (_, _, argv) in VARIANTS.items():
            if argv is None:
                out[variant] = ns.run(f"{binary}-save", *(["-c"] if variant == "save-c" else []))
                continue
            for table in model.tables:
                out[f"{table.name}.{variant}"] = ns.run(binary, "-t", table.name, *argv)
        return out


def _as_loaded(model: Ruleset, backend: str, printed_save: str) -> Ruleset:
    """The model as the kernel holds it: tables in the order this backend prints them (not a
    property of the rules), and no rule counters where the backend drops them."""
    order = [line[1:] for line in printed_save.splitlines() if line.startswith("*")]
    tables = sorted(model.tables, key=lambda t: order.index(t.name) if t.name in order else len(order))
    if (model.family, backend) in DROPS_RULE_COUNTERS:
        tables = [dataclasses.replace(t, chains={n: dataclasses.replace(c, rules=tuple(
            dataclasses.replace(r, counters=None) for r in c.rules)) for n, c in t.chains.items()})
            for t in tables]
    return dataclasses.replace(model, tables=tuple(tables))


def assert_renders_like_real(rules: str | Ruleset, backend: str) -> dict[str, str]:
    """Every real printout equals render() of the loaded model (timestamps aside). Where the model
    lacks what a printout needs (text kept verbatim in the other format) render() raises
    RenderError; that printout is then checked by rendering its own parse instead. Returns
    {printout: "model" or "own parse"} so callers can see which way each was checked."""
    text, model = _text_and_model(rules)
    printed = real_printouts(text, backend)
    model = _as_loaded(model, backend, printed["save-c"])
    checked = {}
    for key, real in printed.items():
        table, _, variant = key.rpartition(".")
        fmt, options, _ = VARIANTS[variant]
        options = {**options, "table": table} if table else dict(options)
        try:
            ours, checked[key] = render(model, fmt, **options), "model"
        except RenderError:
            ours, checked[key] = render(kubechain.loads(real), fmt, **options), "own parse"
        if without_timestamps(ours) != without_timestamps(real):
            diff = "".join(difflib.unified_diff(real.splitlines(True), ours.splitlines(True), "real", "render()"))
            raise AssertionError(f"{_binary(model.family, backend)} {key} ({checked[key]}):\n{diff}")
    return checked
