"""nft printouts (fixtures/nft/, printed by the real nft 1.0.6) into the model: every variant of one
rule set gives the same model, the values are normalised as the model promises, and what the
printout lacks is reported as partial or kept verbatim."""

from __future__ import annotations

import dataclasses

import pytest

import kubechain
from kubechain.model import (
    Address,
    AddrType,
    ConnState,
    CounterStatement,
    Dnat,
    DnatMap,
    Hook,
    Jump,
    Mark,
    MarkMatch,
    MarkSet,
    Masquerade,
    Negatable,
    Numgen,
    Protocol,
    SetLookup,
    SetUpdate,
    StatisticNth,
    StatisticRandom,
    Table,
    Verdict,
    VerdictMap,
    XtMatch,
)

from support.paths import NFT, NFT_IPTABLES_RULE_SETS, NFT_RULE_SETS, NFT_VARIANTS, nft_fixture


def without_json_losses(table: Table) -> Table:
    """What nft 1.0.6 leaves out of its JSON: the table's and chains' comments, the `dynamic` flag."""
    chains = {n: dataclasses.replace(c, comment=None) for n, c in table.chains.items()}
    sets = {n: dataclasses.replace(s, flags=tuple(f for f in s.flags if f != "dynamic")) for n, s in table.sets.items()}
    return dataclasses.replace(table, chains=chains, sets=sets, comment=None)


def without_state(table: Table) -> Table:
    """What `nft -s` leaves out: counter values (and `expires`, which the model never compares)."""
    chains = {n: dataclasses.replace(c, rules=tuple(dataclasses.replace(r, counters=None) for r in c.rules))
              for n, c in table.chains.items()}
    return dataclasses.replace(table, chains=chains)


@pytest.mark.parametrize("rule_set", NFT_RULE_SETS)
@pytest.mark.parametrize("variant", NFT_VARIANTS)
def test_every_printout_gives_the_model_of_nft_list_ruleset(rule_set, variant):
    base = kubechain.load(nft_fixture(rule_set, "list.txt"))
    other = kubechain.load(nft_fixture(rule_set, variant))
    assert other.format == ("nft-json" if variant == "json" else "nft")
    assert other.family == base.family == ("ipv6" if rule_set == "ipv6" else "ipv4")
    assert not other.partial
    expected = list(base.tables)
    got = list(other.tables)
    if variant == "json":
        expected, got = [without_json_losses(t) for t in expected], [without_json_losses(t) for t in got]
    if variant == "list-s.txt":
        expected = [without_state(t) for t in expected]
        assert not other.has_counters
    assert got == expected


@pytest.mark.parametrize("rule_set", NFT_RULE_SETS)
def test_a_one_chain_printout_is_partial_and_holds_that_chain(rule_set):
    whole = kubechain.load(nft_fixture(rule_set, "list.txt"))
    one = kubechain.load(nft_fixture(rule_set, "chain.txt"))
    assert one.partial and not whole.partial
    (table,) = one.tables
    (chain,) = table.chains.values()
    # the sets are not printed with one chain, so a lookup cannot know its set's timeout
    expected = whole.tables[0].chains[chain.name]
    assert chain == dataclasses.replace(expected, rules=tuple(
        dataclasses.replace(r, matches=tuple(dataclasses.replace(m, timeout_ms=None) if type(m) is SetLookup else m
                                             for m in r.matches)) for r in expected.rules))


