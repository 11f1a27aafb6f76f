"""Ground truth for numgen: real connections through kube-proxy's nftables layout in the real kernel.

In a fresh network namespace: a veth pair with an address and a default route through a
neighbour that never answers (a permanent ARP entry), and a `table ip kube-proxy` loaded with the
real `nft -f`, hooked from nat output as kube-proxy hooks it: `services` dispatches through the
`service-ips` verdict map, each service chain picks an endpoint chain with `numgen random mod N
vmap`, each endpoint chain DNATs. Each connection is a non-blocking TCP connect() from its own
source port, closed at once: its SYN is a NEW conntrack entry, so it crosses the nat hook once.
kube-proxy's rules carry no counters, so each endpoint is counted from the conntrack table (the
reply source of each entry is the endpoint it was sent to; the cluster IP itself where no DNAT
happened), and conntrack is flushed between services. The printout of the real `nft list
ruleset` is analysed by kubechain, and the counts must fit its exact shares. Skips without
root/binaries; fails instead in CI.
"""

from __future__ import annotations

import base64
import hashlib
import re
import sys
from collections import Counter
from fractions import Fraction

import pytest

import kubechain
from kubechain.analysis.fit import goodness_of_fit

from support.kernel import CONNECT, Namespace, require_kernel

CONNECTS = 20_000
TOOLS = ("ip", "nft", "conntrack")
#: service → (cluster IP, endpoint count, mode, the values of the vmap that have an element)
SERVICES = {
    "three": ("10.96.0.10", 3, "random", (0, 1, 2)),
    "seven": ("10.96.0.11", 7, "random", tuple(range(7))),
    "gap": ("10.96.0.12", 3, "random", (0, 1)),  # value 2 has no element: it falls through
    "rr": ("10.96.0.13", 2, "inc", (0, 1)),
}


def hashed(name: str) -> str:
    """kube-proxy's chain name: 8 base32 characters of sha256(name), `-`, name (hashAndTruncate)."""
    return base64.b32encode(hashlib.sha256(name.encode()).digest()).decode()[:8] + "-" + name


def endpoint(service_index: int, i: int) -> str:
    return f"10.244.{service_index}.{10 + i}"


def rules() -> str:
    """kube-proxy's nftables layout (pkg/proxy/nftables/proxier.go), cut to the nat part."""
    t = "ip kube-proxy"
    lines = [f"add table {t} {{ comment \"rules for kube-proxy\" ; }}",
             f"add map {t} service-ips {{ type ipv4_addr . inet_proto . inet_service : verdict ; }}",
             f"add chain {t} nat-output {{ type nat hook output priority -100 ; }}",
             f"add chain {t} services",
             f"add rule {t} nat-output jump services",
             f"add rule {t} services ip daddr . meta l4proto . th dport vmap @service-ips"]
    for s, (name, (ip, n, mode, values)) in enumerate(SERVICES.items()):
        chain = "service-" + hashed(f"test/{name}/tcp/http")
        lines.append(f"add chain {t} {chain}")
        entries = []
        for i in range(n):
            ep = "endpoint-" + hashed(f"test/{name}/tcp/http__{endpoint(s, i)}/8080")
            lines.append(f"add chain {t} {ep}")
            lines.append(f"add rule {t} {ep} meta l4proto tcp dnat to {endpoint(s, i)}:8080")
            if i in values:
                entries.append(f"{i} : goto {ep}")
        lines.append(f"add rule {t} {chain} numgen {mode} mod {n} vmap {{ {', '.join(entries)} }}")
        lines.append(f"add element {t} service-ips {{ {ip} . tcp . 80 : goto {chain} }}")
    return "\n".join(lines) + "\n"


def reply_sources(table: str) -> Counter[str]:
    """conntrack -L: each entry's second `src=` is the reply's source, the connection's endpoint."""
    found: Counter[str] = Counter()
    for line in table.splitlines():
        sources = re.findall(r"\bsrc=(\S+)", line)
        if len(sources) >= 2 and "dport=80 " in line:
            found[sources[1]] += 1
    return found


@pytest.mark.kernel
def test_real_connections_fit_the_exact_numgen_shares(netns: Namespace):
    require_kernel(TOOLS)
    for command in (["link", "set", "lo", "up"], ["link", "add", "kcveth0", "type", "veth", "peer", "name", "kcveth1"],
                    ["addr", "add", "10.99.0.1/24", "dev", "kcveth0"], ["link", "set", "kcveth0", "up"],
                    ["link", "set", "kcveth1", "up"],
                    ["neigh", "add", "10.99.0.2", "lladdr", "02:00:00:00:00:02", "dev", "kcveth0", "nud", "permanent"],
                    ["route", "add", "default", "via", "10.99.0.2"]):
        netns.ip(*command)
    netns.run("nft", "-f", "-", stdin=rules())
    analysis = kubechain.analyze(kubechain.loads(netns.run("nft", "list", "ruleset")))
    by_name = {s.name: s for s in analysis.services}

    counted = {}
    for s, (name, (ip, n, _mode, _values)) in enumerate(SERVICES.items()):
        netns.run("conntrack", "-F")  # no tuple survives from the previous service
        refused = netns.run(sys.executable, "-c", CONNECT, "10.99.0.1", ip, "80", "20000", str(CONNECTS))
        assert refused.strip() == "0", name
        sources = reply_sources(netns.run("conntrack", "-L"))
        assert sum(sources.values()) == CONNECTS, (name, sources)
        counts = [sources[endpoint(s, i)] for i in range(n)]
        counted[name] = (counts, sources[ip])  # the cluster IP itself: no endpoint chose it

    for name, (counts, undnatted) in counted.items():
        service = by_name[f"test/{name}:http"]
        # every value generated without an element reached no endpoint chain: its count is 0
        endpoint_counts = [counts[int(e.chain.rsplit("__10.244.", 1)[1].split("/")[0].split(".")[1]) - 10]
                           for e in service.endpoints]
        assert sum(endpoint_counts) + undnatted == CONNECTS
        fit = goodness_of_fit(endpoint_counts, [e.share for e in service.endpoints],
                              undnatted if service.unassigned else None, service.unassigned, "conntrack")
        assert fit.vs_exact is not None and fit.vs_exact.p_value >= 1e-6, (name, endpoint_counts, undnatted, fit)

    three, seven, gap, rr = (by_name[f"test/{n}:http"] for n in SERVICES)
    assert [e.share * (1 << 32) for e in three.endpoints] == [1431655766, 1431655765, 1431655765]
    assert sum(e.share for e in seven.endpoints) == 1 and len(seven.endpoints) == 7
    # the missing bucket: a third of the connections found no endpoint, in the kernel and in the analysis
    assert gap.unassigned == Fraction(1431655765, 1 << 32)
    assert 0.3 < counted["gap"][1] / CONNECTS < 0.37 and counted["gap"][0][2] == 0
    # numgen inc is a counter: exactly half each
    assert counted["rr"][0] == [CONNECTS // 2, CONNECTS // 2] and counted["rr"][1] == 0
    assert [e.share for e in rr.endpoints] == [Fraction(1, 2)] * 2
