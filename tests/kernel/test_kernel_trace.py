"""Ground truth for `kubechain trace`: real packets through kube-proxy-style rules in the real
kernel, compared with the trace of the real `iptables-save` of those rules.

Two network namespaces: a node and a client, joined by a veth (192.168.77.1 on the node,
192.168.77.2 and the pod address 10.244.9.9 on the client). The node forwards; its endpoints
(10.244.1.0/24) sit behind a second veth whose neighbour never answers (a permanent ARP entry),
so a SYN DNATed to an endpoint leaves the node and nothing comes back. kube-proxy's chains are
loaded with iptables-restore (nat and filter, with the jumps kube-proxy adds to the built-in
chains). Each connection is a non-blocking TCP connect() from its own source port, closed at once:
a NEW conntrack entry in the node, whose reply tuple says where the DNAT sent it (reply source)
and whether the source was masqueraded (reply destination is then the node's own address, not
the client's). Cases: from the node (OUTPUT) to a cluster IP; from a pod and from outside
(PREROUTING, through the veth) to a cluster IP and to NodePorts on the node's address, with
externalTrafficPolicy Cluster and Local; and a service without endpoints, which must be refused
(REJECT) as the trace says. Every case runs on iptables (iptables-nft-restore, read back from
iptables-nft-save) and on kube-proxy's nftables mode (nft -f, read back from nft list ruleset).
Skips without root/binaries; fails instead in CI.
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
from kubechain.testing import kube_proxy_probability

from support.kernel import CONNECT, Namespace, require_kernel

CONNECTS = 3000
TOOLS = ("ip", "iptables-nft-restore", "iptables-nft-save", "conntrack")
NODE, CLIENT, POD, EGRESS = "192.168.77.1", "192.168.77.2", "10.244.9.9", "10.98.0.1"
WEB = ["10.244.1.10", "10.244.1.11", "10.244.1.12"]
LOCAL = ["10.244.1.20", "10.244.2.21"]  # the first is on this node

REFUSED = """
import socket, sys
src, ip, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
refused = 0
for _ in range(count):
    s = socket.socket()
    s.settimeout(10)
    s.bind((src, 0))
    try:
        s.connect((ip, port))
    except ConnectionRefusedError:
        refused += 1
    except OSError:
        pass
    s.close()
