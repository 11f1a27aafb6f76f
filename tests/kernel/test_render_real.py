"""render() against the real iptables 1.8.9 (both backends): the fixture rule files and rule sets
with the features kube-proxy does not use. Needs root; skips without it, fails instead in CI."""

from __future__ import annotations

import pytest

from support.differential import assert_renders_like_real
from support.kernel import require_kernel
from support.paths import FIXTURES
from support.unusual_rules import UNUSUAL_IPV4, UNUSUAL_IPV6, VERBATIM

pytestmark = pytest.mark.kernel

RULE_FILES = sorted((FIXTURES / "rules").glob("*.rules"))


@pytest.mark.parametrize("backend", ["nft", "legacy"])
@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.stem)
def test_render_prints_what_iptables_prints_for_the_fixture_rules(path, backend):
    require_kernel()
    checked = assert_renders_like_real(path.read_text(), backend)
    with_limit = path.stem in ("odd", "diag-broken")  # `-m limit` is kept as save text only
    assert checked["save-c"] == "model" and checked["nat.L-n-v-x"] == ("own parse" if with_limit else "model")


@pytest.mark.parametrize("backend", ["nft", "legacy"])
@pytest.mark.parametrize("rules", [UNUSUAL_IPV4, UNUSUAL_IPV6], ids=["ipv4", "ipv6"])
def test_render_prints_what_iptables_prints_for_unusual_rules(rules, backend):
    require_kernel()
    checked = assert_renders_like_real(rules, backend)
    assert set(checked.values()) == {"model"}


@pytest.mark.parametrize("backend", ["nft", "legacy"])
def test_verbatim_options_print_back_in_their_own_format(backend):
    require_kernel()
    checked = assert_renders_like_real(VERBATIM, backend)
    assert checked["save-c"] == checked["nat.S"] == "model" and checked["nat.L-n-v"] == "own parse"
