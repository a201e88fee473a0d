"""Pseudo-spectral reference solver of 2D incompressible Navier–Stokes in vorticity form.

    w_t + u·∇w = νΔw + f,   u = ∇^⊥ψ = (ψ_y, −ψ_x),   −Δψ = w,   on the unit torus,

discretised as in the FNO paper's data (Li et al., ICLR 2021): Fourier collocation on the
``N × N`` grid ``x_j = j/N``, the 2/3 rule on the advection term, Crank–Nicolson on the
viscous term and Heun's method (explicit trapezoidal rule) on advection and forcing. Per
step, with ``L = −ν|k|²`` and ``N(w) = f − P(u·∇w)`` (``P`` the 2/3 projection),

    w* = [(1 + dt L/2) w^n + dt N(w^n)] / (1 − dt L/2)
    w^{n+1} = [(1 + dt L/2) w^n + dt (N(w^n) + N(w*))/2] / (1 − dt L/2),

second order in time. (The paper's released generator takes one explicit stage per step,
first order in the advection; pdeml follows the paper's description.) This module holds
the numba backend and :func:`integrate_vorticity`, which picks a backend; the symbols
shared by both backends are in :mod:`pdeml.solvers.vorticity`, the torch backend (CPU or
CUDA) in :mod:`pdeml.solvers.navier_stokes_torch` and the reference-solver adapter of
``NavierStokes2D`` in :mod:`pdeml.problems.navier_stokes.solver`.

FFT choice: the whole time loop is one numba kernel calling ``numpy.fft`` through
rocket-fft, one sample per thread (``prange``). Measured against ``scipy.fft(...,
workers=cores)`` on the whole batch (validation/benchmarks/navier_stokes.py, 2-core CPU,
float64, steps per second for 1 | 8 samples): 64², 6400 | 1660 against 2190 | 250; 256²,
455 | 110 against 179 | 23. With numba kernels instead of numpy for the pointwise work the
scipy route was still 1.3 to 4 times slower, from a Python or a numba time loop. The torch
backend on the same CPU ran at 0.16 to 0.57 times the numba kernel's speed. At one thread
and equal dtype (float64 or float32), 64² and 256², 1 or 8 samples, the kernel ran 1.6 to
4.4 times as many steps per second as ``navier_stokes_2d`` of the FNO authors' ``ns_2d.py``
(validation/reports/navier_stokes.md), although its step evaluates the advection twice.
"""

from __future__ import annotations

import numba
import numpy as np

from pdeml.solvers.vorticity import (  # noqa: F401 - spectral_operators is part of the API
    BACKENDS,
    DTYPES,
    SpectralOperators,
    check_dtype,
    check_scheme,
    check_vorticity,
    spectral_operators,
)


@numba.njit(cache=True)
def _advection(wh, derivatives, n, work):  # pragma: no cover - compiled
    """Transform of ``u·∇w`` on the grid for the state ``wh``; ``work`` is ``[4, n, m]``."""
    rows, cols = wh.shape
    for c in range(4):
        for i in range(rows):
            for j in range(cols):
                work[c, i, j] = derivatives[c, i, j] * wh[i, j]
    u = np.fft.irfft2(work[0], s=(n, n))
    v = np.fft.irfft2(work[1], s=(n, n))
    wx = np.fft.irfft2(work[2], s=(n, n))
    wy = np.fft.irfft2(work[3], s=(n, n))
    return np.fft.rfft2(u * wx + v * wy)


