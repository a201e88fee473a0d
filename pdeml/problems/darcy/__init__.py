"""Steady Darcy flow on the unit square (the FNO paper's 2D benchmark).

    −∇·(a(x) ∇u(x)) = f,   x ∈ (0, 1)²,   u = 0 on the boundary,

with the map ``a ↦ u`` to learn. In the paper, ``a = 12`` where a zero-Neumann Gaussian
random field with covariance (−Δ + 9I)^(−2) is non-negative and ``a = 3`` where it is
negative, ``f = 1``, generated on 421×421 and downsampled by striding.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from pdeml._checks import (
    MAX_POINTS_2D,
    check_seed,
    grid_points,
    require_finite,
    require_int,
    require_positive,
)
from pdeml.problems.base import Fields, Problem, make_solver, register_problem, sample_rng
from pdeml.problems.grf import NeumannGRF

if TYPE_CHECKING:
    from pdeml.problems.darcy.solver import DarcyFDSolver
    from pdeml.problems.darcy.spectral import DarcyForm
    from pdeml.problems.residual import PDEResidual

COEFFICIENT_KINDS = ("piecewise", "lognormal")


@register_problem
@dataclasses.dataclass(frozen=True)
class Darcy2D(Problem):
    """Darcy flow with a random coefficient, coefficient to pressure.

    Parameters
    ----------
    a_plus, a_minus : float
        Coefficient values where the field is at or above / below ``threshold``
        (``coefficient = "piecewise"``).
    threshold : float
        Level that splits the two phases.
    coefficient : {"piecewise", "lognormal"}
        ``"piecewise"``: the FNO paper's two-phase medium; ``"lognormal"``: ``a = exp(g)``,
        a smooth coefficient for physics-informed methods.
    sigma, tau, gamma : float
        Covariance σ²(−Δ + τ²I)^(−γ) of the zero-Neumann field ``g``. The default
        σ = τ^(γ−1) = 3 is the normalisation of the FNO paper's generator.
    forcing : float
        Constant source ``f``.
    resolution : int
        Points per side of the stored grid, both ends included; ``(solver_resolution − 1)``
        must be a multiple of ``(resolution − 1)``: from 421, for example 211, 141, 106, 85,
        71, 61, 43, 36, 31 or 29 (all are listed by :meth:`allowed_resolutions`).
    solver_resolution : int
        Points per side of the grid the reference solver runs on.
    n_modes : int
        Cosine modes per direction that carry randomness (0: ``solver_resolution``).

    Fields
    ------
    inputs : ``a`` ``[n, x, y]``
    outputs : ``u`` ``[n, x, y]``
    """

    name = "darcy"
    MIN_RESOLUTION = 5
    INPUTS: ClassVar[Fields] = {"a": ("x", "y")}
    OUTPUTS: ClassVar[Fields] = {"u": ("x", "y")}

    a_plus: float = 12.0
    a_minus: float = 3.0
    threshold: float = 0.0
    coefficient: str = "piecewise"
    sigma: float = 3.0
    tau: float = 3.0
    gamma: float = 2.0
    forcing: float = 1.0
    resolution: int = 85
    solver_resolution: int = 421
    n_modes: int = 0

    def validate(self) -> None:
        require_positive(self.name, "a_plus", self.a_plus)
        require_positive(self.name, "a_minus", self.a_minus)
        require_finite(self.name, "threshold", self.threshold)
        if not isinstance(self.coefficient, str) or self.coefficient not in COEFFICIENT_KINDS:
            raise ValueError(
                f"{self.name}: coefficient must be one of {COEFFICIENT_KINDS}, "
                f"got {self.coefficient!r}"
            )
        require_positive(self.name, "sigma", self.sigma)
        require_positive(self.name, "tau", self.tau, allow_zero=True)
        require_positive(self.name, "gamma", self.gamma)
        require_finite(self.name, "forcing", self.forcing)
        grid_points(self.name, "resolution", self.resolution, 5, dims=2)
        grid_points(self.name, "solver_resolution", self.solver_resolution, 5, dims=2)
        require_int(self.name, "n_modes", self.n_modes, 0, MAX_POINTS_2D)
        if (self.solver_resolution - 1) % (self.resolution - 1) != 0:
            # A few examples only: listing every allowed value is long for large grids.
            examples = ", ".join(map(str, self.allowed_resolutions()[:6]))
            raise ValueError(
                f"{self.name}: resolution {self.resolution} cannot be strided from "
                f"solver_resolution {self.solver_resolution}; expected (solver_resolution - 1) "
                f"to be a multiple of (resolution - 1), e.g. resolution one of {examples}"
            )
        modes = self.n_modes or self.solver_resolution
        self.check_solver_memory(
            f"solver_resolution = {self.solver_resolution} and {modes} GRF modes (n_modes)"
        )

    def sample_nbytes(self, resolution: int | None = None) -> float:
        """Sparse solve on ``resolution``² unknowns (LU fill-in included) plus the GRF."""
        r = self.solver_resolution if resolution is None else resolution
        m = self.n_modes or self.solver_resolution
        return 300.0 * r * r + 8.0 * (2 * r * m + m * m)

    def allowed_resolutions(self) -> tuple[int, ...]:
        # Divisors in pairs up to the square root: O(sqrt(m)) steps, not O(m).
        m = self.solver_resolution - 1
        divisors = set()
        for d in range(1, math.isqrt(m) + 1):
            if m % d == 0:
                divisors.update((d, m // d))
        return tuple(sorted((m // d + 1 for d in divisors if m // d >= 4), reverse=True))

    def spatial_dims(self) -> tuple[str, ...]:
        return ("x", "y")

    def grid_includes_right_end(self) -> bool:
        return True

    def coords(self, resolution: int | None = None) -> dict[str, np.ndarray]:
        resolution = self.resolution if resolution is None else resolution
        x = np.linspace(0.0, 1.0, resolution)
        return {"x": x, "y": x.copy()}

    def grf(self) -> NeumannGRF:
        """The zero-Neumann field ``g`` behind the coefficient."""
        modes = self.n_modes or self.solver_resolution
        return NeumannGRF(2, self.sigma, self.tau, self.gamma, modes)

    def coefficient_from_field(self, g: np.ndarray) -> np.ndarray:
        """Map the Gaussian field ``g`` to the coefficient ``a``."""
        if self.coefficient == "lognormal":
            return np.exp(g)
        return np.where(g >= self.threshold, self.a_plus, self.a_minus)

    def sample_inputs(
        self, n: int, seed: int, *, start: int = 0, resolution: int | None = None
    ) -> dict[str, np.ndarray]:
        seed = check_seed(seed)
        n, resolution = self.check_draw(n, resolution, dims=2, minimum=5)
        rngs = [sample_rng(seed, start + i) for i in range(n)]
        g = self.grf().sample(rngs, resolution)
        return {"a": self.coefficient_from_field(g)}

    def reference_solver(self, **options: Any) -> DarcyFDSolver:
        """Five-point finite differences (:mod:`pdeml.problems.darcy.solver`)."""
        from pdeml.problems.darcy.solver import DarcyFDSolver

        return make_solver(self, DarcyFDSolver, options)

    def physics(self, inputs: Mapping[str, Any]) -> PDEResidual:
        """Residual ``−∇·(a∇u) − f`` for one coefficient ``inputs["a"]``, ``u = 0`` on the boundary.

        See :func:`pdeml.problems.darcy.residual.darcy_residual`, including why the strong
        form is ill-defined on the jumps of the piecewise coefficient.
        """
        from pdeml.problems.darcy.residual import darcy_residual

        return darcy_residual(self, inputs)

    def spectral_form(self, inputs: Mapping[str, Any], modes: Any = None) -> DarcyForm:
        """The spectral form of this problem for a batch of inputs (Neural Spectral Method).

        Parameters
        ----------
        inputs : dict
            ``{"a": array}``, a batch (sample axis first) or one sample.
        modes : int or (int, int), optional
            Basis sizes (24 free coefficients per direction by default).

        Returns
        -------
        pdeml.problems.darcy.spectral.DarcyForm
            See :mod:`pdeml.spectral.form`.
        """
        from pdeml.problems.darcy.spectral import DarcyForm

        return DarcyForm.from_inputs(self, inputs, modes)

    def error_indicator(
        self, inputs: Mapping[str, Any], outputs: Mapping[str, Any], **options: Any
    ) -> np.ndarray:
        """The finite-difference residual of the prediction, turned into an error estimate.

        See :func:`pdeml.problems.darcy.indicator.darcy_indicator` for ``options``.
        """
        from pdeml.problems.darcy.indicator import darcy_indicator

        return darcy_indicator(self, inputs, outputs, **options)

    def warm_start(
        self, inputs: Mapping[str, Any], initial: Mapping[str, Any] | None = None, **options: Any
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """AMG-preconditioned CG from ``initial`` (:mod:`pdeml.problems.darcy.indicator`)."""
        from pdeml.problems.darcy.indicator import darcy_warm_start

        return darcy_warm_start(self, inputs, initial, **options)
