"""Viscous Burgers with Dirichlet ends, the classical PINN benchmark (Raissi et al. 2019).

    u_t + u u_x = ν u_xx,   x ∈ [−1, 1],   t ∈ (0, T],
    u(x, 0) = −sin(πx),   u(±1, t) = 0,   ν = 0.01/π.

A single instance (no random input): a steep internal layer forms at ``x = 0`` near
``t = 1/π`` and stays, its width of order ν. The reference solver is a fine-grid
finite-difference method of lines integrated with BDF; the exact Cole–Hopf integral
(:func:`cole_hopf_dirichlet`) is the check.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from pdeml.problems.base import Problem, make_solver, register_problem
from pdeml.problems.checks import (
    MAX_POINTS_1D,
    MAX_SNAPSHOTS,
    check_memory,
    check_seed,
    grid_points,
    require_int,
    require_positive,
)
from pdeml.solvers.base import ReferenceSolver

if TYPE_CHECKING:
    from pdeml.problems.physics import PDEResidual


@register_problem
@dataclasses.dataclass(frozen=True)
class BurgersDirichlet(Problem):
    """Burgers on ``[−1, 1]`` with ``u(±1, t) = 0`` from ``u0 = −sin(πx)``.

    Parameters
    ----------
    nu : float
        Viscosity ν (benchmark: 0.01/π).
    T : float
        Final time.
    resolution : int
        Points of the grid ``x_j = −1 + 2j / (resolution − 1)``, both ends included.
    n_t : int
        Snapshots stored, at the times ``T/n_t, 2T/n_t, ..., T``.

    Fields
    ------
    inputs : ``u0`` ``[n, x]`` (always ``−sin(πx)``: the benchmark has one instance)
    outputs : ``u`` ``[n, t, x]``
    """

    name = "burgers_dirichlet"
    MIN_RESOLUTION = 5

    nu: float = 0.01 / math.pi
    T: float = 1.0
    resolution: int = 256
    n_t: int = 100

    def validate(self) -> None:
        require_positive(self.name, "nu", self.nu)
        require_positive(self.name, "T", self.T)
        grid_points(self.name, "resolution", self.resolution, 5, dims=1)
        require_int(self.name, "n_t", self.n_t, 1, MAX_SNAPSHOTS)
        self.check_solver_memory(f"resolution = {self.resolution} and n_t = {self.n_t}")

    def sample_nbytes(self, resolution: int | None = None) -> float:
        """Snapshots on the solver's fine grid (at least 2049 points) plus BDF work arrays."""
        r = self.resolution if resolution is None else resolution
        return 8.0 * (self.n_t + 30) * max(r, 2049)

    @property
    def solver_resolution(self) -> int:
        """The stored grid: the solver refines internally (see :class:`BurgersDirichletSolver`)."""
        return self.resolution

    @property
    def input_names(self) -> tuple[str, ...]:
        return ("u0",)

    @property
    def output_names(self) -> tuple[str, ...]:
        return ("u",)

    def field_dims(self, name: str) -> tuple[str, ...]:
        dims = {"u0": ("x",), "u": ("t", "x")}
        if name not in self.field_names:
            raise ValueError(f"{self.name}: unknown field {name!r}; expected {self.field_names}")
        return dims[name]

    def grid_includes_right_end(self) -> bool:
        return True

    def coords(self, resolution: int | None = None) -> dict[str, np.ndarray]:
        resolution = self.resolution if resolution is None else resolution
        return {"x": np.linspace(-1.0, 1.0, resolution), "t": self.output_times()}

    def output_times(self) -> np.ndarray:
        """Times of the snapshots (``n_t`` of them, the last one ``T``)."""
        return self.T * np.arange(1, self.n_t + 1) / self.n_t

    def sample_inputs(
        self, n: int, seed: int, *, start: int = 0, resolution: int | None = None
    ) -> dict[str, np.ndarray]:
        """``n`` copies of ``u0 = −sin(πx)`` (the seed is checked, then unused)."""
        check_seed(seed)
        n, resolution = self.check_draw(n, resolution, dims=1, minimum=2)
        x = self.coords(resolution)["x"]
        return {"u0": np.tile(-np.sin(np.pi * x), (n, 1))}

    def reference_solver(self, **options: Any) -> BurgersDirichletSolver:
        return make_solver(self, BurgersDirichletSolver, options)

    def physics(self, inputs: Mapping[str, Any]) -> PDEResidual:
        """Residual ``u_t + u u_x − ν u_xx`` with ``u(±1, t) = 0`` for one ``inputs["u0"]``.

        See :func:`pdeml.problems.physics.burgers_dirichlet_physics`.
        """
        from pdeml.problems.physics import burgers_dirichlet_physics, inputs_field

        return burgers_dirichlet_physics(self, inputs_field(self, inputs, "u0"))


