"""The vorticity residual of 2D Navier–Stokes in torch, for physics-informed training."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from pdeml.problems.residual import (
    PDEResidual,
    PeriodicInterpolant2D,
    UFn,
    evaluate,
    grad,
    one_sample,
    parametric,
)


def vorticity_parts(u_fn: UFn, points: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Points, ψ's velocity ``(ψ_y, −ψ_x)`` and ``w = −Δψ`` with its first derivatives."""
    points, psi = evaluate(u_fn, points)
    dpsi = grad(psi, points)
    psi_xx = grad(dpsi[:, 0], points)[:, 0]
    psi_yy = grad(dpsi[:, 1], points)[:, 1]
    w = -(psi_xx + psi_yy)
    return points, dpsi[:, 1], -dpsi[:, 0], w


def navier_stokes_residual(problem: Any, inputs: Any) -> PDEResidual:
    """Residual of :class:`~pdeml.problems.navier_stokes.NavierStokes2D` for one input.

    The candidate ``u_fn`` is the stream function ψ(x, y, t); the vorticity is
    ``w = −Δψ`` and the velocity ``(ψ_y, −ψ_x)``, so the flow is divergence-free by
    construction and the residual is the vorticity equation

        w_t + ψ_y w_x − ψ_x w_y − ν Δw − f

    on ``[0, 1)² × [t_in, T]``, starting from the last input snapshot ``inputs["w_in"][-1]`` (its
    trigonometric interpolant). Periodicity is asked of ψ and ∇ψ across both pairs of
    sides. Over long horizons a PINN of this residual is hard to train (the published
    PINN studies of this flow keep to short horizons); set ``T`` a few units past ``t_in``.
    """
    w_in = one_sample(problem, inputs, "w_in", 3)
    initial_w = PeriodicInterpolant2D(w_in[-1])
    amplitude = float(problem.forcing_amplitude)
    t0, t1 = float(problem.t_in), float(problem.T)

    def equation_with(values: Mapping[str, Any]) -> Callable[[UFn, torch.Tensor], torch.Tensor]:
        nu = values["nu"]

        def equation(u_fn: UFn, points: torch.Tensor) -> torch.Tensor:
            points, u, v, w = vorticity_parts(u_fn, points)
            dw = grad(w, points)
            w_xx = grad(dw[:, 0], points)[:, 0]
            w_yy = grad(dw[:, 1], points)[:, 1]
            phase = 2 * math.pi * (points[:, 0] + points[:, 1])
            forcing = amplitude * (torch.sin(phase) + torch.cos(phase))
            return dw[:, 2] + u * dw[:, 0] + v * dw[:, 1] - nu * (w_xx + w_yy) - forcing

        return equation

    def observe(u_fn: UFn, points: torch.Tensor) -> torch.Tensor:
        return vorticity_parts(u_fn, points)[3]

    def initial(u_fn: UFn, points: torch.Tensor) -> torch.Tensor:
        at_t0 = torch.stack([points[:, 0], points[:, 1], torch.full_like(points[:, 0], t0)], 1)
        return observe(u_fn, at_t0) - initial_w(points[:, 0], points[:, 1])

    def boundary(u_fn: UFn, points: torch.Tensor) -> torch.Tensor:
        # points carry (s, side, t) as (x, y, t) with x = s on y-sides and y = s on x-sides;
        # compare ψ and ∇ψ at the two ends of each periodic direction.
        s, t = points[:, 0], points[:, 2]
        on_x = points[:, 1] < 0.5  # pairs (0, s) ~ (1, s) or (s, 0) ~ (s, 1)
        zero, one = torch.zeros_like(s), torch.ones_like(s)
        first = torch.stack([torch.where(on_x, zero, s), torch.where(on_x, s, zero), t], 1)
        second = torch.stack([torch.where(on_x, one, s), torch.where(on_x, s, one), t], 1)
        first, psi_a = evaluate(u_fn, first)
        second, psi_b = evaluate(u_fn, second)
        jump = (grad(psi_a, first) - grad(psi_b, second))[:, :2]
        return torch.cat([(psi_a - psi_b)[:, None], jump], dim=1)

    def boundary_sampler(unit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        # Column 1 is a flag (< 0.5: the x-direction pair), not a coordinate: the boundary
        # residual above builds the two matching points from it.
        s = unit[:, 0]
        side = (rng.random(s.size) < 0.5).astype(np.float64) * 0.75
        t = t0 + (t1 - t0) * unit[:, 1]
        return np.stack([s, side, t], axis=1)

    return PDEResidual(
        problem=problem.name,
        coordinates=("x", "y", "t_out"),
        lower=(0.0, 0.0, t0),
        upper=(1.0, 1.0, t1),
        periodic=(True, True, False),
        time_dependent=True,
        boundary=boundary,
        initial=initial,
        boundary_sampler=boundary_sampler,
        **parametric(equation_with, {"nu": float(problem.nu)}),
        observe=observe,
    )
