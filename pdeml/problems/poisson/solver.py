"""The reference solver of Poisson2D: checks the problem, calls the FFT kernel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from pdeml._checks import check_choice
from pdeml.problems.adapter import ProblemSolver
from pdeml.solvers.poisson import METHODS, solve_periodic_poisson

if TYPE_CHECKING:
    from pdeml.problems.poisson import Poisson2D


class PoissonSolver(ProblemSolver):
    """Reference solver of :class:`pdeml.problems.poisson.Poisson2D`.

    Parameters
    ----------
    problem : Poisson2D
    method : {"spectral", "finite_difference"}
        Fourier–Galerkin (exact for band-limited sources; the default) or the five-point
        finite-difference scheme (second order; the classical baseline of cost-against-
        accuracy comparisons).
    """

    name = "poisson-fft"
    problem_name = "poisson"

    def __init__(self, problem: Poisson2D, *, method: str = "spectral") -> None:
        super().__init__(problem)
        self.method = check_choice("method", method, METHODS)

    def options(self) -> dict[str, Any]:
        return {"method": self.method}

    def _solve(self, inputs: dict[str, np.ndarray], resolution: int) -> dict[str, np.ndarray]:
        return {"u": solve_periodic_poisson(inputs["s"], self.method)}
