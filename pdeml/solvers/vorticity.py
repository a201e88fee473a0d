"""The CN–Heun vorticity scheme's symbols and argument checks, shared by both backends.

The numba backend (:mod:`pdeml.solvers.navier_stokes`) and the torch backend
(:mod:`pdeml.solvers.navier_stokes_torch`) build their steps from the very same arrays,
so they run the same arithmetic and differ only by the round-off of their FFTs. This
module is numpy only; it keeps the two backends from importing each other.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

BACKENDS = ("numba", "torch")
#: Working precisions of the scheme; float64 is the reference, float32 the fast path.
DTYPES = ("float64", "float32")


class SpectralOperators(NamedTuple):
    """Fourier symbols of the scheme on an ``n × n`` grid, arrays in ``rfft2`` layout.

    Attributes
    ----------
    derivatives : numpy.ndarray
        Complex ``[4, n, n//2 + 1]``: the multipliers taking ``ŵ`` to the transforms of
        ``u = ψ_y``, ``v = −ψ_x``, ``w_x`` and ``w_y``, with the 2/3 mask folded in.
    mask : numpy.ndarray
        ``[n, n//2 + 1]``, 1 on the modes kept by the 2/3 rule (``3|m_x| < n`` and
        ``3|m_y| < n``), 0 elsewhere.
    gain : numpy.ndarray
        ``(1 + dt L/2) / (1 − dt L/2)``, the Crank–Nicolson amplification factor.
    step : numpy.ndarray
        ``dt / (1 − dt L/2)``, the factor on the explicit terms.
    decay : numpy.ndarray
        ``gain − 1 = dt L / (1 − dt L/2)``, computed without the cancellation of the
        subtraction: the increment form ``w + decay·w`` keeps the viscous decay exact to
        round-off in float32, where ``gain`` itself rounds to within ``2⁻²⁴`` of 1 for the
        slow modes and that error would accumulate over every step.
    """

    derivatives: np.ndarray
    mask: np.ndarray
    gain: np.ndarray
    step: np.ndarray
    decay: np.ndarray


def spectral_operators(n: int, nu: float, dt: float) -> SpectralOperators:
    """Symbols of the CN–Heun scheme for viscosity ``nu`` and step ``dt`` on ``n × n`` points.

    Both backends use these very arrays, so they run the same arithmetic and differ only by
    the round-off of their FFTs.
    """
    mx = np.fft.fftfreq(n, 1.0 / n)
    my = np.arange(n // 2 + 1, dtype=np.float64)
    kx = 2.0 * np.pi * mx[:, None]
    ky = 2.0 * np.pi * my[None, :]
    k2 = kx**2 + ky**2
    inverse_laplacian = np.divide(1.0, k2, out=np.zeros_like(k2), where=k2 > 0)
    # Products of two fields on modes |m| < n/3 alias only onto modes |m| > n/3: 2/3 rule.
    # The Nyquist modes fall outside, so their undefined derivatives never enter.
    mask = ((3 * np.abs(mx)[:, None] < n) & (3 * my[None, :] < n)).astype(np.float64)
    psi = inverse_laplacian * mask
    derivatives = np.stack([1j * ky * psi, -1j * kx * psi, 1j * kx * mask, 1j * ky * mask])
    half = 0.5 * dt * (-nu * k2)
    step = dt / (1.0 - half)
    return SpectralOperators(
        np.ascontiguousarray(derivatives), mask, (1.0 + half) / (1.0 - half), step, -nu * k2 * step
    )


def check_dtype(dtype: Any) -> str:
    """The name in :data:`DTYPES` of a working precision (``"float32"``, ``np.float32``, ...).

    Raises
    ------
    ValueError
        For anything else, naming ``dtype`` and the choices.
    """
    name = None
    if dtype is not None and not isinstance(dtype, bool):  # np.dtype(None) is float64
        try:
            name = np.dtype(dtype).name
        except TypeError:
            pass
    if name not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    return name


def check_vorticity(w0: Any, forcing: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Validate a batch of vorticity fields ``[n, N, N]`` and a forcing ``[N, N]`` (or None).

    Returns both as C-contiguous float64 arrays (the forcing as zeros when ``None``).
    """
    w0 = np.ascontiguousarray(w0, dtype=np.float64)
    if w0.ndim != 3 or w0.shape[1] != w0.shape[2] or w0.shape[1] < 4:
        raise ValueError(f"w0: expected shape (n, N, N) with N >= 4, got {w0.shape}")
    size = w0.shape[1]
    if forcing is None:
        forcing = np.zeros((size, size))
    forcing = np.ascontiguousarray(forcing, dtype=np.float64)
    if forcing.shape != (size, size):
        raise ValueError(f"forcing: expected shape ({size}, {size}) like w0, got {forcing.shape}")
    return w0, forcing


def check_scheme(nu: float, dt: float, n_snapshots: int, steps_per_snapshot: int) -> None:
    """Validate the scheme's scalars: ``nu >= 0``, ``dt > 0`` and two counts ``>= 1``."""
    for label, value in (("nu", nu), ("dt", dt)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"{label} must be a number, got {value!r}")
    if not (math.isfinite(nu) and nu >= 0):
        raise ValueError(f"nu must be a finite number >= 0, got {nu!r}")
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a finite number > 0, got {dt!r}")
    for label, value in (("n_snapshots", n_snapshots), ("steps_per_snapshot", steps_per_snapshot)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{label} must be an integer >= 1, got {value!r}")
