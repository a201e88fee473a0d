"""The residual of the Dirichlet Burgers benchmark in torch, for physics-informed training."""

from __future__ import annotations

from typing import Any

import numpy as np

from pdeml.problems.burgers.residual import burgers_instance
from pdeml.problems.residual import PDEResidual, PeriodicInterpolant, dirichlet_zero, one_sample


def burgers_dirichlet_residual(problem: Any, inputs: Any) -> PDEResidual:
    """Residual of :class:`~pdeml.problems.burgers_dirichlet.BurgersDirichlet`.

    ``u_t + u u_x − ν u_xx`` on ``[−1, 1] × [0, T]`` with ``u(±1, t) = 0``. The initial
    condition is the trigonometric interpolant (period 2) of the grid values of
    ``inputs["u0"]`` without the right end: exact at the grid points, and exact everywhere
    for the benchmark's ``−sin(πx)``; spectrally accurate for any ``u0`` whose 2-periodic
    extension is smooth, as ``u0(±1) = 0`` suggests.
    """
    u0 = one_sample(problem, inputs, "u0", 1)

    def boundary_sampler(unit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        t = problem.T * unit[:, 0]
        x = np.where(rng.random(t.size) < 0.5, -1.0, 1.0)
        return np.stack([x, t], axis=1)

    interpolant = PeriodicInterpolant(u0[:-1], -1.0, 2.0)
    return burgers_instance(problem, interpolant, -1.0, False, dirichlet_zero, boundary_sampler)