@numba.njit(cache=True, parallel=True)
def _cn_heun_kernel(
    w0, forcing_hat, derivatives, mask, decay, step, half_step, n_snapshots, steps
):  # pragma: no cover - compiled
    """Advance each sample of ``w0`` by ``n_snapshots`` × ``steps`` steps, one thread each.

    Returns the vorticity after every ``steps`` steps, shape ``[n_samples, n_snapshots, n, n]``.
    Every array comes in the working precision (float64 and complex128, or float32 and
    complex64); rocket-fft keeps single precision, and no float64 constant appears in the
    loop (``half_step`` is ``step / 2`` precomputed), so a float32 run is float32 throughout.

    The state is advanced in increment form, ``w += decay·w + ...``, with compensated
    (Kahan) summation: at dt = 1e-4 an increment is ~1e-4 of the state, so plain float32
    rounding of ``w + increment`` errs the same way step after step and the error grows
    linearly with the step count (measured 0.2 · steps · 2⁻²⁴, 2.6e-4 after 20 000 steps on
    256²); the carried compensation keeps what each addition drops.
    """
    n_samples, n, _ = w0.shape
    rows, cols = forcing_hat.shape
    out = np.empty((n_samples, n_snapshots, n, n), dtype=w0.dtype)
    for s in numba.prange(n_samples):
        work = np.empty((4, rows, cols), dtype=forcing_hat.dtype)
        explicit = np.empty((rows, cols), dtype=forcing_hat.dtype)
        predicted = np.empty((rows, cols), dtype=forcing_hat.dtype)
        carry = np.zeros((rows, cols), dtype=forcing_hat.dtype)  # Kahan compensation
        wh = np.fft.rfft2(w0[s])
        for k in range(n_snapshots):
            for _ in range(steps):
                adv = _advection(wh, derivatives, n, work)
                for i in range(rows):
                    for j in range(cols):
                        explicit[i, j] = forcing_hat[i, j] - mask[i, j] * adv[i, j]
                        predicted[i, j] = wh[i, j] + (
                            decay[i, j] * wh[i, j] + step[i, j] * explicit[i, j]
                        )
                adv = _advection(predicted, derivatives, n, work)
                for i in range(rows):
                    for j in range(cols):
                        corrected = forcing_hat[i, j] - mask[i, j] * adv[i, j]
                        increment = decay[i, j] * wh[i, j] + half_step[i, j] * (
                            explicit[i, j] + corrected
                        )
                        y = increment - carry[i, j]
                        total = wh[i, j] + y
                        carry[i, j] = (total - wh[i, j]) - y
                        wh[i, j] = total
            out[s, k] = np.fft.irfft2(wh, s=(n, n))
    return out


def integrate_vorticity(
    w0: np.ndarray,
    *,
    nu: float,
    dt: float,
    n_snapshots: int,
    steps_per_snapshot: int,
    forcing: np.ndarray | None = None,
    backend: str = "numba",
    device: str | None = None,
    dtype: str = "float64",
) -> np.ndarray:
    """Integrate vorticity fields in time, recording a snapshot every ``steps_per_snapshot``.

    Parameters
    ----------
    w0 : numpy.ndarray
        Vorticity ``[n, N, N]`` on the grid ``(x_i, y_j) = (i/N, j/N)``, first index ``x``.
    nu : float
        Viscosity ν ≥ 0.
    dt : float
        Time step.
    n_snapshots : int
        Number of snapshots to return.
    steps_per_snapshot : int
        Steps between snapshots; snapshot ``k`` is at time ``(k + 1) · steps_per_snapshot · dt``.
    forcing : numpy.ndarray, optional
        Time-independent forcing ``f`` ``[N, N]`` (default 0).
    backend : {"numba", "torch"}
        ``"numba"``: the CPU kernel of this module, samples in parallel over numba threads.
        ``"torch"``: :func:`pdeml.solvers.navier_stokes_torch.integrate_vorticity_torch`.
    device : str, optional
        Torch device (``"cpu"``, ``"cuda"``, ...; default CUDA when available). Only
        ``None`` or ``"cpu"`` with the numba backend.
    dtype : {"float64", "float32"}
        Working precision of the whole time loop (also ``np.float32``, ...). ``"float32"``
        halves the memory traffic of every FFT and product; its error against float64 is
        measured in docs/problems/navier_stokes.md. The symbols are computed in float64
        and rounded once.

    Returns
    -------
    numpy.ndarray
        Snapshots ``[n, n_snapshots, N, N]`` in ``dtype``.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    dtype = check_dtype(dtype)
    check_scheme(nu, dt, n_snapshots, steps_per_snapshot)
    if backend == "torch":
        from pdeml.solvers.navier_stokes_torch import integrate_vorticity_torch

        return integrate_vorticity_torch(
            w0,
            nu=nu,
            dt=dt,
            n_snapshots=n_snapshots,
            steps_per_snapshot=steps_per_snapshot,
            forcing=forcing,
            device=device,
            dtype=dtype,
        )
    if device not in (None, "cpu"):
        raise ValueError(f"device: the numba backend runs on the CPU only, got {device!r}")
    w0, forcing = check_vorticity(w0, forcing)
    ops = spectral_operators(w0.shape[1], float(nu), float(dt))
    real, complex_ = np.dtype(dtype), np.result_type(dtype, np.complex64)
    return _cn_heun_kernel(
        w0.astype(real),
        np.fft.rfft2(forcing).astype(complex_),
        ops.derivatives.astype(complex_),
        ops.mask.astype(real),
        ops.decay.astype(real),
        ops.step.astype(real),
        (0.5 * ops.step).astype(real),
        int(n_snapshots),
        int(steps_per_snapshot),
    )
