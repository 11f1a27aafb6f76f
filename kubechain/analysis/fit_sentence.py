"""A fit in one plain sentence: consistent with the rules or not, and whether the rules
themselves are fair. The `observed-skew` diagnostic says it, and the reports print it."""

from __future__ import annotations

from .cascade import worst_deviation
from .fit import Comparison, Fit
from .results import Service


def fit_sentence(service: Service, fit: Fit) -> str:
    """One plain sentence about a fit: consistent with the rules or not, and whether the rules
    themselves give a fair 1/n, naming the endpoint that tells most."""
    if fit.test == "none":
        return f"no test: {fit.reason}"
    exact, uniform = fit.vs_exact, fit.vs_uniform
    n, counts = len(service.endpoints), fit.counts
    rounded = fit.test == "chi-square-interval"
    said = _against_rules(fit)
    total = fit.total if fit.unassigned is not None else sum(counts)
    reach = 1 if fit.unassigned is not None else 1 - service.unassigned
    if counts and total and n and reach:
        if exact is not None and exact.consistent is False:
            worst = max(range(n), key=lambda i: abs(counts[i] / total - float(service.endpoints[i].share / reach)))
        else:
            found = worst_deviation([e.share for e in service.endpoints])
            worst = found[0] if found else 0
        e = service.endpoints[worst]
        first_choices = fit.counters == "jump-rules" and service.affinity_seconds is not None
        who = "new clients' first choices" if first_choices else "new connections"
        about = "about " if rounded else ""
        said = (f"{e.address or e.chain} got {_share(counts[worst] / total)} of {about}{total:,} {who}; "
                f"the rules give {_share(float(e.share / reach))} — {said}")
    if fit.unassigned:
        said += (f"; {fit.unassigned:,} ({_share(fit.unassigned / fit.total)}) found no endpoint, the rules give "
                 f"{_share(float(service.unassigned))}")
    if uniform is not None and uniform.p_value is not None and n > 1:
        if uniform.consistent:
            said += f"; also consistent with a fair 1/n ({_p(uniform)})"
        elif exact is None or exact.consistent is not False:
            said += f"; but the rules themselves are not uniform (1/n = {1 / n:.1%}; {_p(uniform)} against 1/n)"
        else:
            said += f"; nor a fair 1/n ({_p(uniform)})"
    return said


def _against_rules(fit: Fit) -> str:
    """`consistent with the rules (p = 0.67)`, `NOT consistent …`, or why it cannot be said."""
    exact = fit.vs_exact
    rounded = fit.test == "chi-square-interval"
    if exact is not None and exact.p_value is not None:
        said = "consistent with the rules" if exact.consistent else "NOT consistent with the rules"
        if rounded:
            said += (" even at the least favourable true counts" if exact.consistent
                     else " even at the most favourable true counts")
        said += f" ({_p(exact)})"
        return said + (f": {exact.note}" if exact.note else "")
    if rounded and exact is not None and exact.p_range is not None:
        low, high = exact.p_range
        return (f"cannot tell: the true counts inside the rounding give p from {low:.2g} to {high:.2g}; list with "
                "-x (or use iptables-save -c) for an exact test")
    return f"nothing to test against the rules ({exact.note if exact else 'no test'})"


def _p(c: Comparison) -> str:
    """`p = 0.67`; with Holm's adjustment over several tests, `p = 0.0012, 0.0096 adjusted for 8 tested`."""
    text = _p_value(c.p_value or 0.0)
    if c.tested and c.tested > 1 and c.p_adjusted is not None:
        adjusted = _p_value(c.p_adjusted)
        if adjusted != text:  # shown only where the adjustment changes what is read
            text += f", {adjusted.removeprefix('p = ')} adjusted for {c.tested:,} tested"
    return text


def _p_value(p: float) -> str:
    return f"p = {p:.2g}" if p else "p < 1e-300"  # below what a double holds


def _share(value: float) -> str:
    """33.4%, or two significant digits below 1% (0.05%, 0.00083%) so that tiny shares differ."""
    return f"{value:.1%}" if value >= 0.01 or value == 0 else f"{value * 100:.2g}%"
