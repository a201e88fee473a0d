"""The Darcy residual ``−∇·(a∇u) − f`` in torch, for physics-informed training."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from pdeml.problems.residual import (
    BilinearInterpolant,
    PDEResidual,
    UFn,
    dirichlet_zero,
    evaluate,
    grad,
    one_sample,
    parametric,
)


def darcy_residual(problem: Any, inputs: Any) -> PDEResidual:
    """Residual of :class:`~pdeml.problems.darcy.Darcy2D` for one coefficient field.

    ``−∇·(a ∇u) − f`` on ``(0, 1)²`` with ``u = 0`` on the boundary, ``a`` the bilinear
    interpolant of the grid values ``inputs["a"]`` and ``f`` the constant ``problem.forcing``.

    Notes
    -----
    The strong form needs ``∇a``. For a smooth coefficient (``coefficient="lognormal"``)
    the residual of the exact solution is small and shrinks as the coefficient grid is
    refined (first order at general points, second order at cell centres, see
    :class:`~pdeml.problems.residual.BilinearInterpolant`). For the piecewise-constant
    coefficient of the FNO benchmark the strong form is ill-defined on the jumps of ``a``:
    there the flux ``a ∇u``, not ``∇u``, is continuous and ``∇a`` is a measure. The bilinear
    interpolant smears each jump over one cell, so the residual there is large and grows
    under grid refinement; a weak (variational) form, as physics-informed methods on such
    media use, is not provided yet.
    """
    a = one_sample(problem, inputs, "a", 2)
    coefficient = BilinearInterpolant(a)

    def equation_with(values: Mapping[str, Any]) -> Callable[[UFn, torch.Tensor], torch.Tensor]:
        forcing = values["forcing"]

        def equation(u_fn: UFn, points: torch.Tensor) -> torch.Tensor:
            points, u = evaluate(u_fn, points)
            flux = coefficient(points)[:, None] * grad(u, points)
            divergence = grad(flux[:, 0], points)[:, 0] + grad(flux[:, 1], points)[:, 1]
            return -divergence - forcing

        return equation

    def boundary_sampler(unit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        s = unit[:, 0]
        side = rng.integers(0, 4, size=s.size)
        x = np.select([side == 0, side == 1], [np.zeros_like(s), np.ones_like(s)], s)
        y = np.select([side == 2, side == 3], [np.zeros_like(s), np.ones_like(s)], s)
        return np.stack([x, y], axis=1)

    return PDEResidual(
        problem=problem.name,
        coordinates=("x", "y"),
        lower=(0.0, 0.0),
        upper=(1.0, 1.0),
        periodic=(False, False),
        time_dependent=False,
        boundary=dirichlet_zero,
        initial=None,
        boundary_sampler=boundary_sampler,
        **parametric(equation_with, {"forcing": float(problem.forcing)}),
        second_derivatives=((0, 0), (1, 1)),
    )
