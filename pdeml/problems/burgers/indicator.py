"""A-posteriori error indicator of Burgers1D: defects of the reference stepper.

Each predicted state is compared with the reference scheme (Fourier collocation and
ETDRK4, on the prediction's grid) run over one output interval from the state before it,
the first from the initial condition: the defect ``d_k = u_pred(t_k) − Φ(u_pred(t_{k−1}))``,
and the error of state ``k`` is estimated as ``−(d_1 + … + d_k)``, the defects carried
unchanged (viscosity damps them, so this errs on the safe side).

With ``n_t = 0`` the prediction is the final state only, and its one interval is the whole
of ``(0, T]``: the indicator is then a coarse reference solve (stored grid, the largest
stable step, at quick size under a twentieth of the reference's cost), and its own error,
about 2e-3 against the data at the quick size, is the floor below which it cannot rank
predictions (``validation/reports/indicators_quick.md``).
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
from pdeml.solvers.spectral import burgers_etdrk4

if TYPE_CHECKING:
    from pdeml.problems.burgers import Burgers1D


def burgers_indicator(
    problem: Burgers1D,
    inputs: Mapping[str, np.ndarray],
    outputs: Mapping[str, np.ndarray],
    *,
    cfl: float = 1.0,
) -> np.ndarray:
    """Estimated relative L2 error of each prediction (``u``, and ``u_traj`` if ``n_t > 0``).

    Parameters
    ----------
    problem : Burgers1D
    inputs, outputs : dict
        ``{"u0": [n, x]}`` and the prediction (``{"u": [n, x]}``, plus ``"u_traj"``
        ``[n, n_t, x]`` when ``n_t > 0``).
    cfl : float
        Courant number of the defect steps (in (0, 4]), for the modes where advection beats
        diffusion (see :func:`pdeml.problems.indicator.stable_steps`).

    Returns
    -------
    numpy.ndarray
        ``[n]`` estimates of the relative L2 error, averaged over the output fields.
    """
    cfl = check_cfl(cfl)
    inputs, outputs, size = checked_pair(problem, inputs, outputs)
    u0 = inputs["u0"]
    states = outputs["u_traj"] if problem.n_t > 0 else outputs["u"][:, None]
    interval = problem.T / states.shape[1]
    k_max = 2.0 * np.pi * np.ceil(size / 3.0 - 1.0)  # the 2/3 rule keeps |m| < n/3
    speed = max(float(np.abs(u0).max()), float(np.abs(states).max()))
    steps = stable_steps(interval, speed, k_max, problem.nu, cfl)

    def step(starts: np.ndarray) -> np.ndarray:
        return burgers_etdrk4(starts, problem.nu, interval, 1, interval / steps)[:, 0]

    errors = summed_defects(u0, states, step, "burgers indicator")
    corrections = {"u": errors[:, -1]}
    if problem.n_t > 0:
        corrections["u_traj"] = errors
    return relative_estimate(corrections, outputs)
