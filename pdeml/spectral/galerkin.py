"""Linear algebra shared by the spectral forms: inverses of their linear parts.

Least-squares and Galerkin inverses of ``−Δ`` on the Dirichlet basis ``φ_k = T_{k+2} − T_k``
(Darcy), of ``∂_t + λ`` on the Chebyshev initial-value ansatz (Burgers, Navier–Stokes) and
the safe inverse of a Fourier symbol.
"""

from __future__ import annotations

import functools

import numpy as np

from pdeml.spectral.chebyshev import Chebyshev


def inverse_of_nonzero(symbol: np.ndarray) -> np.ndarray:
    """``1 / symbol`` where it is non-zero, 0 where it is zero (the mean mode of ``−Δ⁻¹``)."""
    return np.where(symbol != 0, 1.0 / np.where(symbol != 0, symbol, 1.0), 0.0)


def time_inverses(dt: np.ndarray, start: np.ndarray, decay: np.ndarray) -> np.ndarray:
    """Pseudo-inverses ``[*decay.shape, M − 1, M]`` of ``(D_t + λ) E`` for every ``λ`` in
    ``decay``.

    ``D_t`` ``[M, M]`` is the Chebyshev derivative in time and ``E`` ``[M, M − 1]`` the
    initial-value ansatz ``U_0 = u0 − Σ_{j≥1} V_j T_j(start)``, ``U_j = V_j``: the linear
    part ``∂_t + λ`` of a Fourier mode, as a map from the free coefficients ``V_{1..}``.
    """
    m = dt.shape[0]
    embed = np.zeros((m, m - 1))
    embed[0] = -start[1:]
    embed[np.arange(1, m), np.arange(m - 1)] = 1.0
    eye = np.eye(m)
    flat = np.asarray(decay, dtype=np.float64).ravel()
    blocks = (dt[None] + flat[:, None, None] * eye[None]) @ embed[None]
    return np.linalg.pinv(blocks).reshape(*np.shape(decay), m - 1, m)


def dirichlet_basis(m: int) -> np.ndarray:
    """Chebyshev coefficients ``[m + 2, m]`` of ``φ_k = T_{k+2} − T_k``, ``k < m``."""
    p = np.zeros((m + 2, m))
    p[np.arange(m), np.arange(m)] = -1.0
    p[np.arange(m) + 2, np.arange(m)] = 1.0
    return p


def legendre_gram(n: int) -> np.ndarray:
    """L² inner products ``∫ T_i T_j dξ`` over ``[−1, 1]``, ``i, j < n``, ``[n, n]``.

    From ``T_i T_j = (T_{i+j} + T_{|i−j|}) / 2`` and ``∫ T_k = 2 / (1 − k²)`` for even
    ``k`` (zero for odd ``k``).
    """
    k = np.arange(2 * n)
    integral = np.zeros(2 * n)
    even = k % 2 == 0
    integral[even] = 2.0 / (1.0 - k[even].astype(float) ** 2)
    i = np.arange(n)
    return 0.5 * (integral[i[:, None] + i[None, :]] + integral[np.abs(i[:, None] - i[None, :])])


def laplacian_on_free(mx: int, my: int) -> np.ndarray:
    """``−Δ`` on ``(0, 1)²`` as a matrix ``[(mx+2)(my+2), mx·my]`` from the free
    coefficients of ``Σ V_kl φ_k(x) φ_l(y)`` to the Chebyshev coefficients of the result."""
    px, py = dirichlet_basis(mx), dirichlet_basis(my)
    dx = Chebyshev(mx + 2, (0.0, 1.0)).derivative_matrix()
    dy = Chebyshev(my + 2, (0.0, 1.0)).derivative_matrix()
    # Columns are the images of the unit coefficients.
    u = px @ np.eye(mx * my).reshape(mx * my, mx, my) @ py.T
    laplacian = -(dx @ dx @ u + u @ (dy @ dy).T)
    return laplacian.reshape(mx * my, -1).T


@functools.lru_cache(maxsize=8)
def galerkin_laplacian_inverse(mx: int, my: int) -> np.ndarray:
    """``(P A)⁻¹ P`` ``[mx·my, (mx+2)(my+2)]``: ``A`` is ``−Δ`` on the free coefficients
    (:func:`laplacian_on_free`), ``P`` the L² inner products with ``φ_k(x) φ_l(y)``.

    ``P A`` is the stiffness matrix ``∫ ∇φ_k·∇φ_l`` (symmetric positive definite, the
    ``φ`` vanish on the boundary), so the inverse exists. Cached like
    :func:`inverse_laplacian`.
    """
    # The domain's Jacobian scales P by a constant, which cancels in (P A)⁻¹ P.
    tx = dirichlet_basis(mx).T @ legendre_gram(mx + 2)
    ty = dirichlet_basis(my).T @ legendre_gram(my + 2)
    project = np.kron(tx, ty)
    return np.linalg.solve(project @ laplacian_on_free(mx, my), project)


@functools.lru_cache(maxsize=8)
def inverse_laplacian(mx: int, my: int) -> np.ndarray:
    """Pseudo-inverse ``[mx·my, (mx+2)(my+2)]`` of ``−Δ`` on ``(0, 1)²`` as a map from the
    coefficients of ``Σ V_kl φ_k(x) φ_l(y)`` to the Chebyshev coefficients of the result.

    Cached: it depends on the modes only, and its SVD costs about a second at 32 × 32
    modes, which every form (each ``solve``) would otherwise pay again.
    """
    return np.linalg.pinv(laplacian_on_free(mx, my))
