"""Running the command as a user does: a separate process, from another folder, with this checkout's
kubechain first on the path (an editable install elsewhere would otherwise answer)."""

from __future__ import annotations

import os
import subprocess
import sys

from .paths import ROOT


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR", "FORCE_COLOR", "LINES")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    env.update(extra)
    return env


def cli(*args: str, stdin: str | bytes | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m kubechain ARGS…` from /, text in and out."""
    data = stdin.decode("latin-1") if isinstance(stdin, bytes) else stdin
    return subprocess.run([sys.executable, "-m", "kubechain", *args], input=data, capture_output=True, text=True,
                          cwd="/", env=cli_env(**env), timeout=300)
