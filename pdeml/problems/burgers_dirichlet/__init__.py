"""Viscous Burgers with Dirichlet ends, the classical PINN benchmark (Raissi et al. 2019).

    u_t + u u_x = ν u_xx,   x ∈ [−1, 1],   t ∈ (0, T],
    u(x, 0) = −sin(πx),   u(±1, t) = 0,   ν = 0.01/π.

A single instance (no random input): a steep internal layer forms at ``x = 0`` near
``t = 1/π`` and stays, its width of order ν. The reference solver is a fine-grid
finite-difference method of lines integrated with BDF; the exact Cole–Hopf integral
(:func:`~pdeml.problems.burgers_dirichlet.exact.cole_hopf_dirichlet`) is the check.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from pdeml._checks import MAX_SNAPSHOTS, check_seed, grid_points, require_int, require_positive
from pdeml.problems.base import Fields, Problem, make_solver, register_problem
from pdeml.problems.burgers_dirichlet.exact import cole_hopf_dirichlet

if TYPE_CHECKING:
    from pdeml.problems.burgers_dirichlet.solver import BurgersDirichletSolver
    from pdeml.problems.residual import PDEResidual

__all__ = ["BurgersDirichlet", "cole_hopf_dirichlet"]


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
    INPUTS: ClassVar[Fields] = {"u0": ("x",)}
    OUTPUTS: ClassVar[Fields] = {"u": ("t", "x")}
    RANDOM_INPUTS = False

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
        """The stored grid: the solver refines internally (see ``BurgersDirichletSolver``)."""
        return self.resolution

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
        """The fine-grid method of lines (:mod:`pdeml.problems.burgers_dirichlet.solver`)."""
        from pdeml.problems.burgers_dirichlet.solver import BurgersDirichletSolver

        return make_solver(self, BurgersDirichletSolver, options)

    def physics(self, inputs: Mapping[str, Any]) -> PDEResidual:
        """Residual ``u_t + u u_x − ν u_xx`` with ``u(±1, t) = 0`` for one ``inputs["u0"]``.

        See :func:`pdeml.problems.burgers_dirichlet.residual.burgers_dirichlet_residual`.
        """
        from pdeml.problems.burgers_dirichlet.residual import burgers_dirichlet_residual

        return burgers_dirichlet_residual(self, inputs)
