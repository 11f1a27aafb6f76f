"""Run one command as a child process and print its wall time and peak RSS as one JSON line.

Start a fresh `python -I -S bench/_measure.py -- CMD...` per measurement: RUSAGE_CHILDREN's ru_maxrss
is the maximum over every child this process ever waited for, so one wrapper per run makes it this
run's peak. The child is fork()ed, and a forked child starts with the wrapper's pages, so the peak
has a floor of this wrapper's own RSS: hence -S, few imports and no subprocess module (floor ~7 MB,
below any Python child's). The child's stdout is discarded, its stderr passes through.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time


def run_child(cmd: list[str]) -> int:
    """fork + exec cmd with stdout on /dev/null; return its pid."""
    pid = os.fork()
    if pid == 0:  # child
        try:
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 0)
            os.dup2(devnull, 1)
            os.execvp(cmd[0], cmd)
        except OSError as exc:
            os.write(2, f"_measure.py: cannot run {cmd[0]}: {exc}\n".encode())
        os._exit(127)
    return pid


def measure(cmd: list[str], timeout: float | None) -> dict[str, object]:
    """Run cmd to completion (SIGKILL after timeout); return wall seconds, peak RSS and CPU of that child."""
    start = time.perf_counter()
    pid = run_child(cmd)
    timed_out = []
    if timeout:
        def kill(_signum: int, _frame: object) -> None:
            timed_out.append(True)
            os.kill(pid, signal.SIGKILL)
        signal.signal(signal.SIGALRM, kill)
        signal.setitimer(signal.ITIMER_REAL, timeout)
    _, status = os.waitpid(pid, 0)  # retried after the alarm handler (PEP 475)
    wall = time.perf_counter() - start
    signal.setitimer(signal.ITIMER_REAL, 0)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall_seconds": round(wall, 6),
        "max_rss_kb": usage.ru_maxrss,  # KiB on Linux
        "user_seconds": round(usage.ru_utime, 6),
        "sys_seconds": round(usage.ru_stime, 6),
        "returncode": None if timed_out else os.waitstatus_to_exitcode(status),
        "timed_out": bool(timed_out),
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
