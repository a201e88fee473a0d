"""Fourier basis of a periodic interval, in numpy and in torch.

A function on ``[x0, x0 + L)`` is the real trigonometric polynomial

    u(x) = Σ_{|k| < M} c_k exp(2πi k (x − x0) / L),   c_{−k} = conj(c_k),

stored as its ``M`` coefficients ``c_0 .. c_{M−1}`` (complex, ``numpy.fft.rfft`` order and
scaling ``rfft(u) / n``). Collocation points are the uniform grid ``x_j = x0 + j L / n``.

* :meth:`Fourier.transform` and :meth:`Fourier.inverse` are exact for these polynomials
  when ``n ≥ 2M − 1`` (no mode reaches the Nyquist frequency ``n/2``);
* :meth:`Fourier.derivative` multiplies by ``(2πik/L)^order``;
* :meth:`Fourier.multiply` forms the product on ``n ≥ 3M − 2`` points and truncates it back
  to ``M`` modes: the product has modes ``|k| ≤ 2M − 2``, which alias onto ``k − n`` and so
  stay outside ``|k| < M`` (Orszag's 3/2 rule).

Every method takes numpy arrays or torch tensors (batched, any ``axis``) and returns the
same kind, so a network can be trained through it with autograd.
"""

from __future__ import annotations

import math

import numpy as np
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
    pad_or_truncate,
)


