"""Incompressible Navier–Stokes on the unit torus in vorticity form (the FNO paper's 2D+time case).

    w_t + u·∇w = νΔw + f,   u = ∇^⊥ψ = (ψ_y, −ψ_x),   −Δψ = w,   (x, y) ∈ [0, 1)², t ∈ (0, T],

with the forcing ``f = A (sin 2π(x + y) + cos 2π(x + y))`` and a random initial vorticity
``w0 ~ N(0, σ²(−Δ + τ²I)^(−γ))``. The operator to learn maps the first ``t_in`` unit-time
snapshots to the next ``T − t_in``. The paper's values (Li et al., ICLR 2021) are ν = 1e-3,
T = 50, t_in = 10, A = 0.1, σ = 7^(3/2), τ = 7, γ = 2.5, computed on 256² with dt = 1e-4 and
stored on 64².
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
    check_steps,
    grid_points,
    require_finite,
    require_int,
    require_positive,
)
from pdeml.problems.base import Fields, Problem, make_solver, register_problem, sample_rng
from pdeml.problems.grf import PeriodicGRF

if TYPE_CHECKING:
    from pdeml.problems.navier_stokes.solver import NavierStokesSpectralSolver
    from pdeml.problems.navier_stokes.spectral import NavierStokesForm
    from pdeml.problems.residual import PDEResidual

#: Relative tolerance on ``1/dt`` being a whole number (1/1e-4 = 10000.000000000002).
_STEPS_TOLERANCE = 1e-9


@register_problem
@dataclasses.dataclass(frozen=True)
class NavierStokes2D(Problem):
    """Forced 2D Navier–Stokes (vorticity), first ``t_in`` snapshots to the rest up to ``T``.

    Parameters
    ----------
    nu : float
        Viscosity ν > 0.
    T : int
        Final time; the trajectory is stored at every unit time ``1, 2, ..., T``.
    t_in : int
        Number of input snapshots (times ``1 .. t_in``), ``1 <= t_in < T``.
    forcing_amplitude : float
        ``A`` in ``f = A (sin 2π(x + y) + cos 2π(x + y))``; 0 for unforced flow.
    sigma, tau, gamma : float
        Covariance σ²(−Δ + τ²I)^(−γ) of the initial vorticity.
    resolution : int
        Points per side of the stored grid ``j / resolution``; must divide
        ``solver_resolution``.
    solver_resolution : int
        Points per side of the grid the data are computed on (and the GRF's modes).
    dt : float
        Time step of the reference scheme; ``1/dt`` must be a whole number so that every
        snapshot falls on a step. Part of the problem because the stored data depend on it.

    Fields
    ------
    inputs : ``w_in`` ``[n, t_in, x, y]``, vorticity at ``t = 1 .. t_in``
    outputs : ``w_out`` ``[n, T − t_in, x, y]``, vorticity at ``t = t_in + 1 .. T``

    Notes
    -----
    ``w_in`` ++ ``w_out`` (along time) is one trajectory from ``w0`` (not stored): the
    inputs are made by integrating ``w0`` on the solver grid up to ``t_in``, the reference
    solver continues from ``w_in[:, -1]``.
    """

    name = "navier_stokes"
    MIN_RESOLUTION = 8
    INPUTS: ClassVar[Fields] = {"w_in": ("t_in", "x", "y")}
    OUTPUTS: ClassVar[Fields] = {"w_out": ("t_out", "x", "y")}

    nu: float = 1e-3
    T: int = 50
    t_in: int = 10
    forcing_amplitude: float = 0.1
    sigma: float = 7.0**1.5
    tau: float = 7.0
    gamma: float = 2.5
    resolution: int = 64
    solver_resolution: int = 256
    dt: float = 1e-4

    def validate(self) -> None:
        require_positive(self.name, "nu", self.nu)
        require_int(self.name, "T", self.T, 2, MAX_SNAPSHOTS)
        require_int(self.name, "t_in", self.t_in, 1, MAX_SNAPSHOTS)
        if self.t_in >= self.T:
            raise ValueError(
                f"{self.name}: t_in must be < T (at least one output snapshot), "
                f"got t_in={self.t_in}, T={self.T}"
            )
        require_finite(self.name, "forcing_amplitude", self.forcing_amplitude)
        require_positive(self.name, "sigma", self.sigma)
        require_positive(self.name, "tau", self.tau, allow_zero=True)
        require_positive(self.name, "gamma", self.gamma)
        grid_points(self.name, "resolution", self.resolution, 8, dims=2)
        grid_points(self.name, "solver_resolution", self.solver_resolution, 8, dims=2)
        check_divides(self.name, self.resolution, self.solver_resolution)
        require_positive(self.name, "dt", self.dt)
        if self.dt > 1.0:
            raise ValueError(f"{self.name}: dt must be 1/k for a whole number k, got {self.dt!r}")
        # Before rounding 1/dt: a tiny dt makes it infinite (and the run endless).
        check_steps(
            self.name, f"dt = {self.dt!r} with T = {self.T}", self.T / self.dt, "use a larger dt"
        )
        steps = 1.0 / self.dt
        if abs(steps - round(steps)) > _STEPS_TOLERANCE * steps:
            raise ValueError(
                f"{self.name}: dt must be 1/k for a whole number k (every unit-time snapshot "
                f"on a step), got {self.dt!r}"
            )
        self.check_solver_memory(
            f"solver_resolution = {self.solver_resolution} and T = {self.T} snapshots"
        )

    def parameters_from_shapes(self, fields: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """``t_in`` and ``T`` from the snapshot counts of ``w_in`` and ``w_out``."""
        w_in, w_out = fields.get("w_in"), fields.get("w_out")
        if w_in is None or w_out is None or not np.ndim(w_in) == np.ndim(w_out) == 4:
            return {}
        t_in = int(np.shape(w_in)[1])
        return {"t_in": t_in, "T": t_in + int(np.shape(w_out)[1])}

    def sample_nbytes(self, resolution: int | None = None) -> float:
        """The trajectory and spectral work arrays; inputs are always made on the solver grid."""
        r = self.solver_resolution
        return 8.0 * (self.T + 30) * r * r

    @property
    def steps_per_unit_time(self) -> int:
        """Time steps between two snapshots, ``1/dt``."""
        return round(1.0 / self.dt)

    def spatial_dims(self) -> tuple[str, ...]:
        return ("x", "y")

    def coords(self, resolution: int | None = None) -> dict[str, np.ndarray]:
        resolution = self.resolution if resolution is None else resolution
        x = np.arange(resolution) / resolution
        return {
            "t_in": np.arange(1, self.t_in + 1, dtype=np.float64),
            "t_out": np.arange(self.t_in + 1, self.T + 1, dtype=np.float64),
            "x": x,
            "y": x.copy(),
        }

    def forcing(self, resolution: int | None = None) -> np.ndarray:
        """The forcing ``f(x_i, y_j)`` on the ``resolution × resolution`` grid, ``[x, y]``."""
        resolution = self.resolution if resolution is None else resolution
        x = np.arange(resolution) / resolution
        phase = 2.0 * np.pi * (x[:, None] + x[None, :])
        return self.forcing_amplitude * (np.sin(phase) + np.cos(phase))

    def grf(self) -> PeriodicGRF:
        """The distribution of the initial vorticity ``w0``."""
        return PeriodicGRF(2, self.sigma, self.tau, self.gamma, self.solver_resolution)

    def sample_initial(
        self, n: int, seed: int, *, start: int = 0, resolution: int | None = None
    ) -> np.ndarray:
        """Initial vorticities ``w0`` ``[n, x, y]`` of samples ``start .. start + n − 1``.

        ``resolution`` defaults to ``solver_resolution``, the grid the trajectories start on.
        """
        seed = check_seed(seed)
        resolution = self.solver_resolution if resolution is None else resolution
        n, resolution = self.check_draw(n, resolution, dims=2, minimum=2)
        rngs = [sample_rng(seed, start + i) for i in range(n)]
        return self.grf().sample(rngs, resolution)

    def sample_inputs(
        self,
        n: int,
        seed: int,
        *,
        start: int = 0,
        resolution: int | None = None,
        backend: str = "numba",
        device: str | None = None,
        dtype: str = "float64",
    ) -> dict[str, np.ndarray]:
        """Draw ``w0`` on the solver grid, integrate it to ``t_in`` and stride the snapshots.

        Parameters
        ----------
        n, seed, start, resolution
            As in :meth:`Problem.sample_inputs`; ``resolution`` must divide
            ``solver_resolution``.
        backend, device
            Which implementation integrates ``w0`` (see
            :class:`~pdeml.problems.navier_stokes.solver.NavierStokesSpectralSolver`); the results
            agree to round-off.
        dtype : {"float64", "float32"}
            Working precision of that integration, as the solver option of the same name;
            ``w_in`` comes in this precision.
        """
        from pdeml.solvers.navier_stokes import integrate_vorticity

        n, resolution = self.check_draw(n, resolution, dims=2, minimum=2)
        stride = self.restriction_stride(self.solver_resolution, resolution)
        w0 = self.sample_initial(n, seed, start=start)
        trajectory = integrate_vorticity(
            w0,
            nu=self.nu,
            dt=self.dt,
            n_snapshots=self.t_in,
            steps_per_snapshot=self.steps_per_unit_time,
            forcing=self.forcing(self.solver_resolution),
            backend=backend,
            device=device,
            dtype=dtype,
        )
        if not np.all(np.isfinite(trajectory)):
            raise FloatingPointError(
                f"{self.name}: the trajectory became NaN or infinite; dt={self.dt} is too "
                f"large for solver_resolution {self.solver_resolution}, use a smaller dt"
            )
        return {"w_in": np.ascontiguousarray(trajectory[:, :, ::stride, ::stride])}

    def physics(self, inputs: Mapping[str, Any]) -> PDEResidual:
        """The vorticity residual for one input sample, in stream-function form.

        See :func:`pdeml.problems.navier_stokes.residual.navier_stokes_residual`.
        """
        from pdeml.problems.navier_stokes.residual import navier_stokes_residual

        return navier_stokes_residual(self, inputs)

    def reference_solver(self, **options: Any) -> NavierStokesSpectralSolver:
        """CN–Heun pseudo-spectral (:mod:`pdeml.problems.navier_stokes.solver`).

        ``options``: ``backend``, ``device`` and ``dtype`` (``"float64"``, the default, or
        ``"float32"``, the fast path for data generation).
        """
        from pdeml.problems.navier_stokes.solver import NavierStokesSpectralSolver

        return make_solver(self, NavierStokesSpectralSolver, options)

    def spectral_form(self, inputs: Any, modes: Any = None) -> NavierStokesForm:
        """The spectral form of this problem for a batch of inputs (Neural Spectral Method).

        Parameters
        ----------
        inputs : dict
            ``{"w_in": array}``, a batch (sample axis first) or one sample; the last
            snapshot is the initial condition at ``t = t_in``.
        modes : int or (int, int, int), optional
            Fourier modes in ``x`` and ``y`` and Chebyshev modes in ``t`` (16, 16, 12).

        Returns
        -------
        pdeml.problems.navier_stokes.spectral.NavierStokesForm
            See :mod:`pdeml.spectral.form`.
        """
        from pdeml.problems.navier_stokes.spectral import NavierStokesForm

        return NavierStokesForm.from_inputs(self, inputs, modes)

    def error_indicator(
        self, inputs: Mapping[str, Any], outputs: Mapping[str, Any], **options: Any
    ) -> np.ndarray:
        """Defects of the reference stepper started from the predicted snapshots.

        See :mod:`pdeml.problems.navier_stokes.indicator`; ``options``: ``cfl``.
        """
        from pdeml.problems.navier_stokes.indicator import navier_stokes_indicator

        return navier_stokes_indicator(self, inputs, outputs, **options)
