"""Periodic Poisson equation, source to solution (the Neural Spectral Methods paper's first case).

    −Δu = s   on the torus [0, 1)²,   ∫u = 0,

with the map ``s ↦ u`` to learn. As in Du, Chalapathi & Krishnapriyan (ICLR 2024, periodic
Poisson), the source is a mean-free Gaussian random field with the periodic kernel of
length scale 0.2, band-limited to the modes a 16 × 16 grid resolves. A band-limited
source has a band-limited solution, ``û_k = ŝ_k / (4π²|k|²)``, so the Fourier solver is
exact on every grid that resolves the band; a five-point finite-difference solver is the
second-order classical alternative (see :mod:`pdeml.problems.poisson.solver`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from pdeml._checks import (
    MAX_POINTS_2D,
    check_count,
    check_divides,
    check_seed,
    grid_points,
    require_int,
    require_positive,
)
from pdeml.problems.base import Fields, Problem, make_solver, register_problem, sample_rng

if TYPE_CHECKING:
    from pdeml.problems.poisson.solver import PoissonSolver
    from pdeml.problems.poisson.spectral import PoissonForm


@register_problem
@dataclasses.dataclass(frozen=True)
class Poisson2D(Problem):
    """Periodic Poisson equation with a random source, source to solution.

    Parameters
    ----------
    length_scale : float
        Length scale ``ℓ`` of the periodic kernel ``exp(−2 sin²(π r)/ℓ²)`` of the source in
        each direction (the source's covariance is the product over ``x`` and ``y``).
    source_modes : int
        The source holds the wavenumbers ``|k_x|, |k_y| < source_modes`` (8: the modes a
        16 × 16 grid resolves, the paper's source grid); its mean is zero.
    resolution : int
        Points per side of the stored grid ``x_j = j / resolution`` (right end excluded);
        at least ``2 · source_modes − 1`` so the source is resolved.
    solver_resolution : int
        Points per side of the grid the reference solver runs on; a multiple of
        ``resolution``.

    Fields
    ------
    inputs : ``s`` ``[n, x, y]``
    outputs : ``u`` ``[n, x, y]``
    """

    name = "poisson"
    INPUTS: ClassVar[Fields] = {"s": ("x", "y")}
    OUTPUTS: ClassVar[Fields] = {"u": ("x", "y")}

    length_scale: float = 0.2
    source_modes: int = 8
    resolution: int = 64
    solver_resolution: int = 64

    def validate(self) -> None:
        require_positive(self.name, "length_scale", self.length_scale)
        require_int(self.name, "source_modes", self.source_modes, 2, MAX_POINTS_2D // 2)
        least = 2 * self.source_modes - 1
        grid_points(self.name, "resolution", self.resolution, least, dims=2)
        grid_points(self.name, "solver_resolution", self.solver_resolution, least, dims=2)
        check_divides(self.name, self.resolution, self.solver_resolution)
        self.check_solver_memory(
            f"solver_resolution = {self.solver_resolution} and source_modes = {self.source_modes}"
        )

    def sample_nbytes(self, resolution: int | None = None) -> float:
        """Source synthesis (complex ``r × (2M − 1)`` factors) and the FFT solve on ``r²``."""
        r = self.solver_resolution if resolution is None else resolution
        k = 2 * self.source_modes - 1
        return 32.0 * r * k + 16.0 * k * k + 80.0 * r * r

    def spatial_dims(self) -> tuple[str, ...]:
        return ("x", "y")

    def coords(self, resolution: int | None = None) -> dict[str, np.ndarray]:
        resolution = self.resolution if resolution is None else resolution
        x = np.arange(resolution) / resolution
        return {"x": x, "y": x.copy()}

    def min_resolution(self) -> int:
        """``2 · source_modes − 1``: the grid must resolve the source."""
        return 2 * self.source_modes - 1

    def kernel_spectrum(self) -> np.ndarray:
        """Variances ``λ_k`` of the source's Fourier coefficients in one direction,
        ``k = −(M − 1) .. M − 1`` (``M = source_modes``).

        The periodic kernel ``exp(−2 sin²(πr)/ℓ²) = exp((cos 2πr − 1)/ℓ²)`` has the Fourier
        coefficients ``e^{−1/ℓ²} I_k(1/ℓ²)`` (modified Bessel functions).
        """
        # scipy.special costs a quarter of a second to import: loaded here, not with pdeml.
        import scipy.special

        k = np.arange(-(self.source_modes - 1), self.source_modes)
        return scipy.special.ive(k, 1.0 / self.length_scale**2)

    def source_coefficients(self, n: int, seed: int, *, start: int = 0) -> np.ndarray:
        """Complex coefficients ``ŝ_k`` ``[n, 2M − 1, 2M − 1]`` (``k = −(M−1) .. M−1`` per
        axis) of samples ``start .. start + n − 1``; Hermitian, so the source is real."""
        n, seed = check_count(n), check_seed(seed)
        m = self.source_modes
        lam = self.kernel_spectrum()
        scale = np.sqrt(lam[:, None] * lam[None, :])
        out = np.empty((n, 2 * m - 1, 2 * m - 1), dtype=np.complex128)
        for i in range(n):
            # Real white noise on a (2M−1)² grid has Hermitian Fourier coefficients of unit
            # variance: scaled by √λ they are the band-limited field's coefficients.
            noise = sample_rng(seed, start + i).standard_normal((2 * m - 1, 2 * m - 1))
            z = np.fft.fftshift(np.fft.fft2(noise)) / (2 * m - 1)
            out[i] = scale * z
        out[:, m - 1, m - 1] = 0.0  # mean-free
        return out

    def sample_inputs(
        self, n: int, seed: int, *, start: int = 0, resolution: int | None = None
    ) -> dict[str, np.ndarray]:
        n, resolution = self.check_draw(n, resolution, dims=2, minimum=2 * self.source_modes - 1)
        return {"s": self.field_values(self.source_coefficients(n, seed, start=start), resolution)}

    def field_values(self, coefficients: np.ndarray, resolution: int) -> np.ndarray:
        """Values ``[n, r, r]`` on the grid of ``resolution`` of centred coefficients
        ``[n, 2M − 1, 2M − 1]`` (as from :meth:`source_coefficients`)."""
        m = (coefficients.shape[-1] + 1) // 2
        k = np.arange(-(m - 1), m)
        x = np.arange(resolution) / resolution
        e = np.exp(2j * np.pi * np.outer(x, k))
        return np.einsum("pk,nkl,ql->npq", e, coefficients, e, optimize=True).real

    def reference_solver(self, **options: Any) -> PoissonSolver:
        """The Fourier solver (exact for the band-limited source), or with
        ``method="finite_difference"`` the five-point scheme (second order)."""
        from pdeml.problems.poisson.solver import PoissonSolver

        return make_solver(self, PoissonSolver, options)

    def spectral_form(self, inputs: Mapping[str, Any], modes: Any = None) -> PoissonForm:
        """The spectral form of this problem for a batch of inputs (Neural Spectral Method).

        Parameters
        ----------
        inputs : dict
            ``{"s": array}``, a batch (sample axis first) or one sample.
        modes : int or (int, int), optional
            Fourier modes ``|k| < modes`` per direction (default 16).

        Returns
        -------
        pdeml.problems.poisson.spectral.PoissonForm
        """
        from pdeml.problems.poisson.spectral import PoissonForm

        return PoissonForm.from_inputs(self, inputs, modes)
