"""Rule sets (iptables-save text) with what kube-proxy never writes: every typed match and target
in unusual forms, names to resolve, big counters, IPv6. Loadable by the real iptables-restore -c."""

NAT_CHAINS = ":PREROUTING ACCEPT [5:300]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [123456789:98765432100]\n" \
             ":POSTROUTING ACCEPT [0:0]\n"

UNUSUAL_IPV4 = "*nat\n" + NAT_CHAINS + """\
:A-VERY-LONG-CHAIN-NAME-28CHR - [0:0]
:MISC - [0:0]
:POST - [0:0]
:SHORT - [0:0]
:ZZZ - [0:0]
:AAA - [0:0]
-A PREROUTING -j MISC
-A POSTROUTING -j POST
[100000:99999] -A MISC -i eth0 ! -o eth1 -p udp -m udp --sport 1000:2000 ! --dport 53 -j A-VERY-LONG-CHAIN-NAME-28CHR
[99999:100499] -A MISC ! -s 127.0.0.1 -d 169.254.0.0/16 -p sctp -m sctp --dport 80 -j SHORT
[9999500:9999499] -A MISC -s 10.0.0.0/255.0.255.0 -p tcp -m multiport --dports 80,443,8000:8080 -g SHORT
[123456789012:98765432109876543] -A MISC -p tcp -m multiport ! --sports 22,80 -j AAA
[1:1] -A MISC -i eth+ -s 10.1.2.3/8 -m comment --comment "has \\"quotes\\" and 'single' / slashes \\\\ back" -j ZZZ
-A MISC -m comment --comment nospace -m mark --mark 16 -j ZZZ
-A MISC -m mark ! --mark 0x10/0xff -m addrtype ! --src-type LOCAL --dst-type UNICAST -j ZZZ
-A MISC -m conntrack --ctstate ESTABLISHED,NEW -m state ! --state INVALID -j ZZZ
-A MISC -m statistic --mode nth --every 4 --packet 2 -j ZZZ
-A MISC -m statistic --mode nth ! --every 4 --packet 1 -j ZZZ
-A MISC -m statistic --mode random ! --probability 0.1 -j ZZZ
-A MISC -m statistic --mode random --probability 0.3333333333 -j ZZZ
-A MISC -f -j ZZZ
-A MISC ! -f -p 47 -j ZZZ
-A MISC -p 254 -j ZZZ
-A MISC ! -p tcp -j ZZZ
-A MISC ! -d 0.0.0.0/1 -j ZZZ
-A MISC -s 127.0.0.0/8 -j RETURN
-A POST -p tcp -j MASQUERADE --to-ports 1000-2000 --random
-A POST -j MASQUERADE --random-fully
-A POST -j SNAT --to-source 5.6.7.8 --random-fully
-A SHORT -j MARK --set-xmark 0x1/0xffffffff
-A SHORT -j MARK --set-xmark 0x0/0xfffffffe
-A SHORT -j MARK --set-xmark 0x3/0x7
-A SHORT -j MARK --set-xmark 0x4/0x0
-A SHORT -p tcp -j DNAT --to-destination 1.2.3.4:80-90 --persistent
-A SHORT -p udp -m udp --dport 53 -j DNAT --to-destination 10.0.0.2 --random
-A SHORT -j RETURN
-A SHORT
-A ZZZ -m recent --update --seconds 60 --hitcount 3 --rttl --name FOO --mask 255.255.255.0 --rdest -j AAA
-A ZZZ -m recent ! --remove --name BAR -j AAA
-A ZZZ -m recent --rcheck --seconds 10 --reap -j AAA
-A AAA -j ACCEPT
COMMIT
*filter
:INPUT DROP [1:2]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --sport 1:1023 -j REJECT --reject-with tcp-reset
-A INPUT -p icmp -j REJECT
-A INPUT -p udplite -j DROP
-A INPUT -p udp -m udp --sport 7:7 --dport 0:1023 -j DROP
COMMIT
"""

UNUSUAL_IPV6 = "*nat\n" + NAT_CHAINS + """\
:KUBE-SVC-V6 - [0:0]
:X - [0:0]
:Y - [0:0]
-A Y -j RETURN
-A PREROUTING -j X
[5000000000000:6000000000000000] -A X -s ::1 -d fd00::/8 -p ipv6-icmp -j RETURN
-A X ! -s 2001:db8::1/64 ! -d ff02::1 -p tcp -m tcp ! --sport 80 --dport 443:444 -j RETURN
-A X -s 2001:db8::/ffff:0:ffff:: -p 136 -j RETURN
-A X -d ::ffff:10.1.2.3 -p 17 -m udp --dport 53 -m comment --comment "" -j RETURN
-A X -p dccp -j RETURN
-A X -p mh -j RETURN
-A X -m recent --set --name V6 -j KUBE-SVC-V6
-A X -j DNAT --to-destination ::2
-A KUBE-SVC-V6 -m statistic --mode random --probability 0.25 -g Y
-A KUBE-SVC-V6 -p tcp -j DNAT --to-destination [fd00::5]:8443
COMMIT
"""

# options the model keeps verbatim in the format they were read from (no typed model for them)
VERBATIM = "*nat\n" + NAT_CHAINS + """\
:V - [0:0]
-A PREROUTING -j V
-A V -m limit --limit 3/min -j LOG --log-prefix "x y "
-A V -p tcp -m tcp --tcp-flags SYN,ACK SYN -j REDIRECT --to-ports 8080
COMMIT
"""
