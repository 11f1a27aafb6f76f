"""`render(ruleset, "nft")` prints every nft fixture byte for byte as the real nft 1.0.6 printed it,
in every variant (`list`, `-a`, `-n`, `-s`, `list table`, `list chain`), and iptables-nft's tables."""

from __future__ import annotations

import pytest

import kubechain
from kubechain.errors import RenderError
from kubechain.render import render

from support.paths import FIXTURES, NFT, NFT_IPTABLES_RULE_SETS, NFT_RULE_SETS, nft_fixture

OPTIONS = {"list.txt": {}, "list-a.txt": {"handles": True}, "list-n.txt": {"numeric": True},
           "list-s.txt": {"stateless": True}, "table.txt": {"table": "kube-proxy"}}


@pytest.mark.parametrize("rule_set", NFT_RULE_SETS)
@pytest.mark.parametrize("variant", [*OPTIONS, "chain.txt"])
def test_render_prints_what_nft_printed(rule_set, variant):
    path = nft_fixture(rule_set, variant)
    ruleset = kubechain.load(path)
    options = dict(OPTIONS.get(variant, {}))
    if variant == "chain.txt":
        options["chain"] = next(iter(ruleset.tables[0].chains))
    assert render(ruleset, "nft", **options) == path.read_text()


@pytest.mark.parametrize("rule_set", NFT_IPTABLES_RULE_SETS)
def test_render_prints_iptables_nft_tables_as_nft_does(rule_set):
    path = NFT / "iptables-nft" / f"{rule_set}.list.txt"
    assert render(kubechain.load(path), "nft") == path.read_text()


@pytest.mark.parametrize("rule_set", NFT_RULE_SETS)
def test_the_json_model_prints_the_text_but_what_json_lacks(rule_set):
    """nft 1.0.6's JSON has no table or chain comments and no `dynamic` flag: the rest is the text."""
    text = nft_fixture(rule_set, "list.txt").read_text()
    got = render(kubechain.load(nft_fixture(rule_set, "json")), "nft")
    expected = [line.replace("flags dynamic,timeout", "flags timeout") for line in text.splitlines()
                if not line.startswith(("\tcomment ", "\t\tcomment "))
                or line.startswith("\t\tcomment") and not _is_chain_comment(text, line)]
    assert got.splitlines() == expected


def _is_chain_comment(text: str, line: str) -> bool:
    before = text[: text.index(line)].splitlines()[-1]
    return before.startswith("\tchain ")


def test_options_are_nfts_own():
    ruleset = kubechain.load(NFT / "mixed.list.txt")
    numeric = render(ruleset, "nft", numeric=True)
    assert "ct state 0x8 jump firewall-check" in numeric and "timeout 10800s" in numeric
    assert "priority dstnat - 10;" not in numeric and "priority -110;" in numeric
    assert "counter packets 70000 bytes 4200000 numgen" in render(ruleset, "nft")
    assert "\t\tcounter numgen random mod 7" in render(ruleset, "nft", stateless=True)


def test_an_iptables_dump_has_no_nft_printout():
    with pytest.raises(RenderError):
        render(kubechain.load(FIXTURES / "blog.nft.save.txt"), "nft")
