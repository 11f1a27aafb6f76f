"""Run one command as a child process and print its wall time and peak RSS as one JSON line.

Start a fresh `python bench/_measure.py -- CMD...` per measurement: RUSAGE_CHILDREN's ru_maxrss is the
maximum over every child this process ever waited for, so one wrapper per run makes it this run's peak.
The child's stdout is discarded; the tail of its stderr is kept for the report when it fails.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

STDERR_TAIL = 2000  # characters of the child's stderr kept in the report


def measure(cmd: list[str], timeout: float | None) -> dict[str, object]:
    """Run cmd to completion; return wall seconds, peak RSS (KiB) and CPU seconds of that child."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=timeout, check=False)
        returncode, stderr = proc.returncode, proc.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired as exc:  # run() has killed and reaped the child
        partial = (exc.stderr or b"").decode(errors="replace")
        returncode, stderr = None, f"timed out after {timeout} s\n{partial}"
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall_seconds": round(wall, 6),
        "max_rss_kb": usage.ru_maxrss,  # KiB on Linux
        "user_seconds": round(usage.ru_utime, 6),
        "sys_seconds": round(usage.ru_stime, 6),
        "returncode": returncode,
        "stderr_tail": stderr[-STDERR_TAIL:] if returncode != 0 else "",
    }


def main(argv: list[str]) -> int:
    """Usage: _measure.py [--timeout SECONDS] -- CMD [ARGS...]."""
    timeout = None
    if argv[:1] == ["--timeout"]:
        timeout, argv = float(argv[1]), argv[2:]
    if argv[:1] != ["--"] or len(argv) < 2:
        print(main.__doc__, file=sys.stderr)
        return 2
    print(json.dumps(measure(argv[1:], timeout)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
