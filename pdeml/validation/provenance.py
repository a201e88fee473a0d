"""Reports of the benchmark and study scripts: a provenance header, tables, the file.

Every committed report names the machine, device, date and commit it came from, and the
command that produced it (:func:`header`); the machine facts are those of
:func:`pdeml.validation.environment.environment`, shared with the validation reports.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path


def header(title: str) -> str:
    """Markdown header: what, when, where, which commit, which command.

    Parameters
    ----------
    title : str
        The report's title (a level-1 heading).

    Returns
    -------
    str
        The heading and a list of date, commit, machine, device, versions and the command
        line of the running script (``sys.argv``), followed by a blank line.
    """
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


def markdown_table(rows: Sequence[Mapping[str, object]]) -> str:
    """A Markdown table from a list of dicts sharing keys (floats with 4 significant digits).

    Parameters
    ----------
    rows : sequence of mapping
        One dict per row; the first row's keys are the columns.

    Returns
    -------
    str
        The table, ending in a newline; ``"(no rows)\\n"`` for no rows.
    """
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


def write_markdown(folder: str | os.PathLike[str], name: str, text: str) -> Path:
    """Write ``<folder>/<name>.md`` (creating the folder) and return its path.

    Parameters
    ----------
    folder : path
        Where the reports go, e.g. the repository's ``validation/reports``.
    name : str
        The file's stem.
    text : str
        The Markdown.

    Returns
    -------
    pathlib.Path
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.md"
    path.write_text(text)
    return path
