"""The whole robustness catalogue: command-line and Python cases together."""

from __future__ import annotations

from pdeml.testing.cases_api import api_cases
from pdeml.testing.cases_cli import cli_cases
from pdeml.testing.fuzz_cases import Case


def all_cases() -> list[Case]:
    """Every robustness case, in a fixed order; ids are unique."""
    cases = cli_cases() + api_cases()
    ids = [c.id for c in cases]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise AssertionError(f"duplicate robustness case ids: {sorted(duplicates)}")
    return cases
