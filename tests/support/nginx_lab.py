"""A real gateway in network namespaces, for checking the simulator against the real thing.

Two fresh namespaces joined by a veth pair created inside the gateway's (nothing appears in the
root namespace): `gw` runs Debian's nginx (`worker_processes 1`, a private prefix) and wrk, and
holds kube-proxy-style nat OUTPUT rules DNATing the cluster IP; `pods` runs three backends on
their own addresses (tests/support/pod_server.py), each answering after a fixed service time and
logging every request with its connection. Every process is started here and stopped by its pid;
the namespaces are deleted on exit. Traffic stays on addresses created here.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from kubechain.kube import kube_proxy_written

from support.kernel import Namespace

CLUSTER_IP, CLUSTER_PORT = "10.96.0.50", 80
GATEWAY_ADDRESS = "10.77.0.1"
PODS = ("10.77.0.11", "10.77.0.12", "10.77.0.13")
POD_PORT = 8080
LISTEN = "127.0.0.1:8000"
TOOLS = ("ip", "iptables-nft-restore", "nginx", "wrk")
SERVER = Path(__file__).with_name("pod_server.py")


def kube_proxy_rules(endpoints: tuple[str, ...], *, hook: bool) -> str:
    """iptables-restore input shaped like kube-proxy's for one service: rule i of n gets
    kube-proxy's `--probability` for 1/(n−i), the last none. With --noflush, declaring a chain
    flushes only that chain, which is how kube-proxy rewrites its chains mid-flight."""
    svc, seps = "KUBE-SVC-LABAAAAAAAAAAAAA", [f"KUBE-SEP-LAB{i}AAAAAAAAAAAA" for i in range(len(endpoints))]
    lines = ["*nat", *([":OUTPUT ACCEPT [0:0]"] if hook else []), ":KUBE-SERVICES - [0:0]", f":{svc} - [0:0]",
             *(f":{s} - [0:0]" for s in seps)]
    if hook:
        lines.append('-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES')
    lines.append(f'-A KUBE-SERVICES -d {CLUSTER_IP}/32 -p tcp -m comment --comment "lab/web:http cluster IP" '
                 f"-m tcp --dport {CLUSTER_PORT} -j {svc}")
    n = len(endpoints)
    for i, (address, sep) in enumerate(zip(endpoints, seps, strict=True)):
        statistic = f"-m statistic --mode random --probability {kube_proxy_written(n - i, 10)} " if i < n - 1 else ""
        lines.append(f'-A {svc} -m comment --comment "lab/web:http -> {address}:{POD_PORT}" {statistic}-j {sep}')
    for address, sep in zip(endpoints, seps, strict=True):
        lines.append(f"-A {sep} -p tcp -m tcp -j DNAT --to-destination {address}:{POD_PORT}")
    return "\n".join([*lines, "COMMIT", ""])


def nginx_conf(prefix: Path, servers: tuple[str, ...], pool: int, max_requests: int) -> str:
    temp = prefix / "temp"
    upstream = "\n".join(f"    server {s};" for s in servers)
    return f"""daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log notice;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {temp}/body; proxy_temp_path {temp}/proxy; fastcgi_temp_path {temp}/fastcgi;
  uwsgi_temp_path {temp}/uwsgi; scgi_temp_path {temp}/scgi;
  keepalive_requests 10000000;   # client side (wrk): never recycle wrk's connections
  keepalive_timeout 600s;
  upstream web {{
{upstream}
    keepalive {pool};
    keepalive_requests {max_requests};
    keepalive_timeout 60s;
  }}
  server {{
    listen {LISTEN};
    location / {{ proxy_pass http://web; proxy_http_version 1.1; proxy_set_header Connection ""; }}
  }}
}}
"""


@dataclass
class Request:
    pod: str
    connection: tuple[str, int]
    at: float


@dataclass
class Measured:
    """What the backends logged: requests (by the time they reached the pod), connections'
    open and close times, and the wall-clock times of the run's events."""

    requests: list[Request]
    opened: dict[tuple[str, int], float]
    closed: dict[tuple[str, int], float]
    events: dict[str, float] = field(default_factory=dict)


