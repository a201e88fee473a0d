"""Gaussian random fields with covariance σ²(−Δ + τ²I)^(−γ), seeded per sample.

Two families:

* :class:`PeriodicGRF` on the unit torus in 1D or 2D, Fourier basis ``exp(2πi k·x)``,
  eigenvalues ``4π²|k|²`` of −Δ (Burgers, Navier–Stokes);
* :class:`NeumannGRF` on the unit square with zero-Neumann boundary, cosine basis
  ``∏ √2 cos(π k_d x_d)`` (orthonormal in L²), eigenvalues ``π²|k|²`` (Darcy).

A field is a truncated Karhunen–Loève series whose random coefficients are drawn for a
fixed set of modes (``n_modes`` per direction), so the same ``(seed, index)`` gives the same
continuous function whatever grid it is evaluated on: a coarse grid holds exactly every
``stride``-th value of a fine one. The constant mode is zero (mean-zero field), as in the
FNO paper's data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from pdeml._checks import require_int, require_positive


@dataclasses.dataclass(frozen=True)
class _GaussianField:
    """Parameters, their checks and sampling shared by the two families."""

    dim: int
    sigma: float
    tau: float
    gamma: float
    n_modes: int

    def __post_init__(self) -> None:
        owner = type(self).__name__
        if self.dim not in (1, 2):
            raise ValueError(f"{owner}: dim must be 1 or 2, got {self.dim!r}")
        require_positive(owner, "sigma", self.sigma)
        require_positive(owner, "tau", self.tau, allow_zero=True)
        require_positive(owner, "gamma", self.gamma)
        require_int(owner, "n_modes", self.n_modes, 2)

    def coefficients(self, seeds: Sequence[np.random.Generator]) -> np.ndarray:
        raise NotImplementedError

    def evaluate(self, coefficients: np.ndarray, resolution: int) -> np.ndarray:
        raise NotImplementedError

    def sample(self, seeds: Sequence[np.random.Generator], resolution: int) -> np.ndarray:
        """One field per generator on the grid of ``resolution`` points per direction."""
        return self.evaluate(self.coefficients(seeds), resolution)


@dataclasses.dataclass(frozen=True)
class PeriodicGRF(_GaussianField):
    """Periodic Gaussian random field on ``[0, 1)^dim`` with covariance σ²(−Δ+τ²I)^(−γ).

    Parameters
    ----------
    dim : int
        1 or 2.
    sigma, tau, gamma : float
        Covariance parameters; the Fourier coefficient of wavenumber ``k`` has variance
        ``σ² (4π²|k|² + τ²)^(−γ)``.
    n_modes : int
        Number of Fourier modes per direction that carry randomness (wavenumbers
        ``-n_modes//2 .. n_modes//2 - 1``); the Nyquist mode is left at zero so the field
        is real without projection.

    Notes
    -----
    Coefficients are drawn as complex normals ``z_k`` with ``E|z_k|² = 1`` on the full
    (non-Hermitian) mode set and the field is ``√2 Re Σ_k s_k z_k e^{2πik·x}``: the real part
    halves the variance of each mode and the √2 restores it, which is the recipe of the FNO
    paper's data generator.
    """

    def wavenumbers(self) -> list[np.ndarray]:
        """Integer wavenumbers per direction, in numpy FFT order, length ``n_modes``."""
        return [np.fft.fftfreq(self.n_modes, d=1.0 / self.n_modes)] * self.dim

    def mode_std(self) -> np.ndarray:
        """Standard deviation ``s_k`` of each coefficient, shape ``(n_modes,) * dim``."""
        grids = np.meshgrid(*self.wavenumbers(), indexing="ij")
        k2 = sum(g**2 for g in grids)
        std = self.sigma * (4.0 * np.pi**2 * k2 + self.tau**2) ** (-self.gamma / 2.0)
        std[(0,) * self.dim] = 0.0  # mean-zero field
        nyquist = self.n_modes // 2 if self.n_modes % 2 == 0 else None
        if nyquist is not None:
            for axis in range(self.dim):
                index = [slice(None)] * self.dim
                index[axis] = nyquist
                std[tuple(index)] = 0.0
        return std

    def coefficients(self, seeds: Sequence[np.random.Generator]) -> np.ndarray:
        """Random complex coefficients ``s_k z_k`` for each generator, FFT order."""
        std = self.mode_std()
        out = np.empty((len(seeds), *std.shape), dtype=np.complex128)
        for i, rng in enumerate(seeds):
            z = rng.standard_normal(std.shape) + 1j * rng.standard_normal(std.shape)
            out[i] = std * z / np.sqrt(2.0)
        return out

    def evaluate(self, coefficients: np.ndarray, resolution: int) -> np.ndarray:
        """Field values on the uniform periodic grid of ``resolution`` points per direction.

        ``resolution`` may be at least ``n_modes`` (spectral zero-padding, exact) or a
        divisor of ``n_modes`` (evaluation on the ``n_modes`` grid, then striding).
        """
        m = self.n_modes
        if resolution >= m:
            grid = resolution
        elif m % resolution == 0:
            grid = m
        else:
            raise ValueError(
                f"PeriodicGRF: resolution must be >= n_modes ({m}) or divide it, got {resolution}"
            )
        n = coefficients.shape[0]
        padded = np.zeros((n,) + (grid,) * self.dim, dtype=np.complex128)
        k = np.fft.fftfreq(m, d=1.0 / m).astype(int)
        index = np.ix_(*([k % grid] * self.dim))
        padded[(slice(None), *index)] = coefficients
        # norm="forward" puts no 1/N on the inverse: values are the series itself.
        axes = tuple(range(1, self.dim + 1))
        field = np.sqrt(2.0) * np.fft.ifftn(padded, axes=axes, norm="forward").real
        stride = grid // resolution
        return np.ascontiguousarray(field[(slice(None), *([slice(None, None, stride)] * self.dim))])


@dataclasses.dataclass(frozen=True)
class NeumannGRF(_GaussianField):
    """Zero-Neumann Gaussian random field on ``[0, 1]^dim``, covariance σ²(−Δ+τ²I)^(−γ).

    The field is ``Σ_k σ (π²|k|² + τ²)^(−γ/2) ξ_k e_k(x)`` with ``ξ_k ~ N(0, 1)`` and the
    L²-orthonormal cosine eigenfunctions ``e_k = ∏_d c_{k_d} cos(π k_d x_d)``,
    ``c_0 = 1``, ``c_{k>0} = √2``, for ``k_d = 0 .. n_modes - 1`` (the constant mode zero).
    It is evaluated on grids that include both ends, ``x_j = j / (resolution - 1)``.
    """

    def mode_std(self) -> np.ndarray:
        """Standard deviation of each cosine coefficient, shape ``(n_modes,) * dim``."""
        k = np.arange(self.n_modes)
        grids = np.meshgrid(*([k] * self.dim), indexing="ij")
        k2 = sum(g**2 for g in grids)
        std = self.sigma * (np.pi**2 * k2 + self.tau**2) ** (-self.gamma / 2.0)
        std[(0,) * self.dim] = 0.0
        return std

    @staticmethod
    def basis(n_modes: int, resolution: int) -> np.ndarray:
        """Orthonormal cosines ``c_k cos(π k x_j)``, shape ``(resolution, n_modes)``."""
        x = np.linspace(0.0, 1.0, resolution)
        k = np.arange(n_modes)
        basis = np.cos(np.pi * np.outer(x, k))
        basis[:, 1:] *= np.sqrt(2.0)
        return basis

    def coefficients(self, seeds: Sequence[np.random.Generator]) -> np.ndarray:
        """Random coefficients ``s_k ξ_k`` for each generator."""
        std = self.mode_std()
        out = np.empty((len(seeds), *std.shape))
        for i, rng in enumerate(seeds):
            out[i] = std * rng.standard_normal(std.shape)
        return out

    def evaluate(self, coefficients: np.ndarray, resolution: int) -> np.ndarray:
        """Field values on the grid of ``resolution`` points per direction (both ends)."""
        if resolution < 2:
            raise ValueError(f"NeumannGRF: resolution must be >= 2, got {resolution}")
        basis = self.basis(self.n_modes, resolution)
        if self.dim == 1:
            return coefficients @ basis.T
        # Separable sum: B c B^T for each sample, done as two matrix products.
        return np.einsum("xk,nkl,yl->nxy", basis, coefficients, basis, optimize=True)
