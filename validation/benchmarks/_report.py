"""Shared by the benchmark scripts: the provenance header and writing a report file.

The header and tables are the library's (:mod:`pdeml.validation.provenance`); this module
only knows where the repository keeps its reports (``validation/reports``).
"""

from __future__ import annotations

from pathlib import Path

from pdeml.validation.provenance import header, markdown_table, write_markdown

__all__ = ["REPORTS", "header", "markdown_table", "write_report"]

REPORTS = Path(__file__).resolve().parents[1] / "reports"


def write_report(name: str, text: str) -> Path:
    """Write ``validation/reports/<name>.md`` and return its path."""
    return write_markdown(REPORTS, name, text)
