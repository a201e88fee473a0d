"""Helpers shared by the bases: numpy/torch dispatch and applying maps along one axis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from pdeml._checks import check_int

Array = Any  # numpy.ndarray or torch.Tensor


def is_torch(x: Array) -> bool:
    """Whether ``x`` is a torch tensor (else it is treated as a numpy array)."""
    return isinstance(x, torch.Tensor)


def as_array(x: Array) -> Array:
    """``x`` unchanged if it is a tensor, else as a numpy array."""
    return x if is_torch(x) else np.asarray(x)


def along(x: Array, axis: int, fn: Callable[[Array], Array]) -> Array:
    """Apply ``fn`` (acting on the last axis) along ``axis`` of ``x``."""
    if is_torch(x):
        return torch.movedim(fn(torch.movedim(x, axis, -1)), -1, axis)
    return np.moveaxis(fn(np.moveaxis(x, axis, -1)), -1, axis)


def _mm_last(v: torch.Tensor, matrix_t: torch.Tensor) -> torch.Tensor:
    """``v @ matrix_t`` on the last axis as one 2D product.

    ``torch.matmul`` on a non-contiguous ``v`` that requires grad (a ``movedim`` view, as
    every transform along an inner axis makes) does not fold the batch axes: it broadcasts
    the matrix to a batched product of tiny matrices, which the CPU kernel runs one batch
    entry at a time (a select and a copy each, forward and backward). Reshaping first
    copies ``v`` once and makes one large product. Measured per NSM training step (one
    thread, the sizes of ``validation/studies/nsm_comparison.py``): Fourier × Chebyshev Burgers
    109 → 55 ms, periodic Poisson 117 → 31 ms, Chebyshev Darcy unchanged (~23 ms).
    """
    out = v.reshape(-1, v.shape[-1]) @ matrix_t
    return out.reshape(*v.shape[:-1], matrix_t.shape[-1])


def matmul_last(x: Array, matrix: np.ndarray) -> Array:
    """``x @ matrix.T`` on the last axis, with ``matrix`` cast to ``x``'s backend and dtype."""
    if is_torch(x):
        real = x.real.dtype if x.is_complex() else x.dtype
        m = torch.as_tensor(matrix, dtype=real, device=x.device)
        if x.is_complex():
            m = m.to(x.dtype)
        return _mm_last(x, m.T)
    return x @ matrix.T


def pad_or_truncate(x: Array, size: int) -> Array:
    """Keep the first ``size`` entries of the last axis, padding with zeros if shorter."""
    n = x.shape[-1]
    if n >= size:
        return x[..., :size]
    if is_torch(x):
        return torch.cat([x, x.new_zeros((*x.shape[:-1], size - n))], dim=-1)
    pad = np.zeros((*x.shape[:-1], size - n), dtype=x.dtype)
    return np.concatenate([x, pad], axis=-1)


def check_axis_size(x: Array, axis: int, name: str) -> int:
    """Length of ``x`` along ``axis``; ``ValueError`` naming ``name`` if the axis is missing."""
    if x.ndim == 0 or not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{name}: axis {axis} out of range for an array of shape {tuple(x.shape)}")
    return int(x.shape[axis])


def apply_matrix(x: Array, matrix: np.ndarray, axis: int, real_part: bool = False) -> Array:
    """``matrix @ x`` along ``axis`` for real or complex ``x`` and ``matrix``.

    With ``real_part`` the real part of the product is returned (synthesis of a real
    function from Fourier coefficients), computed without forming the imaginary part.
    Dense products beat FFTs for the small mode counts of a neural spectral network.
    """
    cplx = np.iscomplexobj(matrix)
    mr = np.ascontiguousarray(matrix.real)
    mi = np.ascontiguousarray(matrix.imag) if cplx else None

    def fn(v: Array) -> Array:
        if not is_torch(v):
            out = v @ matrix.T
            return out.real if real_part else out
        real = v.real.dtype if v.is_complex() else v.dtype
        tr = torch.as_tensor(mr, dtype=real, device=v.device).T
        if not cplx:
            if v.is_complex():
                out = torch.complex(_mm_last(v.real, tr), _mm_last(v.imag, tr))
                return out.real if real_part else out
            return _mm_last(v, tr)
        ti = torch.as_tensor(mi, dtype=real, device=v.device).T
        if v.is_complex():
            re = _mm_last(v.real, tr) - _mm_last(v.imag, ti)
            if real_part:
                return re
            return torch.complex(re, _mm_last(v.real, ti) + _mm_last(v.imag, tr))
        if real_part:
            return _mm_last(v, tr)
        return torch.complex(_mm_last(v, tr), _mm_last(v, ti))

    return along(x, axis, fn)


def cached(owner: object, key: tuple, make: Callable[[], np.ndarray]) -> np.ndarray:
    """A matrix stored on ``owner`` (per instance, so it dies with the basis); do not modify."""
    store = owner.__dict__.setdefault("_matrices", {})
    if key not in store:
        store[key] = make()
    return store[key]


class Basis:
    """What the bases share: ``modes`` coefficients, dense transforms and truncated products.

    Subclasses set ``modes`` and ``product_points`` and implement ``transform``,
    ``inverse`` and ``analysis_matrix``; ``least_product_points`` is the fewest points
    they accept for :meth:`multiply`.
    """

    modes: int

    @property
    def size(self) -> int:
        """Number of stored coefficients (``modes``)."""
        return self.modes

    @property
    def product_points(self) -> int:  # pragma: no cover - every basis defines it
        raise NotImplementedError

    def least_product_points(self) -> int:  # pragma: no cover - every basis defines it
        raise NotImplementedError

    def transform(self, values: Array, axis: int = -1) -> Array:  # pragma: no cover
        raise NotImplementedError

    def inverse(
        self, coefficients: Array, n: int | None = None, axis: int = -1
    ) -> Array:  # pragma: no cover
        raise NotImplementedError

    def analysis_matrix(self, n: int) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def to_coefficients(self, values: Array, axis: int = -1) -> Array:
        """:meth:`transform` by a dense matrix product."""
        n = int(values.shape[axis])
        return apply_matrix(values, self.analysis_matrix(n), axis)

    def multiply(self, a: Array, b: Array, axis: int = -1, n: int | None = None) -> Array:
        """Coefficients of ``a·b`` truncated to ``modes``, alias-free on the default ``n``
        (:attr:`product_points`)."""
        n = self.product_points if n is None else check_int("n", n, self.least_product_points())
        values = self.inverse(a, n, axis) * self.inverse(b, n, axis)
        return self.transform(values, axis)
