"""Benchmark kubechain on the dumps made by bench/make_dumps.sh.

For every dump bench/out/svc-N.{L,save}.txt, a fresh process runs

    python -c "import kubechain, sys; a = kubechain.analyze(kubechain.load(sys.argv[1]))" DUMP

and the whole process is measured (interpreter start and import included, since that is what a user
waits for): wall time, lines/s and peak RSS, next to the `iptables-restore --test` time that
make_dumps.sh recorded for the same rules. `kubechain --help` is timed too (start-up cost).
Results go to the terminal and to bench/out/results.json.

    python bench/run.py [--sizes 1000,10000,30000] [--formats L,save]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
ANALYZE = "import kubechain, sys; a = kubechain.analyze(kubechain.load(sys.argv[1]))"
CHECK_IMPORT = "import kubechain; kubechain.load; kubechain.analyze; print(kubechain.__file__)"
CLI_FALLBACK = "import sys; from kubechain.cli import main; sys.argv[0] = 'kubechain'; sys.exit(main())"
FORMATS = ("L", "save", "nft", "nft-json")  # svc-N.FORMAT.txt: -L -n -v, save -c, nft list, nft -j list
HELP_RUNS = 5
BEST_OF_LIMIT = 10_000  # sizes up to this get best of 3, larger ones a single run
MB = 1e6
STDERR_TAIL = 2000  # characters of a failed run's stderr kept in the report


def csv_ints(text: str) -> list[int]:
    """argparse type: "1000,10000" -> [1000, 10000]."""
    return [int(part) for part in text.split(",") if part]


def csv_formats(text: str) -> list[str]:
    """argparse type: "L,save" -> ["L", "save"], rejecting unknown formats."""
    formats = [part for part in text.split(",") if part]
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown format(s) {unknown}; known: {', '.join(FORMATS)}")
    return formats


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=csv_ints, default=[1000, 10000, 30000], help="service counts")
    parser.add_argument("--formats", type=csv_formats, default=list(FORMATS), help="dump formats: L,save,nft,nft-json")
    parser.add_argument("--out", type=Path, default=BENCH / "out", help="folder of the dumps")
    parser.add_argument("--seed", type=int, default=42, help="seed for rules generated here when missing")
    parser.add_argument("--runs", type=int, help="runs per dump (default: 3 up to 10k services, else 1)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds before a run is killed")
    return parser.parse_args(argv)


def measure(cmd: list[str], timeout: float) -> dict[str, object]:
    """Measure one run of cmd in a fresh _measure.py wrapper, so RUSAGE_CHILDREN is this run's alone."""
    wrapper = [sys.executable, "-I", "-S", str(BENCH / "_measure.py"), "--timeout", str(timeout), "--", *cmd]
    proc = subprocess.run(wrapper, cwd=REPO, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"bench/_measure.py failed ({proc.returncode}): {proc.stderr.strip()}")
    result = json.loads(proc.stdout)
    result["stderr_tail"] = proc.stderr[-STDERR_TAIL:] if result["returncode"] != 0 else ""
    return result


def best_of(cmd: list[str], runs: int, timeout: float) -> dict[str, object]:
    """Best wall time and worst peak RSS over `runs` runs; stops at the first failing run."""
    done = []
    for _ in range(runs):
        done.append(measure(cmd, timeout))
        if done[-1]["returncode"] != 0:
            break
    ok = [run for run in done if run["returncode"] == 0]
    return {
        "ok": len(ok) == len(done),
        "runs": done,
        "wall_seconds": min(run["wall_seconds"] for run in ok) if ok else None,
        "max_rss_kb": max(run["max_rss_kb"] for run in ok) if ok else None,
        "error": "" if len(ok) == len(done) else failure(done[-1]),
    }


def failure(run: dict[str, object]) -> str:
    """Why a run failed: its stderr, else its timeout or exit status."""
    if run["stderr_tail"].strip():
        return run["stderr_tail"]
    return "timed out" if run.get("timed_out") else f"exit status {run['returncode']}"


