"""Finite-difference reference solver for steady Darcy flow on the unit square.

    −∇·(a ∇u) = f  in (0, 1)²,   u = 0 on the boundary,

on the node grid ``x_j = j / (N − 1)``, both ends included. The scheme is the classical
second-order 5-point stencil with the coefficient averaged onto cell faces,

    (1/h²) Σ_faces a_face (u_P − u_neighbour) = f_P,

for the interior nodes ``P``, the boundary values being zero. It is the scheme of the FNO
paper's data generator when the arithmetic face average is chosen, and it is second order
for a smooth coefficient with either face average (see
``tests/solvers/test_darcy_solver.py``). Across the jumps of a two-phase medium both
converge at first order, and the harmonic average, exact for layers across the flow, has
half the error at the same cost (``validation/reports/darcy_face_averaging.md``): it is
the default. :func:`darcy_fd_residual` evaluates the
scheme's residual for any field, a prediction for example.

The matrix is symmetric positive definite; it is assembled in numba straight into CSR
arrays and solved by a sparse direct factorisation or by conjugate gradients with an
algebraic-multigrid preconditioner (``docs/problems/darcy.md`` has the timings behind the
default). The reference-solver adapter of ``Darcy2D`` is :mod:`pdeml.problems.darcy.solver`.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import pyamg
import scipy.sparse
import scipy.sparse.linalg

from pdeml._checks import check_choice

FACE_AVERAGES = ("arithmetic", "harmonic")
METHODS = ("auto", "direct", "amg")
#: Default linear solver: "auto" takes the faster of the two for the grid size. Measured on
#: this 2-core machine (ms per sample, direct / AMG): 43: 3.2 / 10, 85: 13 / 22,
#: 141: 39 / 49, 211: 115 / 103, 281: 224 / 181, 421: 770 / 410 (docs/problems/darcy.md).
DEFAULT_METHOD = "auto"
#: Grids with at least this many points per side are solved by AMG under "auto".
AMG_FROM_POINTS = 192
#: CG stopping rule ‖b − Au‖₂ ≤ rtol ‖b‖₂. At 421² it leaves a relative difference to the
#: direct solve below 1e-12, nine orders under the discretisation error of the two-phase
#: media, for one or two CG iterations more than 1e-8 would take.
DEFAULT_RTOL = 1e-10
_AMG_MAXITER = 500


@numba.njit(cache=True)
def _face(left: float, right: float, harmonic: bool) -> float:
    if harmonic:
        return 2.0 * left * right / (left + right)
    return 0.5 * (left + right)


@numba.njit(cache=True)
def _assemble_csr(a: np.ndarray, harmonic: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR arrays of the h²-scaled operator on the interior nodes, row-major in (x, y).

    Columns come out sorted within each row (west, south, centre, north, east), which is
    the canonical CSR form scipy and SuperLU expect without a sort pass.
    """
    n = a.shape[0]
    m = n - 2
    size = m * m
    # Each of the 4m boundary-adjacent links drops one off-diagonal entry.
    nnz = 5 * size - 4 * m
    indptr = np.empty(size + 1, dtype=np.int32)
    indices = np.empty(nnz, dtype=np.int32)
    data = np.empty(nnz, dtype=np.float64)
    pos = 0
    indptr[0] = 0
    for i in range(1, n - 1):
        for j in range(1, n - 1):
            row = (i - 1) * m + (j - 1)
            c = a[i, j]
            west = _face(a[i - 1, j], c, harmonic)
            east = _face(a[i + 1, j], c, harmonic)
            south = _face(a[i, j - 1], c, harmonic)
            north = _face(a[i, j + 1], c, harmonic)
            if i > 1:
                indices[pos] = row - m
                data[pos] = -west
                pos += 1
            if j > 1:
                indices[pos] = row - 1
                data[pos] = -south
                pos += 1
            indices[pos] = row
            data[pos] = west + east + south + north
            pos += 1
            if j < n - 2:
                indices[pos] = row + 1
                data[pos] = -north
                pos += 1
            if i < n - 2:
                indices[pos] = row + m
                data[pos] = -east
                pos += 1
            indptr[row + 1] = pos
    return indptr, indices, data


