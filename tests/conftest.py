"""Shared fixtures: small problems sized for seconds on 2 CPU cores."""

import os

# Under pytest-xdist the test processes share the cores: each gets its share of threads
# (set before torch, numba or BLAS start their pools), or they oversubscribe the cores and
# small trainings run many times slower.
if os.environ.get("PYTEST_XDIST_WORKER"):
    _share = max(1, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    for _name in (
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "NUMBA_NUM_THREADS",
    ):
        os.environ.setdefault(_name, str(_share))

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
