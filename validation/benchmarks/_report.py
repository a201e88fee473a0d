"""Shared by the benchmark scripts: the provenance header and writing a report file.

Every committed report names the machine, device, date and commit it came from, and the
command that produced it.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
import sys
from pathlib import Path

REPORTS = Path(__file__).resolve().parents[1] / "reports"


def _commit() -> str:
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return sha + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _device() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return f"CUDA: {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return "CPU only"


def header(title: str) -> str:
    """Markdown header: what, when, where, which commit, which command."""
    import numpy

    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = "python " + " ".join([os.path.relpath(sys.argv[0]), *sys.argv[1:]])
    return "\n".join(
        [
            f"# {title}",
            "",
            f"- date: {now}",
            f"- commit: {_commit()}",
            f"- machine: {_cpu()}, {os.cpu_count()} logical cores, {platform.system()} "
            f"{platform.release()}",
            f"- device: {_device()}",
            f"- python {platform.python_version()}, numpy {numpy.__version__}",
            f"- command: `{command}`",
            "",
        ]
    )


def markdown_table(rows: list[dict[str, object]]) -> str:
    """A Markdown table from a list of dicts sharing keys."""
    if not rows:
        return "(no rows)\n"
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        cells = []
        for key in keys:
            value = row[key]
            cells.append(f"{value:.4g}" if isinstance(value, float) else str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_report(name: str, text: str) -> Path:
    """Write ``validation/reports/<name>.md`` and return its path."""
    REPORTS.mkdir(parents=True, exist_ok=True)
    path = REPORTS / f"{name}.md"
    path.write_text(text)
    return path
