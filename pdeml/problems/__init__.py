"""PDE problems: parameters, input distributions and field declarations."""

from pdeml.problems.base import Problem, available_problems, problem_class, register_problem
from pdeml.problems.burgers import Burgers1D
from pdeml.problems.darcy import Darcy2D

__all__ = [
    "Burgers1D",
    "Darcy2D",
    "Problem",
    "available_problems",
    "problem_class",
    "register_problem",
]
