"""A-posteriori error indicator of Darcy2D and the warm-started reference solve.

The indicator is the finite-difference system's residual of the prediction, turned into
an error estimate. On the grid of the prediction the error of its interior values solves
``A e = r`` with ``r = b − A u_pred`` exactly, and ``u = 0`` on the boundary makes the
error there ``−u_pred``. One CG step preconditioned by an AMG V-cycle approximates ``e``
well: on the quick Darcy test set its norm was 4 % below the exact correction's in the
median (measured once while writing this module). Building the AMG hierarchy costs about
as much as a sparse direct solve below ``AMG_FROM_POINTS`` points per side, so there
(``method="auto"``, as the reference solver decides) the correction is solved exactly
instead; that exact correction ranks the quick FNO's true errors with Spearman 0.95
(``validation/reports/indicators_quick.md``). Either way it runs on the prediction's
grid, not the finer grid the reference solves on: at the paper's size, one step on 85²
took 22 ms against 475 ms for the AMG setup alone on 421² (same loaded machine).

That is the distance to the finite-difference solution *on the prediction's grid*. The
stored data were solved on the finer ``solver_resolution`` grid and strided, and the two
differ by the coarse grid's discretisation error (about 1.6 % at the quick size's 29 × 29,
first order across the coefficient jumps). ``grid_error=True`` adds an estimate of that gap:
the difference between the corrected solution and a direct solve on the grid of half the
points, scaled for first-order convergence. By the triangle inequality the sum bounds the
error against the data when both estimates hold, so a guard's accepted samples keep their
tolerance; it costs one direct solve on the half grid.

The warm start (:func:`darcy_warm_start`) runs the reference solver's AMG-preconditioned
CG from a prediction instead of from zero and counts its iterations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse.linalg

from pdeml._checks import check_choice, require_int
from pdeml.problems.indicator import checked_pair, per_sample_norm
from pdeml.solvers.amg import amg_cg, amg_correction, amg_preconditioner
from pdeml.solvers.finite_difference import (
    AMG_FROM_POINTS,
    DEFAULT_RTOL,
    FACE_AVERAGES,
    METHODS,
    assemble_darcy,
    check_rtol,
    solve_darcy,
)

if TYPE_CHECKING:
    from pdeml.problems.darcy import Darcy2D

#: Most AMG-preconditioned CG steps of the correction (more cost, no better ranking).
MAX_ITERATIONS = 20


def _face_average(problem: Darcy2D, face_average: str | None) -> str:
    """The reference solver's face average unless one is given."""
    if face_average is None:
        return problem.reference_solver().face_average
    return check_choice("face_average", face_average, FACE_AVERAGES)


def _positive(a: np.ndarray) -> np.ndarray:
    if np.any(a <= 0.0):
        raise ValueError(
            f"inputs['a']: the coefficient must be positive, got minimum {float(a.min())!r}"
        )
    return a


def _system(a: np.ndarray, forcing: float, face_average: str) -> tuple[Any, np.ndarray]:
    """Matrix and right-hand side of one sample on its interior nodes (as the solver's)."""
    size = a.shape[0]
    h = 1.0 / (size - 1)
    rhs = np.full((size - 2) ** 2, h * h * forcing)
    return assemble_darcy(a, face_average), rhs