def test_overall_values_are_normalised():
    t = kubechain.load(NFT / "kube-proxy-overall.list.txt").tables[0]
    n = kubechain.load(NFT / "kube-proxy-overall.list-n.txt").tables[0]
    assert (t.family, t.name, t.comment) == ("ip", "kube-proxy", "rules for kube-proxy")
    assert t.chains["filter-prerouting-pre-dnat"].hook == Hook("filter", "prerouting", -110)
    assert t.chains["filter-output-pre-dnat"].hook == Hook("filter", "output", -110)
    assert t.chains["nat-postrouting"].hook == Hook("nat", "postrouting", 100)
    assert t.chains["nat-prerouting"].policy == "ACCEPT"
    assert t.chains["reject-chain"].comment == "helper for @no-endpoint-services / @no-endpoint-nodeports"
    # -n prints `ct state 0x8`, protocol 6, `timeout 10800s`, priorities as numbers: the same model
    assert n.chains == t.chains and n.sets == t.sets
    rules = t.chains["service-HVFWP5L3-ns5/svc5/tcp/p80"].rules
    assert rules[0].matches == (Address("ip", "daddr", Negatable("172.30.0.45")),
                                Address("ip", "saddr", Negatable("10.0.0.0/8", True)))
    affinity = "affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80"
    assert rules[1].matches == (SetLookup(("ip saddr",), affinity, False, 10_800_000),)
    assert rules[1].target == Jump("endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80", goto=True)
    assert rules[2].target == VerdictMap(Numgen("random", 1), (("0", rules[1].target),))
    endpoint = t.chains["endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80"].rules
    assert endpoint[1].matches == (SetUpdate("update", affinity, ("ip saddr",)),)
    assert endpoint[2].matches == (Protocol("meta l4proto", Negatable("tcp")),)
    assert endpoint[2].target == Dnat("10.180.0.3:80")
    assert t.sets[affinity].timeout_ms == 10_800_000 and t.sets[affinity].flags == ("dynamic", "timeout")
    masquerading = t.chains["masquerading"].rules
    assert masquerading[0].matches == (MarkMatch(Negatable(Mark(0, 0x4000))),)
    assert masquerading[0].target == Verdict("RETURN")
    assert masquerading[1].matches == (MarkSet(0x4000, 0),)  # xor: the --set-xmark of MARK --xor-mark
    assert masquerading[2].target == Masquerade(flags=("random-fully",))
    assert t.chains["mark-for-masquerade"].rules[0].matches == (MarkSet(0x4000, 0x4000),)
    assert t.chains["filter-forward"].rules[0].matches == (ConnState(Negatable(("NEW",)), "ct"),)
    external = t.chains["external-42NFTM6N-ns2/svc2/tcp/p80"].rules
    assert external[1].matches[0] == AddrType(src_type=Negatable("LOCAL"))
    elements = {e.key: e for e in t.sets["no-endpoint-services"].elements}
    assert elements[("172.30.0.46", "tcp", "80")].comment == "ns6/svc6:p80"
    assert elements[("172.30.0.46", "tcp", "80")].value == Jump("reject-chain", goto=True)
    assert elements[("1.2.3.4", "tcp", "80")].value == Verdict("DROP")
    assert [e.line for e in t.sets["cluster-ips"].elements] == [6, 6, 7, 7, 8, 8]


def test_handles_are_read_and_not_part_of_the_meaning():
    t = kubechain.load(NFT / "kube-proxy-overall.list-a.txt").tables[0]
    assert t.handle == 1
    assert t.chains["filter-prerouting-pre-dnat"].handle == 9
    rule = t.chains["service-ULMVA6XW-ns1/svc1/tcp/p80"].rules[1]
    assert rule.handle is not None and rule.handle > 0


def test_mixed_constructs():
    t = kubechain.load(NFT / "mixed.list.txt").tables[0]
    seven = t.chains["service-RVDIDH4J-mixed/seven/tcp/http"].rules[1]
    assert seven.matches == (CounterStatement(),) and seven.counters.packets == 70000
    assert type(seven.target) is VerdictMap and seven.target.key == Numgen("random", 7)
    offset = t.chains["service-R3GSIOT5-mixed/offset/tcp/http"].rules[1].target
    assert offset.key == Numgen("random", 2, 1) and [k for k, _ in offset.entries] == ["1", "2"]
    assert all(not v.goto for _, v in offset.entries)  # jump, not goto
    assert t.chains["service-VHS5H47H-mixed/rr/tcp/http"].rules[1].target.key == Numgen("inc", 2)
    single = t.chains["service-XJUTIZ7K-mixed/single/tcp/http"].rules[1].target
    assert single == DnatMap("ip", Numgen("random", 3), ((0, "10.244.0.9:8080"), (1, "10.244.1.7:8080"),
                                                          (2, "10.244.1.8:8080")))
    dns = t.chains["service-24ULU5DC-kube-system/dns-single/udp/dns"].rules[1]
    assert dns.target == DnatMap("ip", Numgen("inc", 2), ((0, "10.244.0.3:53"), (1, "10.244.0.4:53")))
    assert dns.counters.packets == 5000
    sticky = t.sets["affinity-JDP5IWAU-mixed/sticky/tcp/http__10.244.3.30/8080"].elements[0]
    assert (sticky.key, sticky.timeout_ms, sticky.expires_ms) == (("10.244.5.2",), 3_600_000, 600_000)


