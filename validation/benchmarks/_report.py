"""Shared by the benchmark scripts: the provenance header and writing a report file.

Every committed report names the machine, device, date and commit it came from, and the
command that produced it.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

REPORTS = Path(__file__).resolve().parents[1] / "reports"


def header(title: str) -> str:
    """Markdown header: what, when, where, which commit, which command."""
    import numpy

    from pdeml.validation.environment import environment

    env = environment()
    command = "python " + " ".join([os.path.relpath(sys.argv[0]), *sys.argv[1:]])
    return "\n".join(
        [
            f"# {title}",
            "",
            f"- date: {env['date']}",
            f"- commit: {env['commit']}",
            f"- machine: {env['cpu']}, {env['cores']} logical cores, {platform.system()} "
            f"{platform.release()}",
            f"- device: {env['device']}",
            f"- python {env['python']}, numpy {numpy.__version__}, torch {env['torch']}",
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
