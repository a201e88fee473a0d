"""Shared fixtures: small problems sized for seconds on 2 CPU cores."""

import pytest

from pdeml.problems import Burgers1D, Darcy2D


@pytest.fixture
def small_burgers():
    """Burgers solved on 64 points, stored on 32: milliseconds per sample."""
    return Burgers1D(resolution=32, solver_resolution=64)


@pytest.fixture
def small_darcy():
    """Darcy solved on 29×29, stored on 15×15."""
    return Darcy2D(resolution=15, solver_resolution=29)
