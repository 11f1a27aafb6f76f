"""Benchmark kubechain against the C parser, paired, the way a user runs it.

For every dump bench/out/svc-N.FORMAT.txt this runs, each in a fresh process measured whole
(interpreter start, imports, parse, analysis, JSON),

    A  kubechain analyze --format json DUMP > /dev/null          (this checkout's code)
    B  ip netns exec NS iptables-nft-restore --test svc-N.rules   (the C parser, same rules)

alternately, A B A B ..., in a private network namespace made for the run and deleted after it.
Each pair gives a ratio A/B measured under the same machine load; the table shows the median and
the range of those ratios, the median wall times and the peak RSS, and the load average recorded
before each run. `L-service` is `analyze --format json --service NAME` on the `-L` dump (NAME: the
first service port of the dump). `kubechain --help` is timed too (start-up cost). Results go to the
terminal and to bench/out/results.json, every run included.

    python bench/run.py [--sizes 1000,10000,30000] [--formats L,save,L-service,nft,nft-json] [--runs N]

Root is needed for the namespace; without it (or without iptables-nft-restore) the ratios use the
time make_dumps.sh recorded in svc-N.restore-test.json, marked `unpaired`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
CHECK_IMPORT = "import kubechain; kubechain.load; kubechain.analyze; print(kubechain.__file__)"
CLI_FALLBACK = "import sys; from kubechain.cli import main; sys.argv[0] = 'kubechain'; sys.exit(main())"
# svc-N.FORMAT.txt: -L -n -v, save -c, nft list, nft -j list; L-service reads the -L dump with --service
FORMATS = ("L", "save", "L-service", "nft", "nft-json")
DUMP_OF = {"L-service": "L"}
RESTORE = "iptables-nft-restore"
HELP_RUNS = 5
# Targets of issue 16, as a ratio to the C parser (median of the pairs); RSS in MB.
TARGET_RATIO = {(30000, "L"): 0.5, (30000, "save"): 0.5, (30000, "L-service"): 0.1,
                (10000, "L"): 1.0, (10000, "save"): 1.0}
TARGET_RSS_MB = {30000: 600}
TARGET_HELP_SECONDS = 0.150
MB = 1e6
STDERR_TAIL = 2000  # characters of a failed run's stderr kept in the report
SERVICE_COMMENT = re.compile(rb"/\* (\S+/\S+) cluster IP \*/")


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
    parser.add_argument("--formats", type=csv_formats, default=list(FORMATS), help=",".join(FORMATS))
    parser.add_argument("--out", type=Path, default=BENCH / "out", help="folder of the dumps")
    parser.add_argument("--seed", type=int, default=42, help="seed for rules generated here when missing")
    parser.add_argument("--runs", type=int, help="pairs per dump (default: 5 up to 10k services, else 3)")
    parser.add_argument("--service", help="--service TEXT for L-service (default: the dump's first service)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds before a run is killed")
    parser.add_argument("--results", type=Path, help="where to write the JSON (default: OUT/results.json)")
    parser.add_argument("--code", type=Path, default=REPO,
                        help="the kubechain checkout to run (default: this one; e.g. a worktree of an older commit)")
    return parser.parse_args(argv)


def kubechain_env(code: Path) -> dict[str, str]:
    """The environment of the kubechain runs: the checkout `code` first on the path (an editable install
    may point elsewhere, e.g. a worktree's main)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(code.resolve()), env.get("PYTHONPATH", "")) if p)
    return env


def measure(cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> dict[str, object]:
    """One run of cmd in a fresh _measure.py wrapper (so RUSAGE_CHILDREN is this run's alone), with the
    1-minute load average just before it."""
    wrapper = [sys.executable, "-I", "-S", str(BENCH / "_measure.py"), "--timeout", str(timeout), "--", *cmd]
    load = os.getloadavg()[0]
    # its own process group, so an interrupted run takes the measured command with it
    with subprocess.Popen(wrapper, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                          start_new_session=True) as proc:
        try:
            stdout, stderr = proc.communicate()
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    if proc.returncode != 0 or not stdout.strip():
        raise RuntimeError(f"bench/_measure.py failed ({proc.returncode}): {stderr.strip()}")
    result = json.loads(stdout)
    result["loadavg_1m"] = round(load, 2)
    result["stderr_tail"] = stderr[-STDERR_TAIL:] if result["returncode"] != 0 else ""
    return result


def failure(run: dict[str, object]) -> str:
    """Why a run failed: its stderr, else its timeout or exit status."""
    if str(run["stderr_tail"]).strip():
        return str(run["stderr_tail"])
    return "timed out" if run.get("timed_out") else f"exit status {run['returncode']}"


def spread(values: list[float]) -> dict[str, float]:
    """Median and range of a list of numbers."""
    return {"median": round(statistics.median(values), 4), "min": round(min(values), 4),
            "max": round(max(values), 4)}


@contextmanager
def namespace() -> Iterator[str | None]:
    """A fresh, empty network namespace for the C parser (None when this cannot make one), deleted after."""
    if os.geteuid() != 0 or not shutil.which(RESTORE) or not shutil.which("ip"):
        yield None
        return
    name = f"kubechain-bench-run-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, check=False).returncode == 0
    try:
        yield name if made else None
    finally:
        if made:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def kubechain_status(env: dict[str, str]) -> dict[str, object]:
    """Whether `import kubechain` gives load and analyze, and from where."""
    proc = subprocess.run([sys.executable, "-c", CHECK_IMPORT], cwd=REPO, capture_output=True, text=True,
                          check=False, env=env)
    if proc.returncode == 0:
        return {"importable": True, "module": proc.stdout.strip()}
    return {"importable": False, "error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "?"}


def kubechain_command() -> list[str]:
    """`kubechain` as a user runs it: the console script next to this Python (not a pyenv-style shim,
    whose start-up is not kubechain's), else one on PATH, else the same entry point through -c."""
    beside = Path(sys.executable).parent / "kubechain"
    script = str(beside) if beside.exists() else shutil.which("kubechain")
    return [script] if script else [sys.executable, "-c", CLI_FALLBACK]


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


def recorded_restore(size: int, out: Path) -> dict[str, object] | None:
    """What make_dumps.sh recorded for `iptables-restore --test` on this size, if it ran."""
    path = out / f"svc-{size}.restore-test.json"
    return json.loads(path.read_text()) if path.exists() else None


def first_service(path: Path) -> str | None:
    """The first `ns/svc:port` of a dump's `cluster IP` comments (KUBE-SERVICES sorts after the
    KUBE-SEP chains, so the whole file is read, line by line)."""
    with path.open("rb") as f:
        for line in f:
            if b" cluster IP */" in line and (found := SERVICE_COMMENT.search(line)) is not None:
                return found.group(1).decode()
    return None


def dump_entry(size: int, fmt: str, out: Path) -> dict[str, object]:
    """Path, presence and size of one dump."""
    path = out / f"svc-{size}.{DUMP_OF.get(fmt, fmt)}.txt"
    entry: dict[str, object] = {"services": size, "format": fmt, "path": str(path.relative_to(REPO))
                                if path.is_relative_to(REPO) else str(path), "exists": path.exists()}
    if path.exists():
        entry.update(lines=count_lines(path), bytes=path.stat().st_size)
    return entry


def analyze_command(entry: dict[str, object], service: str | None) -> list[str]:
    """The user's command on this dump."""
    options = ["--service", service] if entry["format"] == "L-service" and service else []
    return [*kubechain_command(), "analyze", "--format", "json", *options, str(entry["path"])]


def bench_dump(entry: dict[str, object], rules: Path, netns: str | None, runs: int, args: argparse.Namespace,
               env: dict[str, str]) -> None:
    """Run kubechain and the C parser alternately on one dump; add every run and the summary to entry."""
    service = None
    if entry["format"] == "L-service":
        service = args.service or first_service(REPO / str(entry["path"]))
        entry["service"] = service
        if not service:
            entry.update(ok=False, error="no `cluster IP` comment found to select a service")
            return
    cmd = analyze_command(entry, service)
    reference = ["ip", "netns", "exec", netns, RESTORE, "--test", str(rules)] if netns else None
    entry["command"] = " ".join(cmd) + " > /dev/null"
    entry["reference_command"] = " ".join(reference) if reference else None
    print(f"{entry['format']} {entry['services']}: {runs} pair(s) of  {entry['command']}", file=sys.stderr,
          flush=True)
    pairs: list[dict[str, object]] = []
    for _ in range(runs):
        mine = measure(cmd, args.timeout, env)
        pair: dict[str, object] = {"kubechain": mine}
        if mine["returncode"] != 0:
            pairs.append(pair)
            entry.update(ok=False, error=failure(mine))
            print(f"  FAILED: {failure(mine).strip()[-500:]}", file=sys.stderr)
            break
        if reference:
            theirs = measure(reference, args.timeout)
            pair["c_parser"] = theirs
            if theirs["returncode"] == 0:
                pair["ratio"] = round(float(mine["wall_seconds"]) / float(theirs["wall_seconds"]), 4)
        pairs.append(pair)
        print(f"  kubechain {mine['wall_seconds']:.3f} s  C parser "
              f"{pair['c_parser']['wall_seconds'] if 'c_parser' in pair else '-'} s  ratio {pair.get('ratio', '-')}"
              f"  load {mine['loadavg_1m']}", file=sys.stderr, flush=True)
    entry["pairs"] = pairs
    entry.setdefault("ok", True)
    summarize(entry, pairs, args.out)


def cpu(run: dict[str, object]) -> float:
    """CPU seconds of one measured run."""
    return float(run["user_seconds"]) + float(run["sys_seconds"])  # type: ignore[arg-type]


def summarize(entry: dict[str, object], pairs: list[dict[str, object]], out: Path) -> None:
    """Medians, ranges, peak RSS and the target of one dump's pairs."""
    mine = [p["kubechain"] for p in pairs if p["kubechain"]["returncode"] == 0]
    if not mine:
        return
    entry["wall_seconds"] = spread([float(r["wall_seconds"]) for r in mine])
    entry["max_rss_kb"] = max(int(r["max_rss_kb"]) for r in mine)
    entry["loadavg_1m"] = spread([float(r["loadavg_1m"]) for r in mine])
    theirs = [p["c_parser"] for p in pairs if "ratio" in p]
    if theirs:
        entry["paired"] = True
        entry["c_parser_seconds"] = spread([float(r["wall_seconds"]) for r in theirs])
        entry["c_parser_max_rss_kb"] = max(int(r["max_rss_kb"]) for r in theirs)
        entry["ratio"] = spread([float(p["ratio"]) for p in pairs if "ratio" in p])
        # the same pairs by CPU seconds (user + sys): less moved by what else the machine runs
        entry["cpu_ratio"] = spread([cpu(p["kubechain"]) / cpu(p["c_parser"]) for p in pairs if "ratio" in p])
    elif (recorded := recorded_restore(int(entry["services"]), out)) is not None:
        entry["paired"] = False
        seconds = float(recorded["wall_seconds"])
        entry["c_parser_seconds"] = spread([seconds])
        entry["c_parser_max_rss_kb"] = recorded["max_rss_kb"]
        entry["ratio"] = spread([float(r["wall_seconds"]) / seconds for r in mine])
    target = TARGET_RATIO.get((int(entry["services"]), str(entry["format"])))
    if target is not None and "ratio" in entry:
        entry["target_ratio"] = target
        entry["meets_ratio"] = entry["ratio"]["median"] <= target
    rss_target = TARGET_RSS_MB.get(int(entry["services"]))
    if rss_target is not None and entry["format"] in ("L", "save"):
        entry["target_rss_mb"] = rss_target
        entry["meets_rss"] = entry["max_rss_kb"] * 1024 / MB <= rss_target


def add_ratios_to_listing(entries: list[dict[str, object]]) -> None:
    """Each dump's paired ratio over the same size's `-L` ratio (the nft dumps' question: is reading
    nftables mode as fast as reading `iptables -L`?), both normalised by the C parser in their own pairs."""
    listing = {e["services"]: e for e in entries if e["format"] == "L" and "ratio" in e}
    for e in entries:
        base = listing.get(e["services"])
        if base is not None and "ratio" in e and e is not base and e["format"] != "L-service":
            e["ratio_to_L"] = round(e["ratio"]["median"] / base["ratio"]["median"], 3)


def fmt_num(value: object, spec: str) -> str:
    """Format a number, or '-' when there is none."""
    return "-" if value is None else format(value, spec)


def fmt_spread(value: object, spec: str) -> str:
    """`median (min-max)` of a spread, or '-'."""
    if not isinstance(value, dict):
        return "-"
    return f"{value['median']:{spec}} ({value['min']:{spec}}-{value['max']:{spec}})"


def print_table(entries: list[dict[str, object]]) -> None:
    """One row per dump."""
    head = ("services", "fmt", "lines", "MB", "pairs", "kubechain s", "C parser s", "ratio (range)",
            "target", "CPU ratio", "RSS MB", "C RSS MB", "x -L", "load")
    rows = [head]
    for e in entries:
        if not e["exists"]:
            continue
        rss, c_rss = e.get("max_rss_kb"), e.get("c_parser_max_rss_kb")
        target = e.get("target_ratio")
        verdict = "" if target is None else f"<={target} {'ok' if e.get('meets_ratio') else 'MISSED'}"
        rows.append((
            str(e["services"]), str(e["format"]), fmt_num(e.get("lines"), ","),
            fmt_num(e["bytes"] / MB if "bytes" in e else None, ".1f"), str(len(e.get("pairs", []))),
            fmt_spread(e.get("wall_seconds"), ".2f"), fmt_spread(e.get("c_parser_seconds"), ".2f"),
            (fmt_spread(e.get("ratio"), ".2f") + ("" if e.get("paired", True) else " unpaired"))
            if e.get("ok", True) else "FAILED",
            verdict, fmt_num(e["cpu_ratio"]["median"] if "cpu_ratio" in e else None, ".2f"),
            fmt_num(rss * 1024 / MB if rss else None, ".0f"),
            fmt_num(int(c_rss) * 1024 / MB if c_rss else None, ".0f"), fmt_num(e.get("ratio_to_L"), ".2f"),
            fmt_spread(e.get("loadavg_1m"), ".1f"),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    for row in rows:
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))


def bench_help(env: dict[str, str], timeout: float) -> dict[str, object]:
    """`kubechain --help`, HELP_RUNS whole processes."""
    cmd = [*kubechain_command(), "--help"]
    runs = [measure(cmd, timeout, env) for _ in range(HELP_RUNS)]
    ok = all(r["returncode"] == 0 for r in runs)
    walls = [float(r["wall_seconds"]) for r in runs]
    result: dict[str, object] = {"command": " ".join(cmd), "ok": ok, "runs": runs, "wall_seconds": spread(walls),
                                 "target_seconds": TARGET_HELP_SECONDS}
    result["meets"] = ok and statistics.median(walls) <= TARGET_HELP_SECONDS
    # A bare interpreter's start on this machine (site and its .pth files included): the floor under it.
    bare = [float(measure([sys.executable, "-c", "pass"], timeout, env)["wall_seconds"]) for _ in range(HELP_RUNS)]
    result["python_start_seconds"] = spread(bare)
    return result


def environment(code: Path) -> dict[str, object]:
    """Where the numbers come from: interpreter, machine, the commit measured, the C parser's version."""
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=code, capture_output=True,
                            text=True, check=False).stdout.strip()
    version = subprocess.run([RESTORE, "--version"], capture_output=True, text=True,
                             check=False).stdout.strip() if shutil.which(RESTORE) else None
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "python": sys.executable, "python_version": platform.python_version(),
        "platform": platform.platform(), "cpus": os.cpu_count(), "git_commit": commit or None,
        "c_parser": version, "loadavg_at_start": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    """Inventory the dumps, then (if kubechain imports) run the pairs on each; write results.json."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # kill PID cleans up as ^C does (the namespace)
    args.out.mkdir(parents=True, exist_ok=True)
    env = kubechain_env(args.code)
    status = kubechain_status(env)
    results: dict[str, object] = {"environment": environment(args.code), "kubechain": status, "help": None}
    entries = []
    rules = {size: ensure_rules(size, args.seed, args.out) for size in args.sizes}
    for size in args.sizes:
        entries += [dump_entry(size, fmt, args.out) for fmt in args.formats]
    missing = sorted({e["services"] for e in entries if not e["exists"] and e["format"] in ("L", "save")})
    if missing:
        print(f"dumps missing for {missing}: run  sudo bench/make_dumps.sh {' '.join(map(str, missing))}",
              file=sys.stderr)
    if not status["importable"]:
        print(f"kubechain package is MISSING (import failed: {status['error']}); nothing benchmarked.",
              file=sys.stderr)
    else:
        results["help"] = bench_help(env, args.timeout)
        with namespace() as netns:
            if netns is None:
                print(f"no private namespace or no {RESTORE} (root needed): ratios use the recorded "
                      "restore-test.json, unpaired", file=sys.stderr)
            for entry in (e for e in entries if e["exists"]):
                size = int(entry["services"])
                runs = args.runs or (5 if size <= 10_000 else 3)
                bench_dump(entry, rules[size], netns, runs, args, env)
    add_ratios_to_listing(entries)
    results["dumps"] = entries
    print_table(entries)
    if results["help"]:
        h = results["help"]
        print(f"kubechain --help: {fmt_spread(h['wall_seconds'], '.3f')} s, median of {HELP_RUNS} "
              f"(target <= {TARGET_HELP_SECONDS} s: {'ok' if h['meets'] else 'MISSED'}); "
              f"python -c pass: {fmt_spread(h['python_start_seconds'], '.3f')} s")
    json_path = args.results or args.out / "results.json"
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {json_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
