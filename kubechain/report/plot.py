"""Simulation → a PNG: the share of requests per pod over time, L4 beside each L7 balancer, with
the Monte Carlo band of the new pods' share and their fair share marked. matplotlib is the
optional extra `kubechain[plot]`."""

from __future__ import annotations

from typing import Any

from ..simulation.result import Curves, Simulation

INSTALL_HINT = "--plot needs matplotlib: pip install 'kubechain[plot]'"


def require_matplotlib() -> None:
    """Raise ValueError with how to get matplotlib when it is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ValueError(INSTALL_HINT) from None


def plot(sim: Simulation, path: str) -> None:
    """Draw the figure into `path` (PNG, 1 panel for L4 plus 1 per L7 balancer)."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("L4: kube-proxy per connection,\nconnections reused", sim.l4.curves)]
    panels += [(f"L7 {r.algorithm}: a pod per request", r.curves) for r in sim.l7]
    columns = 1 if len(panels) == 1 else 2
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(6.2 * columns, 3.9 * rows), sharey=True, squeeze=False)
    minutes = [t / 60 for t in sim.buckets_s]
    step = sim.parameters.bucket_s / 60
    top = _largest(sim)
    for n, (title, curves) in enumerate(panels):
        _panel(axes[n // columns][n % columns], sim, curves, minutes, step, title, top)
    for n in range(len(panels), rows * columns):
        axes[n // columns][n % columns].set_visible(False)
    for row in axes:
        row[0].set_ylabel("share of requests")
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=8, frameon=False)
    p = sim.parameters
    figure.suptitle(f"{_source(sim)}: C = {p.concurrency}, {p.rpm:,g} rpm, "
                    f"max requests {p.max_requests if p.max_requests else 'unlimited'}, {p.history} history, "
                    f"{p.runs} runs (seed {p.seed})", fontsize=11)
    figure.tight_layout(rect=(0, 0.07 if rows == 1 else 0.05, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _panel(axis: Any, sim: Simulation, curves: Curves, minutes: list[float], step: float, title: str,
           top: float) -> None:
    x = [*minutes, minutes[-1] + step] if minutes else []  # steps: each bucket's value over the bucket

    def steps(values: list[float | None]) -> list[float]:
        return _nan([*values, values[-1]] if values else [])
    new = sum(pod.new for pod in sim.pods)
    for i, pod in enumerate(sim.pods):
        if pod.new and new == 1:
            continue  # drawn below as "the new pods"
        values = [row[i] for row in curves.requests_share]
        style = "-" if pod.new else ("--" if pod.removed else "-")
        label = pod.name + (" (new)" if pod.new else " (removed)" if pod.removed else "")
        axis.plot(x, steps(values), style, linewidth=1.1, alpha=0.8, label=label, drawstyle="steps-post")
    if sim.fair_share is not None:
        names = ", ".join(p.name for p in sim.pods if p.new)
        axis.fill_between(x, steps([lo for lo, _ in curves.new_pods_share_band]),
                          steps([hi for _, hi in curves.new_pods_share_band]), alpha=0.2, color="tab:red",
                          linewidth=0, step="post", label=f"{names} (new): 95% of runs")
        axis.plot(x, steps(list(curves.new_pods_share)), color="tab:red", linewidth=2.2, drawstyle="steps-post",
                  label=f"{names} (new): mean of {sim.parameters.runs} runs")
        fair = float(sim.fair_share)
        axis.axhline(fair, color="black", linewidth=0.8, linestyle="-.", label=f"fair share {fair:.1%}")
        if curves.time_to_fair_share_s is not None:
            axis.axvline(curves.time_to_fair_share_s / 60, color="grey", linewidth=0.8, linestyle=":",
                         label="from here ≥ 90% of fair share")
    axis.set_title(title, fontsize=10)
    axis.set_xlabel("minutes after the scale event")
    axis.set_ylim(0, min(1.0, top * 1.15))
    axis.set_xlim(0, minutes[-1] + step if minutes else 1)
    axis.grid(alpha=0.3)


def _largest(sim: Simulation) -> float:
    cases = [sim.l4.curves, *(r.curves for r in sim.l7)]
    values = [v for c in cases for row in c.requests_share for v in row if v is not None]
    values += [hi for c in cases for _, hi in c.new_pods_share_band if hi is not None]
    return max(values, default=1.0) or 1.0


def _nan(values: list[float | None]) -> list[float]:
    return [float("nan") if v is None else v for v in values]


def _source(sim: Simulation) -> str:
    src = sim.source
    if "replicas" in src:
        return f"{src['replicas'].replace(':', ' → ')} pods"
    return src.get("service", "")
