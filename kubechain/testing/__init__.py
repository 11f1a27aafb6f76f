"""Hypothesis strategies for iptables rule sets as kube-proxy writes them, and as iptables prints
them back (public: import it as `from kubechain import testing`, like `hypothesis.extra`).

Every strategy yields the model that :func:`kubechain.load` returns for the real printout, so a
generated value can be compared with a parse directly: probabilities are the thresholds iptables
stores (lround(p·2^31) of kube-proxy's `0.3333333333`), host prefixes (`/32`, `/128`) are dropped,
IPv6 addresses are in `inet_ntop` form, protocol numbers are names, and MARK targets are
`--set-xmark` value/mask pairs.

- :func:`services` — one service port (:class:`KubeService`) with 1..200 endpoints.
- :func:`rulesets` — whole nat (and filter) tables as a :class:`kubechain.model.Ruleset`.
- :func:`cascades` — statistic chains kube-proxy would never write (in a nat Ruleset).
- :func:`dumps` / :func:`renderings` — those rulesets printed by :mod:`kubechain.render`.
- :func:`nft_rulesets` — kube-proxy's nftables-mode table (`numgen` vmaps or the one-rule DNAT map).
- :func:`nft_renderings` — those printed as `nft [-n] [-s] list ruleset|chain`.
- :func:`register_profiles` — the `dev`, `ci` and `nightly` hypothesis settings profiles.
- :func:`long_cascade` — iptables-save text of one service port of n endpoints (benches, scale tests).
- :func:`uniformity_bound` — how far kube-proxy's quantised shares may be from 1/n.
"""

from ..analysis.cascade import uniformity_bound
from ._kube_proxy import KubeService, kube_proxy_probability, long_cascade, printed_probability
from ._profiles import register_profiles
from ._renderings import FORMATS, Dump, dumps, nft_renderings, renderings
from ._strategies import cascades, nft_rulesets, rulesets, services

__all__ = [
    "FORMATS", "Dump", "KubeService", "cascades", "dumps", "kube_proxy_probability", "long_cascade",
    "nft_renderings",
    "nft_rulesets", "printed_probability", "register_profiles", "renderings", "rulesets", "services",
    "uniformity_bound",
]
