"""Print bench/run.py results as the Markdown table README's performance section shows: for each
dump, the paired ratio to the C parser (median and range), kubechain's median wall time and peak
RSS, before and after, and the load average of the runs.

    python bench/table.py bench/out/results-before.json bench/out/results.json

Either side may be several files joined by commas (later ones add or replace dumps), for dumps
measured in a second run.
"""

from __future__ import annotations

import json
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


def cell(entry: dict[str, object] | None) -> tuple[str, str, str, str]:
    """ratio (range), kubechain s, RSS MB, load of one entry."""
    if entry is None:
        return "-", "-", "-", "-"
    r, wall, load = entry["ratio"], entry["wall_seconds"], entry["loadavg_1m"]
    assert isinstance(r, dict) and isinstance(wall, dict) and isinstance(load, dict)
    rss = int(str(entry["max_rss_kb"])) * 1024 / MB
    return (f"**{r['median']:.2f}×** ({r['min']:.2f}–{r['max']:.2f})", f"{wall['median']:.1f}", f"{rss:.0f}",
            f"{load['min']:.1f}–{load['max']:.1f}")


def main(argv: list[str]) -> int:
    """Usage: table.py BEFORE.json[,MORE.json] AFTER.json[,MORE.json]."""
    if len(argv) != 2:
        print(main.__doc__, file=sys.stderr)
        return 2
    before, after = rows(argv[0]), rows(argv[1])
    print("| services | dump | C parser s | before: ratio | s | RSS MB | after: ratio | s | RSS MB | target | load |")
    print("|---:|---|---:|---|---:|---:|---|---:|---:|---|---|")
    for key in sorted(after, key=lambda k: (k[0], list(LABELS).index(k[1]))):
        a, b = after[key], before.get(key)
        c = a["c_parser_seconds"]
        assert isinstance(c, dict)
        target = f"≤ {a['target_ratio']}× {'met' if a.get('meets_ratio') else 'missed'}" if "target_ratio" in a else ""
        print(f"| {key[0]:,} | {LABELS[key[1]]} | {c['median']:.1f} | " + " | ".join(cell(b)[:3]) + " | "
              + " | ".join(cell(a)[:3]) + f" | {target} | {cell(a)[3]} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
