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
the symbols shared by both backends, the numba backend and
:class:`NavierStokesSpectralSolver`; the torch backend (CPU or CUDA) is in
:mod:`pdeml.solvers.navier_stokes_torch`.

FFT choice: the whole time loop is one numba kernel calling ``numpy.fft`` through
rocket-fft, one sample per thread (``prange``). Measured against ``scipy.fft(...,
workers=cores)`` on the whole batch (validation/benchmarks/navier_stokes.py, 2-core CPU,
float64, steps per second for 1 | 8 samples): 64², 6400 | 1660 against 2190 | 250; 256²,
455 | 110 against 179 | 23. With numba kernels instead of numpy for the pointwise work the
scipy route was still 1.3 to 4 times slower, from a Python or a numba time loop. The torch
backend on the same CPU ran at 0.16 to 0.57 times the numba kernel's speed.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple

import numba
import numpy as np

from pdeml.solvers.base import ReferenceSolver

if TYPE_CHECKING:
    from pdeml.problems.navier_stokes import NavierStokes2D

BACKENDS = ("numba", "torch")


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
    """

    derivatives: np.ndarray
    mask: np.ndarray
    gain: np.ndarray
    step: np.ndarray


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
    return SpectralOperators(
        np.ascontiguousarray(derivatives), mask, (1.0 + half) / (1.0 - half), dt / (1.0 - half)
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
    w0, forcing_hat, derivatives, mask, gain, step, n_snapshots, steps
):  # pragma: no cover - compiled
    """Advance each sample of ``w0`` by ``n_snapshots`` × ``steps`` steps, one thread each.

    Returns the vorticity after every ``steps`` steps, shape ``[n_samples, n_snapshots, n, n]``.
    """
    n_samples, n, _ = w0.shape
    rows, cols = forcing_hat.shape
    out = np.empty((n_samples, n_snapshots, n, n))
    for s in numba.prange(n_samples):
        work = np.empty((4, rows, cols), dtype=np.complex128)
        explicit = np.empty((rows, cols), dtype=np.complex128)
        predicted = np.empty((rows, cols), dtype=np.complex128)
        wh = np.fft.rfft2(w0[s])
        for k in range(n_snapshots):
            for _ in range(steps):
                adv = _advection(wh, derivatives, n, work)
                for i in range(rows):
                    for j in range(cols):
                        explicit[i, j] = forcing_hat[i, j] - mask[i, j] * adv[i, j]
                        predicted[i, j] = gain[i, j] * wh[i, j] + step[i, j] * explicit[i, j]
                adv = _advection(predicted, derivatives, n, work)
                for i in range(rows):
                    for j in range(cols):
                        corrected = forcing_hat[i, j] - mask[i, j] * adv[i, j]
                        wh[i, j] = gain[i, j] * wh[i, j] + 0.5 * step[i, j] * (
                            explicit[i, j] + corrected
                        )
            out[s, k] = np.fft.irfft2(wh, s=(n, n))
    return out


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


def _check_scheme(nu: float, dt: float, n_snapshots: int, steps_per_snapshot: int) -> None:
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

    Returns
    -------
    numpy.ndarray
        Float64 snapshots ``[n, n_snapshots, N, N]``.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    _check_scheme(nu, dt, n_snapshots, steps_per_snapshot)
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
        )
    if device not in (None, "cpu"):
        raise ValueError(f"device: the numba backend runs on the CPU only, got {device!r}")
    w0, forcing = check_vorticity(w0, forcing)
    ops = spectral_operators(w0.shape[1], float(nu), float(dt))
    return _cn_heun_kernel(
        w0,
        np.fft.rfft2(forcing),
        ops.derivatives,
        ops.mask,
        ops.gain,
        ops.step,
        int(n_snapshots),
        int(steps_per_snapshot),
    )


class NavierStokesSpectralSolver(ReferenceSolver):
    """Reference solver of :class:`pdeml.problems.NavierStokes2D`: CN–Heun pseudo-spectral.

    Continues each input trajectory from its last snapshot ``w_in[:, -1]`` (time ``t_in``)
    to ``T``, returning ``w_out`` at ``t_in + 1, ..., T`` on the grid of the inputs. The
    time step is the problem's ``dt``: it is part of the problem because the stored data
    depend on it.

    Parameters
    ----------
    problem : NavierStokes2D
        The problem (``nu``, ``T``, ``t_in``, ``forcing_amplitude``, ``dt`` are read from it).
    backend : {"numba", "torch"}
        CPU numba kernel (default) or torch (CPU or CUDA, float64): the same scheme and
        symbols, results equal to round-off.
    device : str, optional
        Torch device; default CUDA when available, else CPU. Must be ``None`` or ``"cpu"``
        with the numba backend.

    Raises
    ------
    ValueError
        For an unknown backend or a device the backend cannot use.
    FloatingPointError
        From :meth:`solve`, if the solution becomes NaN or infinite (``dt`` too large).
    """

    name = "navier-stokes-spectral"

    def __init__(
        self, problem: NavierStokes2D, *, backend: str = "numba", device: str | None = None
    ) -> None:
        super().__init__(problem)
        if backend not in BACKENDS:
            raise ValueError(f"{self.name}: backend must be one of {BACKENDS}, got {backend!r}")
        if device is not None and not isinstance(device, str):
            raise ValueError(f"{self.name}: device must be a string or None, got {device!r}")
        if backend == "numba" and device not in (None, "cpu"):
            raise ValueError(
                f"{self.name}: device {device!r} needs backend='torch'; numba runs on the CPU"
            )
        if backend == "torch":
            from pdeml.solvers.navier_stokes_torch import resolve_device

            resolve_device(device)  # fail now on a device this machine lacks, not mid-run
        self.backend = backend
        self.device = device

    def options(self) -> dict[str, Any]:
        """``{"backend": ..., "device": ...}`` (device ``None`` means the backend's default)."""
        return {"backend": self.backend, "device": self.device}

    def _solve(self, inputs: dict[str, np.ndarray], resolution: int) -> dict[str, np.ndarray]:
        problem = self.problem
        w_out = integrate_vorticity(
            inputs["w_in"][:, -1],
            nu=problem.nu,
            dt=problem.dt,
            n_snapshots=problem.T - problem.t_in,
            steps_per_snapshot=problem.steps_per_unit_time,
            forcing=problem.forcing(resolution),
            backend=self.backend,
            device=self.device,
        )
        if not np.all(np.isfinite(w_out)):
            raise FloatingPointError(
                f"{self.name}: the solution became NaN or infinite; dt={problem.dt} is too "
                f"large for resolution {resolution} and nu={problem.nu}, use a smaller dt"
            )
        return {"w_out": w_out}
