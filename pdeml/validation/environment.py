"""Where a result was measured: pdeml version, commit, machine, device, date.

One implementation for the validation reports and the benchmark scripts, so every committed
number names its origin the same way.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from pdeml._version import __version__
from pdeml.validation.timing import load_average


def _git(*args: str) -> str:
    """The output of a git command run in the package's folder (its checkout, if any)."""
    here = Path(__file__).resolve().parent
    return subprocess.run(
        ["git", *args], capture_output=True, text=True, check=True, cwd=here
    ).stdout


def environment() -> dict[str, Any]:
    """pdeml version, commit, machine, device, date and load average, for the report.

    ``load_average`` is ``os.getloadavg()`` now (1, 5 and 15 minutes), ``None`` where the
    platform has none. The commit is the ``PDEML_COMMIT`` environment variable where set
    (a copy sent to another machine may carry a stale ``.git``: the lent GPU machine's copy
    reported a commit two sessions old), else git's, else "unknown" (an sdist)."""
    import torch

    commit = os.environ.get("PDEML_COMMIT", "").strip()
    if not commit:
        try:
            commit = _git("rev-parse", "--short", "HEAD").strip()
            if _git("status", "--porcelain", "--untracked-files=no").strip():
                commit += " (with uncommitted changes)"
        except (OSError, subprocess.CalledProcessError):
            commit = "unknown"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    device = f"CUDA: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "CPU only"
    return {
        "pdeml_version": __version__,
        "commit": commit,
        "machine": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "device": device,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        # Timings swung 4x with the machine's load on one commit: say what the load was.
        "load_average": load_average(),
    }
