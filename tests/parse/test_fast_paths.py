"""The parsers' fast paths give what the general readers give: the listing, save and nft scans
what Lark and ListBuilder / SaveBuilder / NftBuilder build, `is_paste` what reading the text line
by line tells, the save tokenizer what its regex reads, on every fixture, on generated printouts
and on text drawn near the grammar's edges."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubechain import testing
from kubechain.errors import BadValue, ParseError
from kubechain.model import Table
from kubechain.parse import nft, paste, save, save_options
from kubechain.parse.grammar import lalr_parser
from kubechain.parse.listing import ListBuilder, scan
from kubechain.parse.loader import normalise

from support.paths import FIXTURES

_TEXTS = sorted(p for p in FIXTURES.rglob("*.txt") if p.is_file())


#: each fast path: (its scan, the grammar and builder it stands in for)
_SCANS = {"iptables-list": (scan, ListBuilder), "iptables-save": (save.scan, save.SaveBuilder),
          "nft": (nft.scan, nft.NftBuilder)}


def _lark(text: str, fmt: str) -> list[Any] | str | None:
    """Lark's chains (tables), the ParseError a rule line raised while it built them, or None (refused)."""
    try:
        return lalr_parser(fmt, _SCANS[fmt][1]).parse(text)  # type: ignore[return-value]
    except ParseError as err:
        return str(err)
    except Exception:  # noqa: BLE001 - any refusal of the grammar: the scan must then refuse too
        return None


def _lines(found: list[Any]) -> list[Any]:
    """Every line number the model keeps (chains', rules'), which equality does not compare."""
    if found and isinstance(found[0], Table):
        return [_lines(list(t.chains.values())) + [t.line] for t in found]
    return [(c.line, [r.line for r in c.rules]) for c in found]


def _same_as_lark(text: str, fmt: str = "iptables-list") -> None:
    try:
        scanned: list[Any] | str | None = _SCANS[fmt][0](text)
    except ParseError as err:
        scanned = str(err)
    if scanned is None:
        return  # Lark reads it (and says what is wrong)
    expected = _lark(text, fmt)
    assert expected is not None, "the scan accepted a text the grammar refuses"
    assert scanned == expected
    if not isinstance(scanned, str):
        assert _lines(scanned) == _lines(expected)  # type: ignore[arg-type]


def _is_paste_line_by_line(text: str) -> bool:
    """The reference: every line looked at on its own."""
    kinds = set()
    for line in text.split("\n"):
        prompt = paste.PROMPT.match(line)
        if prompt and paste._TOOL.search(prompt["command"]):
            return True
        kind = paste._kind(line)
        if kind is not None:
            kinds.add(kind)
    return len(kinds) > 1


@pytest.mark.parametrize("path", _TEXTS, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_every_fixture(path) -> None:
    text = normalise(path.read_text(encoding="utf-8", errors="replace"))
    for fmt in _SCANS:
        _same_as_lark(text, fmt)
    assert paste.is_paste(text) == _is_paste_line_by_line(text)


def test_the_scan_reads_every_plain_listing_fixture() -> None:
    listings = [p for p in _TEXTS if ".L" in p.name and "field" not in p.parts]
    assert listings
    assert all(scan(normalise(p.read_text())) is not None for p in listings)


@given(testing.dumps("iptables-list"))
def test_generated_listings(text: str) -> None:
    text = normalise(text)
    _same_as_lark(text)


def test_the_save_scan_reads_every_plain_save_fixture() -> None:
    saved = [p for p in _TEXTS if ".save" in p.name and "field" not in p.parts]
    assert saved
    assert all(save.scan(normalise(p.read_text())) is not None for p in saved)


@given(testing.dumps("iptables-save"))
def test_generated_saves(text: str) -> None:
    text = normalise(text)
    assert save.scan(text) is not None
    _same_as_lark(text, "iptables-save")


def test_the_nft_scan_reads_every_nft_fixture() -> None:
    listed = [p for p in _TEXTS if "nft" in p.parts and "list" in p.name]
    assert listed
    assert all(nft.scan(normalise(p.read_text())) is not None for p in listed)


@given(testing.nft_renderings())
def test_generated_nft_listings(dump: testing.Dump) -> None:
    text = normalise(dump.text)
    assert nft.scan(text) is not None
    _same_as_lark(text, "nft")


_LINES = st.sampled_from([
    "Chain KUBE-SVC-X (1 references)", "Chain OUTPUT (policy ACCEPT 0 packets, 0 bytes)", "Chain ",
    " pkts bytes target     prot opt in     out     source               destination",
    "target     prot opt source               destination", "num  target     prot opt source destination",
    "    0     0 KUBE-SEP-A  0    --  *      *       0.0.0.0/0            0.0.0.0/0",
    "ACCEPT     all  --  0.0.0.0/0            0.0.0.0/0", "  Chain X (1 references)", "", "   ", "# Warning: x",
    "  # note", "*nat", ":KUBE-X - [0:0]", "-A KUBE-X -j ACCEPT", "[1:2] -A X -j DROP", "COMMIT", "COMMIT  ",
    "table ip kube-proxy {", "-P OUTPUT ACCEPT", "-N KUBE-X", "-A", " -A X -j DROP", "-P X", ":", "*",
    "table ip kube-proxy { # handle 1", "}", " chain services {",
    "  type nat hook prerouting priority dstnat; policy accept;", "  ip daddr 10.0.0.1 tcp dport 80 jump service-X",
    " }", " set s {", "  ", " comment \"x\"", " flags dormant",
    "[0:0] -A KUBE-X -m comment --comment \"a b\" -j KUBE-SEP-A", "-A X -m statistic --mode random",
    "root@node:~# iptables -t nat -L -n", "$ nft list ruleset", "$", "a # b $ c",
    # near misses of the line starts that is_paste looks for (each a literal text, then a pattern)
    "[", "[1:2]", "[1:2] -X", "-Z X", "-", "*-", "COMMITS", "table", "table foo x {", "Chain X(", "Chain",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINES, max_size=12))
def test_texts_near_the_edges(lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    for fmt in _SCANS:
        _same_as_lark(text, fmt)
    assert paste.is_paste(text) == _is_paste_line_by_line(text)


def _tokens_by_regex(text: str) -> list[tuple[str, bool]] | str:
    """The reference tokenizer: save_options.TOKEN over the whole line, as before the fast path."""
    out: list[tuple[str, bool]] = []
    for m in save_options.TOKEN.finditer(text):
        if m.group(3) is not None:
            if m.group(3).startswith('"'):
                return "unclosed"
            out.append((m.group(3), False))
        elif m.group(1) is not None:
            out.append((save_options._UNESCAPE.sub(r"\1", m.group(1)), True))
        else:
            out.append((m.group(2), True))
    return out


@settings(max_examples=1000, deadline=None)
@given(st.text(st.sampled_from([" ", '"', "'", "\\", "a", "-", "\t", "\x1c", "\x85", "\u3000"]), max_size=16))
def test_save_tokens_are_the_regexs(text: str) -> None:
    try:
        got: list[tuple[str, bool]] | str = save_options.tokens(text)
    except BadValue:
        got = "unclosed"
    assert got == _tokens_by_regex(text)
