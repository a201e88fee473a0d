"""Method of lines for viscous Burgers on ``[−1, 1]`` with zero ends, integrated by BDF.

The kernel behind the reference solver of the Dirichlet Burgers benchmark
(:mod:`pdeml.problems.burgers_dirichlet.solver`): the conservative central scheme in space,
second order, and variable-order BDF in time with the analytic tridiagonal Jacobian.
"""

from __future__ import annotations

import numpy as np


def solve_burgers_dirichlet(
    u0: np.ndarray, nu: float, times: np.ndarray, rtol: float = 1e-9, atol: float = 1e-11
) -> np.ndarray:
    """Solve Burgers on ``[−1, 1]`` with zero ends from ``u0`` on a uniform grid.

    Parameters
    ----------
    u0 : numpy.ndarray
        ``[N]`` values at ``linspace(−1, 1, N)``; the end values are replaced by 0.
    nu : float
        Viscosity.
    times : numpy.ndarray
        Increasing output times > 0.
    rtol, atol : float
        BDF tolerances.

    Returns
    -------
    numpy.ndarray
        ``[len(times), N]`` solution snapshots.
    """
    import scipy.sparse
    from scipy.integrate import solve_ivp

    n = u0.size
    h = 2.0 / (n - 1)
    diffusion = nu / h**2

    def rhs(_t: float, v: np.ndarray) -> np.ndarray:
        u = np.concatenate(([0.0], v, [0.0]))
        return -(u[2:] ** 2 - u[:-2] ** 2) / (4 * h) + diffusion * (u[2:] - 2 * u[1:-1] + u[:-2])

    def jacobian(_t: float, v: np.ndarray) -> scipy.sparse.csc_matrix:
        upper = -v[1:] / (2 * h) + diffusion
        lower = v[:-1] / (2 * h) + diffusion
        main = np.full(v.size, -2 * diffusion)
        return scipy.sparse.diags([lower, main, upper], [-1, 0, 1], format="csc")

    result = solve_ivp(
        rhs,
        (0.0, float(times[-1])),
        np.asarray(u0, dtype=np.float64)[1:-1],
        method="BDF",
        t_eval=times,
        jac=jacobian,
        rtol=rtol,
        atol=atol,
    )
    if not result.success:  # pragma: no cover - BDF with this Jacobian does not fail
        raise RuntimeError(f"burgers_dirichlet: time integration failed: {result.message}")
    out = np.zeros((len(times), n))
    out[:, 1:-1] = result.y.T
    return out