class Lab:
    """`with Lab(tmp_path) as lab:` — the namespaces, backends and nginx; `lab.run(...)` drives wrk."""

    def __init__(self, workdir: Path, *, service_ms: float, pool: int, max_requests: int) -> None:
        self.dir, self.service_ms, self.pool, self.max_requests = workdir, service_ms, pool, max_requests
        self.processes: list[subprocess.Popen[bytes]] = []
        self.namespaces: list[Namespace] = []
        self.nginx: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Lab:
        try:
            self.gw, self.pods = Namespace(), Namespace()
            self.namespaces = [self.gw, self.pods]
            self.gw.ip("link", "set", "lo", "up")
            self.pods.ip("link", "set", "lo", "up")
            self.gw.ip("link", "add", "labveth0", "type", "veth", "peer", "name", "labveth1", "netns", self.pods.name)
            self.gw.ip("addr", "add", f"{GATEWAY_ADDRESS}/24", "dev", "labveth0")
            self.gw.ip("link", "set", "labveth0", "up")
            for address in PODS:
                self.pods.ip("addr", "add", f"{address}/24", "dev", "labveth1")
            self.pods.ip("link", "set", "labveth1", "up")
            # the cluster IP must be routable before nat OUTPUT rewrites it (connect() routes first)
            self.gw.ip("route", "add", "10.96.0.0/12", "dev", "labveth0", "src", GATEWAY_ADDRESS)
            self._start_pods()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.send_signal(signal.SIGQUIT)
        for p in reversed(self.processes):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for ns in self.namespaces:
            ns.close()

    def _spawn(self, ns: Namespace, *argv: str, **kw: object) -> subprocess.Popen[bytes]:
        p = subprocess.Popen(["ip", "netns", "exec", ns.name, *argv], **kw)  # type: ignore[call-overload]
        self.processes.append(p)
        return p

    def _start_pods(self) -> None:
        self.log = self.dir / "pods.log"
        self.pods_process = self._spawn(self.pods, sys.executable, str(SERVER), str(self.log), str(self.service_ms),
                                        str(POD_PORT), *PODS)
        _wait_for(Path(str(self.log) + ".ready"))

    def load_rules(self, endpoints: tuple[str, ...], *, first: bool) -> None:
        """kube-proxy's chains for these endpoints (the first load hooks OUTPUT; later ones rewrite
        the service chains with --noflush, as kube-proxy does)."""
        self.gw.run("iptables-nft-restore", *([] if first else ["--noflush"]), stdin=kube_proxy_rules(endpoints,
                                                                                                      hook=first))

    def start_nginx(self, servers: tuple[str, ...]) -> None:
        prefix = self.dir / "nginx"
        (prefix / "temp").mkdir(parents=True, exist_ok=True)
        shutil.chown(prefix / "temp", user="nobody")  # the worker runs as nobody under a root master
        self.conf = prefix / "nginx.conf"
        self.conf.write_text(nginx_conf(prefix, servers, self.pool, self.max_requests))
        self.nginx = self._spawn(self.gw, "nginx", "-p", str(prefix), "-c", str(self.conf), "-e",
                                 str(prefix / "error.log"))
        probe = ("import socket,sys,time\nend=time.time()+10\nwhile time.time()<end:\n try:\n"
                 f"  socket.create_connection(('127.0.0.1',{LISTEN.split(':')[1]}),0.2).close();sys.exit(0)\n"
                 " except OSError: time.sleep(0.05)\nsys.exit(1)\n")
        self.gw.run(sys.executable, "-c", probe)

    def reload_nginx(self, servers: tuple[str, ...]) -> None:
        """A new upstream list, as stock nginx learns it: rewrite the config and SIGHUP the master."""
        assert self.nginx is not None
        self.conf.write_text(nginx_conf(self.conf.parent, servers, self.pool, self.max_requests))
        self.nginx.send_signal(signal.SIGHUP)

    def run(self, *, connections: int, seconds: float, at: float, event: object) -> dict[str, float]:
        """wrk with `connections` for `seconds`; `event()` is called `at` seconds after wrk starts.
        Returns the wall-clock times: wrk's start, the event's begin and end, wrk's end."""
        times = {"start": time.time()}
        wrk = self._spawn(self.gw, "wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "--timeout", "5s",
                          f"http://{LISTEN}/", stdout=subprocess.DEVNULL)
        time.sleep(max(0.0, times["start"] + at - time.time()))
        times["event"] = time.time()
        event()  # type: ignore[operator]
        times["event_done"] = time.time()
        wrk.wait(timeout=seconds + 30)
        times["end"] = time.time()
        return times

    def measured(self, events: dict[str, float]) -> Measured:
        """Stop nginx and the pods, then read what the pods logged."""
        assert self.nginx is not None
        self.nginx.send_signal(signal.SIGQUIT)
        self.nginx.wait(timeout=10)
        self.pods_process.send_signal(signal.SIGTERM)
        self.pods_process.wait(timeout=10)
        requests, opened, closed = [], {}, {}
        for line in self.log.read_text().split("\n"):
            if not line:
                continue
            kind, pod, conn, at = line.split()
            key = (pod, int(conn))
            if kind == "R":
                requests.append(Request(pod, key, float(at)))
            elif kind == "O":
                opened[key] = float(at)
            else:
                closed[key] = float(at)
        return Measured(requests, opened, closed, events)


def _wait_for(path: Path, timeout: float = 10.0) -> None:
    end = time.time() + timeout
    while not path.exists():
        if time.time() > end:
            raise AssertionError(f"{path} did not appear within {timeout} s")
        time.sleep(0.02)


def have_tools() -> bool:
    return all(shutil.which(t) for t in TOOLS) and os.geteuid() == 0
