"""PDE problems: parameters, input distributions and field declarations."""

from pdeml.problems.base import Problem, available_problems, problem_class, register_problem
from pdeml.problems.burgers import Burgers1D
from pdeml.problems.burgers_dirichlet import BurgersDirichlet
from pdeml.problems.darcy import Darcy2D
from pdeml.problems.darcy_mesh import DarcyMesh
from pdeml.problems.grid import GridProblem
from pdeml.problems.lorenz96 import Lorenz96
from pdeml.problems.navier_stokes import NavierStokes2D
from pdeml.problems.poisson import Poisson2D

__all__ = [
    "Burgers1D",
    "BurgersDirichlet",
    "Darcy2D",
    "DarcyMesh",
    "GridProblem",
    "Lorenz96",
    "NavierStokes2D",
    "Poisson2D",
    "Problem",
    "available_problems",
    "problem_class",
    "register_problem",
]