class BurgersDirichletSolver(ReferenceSolver):
    """Method of lines on a fine uniform grid, integrated by BDF (``scipy.integrate.solve_ivp``).

    Space: the conservative central scheme
    ``u_i' = −(u_{i+1}² − u_{i−1}²)/(4h) + ν (u_{i+1} − 2u_i + u_{i−1})/h²``, second order,
    on the finest grid of at least ``min_points`` points that contains the input grid
    (``(fine − 1)`` a multiple of ``(resolution − 1)``), so the outputs are exact grid values
    of the fine solution, without interpolation. At the defaults (256 → 2296 points,
    ``h ≈ 8.7e-4``) the cell Péclet number ``|u| h / 2ν`` is below 0.14, so central
    differences resolve the layer without wiggles. ``u0`` reaches the fine grid by its
    trigonometric interpolant of period 2 (exact for ``−sin(πx)``).
    Time: variable-order BDF with the analytic tridiagonal Jacobian.

    Parameters
    ----------
    problem : BurgersDirichlet
        The problem.
    min_points : int
        Least number of fine-grid points (default 2049).
    rtol, atol : float
        Tolerances of the time integrator.
    """

    name = "burgers-dirichlet-mol-bdf"

    def __init__(
        self,
        problem: BurgersDirichlet,
        min_points: int = 2049,
        rtol: float = 1e-9,
        atol: float = 1e-11,
    ) -> None:
        super().__init__(problem)
        require_int(problem.name, "min_points", min_points, 5, MAX_POINTS_1D)
        require_positive(problem.name, "rtol", rtol)
        require_positive(problem.name, "atol", atol)
        self.min_points, self.rtol, self.atol = int(min_points), float(rtol), float(atol)
        fine = self.fine_points(problem.resolution)
        check_memory(
            problem.name,
            f"min_points = {min_points} ({fine} fine-grid points) with n_t = {problem.n_t}",
            8.0 * (problem.n_t + 30) * fine,
            "reduce min_points",
        )

    def options(self) -> dict[str, Any]:
        return {"min_points": self.min_points, "rtol": self.rtol, "atol": self.atol}

    def fine_points(self, resolution: int) -> int:
        """Points of the fine grid used for inputs on ``resolution`` points."""
        stride = max(1, -(-(self.min_points - 1) // (resolution - 1)))
        return stride * (resolution - 1) + 1

    def _solve(self, inputs: dict[str, np.ndarray], resolution: int) -> dict[str, np.ndarray]:
        import torch

        from pdeml.problems.physics import PeriodicInterpolant

        fine = self.fine_points(resolution)
        stride = (fine - 1) // (resolution - 1)
        x = np.linspace(-1.0, 1.0, fine)
        out = np.empty((inputs["u0"].shape[0], self.problem.n_t, resolution))
        for i, u0 in enumerate(inputs["u0"]):
            initial = PeriodicInterpolant(u0[:-1], -1.0, 2.0)(torch.from_numpy(x)).numpy()
            trajectory = solve_burgers_dirichlet(
                initial, self.problem.nu, self.problem.output_times(), self.rtol, self.atol
            )
            out[i] = trajectory[:, ::stride]
        return {"u": out}


def solve_burgers_dirichlet(
    u0: np.ndarray, nu: float, times: np.ndarray, rtol: float = 1e-9, atol: float = 1e-11
) -> np.ndarray:
    """Solve Burgers on ``[−1, 1]`` with zero ends from ``u0`` on a uniform grid.

    Parameters
    ----------
    u0 : numpy.ndarray
        ``[N]`` values at ``linspace(−1, 1, N)``; the end values are replaced by 0.
    nu : float
        Viscosity.
    times : numpy.ndarray
        Increasing output times > 0.
    rtol, atol : float
        BDF tolerances.

    Returns
    -------
    numpy.ndarray
        ``[len(times), N]`` solution snapshots.
    """
    import scipy.sparse
    from scipy.integrate import solve_ivp

    n = u0.size
    h = 2.0 / (n - 1)
    diffusion = nu / h**2

    def rhs(_t: float, v: np.ndarray) -> np.ndarray:
        u = np.concatenate(([0.0], v, [0.0]))
        return -(u[2:] ** 2 - u[:-2] ** 2) / (4 * h) + diffusion * (u[2:] - 2 * u[1:-1] + u[:-2])

    def jacobian(_t: float, v: np.ndarray) -> scipy.sparse.csc_matrix:
        upper = -v[1:] / (2 * h) + diffusion
        lower = v[:-1] / (2 * h) + diffusion
        main = np.full(v.size, -2 * diffusion)
        return scipy.sparse.diags([lower, main, upper], [-1, 0, 1], format="csc")

    result = solve_ivp(
        rhs,
        (0.0, float(times[-1])),
        np.asarray(u0, dtype=np.float64)[1:-1],
        method="BDF",
        t_eval=times,
        jac=jacobian,
        rtol=rtol,
        atol=atol,
    )
    if not result.success:  # pragma: no cover - BDF with this Jacobian does not fail
        raise RuntimeError(f"burgers_dirichlet: time integration failed: {result.message}")
    out = np.zeros((len(times), n))
    out[:, 1:-1] = result.y.T
    return out


def cole_hopf_dirichlet(
    x: np.ndarray, t: float, nu: float = 0.01 / math.pi, n_nodes: int = 150
) -> np.ndarray:
    """Exact solution of the benchmark by the Cole–Hopf integral and Gauss–Hermite quadrature.

    ``u(x, t) = −∫ sin(π(x − η)) f(x − η) e^{−η²/4νt} dη / ∫ f(x − η) e^{−η²/4νt} dη`` with
    ``f(y) = exp(−cos(πy) / (2πν))`` (Basdevant et al. 1986). Substituting
    ``η = √(4νt) z`` gives weight ``e^{−z²}``: Gauss–Hermite with ``n_nodes`` nodes.
    ``f`` is divided by its maximum ``e^{1/(2πν)}`` (it cancels) to avoid overflow.

    Parameters
    ----------
    x : numpy.ndarray
        Points in ``[−1, 1]``.
    t : float
        Time > 0.
    nu : float
        Viscosity.
    n_nodes : int
        Quadrature nodes; the integrand's scale in ``z`` is ``1 / (π √(4νt) / (2πν))``, so
        small ``t`` and ``ν`` need more.
    """
    z, w = np.polynomial.hermite.hermgauss(n_nodes)
    y = np.asarray(x, dtype=np.float64)[..., None] - math.sqrt(4 * nu * t) * z
    f = np.exp(-(np.cos(np.pi * y) + 1.0) / (2 * np.pi * nu))
    return -(w * np.sin(np.pi * y) * f).sum(-1) / (w * f).sum(-1)
