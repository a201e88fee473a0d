"""Viscous Burgers equation on the periodic unit interval (the FNO paper's 1D benchmark).

    u_t + (u²/2)_x = ν u_xx,   x ∈ [0, 1) periodic,   t ∈ (0, T],

with the map ``u(·, 0) ↦ u(·, T)`` to learn, ``u0 ~ N(0, σ²(−Δ + τ²I)^(−γ))``. The paper's
values are ν = 0.1, σ = 25, τ = 5, γ = 2, T = 1, generated on 8192 points.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from pdeml._checks import (
    MAX_SNAPSHOTS,
    check_divides,
    check_seed,
    grid_points,
    require_int,
    require_positive,
)
from pdeml.problems.base import Fields, Problem, make_solver, register_problem, sample_rng
from pdeml.problems.grf import PeriodicGRF

if TYPE_CHECKING:
    from pdeml.problems.burgers.solver import BurgersSpectralSolver
    from pdeml.problems.burgers.spectral import BurgersForm
    from pdeml.problems.residual import PDEResidual


@register_problem
@dataclasses.dataclass(frozen=True)
class Burgers1D(Problem):
    """Periodic viscous Burgers, initial condition to solution at time ``T``.

    Parameters
    ----------
    nu : float
        Viscosity ν > 0.
    sigma, tau, gamma : float
        Covariance σ²(−Δ + τ²I)^(−γ) of the initial condition.
    T : float
        Final time.
    resolution : int
        Points of the stored grid ``x_j = j / resolution``; must divide ``solver_resolution``.
    solver_resolution : int
        Points of the grid the reference solver runs on (and the GRF's number of modes).
    n_t : int
        If positive, the output ``u_traj`` also holds the solution at the ``n_t`` times
        ``T/n_t, 2T/n_t, ..., T``.

    Fields
    ------
    inputs : ``u0`` ``[n, x]``
    outputs : ``u`` ``[n, x]`` (and ``u_traj`` ``[n, t, x]`` when ``n_t > 0``)
    """

    name = "burgers"
    MIN_RESOLUTION = 16
    INPUTS: ClassVar[Fields] = {"u0": ("x",)}
    OUTPUTS: ClassVar[Fields] = {"u": ("x",), "u_traj": ("t", "x")}

    nu: float = 0.1
    sigma: float = 25.0
    tau: float = 5.0
    gamma: float = 2.0
    T: float = 1.0
    resolution: int = 1024
    solver_resolution: int = 8192
    n_t: int = 0

    def validate(self) -> None:
        require_positive(self.name, "nu", self.nu)
        require_positive(self.name, "sigma", self.sigma)
        require_positive(self.name, "tau", self.tau, allow_zero=True)
        require_positive(self.name, "gamma", self.gamma)
        require_positive(self.name, "T", self.T)
        grid_points(self.name, "resolution", self.resolution, 16, dims=1)
        grid_points(self.name, "solver_resolution", self.solver_resolution, 16, dims=1)
        require_int(self.name, "n_t", self.n_t, 0, MAX_SNAPSHOTS)
        check_divides(self.name, self.resolution, self.solver_resolution)
        self.check_solver_memory(
            f"solver_resolution = {self.solver_resolution} and n_t = {self.n_t}"
        )

    def parameters_from_shapes(self, fields: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """``n_t`` from a trajectory ``u_traj`` ``[n, t, x]`` (0 without one)."""
        traj = fields.get("u_traj")
        return {"n_t": int(np.shape(traj)[1]) if traj is not None and np.ndim(traj) == 3 else 0}

    def sample_nbytes(self, resolution: int | None = None) -> float:
        """Trajectory and ETDRK4 work arrays on ``resolution`` points plus the GRF's modes."""
        r = self.solver_resolution if resolution is None else resolution
        return 8.0 * (self.n_t + 31) * r + 48.0 * max(r, self.solver_resolution)

    @property
    def output_names(self) -> tuple[str, ...]:
        """``("u",)``, and ``"u_traj"`` too when ``n_t > 0``."""
        return ("u", "u_traj") if self.n_t > 0 else ("u",)

    def coords(self, resolution: int | None = None) -> dict[str, np.ndarray]:
        resolution = self.resolution if resolution is None else resolution
        coords = {"x": np.arange(resolution) / resolution}
        if self.n_t > 0:
            coords["t"] = self.output_times()
        return coords

    def output_times(self) -> np.ndarray:
        """Times of the trajectory snapshots (``n_t`` of them, the last one ``T``)."""
        return self.T * np.arange(1, self.n_t + 1) / self.n_t

    def grf(self) -> PeriodicGRF:
        """The distribution of the initial condition."""
        return PeriodicGRF(1, self.sigma, self.tau, self.gamma, self.solver_resolution)

    def sample_inputs(
        self, n: int, seed: int, *, start: int = 0, resolution: int | None = None
    ) -> dict[str, np.ndarray]:
        seed = check_seed(seed)
        n, resolution = self.check_draw(n, resolution, dims=1, minimum=2)
        rngs = [sample_rng(seed, start + i) for i in range(n)]
        return {"u0": self.grf().sample(rngs, resolution)}

    def reference_solver(self, **options: Any) -> BurgersSpectralSolver:
        """Fourier collocation with ETDRK4 (:mod:`pdeml.problems.burgers.solver`)."""
        from pdeml.problems.burgers.solver import BurgersSpectralSolver

        return make_solver(self, BurgersSpectralSolver, options)

    def physics(self, inputs: Mapping[str, Any]) -> PDEResidual:
        """Residual ``u_t + u u_x − ν u_xx`` for one initial condition ``inputs["u0"]``.

        See :func:`pdeml.problems.burgers.residual.burgers_residual`.
        """
        from pdeml.problems.burgers.residual import burgers_residual

        return burgers_residual(self, inputs)

    def spectral_form(self, inputs: Mapping[str, Any], modes: Any = None) -> BurgersForm:
        """The spectral form of this problem for a batch of inputs (Neural Spectral Method).

        Parameters
        ----------
        inputs : dict
            ``{"u0": array}``, a batch (sample axis first) or one sample.
        modes : int or (int, int), optional
            Basis sizes (32 Fourier modes in x, 32 Chebyshev modes in t by default).

        Returns
        -------
        pdeml.problems.burgers.spectral.BurgersForm
            See :mod:`pdeml.spectral.form`.
        """
        from pdeml.problems.burgers.spectral import BurgersForm

        return BurgersForm.from_inputs(self, inputs, modes)

    def error_indicator(
        self, inputs: Mapping[str, Any], outputs: Mapping[str, Any], **options: Any
    ) -> np.ndarray:
        """Defects of the reference stepper started from the prediction.

        See :mod:`pdeml.problems.burgers.indicator`; ``options``: ``cfl``.
        """
        from pdeml.problems.burgers.indicator import burgers_indicator

        return burgers_indicator(self, inputs, outputs, **options)
