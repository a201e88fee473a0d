"""Chebyshev basis of a bounded interval, in numpy and in torch.

A function on ``[a, b]`` is the polynomial

    u(x) = Σ_{k < M} c_k T_k(ξ),   ξ = (2x − a − b) / (b − a) ∈ [−1, 1],

stored as its ``M`` real coefficients. Collocation points are the Gauss–Lobatto points
``ξ_j = −cos(πj / (n − 1))``, ``j = 0 .. n − 1``, listed in increasing order, ends included.

* :meth:`Chebyshev.transform` / :meth:`Chebyshev.inverse` are a type-I discrete cosine
  transform (``scipy.fft.dct`` in numpy; an FFT of the even extension in torch, which has
  no DCT) and are exact for polynomials of degree ``< M`` on ``n ≥ M`` points;
* :meth:`Chebyshev.derivative` applies the coefficient recurrence
  ``c'_{k−1} = c'_{k+1} + 2k c_k`` (Boyd, *Chebyshev and Fourier Spectral Methods*, 2001,
  eq. A.15), as a matrix so that it batches;
* :meth:`Chebyshev.multiply` forms the product on ``n ≥ (3M − 2)/2 + 1`` points: ``T_k``
  with ``k > n − 1`` aliases to ``T_{2(n−1)−k}``, which then stays above ``M − 1`` for the
  product's degrees ``≤ 2M − 2`` (the Chebyshev 3/2 rule).

Methods take numpy arrays or torch tensors (batched, any ``axis``, real or complex) and
return the same kind.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft
import torch

from pdeml._checks import check_int
from pdeml.spectral._common import (
    Array,
    Basis,
    along,
    apply_matrix,
    as_array,
    cached,
    check_axis_size,
    is_torch,
    matmul_last,
    pad_or_truncate,
)


def _dct1_torch(v: torch.Tensor) -> torch.Tensor:
    """``Σ_j'' v_j cos(πjk/P)`` (ends halved by the caller's convention), last axis, real."""
    ext = torch.cat([v, torch.flip(v[..., 1:-1], dims=(-1,))], dim=-1)
    return torch.fft.rfft(ext, dim=-1).real


def _real_linear(fn):
    """Extend a real-linear map on the last axis to complex tensors."""

    def apply(x: Array) -> Array:
        if is_torch(x) and x.is_complex():
            return torch.complex(fn(x.real), fn(x.imag))
        if not is_torch(x) and np.iscomplexobj(x):
            return fn(x.real) + 1j * fn(x.imag)
        return fn(x)

    return apply


class Chebyshev(Basis):
    """The first ``modes`` Chebyshev polynomials on ``[a, b]``.

    Parameters
    ----------
    modes : int
        Number ``M`` of coefficients (degrees ``0 .. M − 1``), ``M ≥ 1``.
    domain : tuple of float
        The interval ``(a, b)``, ``a < b`` (default ``(−1, 1)``).

    Examples
    --------
    >>> import numpy as np
    >>> basis = Chebyshev(5, domain=(0.0, 2.0))
    >>> x = basis.points()
    >>> c = basis.transform(x**3)
    >>> np.allclose(basis.inverse(basis.derivative(c)), 3 * x**2)
    True
    """

    periodic = False

    def __init__(self, modes: int, domain: tuple[float, float] = (-1.0, 1.0)) -> None:
        modes = check_int("modes", modes, 1)
        try:
            a, b = (float(v) for v in domain)
        except (TypeError, ValueError):
            raise ValueError(f"domain must be a pair of numbers (a, b), got {domain!r}") from None
        if not (math.isfinite(a) and math.isfinite(b) and a < b):
            raise ValueError(f"domain must be finite with a < b, got {domain!r}")
        self.modes = int(modes)
        self.domain = (a, b)
        self._derivative_matrix = _derivative_matrix(self.modes) * (2.0 / (b - a))

    def __repr__(self) -> str:
        return f"Chebyshev(modes={self.modes}, domain={self.domain})"

    # -- grids ---------------------------------------------------------------------------
    @property
    def exact_points(self) -> int:
        """Fewest Gauss–Lobatto points on which the transforms are exact (``M``, at least 2)."""
        return max(2, self.modes)

    @property
    def product_points(self) -> int:
        """Fewest Gauss–Lobatto points for an alias-free truncated product."""
        return max(2, math.ceil((3 * self.modes - 2) / 2) + 1)

    def reference_points(self, n: int | None = None) -> np.ndarray:
        """Gauss–Lobatto points ``ξ_j = −cos(πj/(n − 1))`` on ``[−1, 1]``, increasing."""
        n = self.exact_points if n is None else check_int("n", n, 2)
        return -np.cos(np.pi * np.arange(n) / (n - 1))

    def points(self, n: int | None = None) -> np.ndarray:
        """Gauss–Lobatto points on ``[a, b]``, increasing, both ends included."""
        a, b = self.domain
        return a + (b - a) * (1.0 + self.reference_points(n)) / 2.0

    def to_reference(self, x: np.ndarray) -> np.ndarray:
        """``ξ = (2x − a − b)/(b − a)``, clipped to ``[−1, 1]`` against round-off."""
        a, b = self.domain
        return np.clip((2.0 * np.asarray(x, dtype=np.float64) - a - b) / (b - a), -1.0, 1.0)

    # -- transforms ----------------------------------------------------------------------
    def transform(self, values: Array, axis: int = -1) -> Array:
        """First ``M`` Chebyshev coefficients of the interpolant of Gauss–Lobatto ``values``.

        With ``n`` points the interpolant has degree ``n − 1``; its coefficients are
        truncated (or zero-padded) to ``M``. Exact for polynomials of degree ``< M`` when
        ``n ≥ M``.
        """
        values = as_array(values)
        n = check_axis_size(values, axis, "values")
        if n < 2:
            raise ValueError(f"values: need at least 2 Gauss–Lobatto points, got {n}")
        p = n - 1

        @_real_linear
        def fn(v: Array) -> Array:
            # Increasing points ξ_j = cos(π(P − j)/P): flip to the DCT's decreasing order.
            if is_torch(v):
                c = _dct1_torch(torch.flip(v, dims=(-1,))) / p
                scale = torch.ones(n, dtype=c.dtype, device=c.device)
            else:
                c = scipy.fft.dct(v[..., ::-1], type=1, axis=-1) / p
                scale = np.ones(n)
            scale[0] = scale[-1] = 0.5
            return pad_or_truncate(c * scale, self.modes)

        return along(values, axis, fn)

    def inverse(self, coefficients: Array, n: int | None = None, axis: int = -1) -> Array:
        """Values of the series at ``n`` Gauss–Lobatto points (default ``M``), increasing.

        Exact for any ``n ≥ 2``: with fewer points than modes the series is evaluated
        directly (:meth:`evaluate`).
        """
        coefficients = as_array(coefficients)
        check_axis_size(coefficients, axis, "coefficients")
        n = self.exact_points if n is None else check_int("n", n, 2)
        if n < self.modes:
            return self.evaluate(coefficients, self.points(n), axis)

        @_real_linear
        def fn(c: Array) -> Array:
            c = pad_or_truncate(c, n)
            if is_torch(c):
                scale = torch.ones(n, dtype=c.dtype, device=c.device)
                scale[0] = scale[-1] = 2.0
                v = _dct1_torch(c * scale) / 2.0
                return torch.flip(v, dims=(-1,))
            scale = np.ones(n)
            scale[0] = scale[-1] = 2.0
            v = scipy.fft.dct(c * scale, type=1, axis=-1) / 2.0
            return v[..., ::-1]

        return along(coefficients, axis, fn)

    def vandermonde(self, x: np.ndarray) -> np.ndarray:
        """``T_k(ξ(x_p))``, shape ``(len(x), M)``."""
        xi = self.to_reference(np.asarray(x).reshape(-1))
        return np.cos(np.outer(np.arccos(xi), np.arange(self.modes)))

    def evaluate(self, coefficients: Array, x: np.ndarray, axis: int = -1) -> Array:
        """Values of the series at arbitrary points ``x`` (1D in ``[a, b]``), along ``axis``."""
        coefficients = as_array(coefficients)
        check_axis_size(coefficients, axis, "coefficients")
        matrix = self.vandermonde(x)
        return along(coefficients, axis, lambda c: matmul_last(c, matrix))

    # -- dense matrices (fast for small mode counts) -------------------------------------
    def analysis_matrix(self, n: int) -> np.ndarray:
        """Real ``(M, n)`` matrix of :meth:`transform` on ``n`` Gauss–Lobatto points."""
        return cached(
            self, ("analysis", n), lambda: np.ascontiguousarray(self.transform(np.eye(n), axis=0))
        )

    def synthesis_matrix(self, n: int) -> np.ndarray:
        """Real ``(n, M)`` matrix of :meth:`inverse` on ``n`` Gauss–Lobatto points."""
        return cached(self, ("synthesis", n), lambda: self.vandermonde(self.points(n)))

    def to_values(self, coefficients: Array, n: int, axis: int = -1) -> Array:
        """:meth:`inverse` by a dense matrix product (same values, faster when ``M`` is small)."""
        return apply_matrix(coefficients, self.synthesis_matrix(n), axis)

    # -- calculus ------------------------------------------------------------------------
    def derivative_matrix(self) -> np.ndarray:
        """``D`` with ``c' = D c`` in coefficient space (includes the ``2/(b − a)`` factor)."""
        return self._derivative_matrix.copy()

    def derivative(self, coefficients: Array, order: int = 1, axis: int = -1) -> Array:
        """Coefficients of the ``order``-th derivative (degree drops by ``order``)."""
        coefficients = as_array(coefficients)
        check_axis_size(coefficients, axis, "coefficients")
        order = check_int("order", order, 0)
        matrix = np.linalg.matrix_power(self._derivative_matrix, order)
        return along(coefficients, axis, lambda c: matmul_last(c, matrix))

    def least_product_points(self) -> int:
        """Fewest points :meth:`multiply` accepts (``M``)."""
        return self.modes

    def endpoint_values(self) -> tuple[np.ndarray, np.ndarray]:
        """``T_k(−1) = (−1)^k`` and ``T_k(1) = 1``: values at ``a`` and ``b`` of each mode."""
        k = np.arange(self.modes)
        return (-1.0) ** k, np.ones(self.modes)


def _derivative_matrix(m: int) -> np.ndarray:
    """``D[i, j] = 2j / c_i`` for ``j > i`` with ``j − i`` odd, ``c_0 = 2``, else ``c_i = 1``.

    This is the closed form of the backward recurrence ``c'_{k−1} = c'_{k+1} + 2k c_k``.
    """
    d = np.zeros((m, m))
    for i in range(m):
        for j in range(i + 1, m, 2):
            d[i, j] = 2.0 * j
    d[0] /= 2.0
    return d


def derivative_by_recurrence(coefficients: np.ndarray) -> np.ndarray:
    """Chebyshev derivative on ``[−1, 1]`` by the backward recurrence, last axis, numpy.

    The reference implementation the matrix of :meth:`Chebyshev.derivative` is tested
    against.
    """
    c = np.asarray(coefficients)
    m = c.shape[-1]
    out = np.zeros_like(c)
    for k in range(m - 1, 0, -1):
        nxt = out[..., k + 1] if k + 1 < m else 0.0
        out[..., k - 1] = nxt + 2.0 * k * c[..., k]
    out[..., 0] /= 2.0
    return out
