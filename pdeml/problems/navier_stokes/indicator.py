"""A-posteriori error indicator of NavierStokes2D: defects of the reference stepper.

The prediction is a trajectory of snapshots one time unit apart. Each snapshot is compared
with one unit of the reference scheme (CN–Heun pseudo-spectral, on the prediction's grid)
started from the snapshot before it, the first from the last input snapshot: the *defect*
``d_k = w_pred(t_k) − Φ(w_pred(t_{k−1}))``. The error of snapshot ``k`` is the defects
carried forward by the flow; counting each as carried unchanged gives the estimate
``e_k ≈ −(d_1 + … + d_k)``. Viscosity damps errors, so this over-estimates somewhat (1.6×
the true relative L2 error in the median on the quick test set, Spearman 0.96:
``validation/reports/indicators_quick.md``), which is the safe side for a guard.

All snapshots are stepped at once and with the largest stable step, not the problem's
``dt``: one unit of time per snapshot on the stored grid is a small fraction of the
reference solve on the solver grid. The floor, the defect of the stored data themselves,
is about 3e-5 at the quick size.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from pdeml.problems.indicator import (
    check_cfl,
    checked_pair,
    relative_estimate,
    stable_steps,
    summed_defects,
)
from pdeml.solvers.navier_stokes import integrate_vorticity

if TYPE_CHECKING:
    from pdeml.problems.navier_stokes import NavierStokes2D


def largest_speed(w: np.ndarray) -> float:
    """Largest velocity ``|∇^⊥ψ|``, ``−Δψ = w``, over a batch of periodic fields ``[..., n, n]``."""
    n = w.shape[-1]
    k = 2.0 * np.pi * np.fft.fftfreq(n, 1.0 / n)
    kx, ky = k[:, None], k[None, :]
    k2 = kx**2 + ky**2
    psi = np.fft.fft2(w) * np.divide(1.0, k2, out=np.zeros_like(k2), where=k2 > 0)
    u = np.fft.ifft2(1j * ky * psi).real
    v = np.fft.ifft2(-1j * kx * psi).real
    return float(np.sqrt(u**2 + v**2).max())


def navier_stokes_indicator(
    problem: NavierStokes2D,
    inputs: Mapping[str, np.ndarray],
    outputs: Mapping[str, np.ndarray],
    *,
    cfl: float = 1.0,
) -> np.ndarray:
    """Estimated relative L2 error of each predicted trajectory ``outputs["w_out"]``.

    Parameters
    ----------
    problem : NavierStokes2D
    inputs, outputs : dict
        ``{"w_in": [n, t_in, x, y]}`` and the prediction ``{"w_out": [n, T − t_in, x, y]}``.
    cfl : float
        Courant number of the defect steps (in (0, 4]); the step is the largest stable one
        for the fastest flow in the batch (see
        :func:`pdeml.problems.indicator.stable_steps`).

    Returns
    -------
    numpy.ndarray
        ``[n]`` estimates of the relative L2 error over the whole output trajectory.
    """
    cfl = check_cfl(cfl)
    inputs, outputs, size = checked_pair(problem, inputs, outputs)
    w_in, w_out = inputs["w_in"], outputs["w_out"]
    # The 2/3 rule keeps |m| < n/3 in each direction: the largest advected |k| is below it.
    k_max = 2.0 * np.pi * np.ceil(size / 3.0 - 1.0) * np.sqrt(2.0)
    speed = max(largest_speed(w_in[:, -1]), largest_speed(w_out))
    steps = stable_steps(1.0, speed, k_max, problem.nu, cfl)
    forcing = problem.forcing(size)

    def step(starts: np.ndarray) -> np.ndarray:
        return integrate_vorticity(
            starts,
            nu=problem.nu,
            dt=1.0 / steps,
            n_snapshots=1,
            steps_per_snapshot=steps,
            forcing=forcing,
        )

    errors = summed_defects(w_in[:, -1], w_out, step, "navier_stokes indicator")
    return relative_estimate({"w_out": errors}, outputs)