def test_ipv6_single_rule_form_and_brackets():
    t = kubechain.load(NFT / "ipv6.list.txt").tables[0]
    assert t.family == "ip6"
    single = next(c for n, c in t.chains.items() if n.endswith("-v6/single/tcp/http"))
    target = single.rules[-1].target
    assert type(target) is DnatMap and target.family == "ip6"
    assert [d for _, d in target.entries] == ["[fd00:10:244:1::8]:8080", "[fd00:10:244:2::9]:8080"]


@pytest.mark.parametrize("rule_set", NFT_IPTABLES_RULE_SETS)
def test_iptables_nft_rules_through_nft(rule_set):
    ruleset = kubechain.load(NFT / "iptables-nft" / f"{rule_set}.list.txt")
    assert ruleset.format == "nft" and ruleset.has_counters
    nat = next(t for t in ruleset.tables if t.name == "nat")
    assert nat.family in ("ip", "ip6")
    rules = [r for c in nat.chains.values() for r in c.rules]
    assert any(type(m) is StatisticRandom for r in rules for m in r.matches)
    assert all(r.counters is not None for r in rules)  # iptables-nft counts every rule


def test_iptables_nft_statistic_nth_and_comments():
    nat = kubechain.load(NFT / "iptables-nft" / "odd.list.txt").tables[0]
    invert = nat.chains["KUBE-SVC-INVERTAAAAAAAAAAA"].rules[0].matches
    assert StatisticRandom(Negatable(536870912, True)) in invert  # `>= t` is the inverted xt statistic
    nth = nat.chains["KUBE-SVC-NTHAAAAAAAAAAAAAA"].rules
    assert StatisticNth(Negatable(3), 0) in nth[0].matches and StatisticNth(Negatable(2), 0) in nth[1].matches
    dns = nat.chains["KUBE-SVC-UDPDNSAAAAAAAAAAA"].rules[0].matches
    assert dns[0] == XtMatch("")  # the comment match, printed as nothing (a leading space)


def test_iptables_nft_json_keeps_xt_extensions_opaque():
    nat = kubechain.load(NFT / "iptables-nft" / "odd.json").tables[0]
    rule = nat.chains["KUBE-SVC-SKEWED5AAAAAAAAAA"].rules[0]
    assert XtMatch("statistic") in rule.matches
    assert not any(type(m) is StatisticRandom for m in rule.matches)


def _rule_lines(text: str):
    """(family, rule text) of every rule line of an nft printout, with the sets of its table."""
    family = None
    for line in text.splitlines():
        if line.startswith("table "):
            family = line.split()[1]
        elif line.startswith("\t\t") and not line.startswith("\t\t\t") and line.split()[0] not in (
                "type", "comment", "flags", "timeout", "size", "elements", "policy"):
            yield family, line[2:].split(" # handle ")[0]


def test_the_fast_line_reader_agrees_with_the_general_one():
    """RuleReader._fast reads the commonest kube-proxy lines by regex: on every rule line of every
    fixture it gives what the general reader gives, or leaves the line to it."""
    from kubechain.parse.nft_statements import RuleReader

    fast_lines = 0
    for path in [*NFT.glob("*.txt"), *(NFT / "iptables-nft").glob("*.txt")]:
        sets = kubechain.load(path).tables[0].sets
        for family, text in _rule_lines(path.read_text()):
            reader = RuleReader(family, sets)
            fast = reader._fast(text)
            if fast is None:
                continue
            fast_lines += 1
            reader._fast = lambda _text: None  # the general reader only
            general = reader.read(text, 0, None)
            assert (general.target, general.matches) == fast, text
    assert fast_lines > 400