print(refused)
"""


def _svc(name: str) -> str:
    """kube-proxy's hash of a chain's name: base32 of its sha256 (16 characters in iptables mode, 8 in nft)."""
    return base64.b32encode(hashlib.sha256(name.encode()).digest()).decode()[:16]


def rules() -> str:
    """kube-proxy's iptables layout (pkg/proxy/iptables/proxier.go) for three services: web
    (cluster IP 10.96.0.10, NodePort 30080, Cluster policy, three endpoints), local (10.96.0.11,
    NodePort 30081, Local policy, one of two endpoints local) and empty (10.96.0.12, no endpoints)."""
    web, loc = _svc("web"), _svc("local")
    chains = ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-MARK-MASQ", "KUBE-POSTROUTING",
              f"KUBE-SVC-{web}", f"KUBE-EXT-{web}", f"KUBE-SVC-{loc}", f"KUBE-SVL-{loc}", f"KUBE-EXT-{loc}"]
    seps = {ip: f"KUBE-SEP-{_svc('ep' + ip.replace('.', ''))}" for ip in WEB + LOCAL}
    nat = ["-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
           "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
           "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING",
           "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000",
           "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
           "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000",
           "-A KUBE-POSTROUTING -j MASQUERADE --random-fully",
           f"-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment \"test/web:http cluster IP\" "
           f"-m tcp --dport 80 -j KUBE-SVC-{web}",
           f"-A KUBE-SERVICES -d 10.96.0.11/32 -p tcp -m comment --comment \"test/local:http cluster IP\" "
           f"-m tcp --dport 80 -j KUBE-SVC-{loc}",
           "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last "
           "rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS",
           f"-A KUBE-NODEPORTS -p tcp -m comment --comment test/web:http -m tcp --dport 30080 -j KUBE-EXT-{web}",
           f"-A KUBE-NODEPORTS -p tcp -m comment --comment test/local:http -m tcp --dport 30081 -j KUBE-EXT-{loc}",
           f"-A KUBE-EXT-{web} -m comment --comment \"masquerade traffic for test/web:http external destinations\" "
           "-j KUBE-MARK-MASQ",
           f"-A KUBE-EXT-{web} -j KUBE-SVC-{web}",
           f"-A KUBE-EXT-{loc} -s 10.244.0.0/16 -m comment --comment \"pod traffic for test/local:http external "
           f"destinations\" -j KUBE-SVC-{loc}",
           f"-A KUBE-EXT-{loc} -m comment --comment \"masquerade LOCAL traffic for test/local:http external "
           "destinations\" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ",
           f"-A KUBE-EXT-{loc} -m comment --comment \"route LOCAL traffic for test/local:http external "
           f"destinations\" -m addrtype --src-type LOCAL -j KUBE-SVC-{loc}",
           f"-A KUBE-EXT-{loc} -j KUBE-SVL-{loc}"]
    for chain, ip, endpoints in ((f"KUBE-SVC-{web}", "10.96.0.10", WEB), (f"KUBE-SVC-{loc}", "10.96.0.11", LOCAL)):
        nat.append(f"-A {chain} ! -s 10.244.0.0/16 -d {ip}/32 -p tcp -m comment --comment \"cluster IP\" "
                   "-m tcp --dport 80 -j KUBE-MARK-MASQ")
        for i, endpoint in enumerate(endpoints):
            probability = kube_proxy_probability(len(endpoints), i)
            statistic = f"-m statistic --mode random --probability {probability} " if i < len(endpoints) - 1 else ""
            nat.append(f"-A {chain} -m comment --comment \"-> {endpoint}:8080\" {statistic}-j {seps[endpoint]}")
    nat.append(f"-A KUBE-SVL-{loc} -m comment --comment \"-> {LOCAL[0]}:8080\" -j {seps[LOCAL[0]]}")
    for endpoint, sep in seps.items():
        nat.append(f"-A {sep} -s {endpoint}/32 -j KUBE-MARK-MASQ")
        nat.append(f"-A {sep} -p tcp -m tcp -j DNAT --to-destination {endpoint}:8080")
    lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
             ":KUBE-SERVICES - [0:0]", ":KUBE-FORWARD - [0:0]",
             "-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD",
             "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" "
             "-j KUBE-SERVICES",
             "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" "
             "-j KUBE-SERVICES",
             "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
             "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark 0x4000/0x4000 "
             "-j ACCEPT",
             "-A KUBE-SERVICES -d 10.96.0.12/32 -p tcp -m comment --comment \"test/empty:http has no endpoints\" "
             "-m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable",
             "COMMIT", "*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
             ":POSTROUTING ACCEPT [0:0]"]
    lines += [f":{c} - [0:0]" for c in chains + list(seps.values())]
    return "\n".join(lines + nat + ["COMMIT", ""])


def nft_rules() -> str:
    """The same services in kube-proxy's nftables layout (pkg/proxy/nftables/proxier.go; base rules
    as fixtures/nft/rules/kube-proxy-overall.nft): service-ips and service-nodeports dispatch,
    numgen picks, mark-for-masquerade and masquerading, no-endpoint-services → reject-chain."""
    t = "ip kube-proxy"
    out = [f"add table {t} {{ comment \"rules for kube-proxy\" ; }}",
           f"add set {t} cluster-ips {{ type ipv4_addr ; }}",
           f"add set {t} nodeport-ips {{ type ipv4_addr ; }}",
           f"add map {t} no-endpoint-services {{ type ipv4_addr . inet_proto . inet_service : verdict ; }}",
           f"add map {t} no-endpoint-nodeports {{ type inet_proto . inet_service : verdict ; }}",
           f"add map {t} service-ips {{ type ipv4_addr . inet_proto . inet_service : verdict ; }}",
           f"add map {t} service-nodeports {{ type inet_proto . inet_service : verdict ; }}",
           f"add chain {t} cluster-ips-check",
           f"add chain {t} filter-forward {{ type filter hook forward priority 0 ; }}",
           f"add chain {t} filter-input {{ type filter hook input priority 0 ; }}",
           f"add chain {t} filter-output {{ type filter hook output priority 0 ; }}",
           f"add chain {t} mark-for-masquerade", f"add chain {t} masquerading",
           f"add chain {t} nat-output {{ type nat hook output priority -100 ; }}",
           f"add chain {t} nat-postrouting {{ type nat hook postrouting priority 100 ; }}",
           f"add chain {t} nat-prerouting {{ type nat hook prerouting priority -100 ; }}",
           f"add chain {t} nodeport-endpoints-check", f"add chain {t} reject-chain", f"add chain {t} services",
           f"add chain {t} service-endpoints-check",
           f"add rule {t} cluster-ips-check ip daddr @cluster-ips reject",
           f"add rule {t} cluster-ips-check ip daddr {{ 10.96.0.0/16 }} drop",
           f"add rule {t} filter-forward ct state new jump service-endpoints-check",
           f"add rule {t} filter-forward ct state new jump cluster-ips-check",
           f"add rule {t} filter-input ct state new jump nodeport-endpoints-check",
           f"add rule {t} filter-input ct state new jump service-endpoints-check",
           f"add rule {t} filter-output ct state new jump service-endpoints-check",
           f"add rule {t} filter-output ct state new jump cluster-ips-check",
           f"add rule {t} mark-for-masquerade mark set mark or 0x4000",
           f"add rule {t} masquerading mark and 0x4000 == 0 return",
           f"add rule {t} masquerading mark set mark xor 0x4000",
           f"add rule {t} masquerading masquerade fully-random",
           f"add rule {t} nat-output jump services", f"add rule {t} nat-postrouting jump masquerading",
           f"add rule {t} nat-prerouting jump services",
           f"add rule {t} nodeport-endpoints-check ip daddr @nodeport-ips meta l4proto . th dport vmap "
           "@no-endpoint-nodeports",
           f"add rule {t} reject-chain reject",
           f"add rule {t} services ip daddr . meta l4proto . th dport vmap @service-ips",
           f"add rule {t} services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports",
           f"add rule {t} service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services",
           f"add element {t} nodeport-ips {{ {NODE}, {EGRESS} }}",
           f"add element {t} cluster-ips {{ 10.96.0.10, 10.96.0.11, 10.96.0.12 }}",
           f"add element {t} no-endpoint-services {{ 10.96.0.12 . tcp . 80 : goto reject-chain }}"]

    def endpoint_chain(service: str, ip: str) -> str:
        return f"endpoint-{_svc('ep' + ip.replace('.', ''))[:8]}-test/{service}/tcp/http__{ip}/8080"

    def vmap(service: str, endpoints: list[str]) -> str:
        entries = ", ".join(f"{i} : goto {endpoint_chain(service, ip)}" for i, ip in enumerate(endpoints))
        return f"numgen random mod {len(endpoints)} vmap {{ {entries} }}"

    for service, ip, port, endpoints in (("web", "10.96.0.10", 30080, WEB), ("local", "10.96.0.11", 30081, LOCAL)):
        base = f"{_svc(service)[:8]}-test/{service}/tcp/http"
        chain, external = f"service-{base}", f"external-{base}"
        out += [f"add chain {t} {chain}", f"add chain {t} {external}"]
        for endpoint in endpoints:
            ep = endpoint_chain(service, endpoint)
            out += [f"add chain {t} {ep}", f"add rule {t} {ep} ip saddr {endpoint} jump mark-for-masquerade",
                    f"add rule {t} {ep} meta l4proto tcp dnat to {endpoint}:8080"]
        out += [f"add rule {t} {chain} ip daddr {ip} ip saddr != 10.244.0.0/16 jump mark-for-masquerade",
                f"add rule {t} {chain} {vmap(service, endpoints)}"]
        if service == "web":  # externalTrafficPolicy: Cluster
            out += [f"add rule {t} {external} jump mark-for-masquerade", f"add rule {t} {external} goto {chain}"]
        else:  # Local: pods and the node go to every endpoint, the rest to the local ones
            local = f"local-{base}"
            out += [f"add chain {t} {local}", f"add rule {t} {local} {vmap(service, endpoints[:1])}",
                    f"add rule {t} {external} ip saddr 10.244.0.0/16 goto {chain}",
                    f"add rule {t} {external} fib saddr type local jump mark-for-masquerade",
                    f"add rule {t} {external} fib saddr type local goto {chain}",
                    f"add rule {t} {external} goto {local}"]
        out += [f"add element {t} service-ips {{ {ip} . tcp . 80 : goto {chain} }}",
                f"add element {t} service-nodeports {{ tcp . {port} : goto {external} }}"]
    return "\n".join(out) + "\n"


def conntrack_entries(table: str, dst: str, dport: int) -> list[tuple[str, str]]:
    """(reply source, reply destination) of each entry whose original destination is dst:dport."""
    found = []
    for line in table.splitlines():
        srcs, dsts = re.findall(r"\bsrc=(\S+)", line), re.findall(r"\bdst=(\S+)", line)
        dports = re.findall(r"\bdport=(\d+)", line)
        if len(srcs) >= 2 and dsts[0] == dst and dports and int(dports[0]) == dport:
            found.append((srcs[1], dsts[1]))
    return found


@pytest.fixture(scope="module", params=["iptables", "nft"])
def node(request):
    require_kernel((*TOOLS, "nft"))
    with Namespace() as host, Namespace() as client:
        host.ip("link", "set", "lo", "up")
        client.ip("link", "set", "lo", "up")
        host.ip("link", "add", "kcn0", "type", "veth", "peer", "name", "kcc0", "netns", client.name)
        host.ip("addr", "add", f"{NODE}/24", "dev", "kcn0")
        client.ip("addr", "add", f"{CLIENT}/24", "dev", "kcc0")
        client.ip("addr", "add", f"{POD}/32", "dev", "kcc0")
        host.ip("link", "set", "kcn0", "up")
        client.ip("link", "set", "kcc0", "up")
        client.ip("route", "add", "default", "via", NODE, "src", CLIENT)
        host.ip("route", "add", f"{POD}/32", "via", CLIENT)
        # the endpoints' side: a veth whose neighbour never answers
        host.ip("link", "add", "kce0", "type", "veth", "peer", "name", "kce1")
        host.ip("addr", "add", f"{EGRESS}/24", "dev", "kce0")
        host.ip("link", "set", "kce0", "up")
        host.ip("link", "set", "kce1", "up")
        host.ip("neigh", "add", "10.98.0.2", "lladdr", "02:00:00:00:00:02", "dev", "kce0", "nud", "permanent")
        host.ip("route", "add", "10.244.0.0/16", "via", "10.98.0.2")
        host.ip("route", "add", "10.96.0.0/12", "via", "10.98.0.2")  # the node's route to cluster IPs
        host.run("sysctl", "-qw", "net.ipv4.ip_forward=1")
        if request.param == "iptables":
            host.run("iptables-nft-restore", stdin=rules())
            ruleset = kubechain.loads(host.run("iptables-nft-save"))
        else:
            host.run("nft", "-f", "-", stdin=nft_rules())
            ruleset = kubechain.loads(host.run("nft", "list", "ruleset"))
        yield host, client, ruleset


CASES = {  # name → (where the client runs, its source, destination, port, origin)
    "node to a cluster IP": ("node", NODE, "10.96.0.10", 80, "node"),
    "pod to a cluster IP": ("client", POD, "10.96.0.10", 80, "pod"),
    "external to a cluster IP": ("client", CLIENT, "10.96.0.10", 80, "external"),
    "external to a NodePort (Cluster)": ("client", CLIENT, NODE, 30080, "external"),
    "external to a NodePort (Local)": ("client", CLIENT, NODE, 30081, "external"),
    "node to a NodePort (Local)": ("node", NODE, NODE, 30081, "node"),
}


@pytest.mark.kernel
@pytest.mark.parametrize("case", list(CASES))
def test_conntrack_fits_the_trace(node, case):
    host, client, ruleset = node
    where, src, dst, port, origin = CASES[case]
    traced = kubechain.trace(ruleset, kubechain.Packet(dst, port, origin=origin, src=src,
                                                       local_addresses=(NODE, EGRESS)))
    assert all(o.verdict == "dnat" for o in traced.outcomes), traced.outcomes
    host.run("conntrack", "-F")
    sender = host if where == "node" else client
    failed = sender.run(sys.executable, "-c", CONNECT, src, dst, str(port), "20000", str(CONNECTS))
    assert failed.strip() == "0", case
    entries = conntrack_entries(host.run("conntrack", "-L"), dst, port)
    assert len(entries) == CONNECTS, (case, len(entries))
    endpoints = Counter(reply_src for reply_src, _ in entries)
    shares = {o.destination.split(":")[0]: o.probability for o in traced.outcomes}  # type: ignore[union-attr]
    assert set(endpoints) <= set(shares), (case, endpoints, shares)
    if len(shares) == 1:  # one endpoint: every connection, exactly
        assert endpoints == Counter({next(iter(shares)): CONNECTS}), (case, endpoints)
    else:
        order = sorted(shares)
        fit = goodness_of_fit([endpoints[a] for a in order], [shares[a] for a in order], None, Fraction(0),
                              "conntrack")
        assert fit.vs_exact is not None and fit.vs_exact.p_value is not None, fit
        assert fit.vs_exact.p_value >= 1e-6, (case, endpoints, shares, fit)
    # masquerade: the reply goes to the node's own address instead of the client
    masquerades = {o.masquerade for o in traced.outcomes}
    assert len(masquerades) == 1, traced.outcomes
    replies_to = Counter(reply_dst for _, reply_dst in entries)
    expected = EGRESS if masquerades.pop() else src
    assert replies_to == Counter({expected: CONNECTS}), (case, replies_to)


@pytest.mark.kernel
@pytest.mark.parametrize("where", ["node", "client"])
def test_a_service_without_endpoints_is_refused_as_traced(node, where):
    host, client, ruleset = node
    src, origin = (NODE, "node") if where == "node" else (POD, "pod")
    traced = kubechain.trace(ruleset, kubechain.Packet("10.96.0.12", 80, origin=origin, src=src,
                                                       local_addresses=(NODE, EGRESS)))
    assert [(o.verdict, o.probability) for o in traced.outcomes] == [("reject", 1)]
    assert traced.outcomes[0].path[-1].chain in ("KUBE-SERVICES", "reject-chain")
    sender = host if where == "node" else client
    assert sender.run(sys.executable, "-c", REFUSED, src, "10.96.0.12", "80", "5").strip() == "5"
