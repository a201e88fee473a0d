"""Reference solvers of the periodic Poisson equation ``−Δu = s``, ``∫u = 0``.

Both diagonalise the operator with the discrete Fourier transform of the grid values:

* ``method="spectral"`` divides by the exact symbol ``4π²|k|²``: the Fourier–Galerkin
  solution, exact (to round-off) whenever the grid resolves the source's band, as for
  :class:`~pdeml.problems.poisson.Poisson2D`;
* ``method="finite_difference"`` divides by the symbol of the five-point Laplacian,
  ``(2n sin(πk_x/n))² + (2n sin(πk_y/n))²``: the classical second-order scheme, solved
  exactly (the periodic five-point matrix is circulant, so the FFT is its eigenbasis).

The mean mode is set to zero (the gauge ``∫u = 0``; the source has mean zero). The
reference-solver adapter of ``Poisson2D`` is :mod:`pdeml.problems.poisson.solver`.
"""

from __future__ import annotations

import numpy as np

METHODS = ("spectral", "finite_difference")


def poisson_symbol(n: int, method: str) -> np.ndarray:
    """Symbol ``[n, n]`` of ``−Δ`` (``method="spectral"``) or of the five-point ``−Δ_h``
    (``"finite_difference"``) on the ``n × n`` grid of the unit torus, FFT order."""
    k = np.fft.fftfreq(n, d=1.0 / n)  # integer wavenumbers
    if method == "spectral":
        one = (2.0 * np.pi * k) ** 2
    else:
        one = (2.0 * n * np.sin(np.pi * k / n)) ** 2
    return one[:, None] + one[None, :]


def solve_periodic_poisson(s: np.ndarray, method: str = "spectral") -> np.ndarray:
    """Solve ``−Δu = s`` on the unit torus for a batch ``s`` ``[n, r, r]``, mean of ``u`` zero.

    The mean of ``s`` (which a periodic solution cannot balance) is dropped.
    """
    r = s.shape[-1]
    symbol = poisson_symbol(r, method)
    symbol[0, 0] = 1.0
    u_hat = np.fft.fft2(s, axes=(-2, -1)) / symbol
    u_hat[..., 0, 0] = 0.0
    return np.fft.ifft2(u_hat, axes=(-2, -1)).real