def check_rtol(rtol: Any) -> float:
    """``rtol`` as a float in ``(0, 1)``, else ``ValueError``."""
    ok = isinstance(rtol, (int, float, np.integer, np.floating)) and not isinstance(rtol, bool)
    if not ok or not 0.0 < float(rtol) < 1.0:
        raise ValueError(f"rtol must be a number in (0, 1), got {rtol!r}")
    return float(rtol)


def _check_grid(a: Any) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] < 3:
        raise ValueError(f"a must be a square 2D grid of at least 3×3 nodes, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError("a contains NaN or infinite values; expected finite")
    if np.any(a <= 0.0):
        raise ValueError(f"a must be positive everywhere, got minimum {a.min()!r}")
    return np.ascontiguousarray(a)


def assemble_darcy(a: np.ndarray, face_average: str = "harmonic") -> scipy.sparse.csr_matrix:
    """The h²-scaled 5-point Darcy operator on the interior nodes of one grid.

    Parameters
    ----------
    a : numpy.ndarray
        Coefficient at all ``N × N`` nodes, boundary included, positive.
    face_average : {"harmonic", "arithmetic"}
        How the coefficient on a face is formed from the two nodes it joins (harmonic by
        default: half the error of the arithmetic mean on two-phase media).

    Returns
    -------
    scipy.sparse.csr_matrix
        Symmetric positive definite matrix of size ``(N − 2)²``; unknown ``(i, j)``
        (interior node indices from 1) is row ``(i − 1)(N − 2) + (j − 1)``.
    """
    check_choice("face_average", face_average, FACE_AVERAGES)
    return _matrix(_check_grid(a), face_average)


def _matrix(a: np.ndarray, face_average: str) -> scipy.sparse.csr_matrix:
    size = (a.shape[0] - 2) ** 2
    indptr, indices, data = _assemble_csr(a, face_average == "harmonic")
    return scipy.sparse.csr_matrix((data, indices, indptr), shape=(size, size))


def _solve_linear(
    matrix: scipy.sparse.csr_matrix, rhs: np.ndarray, method: str, rtol: float
) -> np.ndarray:
    if method == "auto":
        interior = round(matrix.shape[0] ** 0.5)
        method = "amg" if interior + 2 >= AMG_FROM_POINTS else "direct"
    if method == "direct":
        # A minimum-degree ordering of A + Aᵀ suits a symmetric 5-point matrix: 0.77 s at
        # 421² against 1.2 s for SuperLU's default COLAMD (symmetric mode adds nothing).
        lu = scipy.sparse.linalg.splu(matrix.tocsc(), permc_spec="MMD_AT_PLUS_A")
        return lu.solve(rhs)
    # The matrix is an M-matrix, the home ground of classical Ruge–Stüben AMG: it ties
    # smoothed aggregation on the two-phase media and needs 7 CG steps instead of 10 on
    # lognormal ones at 421². CG makes the V-cycle robust to the coefficient jumps.
    hierarchy = pyamg.ruge_stuben_solver(matrix)
    solution, info = pyamg.krylov.cg(
        matrix, rhs, tol=rtol, maxiter=_AMG_MAXITER, M=hierarchy.aspreconditioner(cycle="V")
    )
    if info != 0:
        raise RuntimeError(
            f"AMG-preconditioned CG did not reach rtol={rtol:g} in {_AMG_MAXITER} iterations"
        )
    return solution


def darcy_fd_residual(
    a: np.ndarray, u: np.ndarray, f: np.ndarray | float = 1.0, face_average: str = "harmonic"
) -> np.ndarray:
    """Residual ``f − (1/h²) Σ_faces a_face (u_P − u_neighbour)`` of the 5-point scheme.

    The same scheme as :func:`solve_darcy`, evaluated for any ``u`` on all nodes, its
    boundary values included (they need not be zero): the residual of a prediction, or of
    a field with other Dirichlet data.

    Parameters
    ----------
    a : numpy.ndarray
        Coefficient at all nodes, shape ``(..., N, N)`` (a leading batch axis is allowed);
        positive and finite.
    u : numpy.ndarray
        Values at all nodes, the same shape as ``a``.
    f : float or numpy.ndarray
        Source: a constant, or values that broadcast against ``u``.
    face_average : {"arithmetic", "harmonic"}
        Face coefficient from the two nodes it joins, as in :func:`solve_darcy`.

    Returns
    -------
    numpy.ndarray
        The residual at the interior nodes, shape ``(..., N − 2, N − 2)``; zero for the
        solution of :func:`solve_darcy` up to the linear solver's tolerance.
    """
    check_choice("face_average", face_average, FACE_AVERAGES)
    a = np.asarray(a, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64)
    if a.shape != u.shape or a.ndim < 2 or a.shape[-1] != a.shape[-2] or a.shape[-1] < 3:
        raise ValueError(
            f"a and u must have the same shape (..., N, N) with N >= 3, got {a.shape} and {u.shape}"
        )
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(u))) or np.any(a <= 0.0):
        raise ValueError("a must be finite and positive and u finite")
    f = np.broadcast_to(np.asarray(f, dtype=np.float64), u.shape)[..., 1:-1, 1:-1]
    h = 1.0 / (a.shape[-1] - 1)
    harmonic = face_average == "harmonic"
    # a_face (u_neighbour − u_P) on the faces normal to x (axis −2) and to y (axis −1).
    ax = _face_values(a[..., 1:, :], a[..., :-1, :], harmonic) * np.diff(u, axis=-2)
    ay = _face_values(a[..., :, 1:], a[..., :, :-1], harmonic) * np.diff(u, axis=-1)
    divergence = np.diff(ax[..., 1:-1], axis=-2) + np.diff(ay[..., 1:-1, :], axis=-1)
    return f + divergence / (h * h)


