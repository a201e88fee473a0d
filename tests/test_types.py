"""The type check of ``pdeml/`` (configuration and baseline in ``mypy.ini``) passes.

Run here so that CI runs it with the one install of the test extras; by hand: ``mypy``.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mypy_passes_on_the_package():
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (pip install '.[test]')")
    # From the checkout, on its sources: the check is about the code, whichever copy is
    # installed. The cache (.mypy_cache, git-ignored) makes a second run take seconds.
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "mypy.ini")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
