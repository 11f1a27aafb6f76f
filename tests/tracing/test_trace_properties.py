"""Properties of `kubechain.trace` over generated kube-proxy rule sets (kubechain.testing), in
iptables and nftables mode: from the node, a cluster IP's outcomes sum to exactly 1 and its DNAT
outcomes are exactly analyze's endpoint shares (the trace and analyze share one walk, but the
trace starts at nat OUTPUT and evaluates every match on the packet, so this holds them together)."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

from hypothesis import given

import kubechain
from kubechain import Packet
from kubechain.model import Ruleset
from kubechain.testing import nft_rulesets, rulesets

#: the node's address: in no range the generated rule sets name
NODE = {"ipv4": "198.18.0.1", "ipv6": "2001:db8:ffff::1"}


def _check(ruleset: Ruleset) -> None:
    analysis = kubechain.analyze(ruleset)
    cluster = [s for s in analysis.services if s.kind == "cluster" and s.cluster_ip and s.port and s.protocol]
    keys = Counter((s.cluster_ip, s.port, s.protocol) for s in cluster)
    fronts = Counter(f.address for s in analysis.services for f in s.kube.frontends)
    for service in cluster:
        assert service.cluster_ip is not None and service.port is not None and service.protocol is not None
        if keys[(service.cluster_ip, service.port, service.protocol)] > 1 or fronts[service.cluster_ip] > 1:
            continue  # two service ports on one address: the first rule wins, as in the kernel
        src = NODE[service.family]
        traced = kubechain.trace(ruleset, Packet(service.cluster_ip, service.port, proto=service.protocol,
                                                 origin="node", src=src, local_addresses=(src,)),
                                 diagnostics=False)
        assert sum(o.probability for o in traced.outcomes) == 1
        got: Counter[str | None] = Counter()
        for o in traced.outcomes:
            got[o.destination if o.verdict == "dnat" else None] += o.probability  # type: ignore[assignment]
        want: Counter[str | None] = Counter()
        for e in service.endpoints:
            want[e.address] += e.share  # type: ignore[assignment]
        if service.unassigned:
            want[None] += service.unassigned  # type: ignore[assignment]
        assert {k: Fraction(v) for k, v in got.items() if v} == {k: Fraction(v) for k, v in want.items() if v}, (
            service.name, traced.outcomes)


@given(rulesets(max_endpoints=12))
def test_iptables_mode_traces_are_analyze_shares(ruleset: Ruleset):
    _check(ruleset)


@given(nft_rulesets(max_endpoints=12))
def test_nftables_mode_traces_are_analyze_shares(ruleset: Ruleset):
    _check(ruleset)