def darcy_indicator(
    problem: Darcy2D,
    inputs: Mapping[str, np.ndarray],
    outputs: Mapping[str, np.ndarray],
    *,
    method: str = "auto",
    iterations: int = 1,
    grid_error: bool = True,
    face_average: str | None = None,
) -> np.ndarray:
    """Estimated relative L2 error of each predicted pressure ``outputs["u"]``.

    Parameters
    ----------
    problem : Darcy2D
    inputs, outputs : dict
        ``{"a": [n, x, y]}`` and the prediction ``{"u": [n, x, y]}`` on the same grid.
    method : {"auto", "direct", "amg"}
        How the error is got from the residual: solved exactly by a sparse LU, or
        approximated by ``iterations`` AMG-preconditioned CG steps; ``"auto"`` takes the
        cheaper for the grid (LU below ``AMG_FROM_POINTS`` points per side).
    iterations : int
        CG steps of ``method="amg"`` (1 to 20).
    grid_error : bool
        Add the estimated gap between the prediction's grid and ``solver_resolution``
        (see the module docstring); ``False`` estimates the distance to the
        finite-difference solution on the prediction's own grid only.
    face_average : {"arithmetic", "harmonic"}, optional
        The discretisation's face average; by default that of the reference solver.

    Returns
    -------
    numpy.ndarray
        ``[n]`` estimates of ``‖u_pred − u_ref‖₂ / ‖u_ref‖₂``.
    """
    method = check_choice("method", method, METHODS)
    require_int("darcy indicator", "iterations", iterations, 1, MAX_ITERATIONS)
    if not isinstance(grid_error, (bool, np.bool_)):
        raise ValueError(f"grid_error must be True or False, got {grid_error!r}")
    inputs, outputs, size = checked_pair(problem, inputs, outputs)
    face = _face_average(problem, face_average)
    if method == "auto":
        method = "amg" if size >= AMG_FROM_POINTS else "direct"
    a, u = _positive(inputs["a"]), outputs["u"]
    corrections = -u.copy()  # on the boundary the reference is 0
    for k in range(len(a)):
        matrix, rhs = _system(a[k], problem.forcing, face)
        residual = rhs - matrix @ u[k, 1:-1, 1:-1].ravel()
        if method == "direct":
            interior = scipy.sparse.linalg.spsolve(matrix.tocsc(), residual)
        else:
            interior = amg_correction(matrix, residual, iterations)
        corrections[k, 1:-1, 1:-1] = interior.reshape(size - 2, size - 2)
    corrected = u + corrections
    estimate = per_sample_norm(corrections) / np.maximum(per_sample_norm(corrected), 1e-300)
    if grid_error:
        estimate += _grid_gap(problem, a, corrected, face)
    return estimate


def _grid_gap(problem: Darcy2D, a: np.ndarray, solution: np.ndarray, face: str) -> np.ndarray:
    """Estimated relative gap between the grid's solutions and those of ``solver_resolution``.

    First order (the coefficient jumps): the error of the grid ``h`` is about its difference
    to the grid ``2h``, and that of the solver grid ``h_s`` is ``h_s / h`` times smaller.
    Zero when the prediction is on the solver grid, or on one that cannot be halved.
    """
    size = a.shape[1]
    share = 1.0 - (size - 1) / (problem.solver_resolution - 1)
    if share <= 0.0 or (size - 1) % 2 or size < 5:
        return np.zeros(len(a))
    gap = np.empty(len(a))
    for k in range(len(a)):
        coarse = solve_darcy(a[k, ::2, ::2], problem.forcing, "direct", face_average=face)
        fine = solution[k, ::2, ::2]
        gap[k] = np.linalg.norm(fine - coarse) / max(float(np.linalg.norm(fine)), 1e-300)
    return share * gap


def darcy_warm_start(
    problem: Darcy2D,
    inputs: Mapping[str, np.ndarray],
    initial: Mapping[str, np.ndarray] | None = None,
    *,
    face_average: str | None = None,
    rtol: float = DEFAULT_RTOL,
    method: str | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The reference solve by AMG-preconditioned CG, started from ``initial`` (or zero).

    Parameters
    ----------
    problem : Darcy2D
    inputs : dict
        ``{"a": [n, x, y]}``.
    initial : dict, optional
        ``{"u": [n, x, y]}`` on the same grid, e.g. a surrogate's prediction; its interior
        values start CG. ``None`` starts from zero (a cold start).
    face_average : {"arithmetic", "harmonic"}, optional
        As the reference solver's option (its default when not given).
    rtol : float
        As the reference solver's: ``‖b − A u‖₂ ≤ rtol ‖b‖₂``, the same stopping rule from
        either start, so both give the reference solution to that tolerance.
    method : str, optional
        Accepted and ignored, so that a reference solver's options pass through: the warm
        start is always CG (a direct solve has no start).

    Returns
    -------
    outputs : dict
        ``{"u": [n, x, y]}``.
    iterations : numpy.ndarray
        CG iterations per sample.
    """
    rtol = check_rtol(rtol)
    face = _face_average(problem, face_average)
    inputs = problem.check_inputs(inputs)
    size = problem.infer_resolution(inputs)
    a = _positive(inputs["a"])
    if initial is not None:
        start = problem.check_outputs(initial, size)["u"]
        if len(start) != len(a):
            raise ValueError(f"initial: {len(start)} samples, expected {len(a)} like the inputs")
    u = np.zeros_like(a)
    iterations = np.zeros(len(a), dtype=np.int64)
    for k in range(len(a)):
        matrix, rhs = _system(a[k], problem.forcing, face)
        x0 = None if initial is None else start[k, 1:-1, 1:-1].ravel().copy()
        x, iterations[k] = amg_cg(matrix, rhs, x0, rtol, amg_preconditioner(matrix))
        u[k, 1:-1, 1:-1] = x.reshape(size - 2, size - 2)
    return {"u": u}, iterations
