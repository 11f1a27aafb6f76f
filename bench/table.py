"""Print bench/run.py results as the Markdown table README's performance section shows: for each
dump, before and after, the paired ratio to the C parser (wall: median and range; CPU seconds:
median), kubechain's median wall time and peak RSS, and the load average of the runs.

    python bench/table.py bench/out/results-before.json bench/out/results.json

Either side may be several files joined by commas (later ones add or replace dumps), for dumps
measured in a second run.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

MB = 1e6
LABELS = {"L": "`-L -n -v`", "save": "`iptables-save -c`", "L-service": "`-L`, `--service` one service",
          "nft": "`nft list ruleset`", "nft-json": "`nft -j list ruleset`"}


def rows(paths: str) -> dict[tuple[int, str], dict[str, object]]:
    """The dumps that ran in some results.json files (comma-separated), by (services, format)."""
    found: dict[tuple[int, str], dict[str, object]] = {}
    for path in paths.split(","):
        doc = json.loads(Path(path).read_text())
        found.update({(int(e["services"]), str(e["format"])): e for e in doc["dumps"] if "ratio" in e})
    return found


def cpu_ratio(entry: dict[str, object]) -> dict[str, float] | None:
    """The pairs' CPU-seconds ratio (results written before run.py recorded it)."""
    def seconds(run: dict[str, float]) -> float:
        return run["user_seconds"] + run["sys_seconds"]
    pairs = [p for p in entry.get("pairs", []) if "ratio" in p]  # type: ignore[attr-defined]
    if not pairs:
        return None
    return {"median": statistics.median(seconds(p["kubechain"]) / seconds(p["c_parser"]) for p in pairs)}


def cell(entry: dict[str, object] | None) -> tuple[str, str, str, str, str]:
    """ratio (range), CPU ratio, kubechain s, RSS MB, load of one entry."""
    if entry is None:
        return "-", "-", "-", "-", "-"
    r, wall, load = entry["ratio"], entry["wall_seconds"], entry["loadavg_1m"]
    assert isinstance(r, dict) and isinstance(wall, dict) and isinstance(load, dict)
    cpu = entry.get("cpu_ratio") or cpu_ratio(entry)
    rss = int(str(entry["max_rss_kb"])) * 1024 / MB
    return (f"**{r['median']:.2f}×** ({r['min']:.2f}–{r['max']:.2f})",
            f"{cpu['median']:.2f}×" if isinstance(cpu, dict) else "-", f"{wall['median']:.1f}", f"{rss:.0f}",
            f"{load['min']:.1f}–{load['max']:.1f}")


def main(argv: list[str]) -> int:
    """Usage: table.py BEFORE.json[,MORE.json] AFTER.json[,MORE.json]."""
    if len(argv) != 2:
        print(main.__doc__, file=sys.stderr)
        return 2
    before, after = rows(argv[0]), rows(argv[1])
    print("| services | dump | before: ratio | CPU ratio | s | RSS MB | load | after: ratio | CPU ratio | s | RSS MB "
          "| load | target |")
    print("|---:|---|---|---:|---:|---:|---|---|---:|---:|---:|---|---|")
    for key in sorted(after, key=lambda k: (k[0], list(LABELS).index(k[1]))):
        a = after[key]
        target = f"≤ {a['target_ratio']}× {'met' if a.get('meets_ratio') else 'missed'}" if "target_ratio" in a else ""
        print(f"| {key[0]:,} | {LABELS[key[1]]} | " + " | ".join(cell(before.get(key))) + " | "
              + " | ".join(cell(a)) + f" | {target} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
