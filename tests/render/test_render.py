"""render(): the real fixtures reproduced byte for byte, from their own model and across formats,
and rendered text read back into the model it came from."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest

import kubechain
from kubechain.model import Chain, Counters, Jump, Rule, Ruleset, Table, UnknownMatch, Verdict
from kubechain.render import RenderError, render
from kubechain.render.names import Names
from kubechain.render.values import print_num

from support.model_compare import carried, same_tables
from support.paths import FIXTURES, fixture
from support.render_variants import VARIANTS, fixture_render_call, without_timestamps
from support.unusual_rules import UNUSUAL_IPV4, UNUSUAL_IPV6

FIXTURE_FILES = sorted(p for p in FIXTURES.glob("*.txt"))


def _id(path):
    return path.name[: -len(".txt")]


def _has_unknown(ruleset: Ruleset) -> bool:
    return any(isinstance(m, UnknownMatch) for t in ruleset.tables for c in t.chains.values()
               for r in c.rules for m in r.matches)


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=_id)
def test_every_fixture_renders_back_byte_for_byte(path):
    fmt, options = fixture_render_call(path)
    assert without_timestamps(render(kubechain.load(path), fmt, **options)) == without_timestamps(path.read_text())


@pytest.mark.parametrize("path", [p for p in FIXTURE_FILES if ".save" not in p.name], ids=_id)
def test_the_save_c_model_renders_every_other_printout(path):
    """iptables-save -c carries everything the other printouts show, except `-m limit`, which the
    model keeps verbatim in save form only (there is no -L text for it without a limit model)."""
    rule_set, backend = path.name.split(".")[:2]
    model = kubechain.load(fixture(rule_set, backend, "save-c"))
    fmt, options = fixture_render_call(path)
    if (rule_set in ("odd", "diag-broken") and fmt == "iptables-list" and options.get("chain") is None
            and options.get("table") == "nat"):  # their -m limit rules are in nat
        with pytest.raises(RenderError, match="-m limit"):
            render(model, fmt, **options)
        return
    assert render(model, fmt, **options) == path.read_text()


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=_id)
def test_rendered_text_parses_to_the_same_model(path):
    original = kubechain.load(path)
    fmt, options = fixture_render_call(path)
    again = kubechain.loads(render(original, fmt, **options))
    assert same_tables(again, original)
    assert (again.format, again.family, again.has_counters, again.partial) == (
        original.format, original.family, original.has_counters, original.partial)


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v not in ("S-v",)])
@pytest.mark.parametrize("rule_set", ["blog", "kube-proxy-overall", "ipv6"])
def test_save_c_model_survives_every_format(rule_set, variant):
    """What a printout carries of a model (counters, names, interfaces per its flags) parses back."""
    model = kubechain.load(fixture(rule_set, "nft", "save-c"))
    fmt, options, _ = VARIANTS[variant]
    options = options if fmt == "iptables-save" else {"table": "nat", **options}
    again = kubechain.loads(render(model, fmt, **options))
    assert carried(again, fmt, **options) == carried(model, fmt, **options)


def _ruleset(*rules: Rule, family: str = "ipv4", user_refs: int | None = None) -> Ruleset:
    chains = {"INPUT": Chain("INPUT", (), "ACCEPT", Counters(1234567, 98765432109)),
              "FORWARD": Chain("FORWARD", (), "DROP"), "OUTPUT": Chain("OUTPUT", (), "ACCEPT"),
              "Z": Chain("Z", rules, references=user_refs), "A": Chain("A", (Rule(Jump("Z")), Rule(Jump("Z", True))))}
    return Ruleset((Table("filter", chains),), "iptables-save", family)


def test_chain_order_references_and_counters_are_computed_like_iptables():
    ruleset = _ruleset(Rule(Verdict("ACCEPT"), counters=Counters(100499, 9999500)))
    text = render(ruleset, "iptables-list", verbose=True)
    assert [line.split(" (")[0] for line in text.splitlines() if line.startswith("Chain")] == [
        "Chain INPUT", "Chain FORWARD", "Chain OUTPUT", "Chain A", "Chain Z"]
    assert "Chain INPUT (policy ACCEPT 1235K packets, 99G bytes)" in text
    assert "Chain FORWARD (policy DROP 0 packets, 0 bytes)" in text  # no counters in the model: zero
    assert "Chain Z (2 references)" in text  # a jump and a goto
    assert " 100K   10M ACCEPT     all  --  any    any     anywhere             anywhere            \n" in text
    assert "Chain Z (7 references)" in render(_ruleset(user_refs=7), "iptables-list")  # a listing's own count wins


@pytest.mark.parametrize(("number", "printed"), [
    (99999, "99999 "), (100000, " 100K "), (100499, " 100K "), (9999499, "9999K "), (9999500, "  10M "),
    (10**12, "1000G "), (9999500 * 10**6, "  10T "), (2**64 - 1, "18446744T ")])
def test_counter_abbreviation_follows_xtables_print_num(number, printed):
    assert print_num(number, exact=False) == printed


def test_save_header_quoting_and_defaults():
    rule = kubechain.loads('*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 10.1.2.3 -m comment --comment "a \\"b\\" \'c\'"'
                           ' -m comment --comment plain_-1 -j REJECT\nCOMMIT\n')
    text = render(rule, "iptables-save", backend="legacy", date=datetime(2026, 1, 2, 3, 4, 5))
    assert text.splitlines()[0] == "# Generated by iptables-save v1.8.9 on Fri Jan  2 03:04:05 2026"
    assert ('-A INPUT -s 10.1.2.3/32 -m comment --comment "a \\"b\\" \\\'c\\\'" -m comment --comment plain_-1'
            ' -j REJECT --reject-with icmp-port-unreachable') in text


def test_names_come_from_the_given_netdb_files(tmp_path):
    (tmp_path / "services").write_text("web 8080/tcp\n")
    (tmp_path / "networks").write_text("pods 10.244.0.0\n")
    (tmp_path / "hosts").write_text("10.0.0.1 gateway gw\n")
    (tmp_path / "protocols").write_text("tcp 6 TCP\n")
    ruleset = kubechain.loads("*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -s 10.244.0.0/16 -d 10.0.0.1"
                              " -p tcp -m tcp --dport 8080 -j ACCEPT\nCOMMIT\n")
    text = render(ruleset, "iptables-list", table="nat", names=Names(tmp_path))
    assert "ACCEPT     tcp  --  pods/16              gateway              tcp dpt:web\n" in text
    # and back: a listing printed with names renders numerically through the same files
    again = kubechain.loads(text)
    assert "-s 10.244.0.0/16 -d 10.0.0.1/32 -p tcp -m tcp --dport 8080" in render(
        dataclasses.replace(again, tables=(dataclasses.replace(again.tables[0], name="nat"),)),
        "iptables-S", table="nat", names=Names(tmp_path))


def test_what_a_format_cannot_carry_is_an_error_not_a_guess():
    listed = kubechain.load(fixture("odd", "nft", "L-n-v"))
    with pytest.raises(RenderError, match="limit: avg"):
        render(listed, "iptables-save")
    with pytest.raises(ValueError, match="unknown format"):
        render(listed, "pf")
    with pytest.raises(RenderError, match="only tables read from nft"):
        render(listed, "nft")
    with pytest.raises(RenderError, match="no chain"):
        render(listed, "iptables-list", table="nat", chain="NOPE")


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("rules", [UNUSUAL_IPV4, UNUSUAL_IPV6], ids=["ipv4", "ipv6"])
def test_unusual_rules_survive_every_format(rules, variant):
    model = kubechain.loads(rules)
    fmt, options, _ = VARIANTS[variant]
    for table in ([None] if fmt == "iptables-save" else [t.name for t in model.tables]):
        opts = options if table is None else {"table": table, **options}
        again = kubechain.loads(render(model, fmt, **opts))
        assert carried(again, fmt, **opts) == carried(model, fmt, **opts)


def test_protocol_names_with_n_is_the_layout_of_older_iptables():
    """Before 1.8.9, -n still printed `tcp`/`all` in the prot column, in the same width."""
    model = kubechain.load(fixture("kube-proxy-overall", "nft", "save-c"))
    text = render(model, "iptables-list", table="nat", numeric=True, verbose=True, protocol_names=True)
    want = fixture("kube-proxy-overall", "nft", "L-n-v").read_text()
    assert text != want
    assert text == want.replace(" 0    --", " all  --").replace(" 6    --", " tcp  --")
