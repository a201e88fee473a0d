"""A stand-in for a user's own solver: the periodic heat equation by explicit finite
differences, written as a user would write it (numpy only, nothing from pdeml).

Used by the tests and the docs of :class:`pdeml.problems.GridProblem`, which name these
functions by path (``"pdeml.testing.user_heat:solve"``) like any user's module.

    u_t = κ Δu  on the torus [0, 1)^d,   u(0) = u0,   output u(T).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def solve(
    inputs: dict[str, np.ndarray],
    resolution: int | None = None,
    kappa: float = 0.01,
    t_final: float = 0.5,
) -> dict[str, np.ndarray]:
    """``u(T)`` from ``inputs["u0"]`` by forward Euler with the (2d+1)-point Laplacian.

    The time step is a fifth of the stability limit ``h² / (2 d κ)``, so the error is
    dominated by the second-order space discretisation.
    """
    u = np.array(inputs["u0"], dtype=float)
    h = 1.0 / u.shape[0]
    dt_max = 0.2 * h * h / (kappa * u.ndim)
    # (The small allowance keeps an exact ratio from rounding up to one step more.)
    steps = int(np.ceil(t_final / dt_max * (1 - 1e-12)))
    dt = t_final / steps
    for _ in range(steps):
        laplacian = sum(
            np.roll(u, 1, axis) + np.roll(u, -1, axis) - 2.0 * u for axis in range(u.ndim)
        )
        u = u + (dt * kappa / h**2) * laplacian
    return {"u": u}


def exact(u0: np.ndarray, kappa: float = 0.01, t_final: float = 0.5) -> np.ndarray:
    """The exact solution of the heat equation from grid values of a band-limited ``u0``."""
    k = [np.fft.fftfreq(n, d=1.0 / n) for n in u0.shape]
    k2 = sum(g**2 for g in np.meshgrid(*k, indexing="ij"))
    decay = np.exp(-kappa * 4.0 * np.pi**2 * k2 * t_final)
    return np.fft.ifftn(np.fft.fftn(u0) * decay).real


def sample(rng: np.random.Generator, coords: dict[str, Any]) -> dict[str, np.ndarray]:
    """A few random sine modes, evaluated on the grid the coordinates give (any resolution)."""
    x = np.meshgrid(*(coords[d] for d in coords if d != "t"), indexing="ij")
    u0 = np.zeros_like(x[0])
    for _ in range(3):
        wave = rng.integers(1, 4, size=len(x))
        phase = rng.uniform(0, 2 * np.pi)
        u0 += rng.normal() * np.sin(
            2 * np.pi * sum(k * xi for k, xi in zip(wave, x, strict=True)) + phase
        )
    return {"u0": u0}
