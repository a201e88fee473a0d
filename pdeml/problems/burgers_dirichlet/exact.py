"""The exact solution of the Dirichlet Burgers benchmark (Cole–Hopf), numpy only."""

from __future__ import annotations

import math

import numpy as np


def cole_hopf_dirichlet(
    x: np.ndarray, t: float, nu: float = 0.01 / math.pi, n_nodes: int = 150
) -> np.ndarray:
    """Exact solution of the benchmark by the Cole–Hopf integral and Gauss–Hermite quadrature.

    ``u(x, t) = −∫ sin(π(x − η)) f(x − η) e^{−η²/4νt} dη / ∫ f(x − η) e^{−η²/4νt} dη`` with
    ``f(y) = exp(−cos(πy) / (2πν))`` (Basdevant et al. 1986). Substituting
    ``η = √(4νt) z`` gives weight ``e^{−z²}``: Gauss–Hermite with ``n_nodes`` nodes.
    ``f`` is divided by its maximum ``e^{1/(2πν)}`` (it cancels) to avoid overflow.

    Parameters
    ----------
    x : numpy.ndarray
        Points in ``[−1, 1]``.
    t : float
        Time > 0.
    nu : float
        Viscosity.
    n_nodes : int
        Quadrature nodes; the integrand's scale in ``z`` is ``1 / (π √(4νt) / (2πν))``, so
        small ``t`` and ``ν`` need more.
    """
    z, w = np.polynomial.hermite.hermgauss(n_nodes)
    y = np.asarray(x, dtype=np.float64)[..., None] - math.sqrt(4 * nu * t) * z
    f = np.exp(-(np.cos(np.pi * y) + 1.0) / (2 * np.pi * nu))
    return -(w * np.sin(np.pi * y) * f).sum(-1) / (w * f).sum(-1)
