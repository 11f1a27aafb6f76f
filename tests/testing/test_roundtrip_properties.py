"""Round trips through the renderer: every printout of a generated model parses back to what that
printout carries, every printout analyzes the same, and the generated models are exactly what
the parser makes of iptables-save output (so they hold what real iptables prints back)."""

from __future__ import annotations

import dataclasses
import re

from hypothesis import given, note
from hypothesis import strategies as st

import kubechain
from kubechain.model import Ruleset
from kubechain.render import render
from kubechain.testing import FORMATS, Dump, cascades, renderings, rulesets, services

from support.documents import comparable
from support.model_compare import carried, save_form

models = st.one_of(rulesets(), cascades(), services(max_endpoints=30).map(lambda s: s.ruleset()))


def _per_table(dump: Dump) -> list[tuple[str, dict]]:
    """(table, render options) of each table a printout shows (-L and -S show one table at a time)."""
    if dump.fmt == "iptables-save":
        return [("*", dump.options)]
    if dump.fmt == "iptables-S" or "chain" in dump.options:
        return [(dump.options["table"], dump.options)]
    return [(t.name, {"table": t.name, **dump.options}) for t in dump.model.tables]


@given(renderings(models=models))
def test_every_printout_parses_back_to_what_it_carries(dump: Dump):
    note(dump.text)
    parsed = kubechain.loads(dump.text)
    assert parsed.format == ("iptables-list" if dump.fmt == "iptables-list" else "iptables-save")
    for table, options in _per_table(dump):
        if dump.fmt == "iptables-S" or "chain" in options:  # the text does not name its table: the
            # parser guesses it (a lone `Chain OUTPUT` listing could be nat's or filter's), so name it
            parsed_one = Ruleset(tuple(dataclasses.replace(t, name=table) for t in parsed.tables), parsed.format,
                                 parsed.family)
        else:
            parsed_one = parsed
        assert carried(parsed_one, dump.fmt, **options) == carried(dump.model, dump.fmt, **options)


@given(models, st.data())
def test_any_two_printouts_analyze_the_same(model: Ruleset, data):
    """Counters aside (a printout without -v has none, one without -x rounds them), and apart from
    names that `-L` without -n prints instead of numbers, two printouts of one model agree."""
    dumps = []
    for _ in range(2):
        dump = data.draw(renderings(models=st.just(model)).filter(  # whole nat tables: a one-chain
            lambda d: "chain" not in d.options and d.options.get("table", "nat") == "nat"))  # printout lacks chains
        note(f"{dump.fmt} {dump.options}")
        dumps.append(dump)
    # `-L` without -n prints host and network names (`loopback/8`) for addresses; no-endpoints comes
    # from the filter table, which `-t nat -L` omits
    named = any(d.fmt == "iptables-list" and not d.options["numeric"] for d in dumps)
    docs = [comparable(kubechain.loads(d.text), counters=False, addresses=not named, skip_codes=("no-endpoints",))
            for d in dumps]
    doc_a, doc_b = docs
    assert doc_a == doc_b


@given(st.one_of(rulesets(), cascades()))
def test_generated_models_are_fixed_points_of_iptables_save(model: Ruleset):
    """Strict: not `carried`, but field-for-field equality. A generated probability such as `0.5`
    instead of the printed `0.50000000000`, a `/32`, a non-inet_ntop IPv6 address or an
    `--or-mark` would make this fail."""
    text = render(model, "iptables-save", counters=model.has_counters)
    parsed = kubechain.loads(text)
    got, want = save_form(parsed), save_form(model)
    for g, w in zip(got, want, strict=False):
        for name in w.chains:
            if g.chains.get(name) != w.chains[name]:
                note(f"first difference in {w.name}/{name}:\n  got  {g.chains.get(name)}\n  want {w.chains[name]}")
                break
    assert got == want
    assert parsed.family == model.family and parsed.has_counters == model.has_counters


@given(renderings(fmt="iptables-list", models=rulesets()).filter(lambda d: "chain" not in d.options),
       st.randoms(use_true_random=False))
def test_reordering_chain_sections_of_a_listing_changes_no_analysis(dump: Dump, rng):
    """`-L` sections (one per chain) shuffled within each table's listing."""
    tables = dump.text.split("\n\nChain ")  # crude but exact for rendered text: sections are blank-line separated
    sections = re.split(r"\n\n(?=Chain )", dump.text)
    note(f"{len(tables)} pieces, {len(sections)} sections")
    # keep each table's built-in chains first (that is how the parser tells listings of tables apart)
    groups: list[list[str]] = []
    for section in sections:
        if re.match(r"Chain \S+ \(policy", section) and (not groups or not re.match(r"Chain \S+ \(policy",
                                                                                     groups[-1][-1])):
            groups.append([])
        groups[-1].append(section)
    shuffled = []
    for group in groups:
        builtin = [s for s in group if re.match(r"Chain \S+ \(policy", s)]
        user = [s for s in group if s not in builtin]
        rng.shuffle(user)
        shuffled.extend(builtin + user)
    text = "\n\n".join(s.rstrip("\n") for s in shuffled) + "\n"
    assert comparable(kubechain.loads(text)) == comparable(kubechain.loads(dump.text))


def test_formats_are_the_renderers():
    assert set(FORMATS) == {"iptables-save", "iptables-S", "iptables-list"}


@given(renderings(fmt="iptables-save", models=rulesets()), st.randoms(use_true_random=False))
def test_reordering_chains_of_a_save_dump_changes_no_analysis(dump: Dump, rng):
    """Within each table: the `:CHAIN` lines shuffled, and the `-A` lines regrouped by chain in a
    shuffled chain order (each chain's own rules keep their order: that order is the chain)."""
    out, table = [], None
    for line in dump.text.splitlines(keepends=True):
        if line.startswith("*"):
            out.append(line)
            table = {"decls": [], "rules": {}}
        elif line.startswith(":"):
            table["decls"].append(line)
        elif "-A " in line:
            chain = line.split("-A ", 1)[1].split(" ", 1)[0]
            table["rules"].setdefault(chain, []).append(line)
        elif line.startswith("COMMIT"):
            rng.shuffle(table["decls"])
            groups = list(table["rules"].values())
            rng.shuffle(groups)
            out += table["decls"] + [rule for group in groups for rule in group] + [line]
        else:
            out.append(line)
    text = "".join(out)
    note(text)
    assert comparable(kubechain.loads(text)) == comparable(kubechain.loads(dump.text))
