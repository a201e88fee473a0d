"""Fourier pseudo-spectral reference solvers with exponential time differencing.

Periodic problems whose linear part is diagonal in Fourier space (Burgers, Navier–Stokes in
vorticity form) are integrated with the fourth-order exponential time-differencing
Runge–Kutta scheme ETDRK4 of Cox & Matthews (J. Comput. Phys. 176, 2002): the stiff linear
part is integrated exactly and only the nonlinear term is treated explicitly. The scheme's
coefficients are evaluated by the contour integrals of Kassam & Trefethen (SIAM J. Sci.
Comput. 26, 2005), which avoid the cancellation that ruins the textbook formulas for small
``h L``.

The shared piece is :func:`etdrk4_coefficients`; each equation adds its symbols and its
numba time loop (``burgers_*`` below). The reference-solver adapter that checks a problem
and calls these kernels is :mod:`pdeml.problems.burgers.solver`.
"""

from __future__ import annotations

import math

import numba
import numpy as np

#: Points on the upper half of the contour; Kassam & Trefethen find 32 (of a full circle of
#: 64) gives the coefficients to about machine precision for real symbols.
CONTOUR_POINTS = 32


def etdrk4_coefficients(linear: np.ndarray, h: float) -> tuple[np.ndarray, ...]:
    """ETDRK4 coefficients for a diagonal linear operator with real symbols.

    Parameters
    ----------
    linear : numpy.ndarray
        Real symbols ``L`` of the linear operator (any shape), typically ``≤ 0``.
    h : float
        Time step.

    Returns
    -------
    tuple of numpy.ndarray
        ``(E, E2, Q, f1, f2, f3)``, each shaped like ``linear``: ``E = exp(hL)``,
        ``E2 = exp(hL/2)``, ``Q = h φ1(hL/2)/2`` and the three weights of the final stage.

    Notes
    -----
    Each φ-type function is averaged over a circle of radius 1 centred at ``hL`` (Cauchy's
    integral formula), which is exact up to round-off where the direct formula suffers
    catastrophic cancellation (``|hL| ≪ 1``, including ``L = 0``). For real ``L`` the values
    at conjugate points are conjugate, so the upper half circle and the real part suffice.
    """
    hl = h * np.asarray(linear, dtype=np.float64)
    roots = np.exp(1j * np.pi * (np.arange(1, CONTOUR_POINTS + 1) - 0.5) / CONTOUR_POINTS)
    z = hl[..., None] + roots  # points on the contour around each h L
    ez = np.exp(z)
    z3 = z**3
    q = h * np.mean((np.exp(z / 2) - 1.0) / z, axis=-1).real
    f1 = h * np.mean((-4.0 - z + ez * (4.0 - 3.0 * z + z**2)) / z3, axis=-1).real
    f2 = h * np.mean((2.0 + z + ez * (z - 2.0)) / z3, axis=-1).real
    f3 = h * np.mean((-4.0 - 3.0 * z - z**2 + ez * (4.0 - z)) / z3, axis=-1).real
    return np.exp(hl), np.exp(hl / 2), q, f1, f2, f3


def steps_per_interval(interval: float, dt: float) -> int:
    """Smallest number of equal steps of at most ``dt`` that cover ``interval`` exactly."""
    ratio = interval / dt
    # The tolerance keeps e.g. 1.0 / 1e-3 = 1000.0000000000001 at 1000 steps, not 1001.
    return max(1, math.ceil(ratio - 1e-9 * ratio))


# -- Burgers --------------------------------------------------------------------------------
def burgers_symbols(n: int, nu: float, dealias: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fourier symbols of ``u_t = ν u_xx − (u²/2)_x`` on the grid ``x_j = j/n``, rfft order.

    Returns
    -------
    linear : numpy.ndarray
        ``−ν k²`` with ``k = 2π m``, ``m = 0 .. n//2``.
    advect : numpy.ndarray
        ``−i k / 2``, the symbol that turns the transform of ``u²`` into that of ``−(u²/2)_x``;
        zero at the Nyquist mode, whose derivative is not defined by real data.
    mask : numpy.ndarray
        1 on the modes kept by the 2/3 rule (``3m < n``), 0 elsewhere; all ones when
        ``dealias`` is false.
    """
    m = np.arange(n // 2 + 1)
    k = 2.0 * np.pi * m
    advect = -0.5j * k
    if n % 2 == 0:
        advect[-1] = 0.0
    # A product of two fields on modes |m| < n/3 aliases only onto |m| > n/3: 2/3 rule.
    mask = (3 * m < n).astype(np.float64) if dealias else np.ones(m.size)
    return -nu * k**2, advect, mask


@numba.njit(cache=True)
def _burgers_nonlinear(v, advect, mask, n):  # pragma: no cover - compiled
    """Transform of ``−(u²/2)_x`` for ``u`` with transform ``v``, dealiased by ``mask``."""
    u = np.fft.irfft(v * mask, n)
    w = np.fft.rfft(u * u)
    return w * (advect * mask)


@numba.njit(cache=True, parallel=True)
def _burgers_etdrk4_kernel(
    u0, n_out, steps, e, e2, q, f1, f2, f3, advect, mask
):  # pragma: no cover - compiled
    """Advance each row of ``u0`` by ``n_out`` intervals of ``steps`` ETDRK4 steps.

    Returns the solution at the end of every interval, shape ``[n_samples, n_out, n]``.
    """
    n_samples, n = u0.shape
    out = np.empty((n_samples, n_out, n))
    for s in numba.prange(n_samples):
        v = np.fft.rfft(u0[s])
        for j in range(n_out):
            for _ in range(steps):
                nv = _burgers_nonlinear(v, advect, mask, n)
                a = e2 * v + q * nv
                na = _burgers_nonlinear(a, advect, mask, n)
                b = e2 * v + q * na
                nb = _burgers_nonlinear(b, advect, mask, n)
                c = e2 * a + q * (2.0 * nb - nv)
                nc = _burgers_nonlinear(c, advect, mask, n)
                v = e * v + f1 * nv + 2.0 * f2 * (na + nb) + f3 * nc
            out[s, j] = np.fft.irfft(v, n)
    return out


def burgers_etdrk4(
    u0: np.ndarray, nu: float, interval: float, n_out: int, dt: float, dealias: bool = True
) -> np.ndarray:
    """Solve ``u_t + (u²/2)_x = ν u_xx`` on the periodic grid ``x_j = j/N`` by ETDRK4.

    Parameters
    ----------
    u0 : numpy.ndarray
        Initial conditions ``[n, N]``, float64.
    nu : float
        Viscosity.
    interval : float
        Time between two outputs.
    n_out : int
        Number of outputs, at ``interval, 2·interval, ..., n_out·interval``.
    dt : float
        Largest time step; each interval takes the fewest equal steps not longer than it.
    dealias : bool
        Apply the 2/3 rule to the nonlinear term.

    Returns
    -------
    numpy.ndarray
        The solution at the output times, ``[n, n_out, N]`` (NaN where it blew up).
    """
    steps = steps_per_interval(interval, dt)
    linear, advect, mask = burgers_symbols(u0.shape[-1], nu, dealias)
    coefficients = etdrk4_coefficients(linear, interval / steps)
    u0 = np.ascontiguousarray(u0)
    return _burgers_etdrk4_kernel(u0, n_out, steps, *coefficients, advect, mask)