def kubechain_status() -> dict[str, object]:
    """Whether `import kubechain` (from the repository root, as the runs do) gives load and analyze."""
    proc = subprocess.run([sys.executable, "-c", CHECK_IMPORT], cwd=REPO, capture_output=True, text=True,
                          check=False)
    if proc.returncode == 0:
        return {"importable": True, "module": proc.stdout.strip()}
    return {"importable": False, "error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "?"}


def help_command() -> list[str]:
    """`kubechain --help` through the console script next to this Python (not a pyenv-style shim, whose
    start-up is not kubechain's), else one on PATH, else through the same entry point."""
    beside = Path(sys.executable).parent / "kubechain"
    script = str(beside) if beside.exists() else shutil.which("kubechain")
    return [script, "--help"] if script else [sys.executable, "-c", CLI_FALLBACK, "--help"]


def count_lines(path: Path) -> int:
    """Newlines in a file, read in chunks (dumps reach 100+ MB)."""
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def ensure_rules(size: int, seed: int, out: Path) -> Path:
    """The generated rules for a size; generated here (no root needed) when missing."""
    rules = out / f"svc-{size}.rules"
    if not rules.exists():
        cmd = [sys.executable, str(BENCH / "generate.py"), "--services", str(size), "--seed", str(seed),
               "--out", str(out)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        print(f"generated {rules} ({count_lines(rules)} lines)", file=sys.stderr)
    return rules


def restore_reference(size: int, out: Path) -> dict[str, object] | None:
    """What make_dumps.sh recorded for `iptables-restore --test` on this size, if it ran."""
    path = out / f"svc-{size}.restore-test.json"
    return json.loads(path.read_text()) if path.exists() else None


def dump_entry(size: int, fmt: str, out: Path) -> dict[str, object]:
    """Path, presence and size of one dump."""
    path = out / f"svc-{size}.{fmt}.txt"
    entry: dict[str, object] = {"services": size, "format": fmt, "path": str(path), "exists": path.exists()}
    if path.exists():
        entry.update(lines=count_lines(path), bytes=path.stat().st_size)
    return entry


def bench_dump(entry: dict[str, object], runs: int, timeout: float, restore: dict | None) -> None:
    """Time kubechain on one dump and add the figures to its entry."""
    print(f"analyzing {entry['path']} ({runs} run(s)) ...", file=sys.stderr, flush=True)
    result = best_of([sys.executable, "-c", ANALYZE, str(entry["path"])], runs, timeout)
    entry.update(result)
    if result["wall_seconds"]:
        entry["lines_per_second"] = round(entry["lines"] / result["wall_seconds"])
    if restore and result["wall_seconds"]:
        entry["restore_test_seconds"] = restore["wall_seconds"]
        entry["restore_test_max_rss_kb"] = restore["max_rss_kb"]
        entry["ratio_to_restore_test"] = round(result["wall_seconds"] / restore["wall_seconds"], 3)
    if not result["ok"]:
        print(f"  FAILED: {result['error'].strip()[-500:]}", file=sys.stderr)


def add_ratios_to_listing(entries: list[dict[str, object]]) -> None:
    """Each dump's wall time over the same size's `-L` dump, measured in this run (the nft dumps'
    question: is reading nftables mode as fast as reading `iptables -L`?)."""
    listing = {e["services"]: e for e in entries if e["format"] == "L" and e.get("wall_seconds")}
    for e in entries:
        base = listing.get(e["services"])
        if base is not None and e.get("wall_seconds") and e is not base:
            e["ratio_to_L"] = round(e["wall_seconds"] / base["wall_seconds"], 3)


def fmt_num(value: object, spec: str) -> str:
    """Format a number, or '-' when there is none."""
    return "-" if value is None else format(value, spec)


def print_table(entries: list[dict[str, object]]) -> None:
    """One row per dump: size, lines, MB, runs, best wall, lines/s, peak RSS, ratio to restore --test."""
    head = ("services", "fmt", "lines", "MB", "runs", "wall s", "lines/s", "RSS MB", "restore s", "x restore",
            "x -L")
    rows = [head]
    for e in entries:
        rss = e.get("max_rss_kb")
        rows.append((
            str(e["services"]), str(e["format"]), fmt_num(e.get("lines"), ","),
            fmt_num(e["bytes"] / MB if "bytes" in e else None, ".1f"), str(len(e.get("runs", []))),
            fmt_num(e.get("wall_seconds"), ".3f"), fmt_num(e.get("lines_per_second"), ","),
            fmt_num(rss * 1024 / MB if rss else None, ".0f"), fmt_num(e.get("restore_test_seconds"), ".3f"),
            fmt_num(e.get("ratio_to_restore_test"), ".2f") if e.get("ok", True) else "FAILED",
            fmt_num(e.get("ratio_to_L"), ".2f"),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    for row in rows:
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))


def environment() -> dict[str, object]:
    """Where the numbers come from: interpreter, machine, commit."""
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True,
                            text=True, check=False).stdout.strip()
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "python": sys.executable, "python_version": platform.python_version(),
        "platform": platform.platform(), "cpus": os.cpu_count(), "git_commit": commit or None,
        "analyze_command": f'{sys.executable} -c "{ANALYZE}" DUMP',
    }


def main(argv: list[str] | None = None) -> int:
    """Inventory the dumps, then (if kubechain imports) time it on each; write results.json."""
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    status = kubechain_status()
    results: dict[str, object] = {"environment": environment(), "kubechain": status, "help": None}
    entries = []
    for size in args.sizes:
        ensure_rules(size, args.seed, args.out)
        entries += [dump_entry(size, fmt, args.out) for fmt in args.formats]
    missing = sorted({e["services"] for e in entries if not e["exists"]})
    if missing:
        print(f"dumps missing for {missing}: run  sudo bench/make_dumps.sh {' '.join(map(str, missing))}",
              file=sys.stderr)
    if not status["importable"]:
        print(f"kubechain package is MISSING (import failed: {status['error']}); nothing benchmarked, "
              "dumps listed only.", file=sys.stderr)
    else:
        cmd = help_command()
        results["help"] = {"command": cmd, **best_of(cmd, HELP_RUNS, args.timeout)}
        for entry in (e for e in entries if e["exists"]):
            runs = args.runs or (3 if entry["services"] <= BEST_OF_LIMIT else 1)
            bench_dump(entry, runs, args.timeout, restore_reference(entry["services"], args.out))
    add_ratios_to_listing(entries)
    results["dumps"] = entries
    print_table(entries)
    if results["help"]:
        help_result = results["help"]
        print(f"kubechain --help: {fmt_num(help_result['wall_seconds'], '.3f')} s "
              f"(best of {HELP_RUNS}, whole process: {' '.join(help_result['command'])})"
              + ("" if help_result["ok"] else f"  FAILED: {help_result['error'].strip()[-300:]}"))
    if not status["importable"]:
        print("kubechain package is MISSING: only the dumps were listed (see above).")
    json_path = args.out / "results.json"
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {json_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
