"""Ground truth for the fit: real connections through kube-proxy-style chains in the real kernel.

In a fresh network namespace: a veth pair with an address and a default route through a
neighbour that never answers (a permanent ARP entry), the chains loaded with iptables-restore and
hooked from nat OUTPUT like kube-proxy. Each connection is a non-blocking TCP connect() from its
own source port, closed at once: its SYN is a NEW conntrack entry, so it crosses the nat table
once, where xt_statistic draws and the DNAT rule counts it. conntrack is flushed between services
so no tuple can be reused. Then the counters are printed by the real `iptables -L -n -v -x` and
`iptables-save -c` and fitted. Skips without root/binaries; fails instead in CI.
"""

from __future__ import annotations

import sys

import pytest

import kubechain

from support.kernel import CONNECT, IPTABLES_TOOLS, Namespace, require_kernel

CONNECTS = 20_000
SERVICES = {  # chain → (cluster IP, probabilities of the rules; None for a rule without statistic)
    "KUBE-SVC-THREEAAAAAAAAAAAA": ("10.96.0.10", ["0.3333333333", "0.5000000000", None]),
    "KUBE-SVC-SKEWED5AAAAAAAAAA": ("10.96.0.11", ["0.5", "0.5", "0.5", "0.5", None]),
    "KUBE-SVC-FALLTHRUAAAAAAAAA": ("10.96.0.12", ["0.5000000000", "0.5000000000"]),
}


def rules() -> str:
    lines = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
             ":POSTROUTING ACCEPT [0:0]", ":KUBE-SERVICES - [0:0]"]
    body = ["-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"]
    for s, (chain, (ip, probabilities)) in enumerate(SERVICES.items()):
        lines.append(f":{chain} - [0:0]")
        name = chain.removeprefix("KUBE-SVC-").rstrip("A").lower()
        body.append(f"-A KUBE-SERVICES -d {ip}/32 -p tcp -m comment --comment \"traffic/{name} cluster IP\" "
                    f"-m tcp --dport 80 -j {chain}")
        for i, p in enumerate(probabilities):
            sep = f"KUBE-SEP-{name.upper()}{i}".ljust(25, "A")
            lines.append(f":{sep} - [0:0]")
            statistic = f"-m statistic --mode random --probability {p} " if p else ""
            body.append(f"-A {chain} {statistic}-j {sep}")
            body.append(f"-A {sep} -p tcp -m tcp -j DNAT --to-destination 10.244.{s}.{10 + i}:8080")
    return "\n".join(lines + body + ["COMMIT", ""])


@pytest.mark.kernel
@pytest.mark.parametrize("backend", ["nft", "legacy"])
def test_real_connections_fit_the_exact_shares(netns: Namespace, backend):
    require_kernel((*IPTABLES_TOOLS, "conntrack"))
    binary = f"iptables-{backend}"
    for command in (["link", "set", "lo", "up"], ["link", "add", "kcveth0", "type", "veth", "peer", "name", "kcveth1"],
                    ["addr", "add", "10.99.0.1/24", "dev", "kcveth0"], ["link", "set", "kcveth0", "up"],
                    ["link", "set", "kcveth1", "up"],
                    ["neigh", "add", "10.99.0.2", "lladdr", "02:00:00:00:00:02", "dev", "kcveth0", "nud", "permanent"],
                    ["route", "add", "default", "via", "10.99.0.2"]):
        netns.ip(*command)
    netns.run(f"{binary}-restore", stdin=rules())
    for chain, (ip, _) in SERVICES.items():
        netns.run("conntrack", "-F")  # no tuple survives from the previous service
        refused = netns.run(sys.executable, "-c", CONNECT, "10.99.0.1", ip, "80", "20000", str(CONNECTS))
        assert refused.strip() == "0", chain

    listing = netns.run(binary, "-t", "nat", "-L", "-n", "-v", "-x")
    saved = netns.run(f"{binary}-save", "-c")
    found = {}
    for text in (listing, saved):
        analysis = kubechain.analyze(kubechain.loads(text))
        found[text is saved] = {s.chain: s for s in analysis.services}
    for chain in SERVICES:
        listed, dumped = found[False][chain], found[True][chain]
        # the same exact counts from both printouts
        assert [e.observed for e in listed.endpoints] == [e.observed for e in dumped.endpoints]
        assert all(e.observed_exact for e in listed.endpoints + dumped.endpoints)
        for svc in (listed, dumped):
            fit = svc.fit
            # every connect entered the chain once (the KUBE-SERVICES counter) and is accounted for; the
            # unassigned cell exists where the rules let connections fall through
            unassigned = CONNECTS - svc.observed_total if svc.unassigned else None
            assert fit.total == CONNECTS and fit.unassigned == unassigned, (chain, fit)
            assert fit.vs_exact.p_value >= 1e-6, (chain, fit)
    three, skewed, fall = (found[True][c] for c in SERVICES)
    assert three.observed_total == skewed.observed_total == CONNECTS
    assert three.fit.vs_uniform.p_value >= 1e-6
    assert skewed.fit.vs_uniform.p_value < 1e-6
    # the fall-through chain: a quarter of the connections found no endpoint, and the fit saw them
    assert fall.unassigned == pytest.approx(0.25) and 0 < fall.observed_total < CONNECTS
    assert fall.fit.unassigned == CONNECTS - fall.observed_total > 0
    assert fall.fit.vs_uniform.p_value == 0.0  # uniform over endpoints gives the unassigned cell nothing
