"""The Burgers residual ``u_t + u u_x − ν u_xx`` in torch, for physics-informed training.

:func:`burgers_residual` builds it for :class:`~pdeml.problems.burgers.Burgers1D`
(periodic); :func:`burgers_instance` is the part shared with the Dirichlet benchmark
(:mod:`pdeml.problems.burgers_dirichlet.residual`), which differs only in its domain and
boundary condition.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from pdeml.problems.residual import (
    PDEResidual,
    PeriodicInterpolant,
    UFn,
    evaluate,
    grad,
    one_sample,
    parametric,
)

Equation = Callable[[UFn, torch.Tensor], torch.Tensor]


def burgers_equation(nu: float | torch.Tensor) -> Equation:
    """The strong-form residual ``u_t + u u_x − ν u_xx`` at points ``(x, t)``."""

    def equation(u_fn: UFn, points: torch.Tensor) -> torch.Tensor:
        points, u = evaluate(u_fn, points)
        du = grad(u, points)
        u_x, u_t = du[:, 0], du[:, 1]
        u_xx = grad(u_x, points)[:, 0]
        return u_t + u * u_x - nu * u_xx

    return equation


def initial_mismatch(u0: PeriodicInterpolant) -> Equation:
    """``u(x, 0) − u0(x)`` at the ``x`` column of the points (their ``t`` is ignored)."""

    def initial(u_fn: UFn, points: torch.Tensor) -> torch.Tensor:
        x = points[:, 0]
        at_t0 = torch.stack([x, torch.zeros_like(x)], dim=1)
        _, u = evaluate(u_fn, at_t0)
        return u - u0(x)

    return initial


def burgers_instance(
    problem: Any,
    u0: PeriodicInterpolant,
    left: float,
    periodic: bool,
    boundary: Equation,
    boundary_sampler: Callable[[np.ndarray, np.random.Generator], np.ndarray],
) -> PDEResidual:
    """A Burgers instance on ``[left, 1] × [0, T]`` from ``u0`` with the given boundary."""
    return PDEResidual(
        problem=problem.name,
        coordinates=("x", "t"),
        lower=(left, 0.0),
        upper=(1.0, float(problem.T)),
        periodic=(periodic, False),
        time_dependent=True,
        boundary=boundary,
        initial=initial_mismatch(u0),
        boundary_sampler=boundary_sampler,
        **parametric(lambda values: burgers_equation(values["nu"]), {"nu": float(problem.nu)}),
        second_derivatives=((0, 0),),
    )


def burgers_residual(problem: Any, inputs: Any) -> PDEResidual:
    """Residual of :class:`~pdeml.problems.burgers.Burgers1D` for one initial condition.

    ``u_t + u u_x − ν u_xx`` on ``[0, 1) × [0, T]``; ``u(x, 0)`` is the trigonometric
    interpolant of ``inputs["u0"]`` on the grid ``x_j = j / N``; periodicity of ``u`` and
    ``u_x`` between ``x = 0`` and ``x = 1``.
    """
    u0 = one_sample(problem, inputs, "u0", 1)

    def boundary(u_fn: UFn, points: torch.Tensor) -> torch.Tensor:
        t = points[:, 1]
        left = torch.stack([torch.zeros_like(t), t], dim=1)
        right = torch.stack([torch.ones_like(t), t], dim=1)
        left, u_left = evaluate(u_fn, left)
        right, u_right = evaluate(u_fn, right)
        jump = u_left - u_right
        slope_jump = grad(u_left, left)[:, 0] - grad(u_right, right)[:, 0]
        return torch.stack([jump, slope_jump], dim=1)

    def boundary_sampler(unit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        t = problem.T * unit[:, 0]
        return np.stack([np.zeros_like(t), t], axis=1)

    return burgers_instance(
        problem, PeriodicInterpolant(u0, 0.0, 1.0), 0.0, True, boundary, boundary_sampler
    )
