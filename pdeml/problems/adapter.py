"""The base of every problem's reference-solver adapter (``pdeml/problems/<pde>/solver.py``).

An adapter is the thin layer between a :class:`~pdeml.problems.base.Problem` and the
numeric kernels of :mod:`pdeml.solvers`: it checks that it was given its problem, reads
the parameters, calls the kernels on arrays and names the outputs. Kernels never see a
problem, so they import nothing from :mod:`pdeml.problems`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pdeml.problems.base import problem_class
from pdeml.solvers.base import ReferenceSolver


class ProblemSolver(ReferenceSolver):
    """A reference solver bound to one registered problem (see the module docstring).

    Subclasses set ``problem_name``, the registered name of the problem they solve, and
    implement :meth:`~pdeml.solvers.base.ReferenceSolver._solve`.

    Raises
    ------
    TypeError
        On construction, if ``problem`` is not an instance of that problem's class.
    """

    #: Registered name of the problem this solver serves.
    problem_name: ClassVar[str] = ""

    def __init__(self, problem: Any) -> None:
        expected = problem_class(self.problem_name)
        if not isinstance(problem, expected):
            raise TypeError(f"problem must be a {expected.__name__}, got {type(problem).__name__}")
        super().__init__(problem)