def _face_values(left: np.ndarray, right: np.ndarray, harmonic: bool) -> np.ndarray:
    """The vectorised :func:`_face`."""
    if harmonic:
        return 2.0 * left * right / (left + right)
    return 0.5 * (left + right)


def solve_darcy(
    a: np.ndarray,
    f: np.ndarray | float = 1.0,
    method: str = DEFAULT_METHOD,
    *,
    face_average: str = "harmonic",
    rtol: float = DEFAULT_RTOL,
) -> np.ndarray:
    """Solve −∇·(a∇u) = f, u = 0 on the boundary, on one ``N × N`` node grid of (0, 1)².

    Parameters
    ----------
    a : numpy.ndarray
        Coefficient at all nodes ``(x_i, y_j) = (i, j) / (N − 1)``, boundary included;
        positive and finite.
    f : float or numpy.ndarray
        Source: a constant, or values at all nodes (boundary values are not used).
    method : {"auto", "direct", "amg"}
        Sparse LU (SuperLU) or CG preconditioned by Ruge–Stüben AMG (pyamg); ``"auto"``
        takes LU below ``AMG_FROM_POINTS`` points per side and AMG from there (faster each).
    face_average : {"harmonic", "arithmetic"}
        Coefficient on the face between two nodes: their harmonic mean (the default) or
        their mean (the FNO paper's recipe).
    rtol : float
        Relative residual at which CG stops (``method="amg"`` only).

    Returns
    -------
    numpy.ndarray
        ``u`` at all nodes, shape ``(N, N)``, zero on the boundary.
    """
    check_choice("method", method, METHODS)
    check_choice("face_average", face_average, FACE_AVERAGES)
    rtol = check_rtol(rtol)
    a = _check_grid(a)
    size = a.shape[0]
    f = np.asarray(f, dtype=np.float64)
    if f.ndim == 0:
        f = np.full((size, size), float(f))
    elif f.shape != (size, size):
        raise ValueError(f"f must be a number or an array of shape {(size, size)}, got {f.shape}")
    if not np.all(np.isfinite(f)):
        raise ValueError("f contains NaN or infinite values; expected finite")
    matrix = _matrix(a, face_average)
    h = 1.0 / (size - 1)
    rhs = h * h * np.ascontiguousarray(f[1:-1, 1:-1]).ravel()
    u = np.zeros((size, size))
    u[1:-1, 1:-1] = _solve_linear(matrix, rhs, method, rtol).reshape(size - 2, size - 2)
    return u
