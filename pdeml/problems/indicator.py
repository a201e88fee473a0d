"""Pieces shared by the problems' a-posteriori error indicators (``<pde>/indicator.py``).

An indicator estimates, for each sample, the relative L2 error of a predicted output
against the reference solution, from the inputs and the prediction alone. Each problem
builds an estimate of the *correction* (reference minus prediction) from its own
discretisation: a residual turned into an error by a few multigrid-preconditioned
iterations (Darcy), or the defects of the reference time stepper started from the
predicted states (Burgers, Navier–Stokes). This module checks the arrays, turns
corrections into relative errors the way validation measures them, and picks the stable
time steps of the defect computations.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

#: Advective Courant number of the time steps of the defect computations.
DEFAULT_CFL = 1.0


def checked_pair(
    problem: Any, inputs: Mapping[str, np.ndarray], outputs: Mapping[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], int]:
    """Validate a batch of inputs and predicted outputs of ``problem`` on one grid.

    Returns
    -------
    inputs, outputs : dict
        Float64 arrays, as :meth:`~pdeml.problems.base.Problem.check_inputs` gives them.
    resolution : int
        The grid of the inputs (the outputs must be on it too).

    Raises
    ------
    ValueError
        For missing fields, wrong shapes, non-finite values, or different sample counts.
    """
    checked = problem.check_inputs(inputs)
    resolution = int(problem.infer_resolution(checked))
    predicted = problem.check_outputs(outputs, resolution)
    n_in = len(next(iter(checked.values())))
    n_out = len(next(iter(predicted.values())))
    if n_in != n_out:
        raise ValueError(f"outputs: {n_out} samples, expected {n_in} like the inputs")
    return checked, predicted, resolution


def per_sample_norm(values: np.ndarray) -> np.ndarray:
    """Euclidean norm of each sample (the first axis) of ``values``."""
    return np.linalg.norm(np.asarray(values).reshape(len(values), -1), axis=1)


def relative_estimate(
    corrections: Mapping[str, np.ndarray], outputs: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Estimated relative L2 error per sample, averaged over fields as validation does.

    ``corrections[f]`` estimates ``reference − prediction`` of field ``f``; the reference's
    norm, unknown, is taken as that of the corrected prediction.
    """
    ratios = []
    for name, correction in corrections.items():
        corrected = per_sample_norm(outputs[name] + correction)
        ratios.append(per_sample_norm(correction) / np.maximum(corrected, 1e-300))
    return np.mean(ratios, axis=0)


def summed_defects(
    first: np.ndarray, states: np.ndarray, step: Callable[[np.ndarray], np.ndarray], what: str
) -> np.ndarray:
    """Estimated errors of predicted ``states`` from the defects of a reference stepper.

    Parameters
    ----------
    first : numpy.ndarray
        ``[n, ...]`` the known state before the first predicted one.
    states : numpy.ndarray
        ``[n, k, ...]`` the predicted states, one interval apart.
    step : callable
        Advances a batch of states ``[m, ...]`` by one interval with the reference scheme.
    what : str
        Names the indicator in the error raised when the steps blow up.

    Returns
    -------
    numpy.ndarray
        ``[n, k, ...]`` estimated reference minus prediction: minus the running sum of
        the defects ``d_j = states_j − step(states_{j−1})``, each counted as carried
        unchanged to the end (viscous flows damp them: an over-estimate).
    """
    n, k = states.shape[:2]
    starts = np.concatenate([first[:, None], states[:, :-1]], axis=1)
    stepped = step(starts.reshape(n * k, *states.shape[2:]))
    defects = states - np.reshape(stepped, states.shape)
    if not np.all(np.isfinite(defects)):
        raise FloatingPointError(f"{what}: the defect steps blew up; pass a smaller cfl")
    return -np.cumsum(defects, axis=1)


def stable_steps(
    interval: float, speed: float, k_max: float, nu: float, cfl: float = DEFAULT_CFL
) -> int:
    """Fewest equal steps over ``interval`` at which the explicit advection stays stable.

    Both defect steppers treat diffusion implicitly or exactly, so only the modes where
    advection beats diffusion limit the step: wavenumbers up to ``min(k_max, speed / nu)``.
    The step is ``cfl / (speed · k)``.

    Parameters
    ----------
    interval : float
        Time to cover.
    speed : float
        Largest velocity of the states stepped.
    k_max : float
        Largest angular wavenumber the scheme keeps (after dealiasing).
    nu : float
        Viscosity.
    cfl : float
        Courant number.
    """
    k = min(k_max, speed / nu) if nu > 0 else k_max
    rate = speed * k / cfl
    return max(1, math.ceil(interval * rate - 1e-9))


def check_cfl(cfl: Any) -> float:
    """``cfl`` as a float in ``(0, 4]``, else ``ValueError``."""
    ok = isinstance(cfl, (int, float, np.integer, np.floating)) and not isinstance(cfl, bool)
    if not ok or not 0.0 < float(cfl) <= 4.0:
        raise ValueError(f"cfl must be a number in (0, 4], got {cfl!r}")
    return float(cfl)
