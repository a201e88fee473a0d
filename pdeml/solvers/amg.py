"""Conjugate gradients preconditioned by algebraic multigrid, with a start and a count.

The Darcy reference solver (:mod:`pdeml.solvers.finite_difference`) runs AMG-preconditioned
CG from zero and keeps only the solution. Trusting a surrogate per query needs two more
things of the same iteration: start it from a guess (a surrogate's prediction) and count the
iterations, so that the saving against a cold start can be measured; and run a fixed, small
number of iterations on a residual, which turns the residual of a prediction into an
estimate of its error (the correction ``A⁻¹ r`` that the iterations approximate).

Both use classical Ruge–Stüben AMG (pyamg) as the preconditioner, as the reference solver
does, so their iterations are the reference solver's iterations.
"""

from __future__ import annotations

import numpy as np
import pyamg
import scipy.sparse

#: Most CG iterations of a warm or cold solve (as in the reference solver).
MAX_ITERATIONS = 500


def amg_preconditioner(matrix: scipy.sparse.csr_matrix) -> scipy.sparse.linalg.LinearOperator:
    """One V-cycle of Ruge–Stüben AMG built for ``matrix`` (an M-matrix), as an operator."""
    return pyamg.ruge_stuben_solver(matrix).aspreconditioner(cycle="V")


def amg_cg(
    matrix: scipy.sparse.csr_matrix,
    rhs: np.ndarray,
    x0: np.ndarray | None = None,
    rtol: float = 1e-10,
    preconditioner: scipy.sparse.linalg.LinearOperator | None = None,
) -> tuple[np.ndarray, int]:
    """Solve ``matrix @ x = rhs`` by AMG-preconditioned CG from ``x0``; count the iterations.

    Parameters
    ----------
    matrix : scipy.sparse.csr_matrix
        Symmetric positive definite.
    rhs : numpy.ndarray
        Right-hand side.
    x0 : numpy.ndarray, optional
        Start (default zero: a cold start).
    rtol : float
        Stop when ``‖rhs − A x‖₂ ≤ rtol ‖rhs‖₂``: relative to the right-hand side, not to
        the first residual, so that a good start needs fewer iterations.
    preconditioner : LinearOperator, optional
        An AMG V-cycle already built for ``matrix`` (:func:`amg_preconditioner`).

    Returns
    -------
    x : numpy.ndarray
    iterations : int
        CG iterations taken (0 when ``x0`` already meets the tolerance).

    Raises
    ------
    RuntimeError
        If CG does not reach ``rtol`` in :data:`MAX_ITERATIONS` iterations.
    """
    count = [0]

    def tick(_: np.ndarray) -> None:
        count[0] += 1

    if preconditioner is None:
        preconditioner = amg_preconditioner(matrix)
    x, info = pyamg.krylov.cg(
        matrix, rhs, x0=x0, tol=rtol, maxiter=MAX_ITERATIONS, M=preconditioner, callback=tick
    )
    if info != 0:
        raise RuntimeError(
            f"AMG-preconditioned CG did not reach rtol={rtol:g} in {MAX_ITERATIONS} iterations"
        )
    return np.asarray(x), count[0]


def amg_correction(
    matrix: scipy.sparse.csr_matrix, residual: np.ndarray, iterations: int = 1
) -> np.ndarray:
    """Approximate ``matrix⁻¹ @ residual`` by ``iterations`` AMG-preconditioned CG steps from 0.

    One step is the V-cycle applied to the residual, scaled to minimise the energy norm of
    the remaining error; on Darcy's five-point systems one step gave the correction's norm
    to a few per cent (see :mod:`pdeml.problems.darcy.indicator`).
    """
    if not np.any(residual):
        return np.zeros_like(residual)
    x, _ = pyamg.krylov.cg(
        matrix, residual, tol=0.0, maxiter=int(iterations), M=amg_preconditioner(matrix)
    )
    return np.asarray(x)
