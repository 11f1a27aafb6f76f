"""Grammar tests: every format and variant the real iptables 1.8.9 prints, both backends."""

from __future__ import annotations

import dataclasses

import pytest

import kubechain
from kubechain.model import (
    AddrType,
    Comment,
    ConnState,
    Counters,
    Dnat,
    Jump,
    Mark,
    MarkMatch,
    MarkTarget,
    Masquerade,
    Negatable,
    Ports,
    Recent,
    Reject,
    StatisticNth,
    StatisticRandom,
    UnknownMatch,
    Verdict,
)

from support.paths import ALL_VARIANTS, BACKENDS, NUMERIC_VARIANTS, RULE_SETS, fixture


def rules_by_chain(ruleset, table="nat", counters=True):
    """chain → rules with input lines erased (and counters, unless asked to keep them)."""
    t = ruleset.table(table)
    return {name: [dataclasses.replace(r, line=0, counters=r.counters if counters else None) for r in c.rules]
            for name, c in t.chains.items()}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("rule_set", RULE_SETS)
@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_every_fixture_parses_with_its_format_and_family(rule_set, backend, variant):
    ruleset = kubechain.load(fixture(rule_set, backend, variant))
    assert ruleset.format == ("iptables-list" if variant.startswith("L") else "iptables-save")
    assert ruleset.family == ("ipv6" if rule_set == "ipv6" else "ipv4")
    nat = ruleset.table("nat")
    assert nat is not None and nat.chains
    assert ruleset.has_counters == (variant in ("L-n-v", "L-n-v-x", "L-n-v-x-line", "save-c", "L-v"))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("rule_set", RULE_SETS)
@pytest.mark.parametrize("variant", NUMERIC_VARIANTS)
def test_numeric_listings_give_the_same_model_as_iptables_save(rule_set, backend, variant):
    reference = rules_by_chain(kubechain.load(fixture(rule_set, backend, "save-c")))
    exact_counters = variant in ("L-n-v-x", "L-n-v-x-line", "save-c")
    got = rules_by_chain(kubechain.load(fixture(rule_set, backend, variant)), counters=exact_counters)
    if not exact_counters:
        reference = {k: [dataclasses.replace(r, counters=None) for r in v] for k, v in reference.items()}
    unknown_free = {k: v for k, v in reference.items() if not any(
        isinstance(m, UnknownMatch) for r in v for m in r.matches)}
    assert set(got) == set(reference)
    for name, rules in unknown_free.items():
        assert got[name] == rules, name


def test_backends_print_identical_models():
    for rule_set in RULE_SETS:
        nft = rules_by_chain(kubechain.load(fixture(rule_set, "nft", "L-n-v-x")))
        legacy = rules_by_chain(kubechain.load(fixture(rule_set, "legacy", "L-n-v-x")))
        assert nft == legacy


def test_listing_without_n_prints_names_that_normalise():
    named = kubechain.load(fixture("blog", "nft", "L")).table("nat").chains["KUBE-SERVICES"].rules[0]
    numeric = kubechain.load(fixture("blog", "nft", "L-n-line")).table("nat").chains["KUBE-SERVICES"].rules[0]
    assert named.protocol == numeric.protocol == Negatable("tcp")  # `tcp` and `6`
    assert named.source is None and numeric.source is None  # `anywhere` and `0.0.0.0/0`
    ports = [m for m in named.matches if isinstance(m, Ports)]
    assert ports == [Ports("tcp", dport=Negatable("http-alt"))]


def test_blog_example_rule_details():
    ruleset = kubechain.load(fixture("blog", "legacy", "L-n-v-x-line"))
    svc = ruleset.table("nat").chains["KUBE-SVC-EXAMPLEAAAAAAAAAA"]
    masq, first, second, last = svc.rules
    assert masq.source == Negatable("10.128.0.0/16", True)
    assert masq.destination == Negatable("10.128.50.100")
    assert first.matches == (Comment("namespace/example-service:http -> 10.128.60.10:8080"),
                             StatisticRandom(Negatable(715827883)))  # printed 0.33333333349
    assert first.counters == Counters(33412, 2004720)
    assert last.target == Jump("KUBE-SEP-CCCCCCCCCCCCCCCC") and len(last.matches) == 1
    dnat = ruleset.table("nat").chains["KUBE-SEP-AAAAAAAAAAAAAAAA"].rules[1]
    assert dnat.target == Dnat("10.128.60.10:8080")
    assert ruleset.table("nat").chains["KUBE-MARK-MASQ"].rules[0].target == MarkTarget(0x4000, 0x4000)
    post = ruleset.table("nat").chains["KUBE-POSTROUTING"].rules
    assert post[0].target == Verdict("RETURN")
    assert post[0].matches == (MarkMatch(Negatable(Mark(0x4000, 0x4000), True)),)
    assert post[1].target == MarkTarget(0x4000, 0)
    assert post[2].target == Masquerade(flags=("random-fully",))


def test_suffixed_counters_are_kept_and_marked_approximate():
    chains = kubechain.load(fixture("odd", "nft", "L-v")).table("nat").chains
    dns0, dns1 = chains["KUBE-SVC-UDPDNSAAAAAAAAAAA"].rules
    assert dns0.counters == Counters(123_000_000, 9_877_000_000, False, False)  # 123M 9877M
    assert dns1.counters == Counters(123_000, 99_000_000_000_000, False, False)  # 123K 99T
    skew = chains["KUBE-SVC-SKEWED5AAAAAAAAAA"].rules[0]
    assert skew.counters == Counters(40123, 2_407_000, True, False)  # 40123 2407K
    exact = kubechain.load(fixture("odd", "nft", "L-n-v-x")).table("nat").chains
    assert exact["KUBE-SVC-UDPDNSAAAAAAAAAAA"].rules[1].counters == Counters(123456, 98765432109876)