class Fourier(Basis):
    """The first ``modes`` complex Fourier modes on a periodic interval.

    Parameters
    ----------
    modes : int
        Number ``M`` of stored coefficients (wavenumbers ``0 .. M − 1``), ``M ≥ 1``.
    length : float
        Period ``L`` (default 1).
    origin : float
        Left end ``x0`` of the period (default 0).

    Examples
    --------
    >>> import numpy as np
    >>> basis = Fourier(4)
    >>> x = basis.points()
    >>> c = basis.transform(np.sin(2 * np.pi * x))
    >>> np.allclose(basis.inverse(basis.derivative(c)), 2 * np.pi * np.cos(2 * np.pi * x))
    True
    """

    periodic = True
    #: Stores wavenumbers ``k >= 0`` only (real functions, the last axis of a real FFT).
    half = True

    def __init__(self, modes: int, length: float = 1.0, origin: float = 0.0) -> None:
        modes = check_int("modes", modes, 1)
        if not (isinstance(length, (int, float)) and math.isfinite(length) and length > 0):
            raise ValueError(f"length must be a finite number > 0, got {length!r}")
        if not (isinstance(origin, (int, float)) and math.isfinite(origin)):
            raise ValueError(f"origin must be a finite number, got {origin!r}")
        self.modes = int(modes)
        self.length = float(length)
        self.origin = float(origin)

    def __repr__(self) -> str:
        return f"Fourier(modes={self.modes}, length={self.length}, origin={self.origin})"

    # -- grids ---------------------------------------------------------------------------
    @property
    def exact_points(self) -> int:
        """Smallest even grid on which transforms of the ``M`` modes are exact (``≥ 2M − 1``)."""
        return 2 * self.modes

    @property
    def product_points(self) -> int:
        """Smallest even grid for an alias-free truncated product (``≥ 3M − 2``)."""
        n = 3 * self.modes - 2
        return max(2, n + (n % 2))

    def points(self, n: int | None = None) -> np.ndarray:
        """The uniform grid ``x0 + j L / n``, ``j = 0 .. n − 1`` (default ``n = 2M``)."""
        n = self.exact_points if n is None else check_int("n", n, 1)
        return self.origin + self.length * np.arange(n) / n

    def wavenumbers(self) -> np.ndarray:
        """Angular wavenumbers ``2πk/L`` of the stored modes."""
        return 2.0 * np.pi * np.arange(self.modes) / self.length

    def weights(self) -> np.ndarray:
        """Parseval weights: ``(1/L)∫|u|² = Σ_k w_k |c_k|²`` with ``w_0 = 1``, ``w_k = 2``."""
        w = np.full(self.modes, 2.0)
        w[0] = 1.0
        return w

    # -- transforms ----------------------------------------------------------------------
    def transform(self, values: Array, axis: int = -1) -> Array:
        """Coefficients of the trigonometric interpolant of grid ``values`` along ``axis``.

        Values at the ``n`` points of :meth:`points` give the interpolant of degree ``n/2``
        (the Nyquist mode of even ``n`` split evenly between ``±n/2``), whose first ``M``
        coefficients are returned (zero-padded if ``n/2 + 1 < M``). Exact for
        trigonometric polynomials of degree ``< M`` when ``n ≥ 2M − 1``.
        """
        values = as_array(values)
        n = check_axis_size(values, axis, "values")

        def fn(v: Array) -> Array:
            if is_torch(v):
                c = torch.fft.rfft(v, dim=-1) / n
                if n % 2 == 0:
                    c = torch.cat([c[..., :-1], c[..., -1:] / 2], dim=-1)
            else:
                c = np.fft.rfft(v, axis=-1) / n
                if n % 2 == 0:
                    c[..., -1] /= 2
            return pad_or_truncate(c, self.modes)

        return along(values, axis, fn)

    def inverse(self, coefficients: Array, n: int | None = None, axis: int = -1) -> Array:
        """Values of the series on the ``n``-point grid (default ``2M``), real.

        Exact for any ``n``: on ``n ≥ 2M − 1`` points by a zero-padded inverse FFT, on
        fewer by evaluating on a finer grid that contains them when ``n`` divides one, and
        otherwise point by point (:meth:`evaluate`).
        """
        coefficients = as_array(coefficients)
        check_axis_size(coefficients, axis, "coefficients")
        n = self.exact_points if n is None else check_int("n", n, 1)
        if n < 2 * self.modes - 1:
            fine = n * math.ceil((2 * self.modes - 1) / n)
            values = self.inverse(coefficients, fine, axis)
            stride = fine // n
            return along(values, axis, lambda v: v[..., ::stride])

        def fn(c: Array) -> Array:
            c = pad_or_truncate(c, n // 2 + 1)
            if is_torch(c):
                return torch.fft.irfft(c * n, n=n, dim=-1)
            return np.fft.irfft(c * n, n=n, axis=-1)

        return along(coefficients, axis, fn)

    def evaluate(self, coefficients: Array, x: np.ndarray, axis: int = -1) -> Array:
        """Values of the series at arbitrary points ``x`` (1D), replacing ``axis`` by them."""
        coefficients = as_array(coefficients)
        check_axis_size(coefficients, axis, "coefficients")
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        phase = np.outer(2.0 * np.pi * (x - self.origin) / self.length, np.arange(self.modes))
        w = self.weights()
        cos, sin = np.cos(phase) * w, -np.sin(phase) * w

        def fn(c: Array) -> Array:
            if is_torch(c):
                real = c.real.dtype if c.is_complex() else c.dtype
                tc = torch.as_tensor(cos, dtype=real, device=c.device)
                ts = torch.as_tensor(sin, dtype=real, device=c.device)
                cr, ci = (c.real, c.imag) if c.is_complex() else (c, torch.zeros_like(c))
                return cr @ tc.T + ci @ ts.T
            return c.real @ cos.T + np.imag(c) @ sin.T

        return along(coefficients, axis, fn)

    # -- dense matrices (fast for small mode counts) -------------------------------------
    def analysis_matrix(self, n: int) -> np.ndarray:
        """Complex ``(M, n)`` matrix of :meth:`transform` on ``n`` points."""
        return cached(
            self, ("analysis", n), lambda: np.ascontiguousarray(self.transform(np.eye(n), axis=0))
        )

    def synthesis_matrix(self, n: int) -> np.ndarray:
        """Complex ``(n, M)`` matrix ``S`` with values ``= Re(S c)`` on ``n`` points."""

        def make() -> np.ndarray:
            phase = np.outer(2.0 * np.pi * np.arange(n) / n, np.arange(self.modes))
            return np.exp(1j * phase) * self.weights()

        return cached(self, ("synthesis", n), make)

    def to_values(self, coefficients: Array, n: int, axis: int = -1) -> Array:
        """:meth:`inverse` by a dense matrix product (same values, faster when ``M`` is small)."""
        return apply_matrix(coefficients, self.synthesis_matrix(n), axis, real_part=True)

    # -- calculus ------------------------------------------------------------------------
    def derivative(self, coefficients: Array, order: int = 1, axis: int = -1) -> Array:
        """Coefficients of the ``order``-th derivative: multiply by ``(2πik/L)^order``."""
        coefficients = as_array(coefficients)
        check_axis_size(coefficients, axis, "coefficients")
        order = check_int("order", order, 0)
        symbol = (1j * self.wavenumbers()) ** order

        def fn(c: Array) -> Array:
            if is_torch(c):
                dtype = torch.complex128 if c.dtype in (torch.float64, torch.complex128) else None
                s = torch.as_tensor(symbol, device=c.device)
                s = s.to(dtype or torch.complex64)
                return c * s
            return c * symbol

        return along(coefficients, axis, fn)

    def least_product_points(self) -> int:
        """Fewest points :meth:`multiply` accepts (``2M − 1``; alias-free from ``3M − 2``)."""
        return 2 * self.modes - 1

    def norm_squared(self, coefficients: Array, axis: int = -1) -> Array:
        """``(1/L)∫|u|²`` along ``axis`` by Parseval (that axis summed out)."""
        coefficients = as_array(coefficients)
        w = self.weights()
        if is_torch(coefficients):
            w = torch.as_tensor(w, device=coefficients.device)
            sq = coefficients.abs() ** 2
            return torch.movedim(sq, axis, -1) @ w.to(sq.dtype)
        return np.moveaxis(np.abs(coefficients) ** 2, axis, -1) @ w


class FourierFull(Fourier):
    """Two-sided Fourier modes ``|k| < M`` of a periodic direction, FFT order.

    Coefficients ``c_0 .. c_{M−1}, c_{−(M−1)} .. c_{−1}`` (``2M − 1`` of them, scaled like
    ``fft(u) / n``). This is the basis of every periodic direction but the last in a
    multi-dimensional real field (the last one is a :class:`Fourier`, ``k ≥ 0``); values
    are complex in general. Transforms need ``n ≥ 2M − 1`` points.
    """

    half = False

    def __repr__(self) -> str:
        return f"FourierFull(modes={self.modes}, length={self.length}, origin={self.origin})"

    @property
    def size(self) -> int:
        return 2 * self.modes - 1

    def integers(self) -> np.ndarray:
        """Integer wavenumbers in storage order."""
        m = self.modes
        return np.concatenate([np.arange(m), np.arange(-(m - 1), 0)])

    def wavenumbers(self) -> np.ndarray:
        return 2.0 * np.pi * self.integers() / self.length

    def weights(self) -> np.ndarray:
        return np.ones(self.size)

    def _index(self, n: int) -> np.ndarray:
        if n < 2 * self.modes - 1:
            raise ValueError(f"n must be >= 2 * modes - 1 = {2 * self.modes - 1}, got {n}")
        return self.integers() % n

    def analysis_matrix(self, n: int) -> np.ndarray:
        """Complex ``(2M − 1, n)`` matrix of :meth:`transform` on ``n`` points."""

        def make() -> np.ndarray:
            self._index(n)
            return np.exp(-2j * np.pi * np.outer(self.integers(), np.arange(n)) / n) / n

        return cached(self, ("analysis", n), make)

    def synthesis_matrix(self, n: int) -> np.ndarray:
        """Complex ``(n, 2M − 1)`` matrix of :meth:`inverse` on ``n`` points."""
        return cached(
            self,
            ("synthesis", n),
            lambda: np.exp(2j * np.pi * np.outer(np.arange(n), self.integers()) / n),
        )

    def transform(self, values: Array, axis: int = -1) -> Array:
        """Coefficients ``|k| < M`` of grid values (real or complex), exact on ``n ≥ 2M − 1``."""
        values = as_array(values)
        n = check_axis_size(values, axis, "values")
        index = self._index(n)

        def fn(v: Array) -> Array:
            if is_torch(v):
                return torch.fft.fft(v, dim=-1)[..., torch.as_tensor(index)] / n
            return np.fft.fft(v, axis=-1)[..., index] / n

        return along(values, axis, fn)

    def inverse(self, coefficients: Array, n: int | None = None, axis: int = -1) -> Array:
        """Complex values on the ``n``-point grid (default ``2M``), ``n ≥ 2M − 1``."""
        coefficients = as_array(coefficients)
        check_axis_size(coefficients, axis, "coefficients")
        n = self.exact_points if n is None else check_int("n", n, 1)
        return self.to_values(coefficients, n, axis)

    def evaluate(self, coefficients: Array, x: np.ndarray, axis: int = -1) -> Array:
        """Complex values at arbitrary points ``x`` (1D), replacing ``axis`` by them."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        matrix = np.exp(1j * np.outer(x - self.origin, self.wavenumbers()))
        return apply_matrix(as_array(coefficients), matrix, axis)

    def to_values(self, coefficients: Array, n: int, axis: int = -1) -> Array:
        self._index(n)
        return apply_matrix(coefficients, self.synthesis_matrix(n), axis)
