"""What :func:`kubechain.analyze` returns: the analysed service ports, their endpoints and the
diagnostics. The types compose the kube view (kubechain.kube.ServicePort) rather than copy it, and
mirror the JSON schema `kubechain/analysis/v1` (README.md)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

from ..kube import Frontend, ServicePort
from .diagnostics import Diagnostic
from .fit import Fit


@lru_cache(maxsize=65536)
def rational(numerator: int, denominator: int) -> Any:
    """A sympy.Rational, built once per distinct value (a 30k-service dump has few); sympy is
    imported only when a caller asks for one."""
    import sympy

    return sympy.Rational(numerator, denominator)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One endpoint of a service port chain, in chain order.

    - `chain`: its KUBE-SEP chain (or `CHAIN -> ADDRESS` for a DNAT outside any KUBE-SEP chain);
    - `address`: `10.1.2.3:8080` or `[fd00::5]:8080`, from the DNAT, else from a `->` comment; None
      when neither is in the dump;
    - `share`: the exact probability that a new connection is sent here (a Fraction);
    - `observed`: the DNAT rule's packet counter, i.e. new connections seen; None without counters
      (also when its DNAT rule has none, or is one numgen DNAT map for all endpoints);
    - `observed_exact`: False when that counter was printed with a K/M/G/T suffix (or is None);
    - `line`: the input line of its DNAT rule, else of the first rule jumping here;
    - `share_interval`: where the exact share would be too large to hold (the `precision-limit`
      diagnostic), the certified [low, high] it lies in, `share` being its middle; else None;
    - `missing`: its chain is not in this printout (a one-chain listing), so it is known by name.
    """

    chain: str
    address: str | None
    share: Fraction
    observed: int | None
    observed_exact: bool
    line: int | None
    share_interval: tuple[Fraction, Fraction] | None = None
    missing: bool = False  # its chain is not in the printout (a single-chain listing)

    @property
    def probability(self) -> Any:
        """The share as a sympy.Rational (reduced)."""
        return rational(self.share.numerator, self.share.denominator)


@dataclass(frozen=True, slots=True)
class Service:
    """One service port chain (KUBE-SVC/SVL/EXT) and where it sends new connections.

    The kube view (`kube`: name, kind, cluster IP, port, protocol, frontends, table) is composed,
    and its fields are readable here directly. `endpoints` are in chain order; `unassigned` is the
    probability of leaving the chain without reaching an endpoint; `affinity_seconds` the ClientIP
    affinity timeout (None without affinity); `observed_total` the sum of the endpoints' counters
    (None when no endpoint was printed with counters); `fit` the counters tested against the exact
    shares (None without counters, or when all are 0), its p-values Holm-adjusted over every
    service port of the analysis; `affinity_clients` how many clients the affinity sets remember
    (nftables mode, where the printout lists them; else None)."""

    kube: ServicePort
    family: str
    affinity_seconds: int | None
    endpoints: tuple[Endpoint, ...]
    unassigned: Fraction
    observed_total: int | None = None
    fit: Fit | None = None
    unassigned_interval: tuple[Fraction, Fraction] | None = None  # as Endpoint.share_interval
    affinity_clients: int | None = None

    @property
    def exact(self) -> bool:
        """False where the shares are certified intervals, not exact values (precision-limit)."""
        return self.unassigned_interval is None

    @property
    def name(self) -> str | None:
        """`ns/svc:port` (or `ns/svc` for an unnamed port), from kube-proxy's comments."""
        return self.kube.name

    @property
    def chain(self) -> str:
        return self.kube.chain

    @property
    def kind(self) -> str:
        """"cluster" (KUBE-SVC), "local" (KUBE-SVL) or "external" (KUBE-EXT/XLB)."""
        return self.kube.kind

    @property
    def cluster_ip(self) -> str | None:
        return self.kube.cluster_ip

    @property
    def port(self) -> int | None:
        return self.kube.port

    @property
    def protocol(self) -> str | None:
        return self.kube.protocol

    @property
    def frontends(self) -> tuple[Frontend, ...]:
        return self.kube.frontends

    @property
    def line(self) -> int:
        return self.kube.line

    @property
    def unassigned_probability(self) -> Any:
        """`unassigned` as a sympy.Rational."""
        return rational(self.unassigned.numerator, self.unassigned.denominator)

    @property
    def fair_share(self) -> Fraction | None:
        n = len(self.endpoints)
        return Fraction(1, n) if n else None


@dataclass(frozen=True, slots=True)
class Analysis:
    """One input's analysis: `path` (None for text), `format` ("iptables-list", "iptables-save",
    …), `family` ("ipv4", "ipv6" or "ipv4+ipv6"), `services` in the order KUBE-SERVICES first
    reaches them, `diagnostics` most severe first, `has_counters` whether the dump has counters."""

    path: str | None
    format: str
    family: str
    services: tuple[Service, ...]
    diagnostics: tuple[Diagnostic, ...]
    has_counters: bool