def test_odd_matches_goto_nth_inversion_unknown():
    chains = kubechain.load(fixture("odd", "legacy", "L-n-v")).table("nat").chains
    goto = chains["KUBE-SVC-GOTOAAAAAAAAAAAAA"].rules
    assert goto[1].target == Jump("KUBE-SEP-GOTO0AAAAAAAAAAAA", goto=True)
    assert goto[1].matches == (StatisticRandom(Negatable(1 << 30)),)
    assert goto[2].target == Jump("KUBE-SEP-GOTO1AAAAAAAAAAAA", goto=True) and goto[2].matches == ()
    assert chains["KUBE-SVC-NTHAAAAAAAAAAAAAA"].rules[0].matches == (StatisticNth(Negatable(3), 0),)
    assert chains["KUBE-SVC-INVERTAAAAAAAAAAA"].rules[0].matches == (StatisticRandom(Negatable(1 << 29, True)),)
    assert chains["KUBE-SVC-UNKNOWNAAAAAAAAAA"].rules[0].matches == (UnknownMatch("limit: avg 5/sec burst 5"),)
    saved = kubechain.load(fixture("odd", "legacy", "save")).table("nat").chains
    assert saved["KUBE-SVC-UNKNOWNAAAAAAAAAA"].rules[0].matches == (UnknownMatch("-m limit --limit 5/sec"),)


def test_blank_target_addrtype_recent_and_filter_table():
    ruleset = kubechain.load(fixture("kube-proxy-overall", "nft", "L-n-v"))
    fw = ruleset.table("nat").chains["KUBE-FW-NUKIZ6OKUXPJNT4C"].rules
    assert fw[1].target is None and fw[1].matches[0].text.startswith("other traffic to ns5/svc5:p80")
    ext = ruleset.table("nat").chains["KUBE-EXT-GNZBNJ2PO5MGZ6GT"].rules
    assert AddrType(src_type=Negatable("LOCAL")) in ext[1].matches
    svc5 = ruleset.table("nat").chains["KUBE-SVC-NUKIZ6OKUXPJNT4C"].rules
    check = Recent(Negatable("CHECK"), "KUBE-SEP-I77PXRDZVX7PMWMN", 10800, True, mask="255.255.255.255")
    assert check in svc5[1].matches
    filt = kubechain.load(fixture("kube-proxy-overall", "nft", "filter.L-n-v")).tables[0]
    assert filt.name == "filter"
    rules = [r for c in filt.chains.values() for r in c.rules]
    assert any(r.target == Reject("icmp-port-unreachable") for r in rules)
    states = ConnState(Negatable(("RELATED", "ESTABLISHED", "DNAT"), True))
    assert any(states in r.matches and r.source is not None and r.source.negated for r in rules)


def test_save_recent_matches_listing_recent():
    listed = kubechain.load(fixture("ipv6", "nft", "L-n-v")).table("nat").chains["KUBE-SEP-V6A0AAAAAAAAAAAA"]
    saved = kubechain.load(fixture("ipv6", "nft", "save")).table("nat").chains["KUBE-SEP-V6A0AAAAAAAAAAAA"]
    want = Recent(Negatable("SET"), "KUBE-SEP-V6A0AAAAAAAAAAAA", mask="ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
    assert want in listed.rules[1].matches and want in saved.rules[1].matches
    assert listed.rules[1].target == saved.rules[1].target == Dnat("[fd00:10:244:1::5]:8443")


def test_save_holds_several_tables_and_S_has_none():
    save = kubechain.load(fixture("kube-proxy-overall", "nft", "save"))
    assert sorted(t.name for t in save.tables) == ["filter", "nat"]
    spec = kubechain.load(fixture("kube-proxy-overall", "nft", "S"))
    assert [t.name for t in spec.tables] == ["nat"]  # inferred: -S prints no table name
    assert spec.table("nat").chains["PREROUTING"].policy == "ACCEPT"


def test_single_chain_listing_is_partial():
    ruleset = kubechain.load(fixture("blog", "nft", "L-chain"))
    assert ruleset.partial and list(ruleset.table("nat").chains) == ["KUBE-SVC-EXAMPLEAAAAAAAAAA"]


def test_concatenated_listings_become_separate_tables():
    text = fixture("kube-proxy-overall", "nft", "filter.L-n-v").read_text()
    text += "\n" + fixture("kube-proxy-overall", "nft", "L-n-v").read_text()
    ruleset = kubechain.loads(text)
    assert [t.name for t in ruleset.tables] == ["filter", "nat"]


def test_crlf_tabs_and_trailing_spaces_give_the_same_dump():
    for variant in ("L-n-v", "save-c"):
        text = fixture("blog", "nft", variant).read_text()
        mangled = "\r\n".join(line.replace("    ", "\t") + "   " for line in text.split("\n"))
        assert kubechain.loads(mangled).tables == kubechain.loads(text).tables


def test_old_layouts_protocol_names_and_blank_ip6tables_opt_column():
    text = fixture("ipv6", "nft", "L-n-v").read_text()
    # iptables before 1.8.9 printed names with -n, and ip6tables a blank opt column
    old = text.replace("  0    --  ", "  all      ").replace("  6    --  ", "  tcp      ")
    assert old != text
    assert rules_by_chain(kubechain.loads(old)) == rules_by_chain(kubechain.loads(text))
