"""The user's own solver function as a pdeml reference solver, one sample per call.

A solve that raises, returns the wrong fields or shapes, returns NaN, or runs past the
problem's ``time_limit`` is a *failed sample*: :meth:`CallableSolver.solve` raises one line
naming the sample and the problem, and :meth:`CallableSolver.solve_recording_failures`
(what :func:`pdeml.generate` calls) records it and goes on with the other samples.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from pdeml.problems.adapter import ProblemSolver
from pdeml.problems.grid.callables import resolve_callable
from pdeml.problems.grid.sampling import check_sample


class SampleTimeout(Exception):
    """A sample's solve ran past the problem's ``time_limit``."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`SampleTimeout` in this thread after ``seconds`` (0: no limit).

    A timer signal can only interrupt the main thread (and only between Python bytecodes,
    so a long call into compiled code ends first); elsewhere the limit is not enforced.
    """
    usable = seconds > 0 and hasattr(signal, "setitimer")
    if not usable or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise SampleTimeout(f"ran past the time limit of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class CallableSolver(ProblemSolver):
    """Calls ``solve(inputs, resolution=r, **options)`` of a grid problem for each sample.

    Parameters
    ----------
    problem : GridProblem
        A grid problem whose ``solver`` names the function.
    **options
        Passed to the function on every call (recorded in dataset attributes, so keep
        them plain values).
    """

    problem_name = "grid"

    def __init__(self, problem: Any, **options: Any) -> None:
        super().__init__(problem)
        self._options = dict(options)
        # The function is imported on first use: building a solver to describe it (as
        # generate does before starting workers) should not need the user's module.
        self._function: Any = None
        self.name = problem.solver.replace(":", ".")

    def options(self) -> dict[str, Any]:
        return dict(self._options)

    def _solve(self, inputs: dict[str, np.ndarray], resolution: int) -> dict[str, np.ndarray]:
        outputs, failures = self._solve_each(inputs, resolution, 0)
        if failures:
            index, message = next(iter(failures.items()))
            raise ValueError(f"{self.problem.label}: sample {index}: {message}")
        return outputs

    def solve_recording_failures(
        self, inputs: Mapping[str, np.ndarray], first_index: int = 0
    ) -> tuple[dict[str, np.ndarray], dict[int, str]]:
        """Solve every sample that can be solved; return the outputs and the failures.

        Returns
        -------
        outputs : dict
            ``name -> [n, ...]``; rows of failed samples are NaN.
        failures : dict
            Sample index (``first_index`` + position) to a one-line description.
        """
        checked = self.problem.check_inputs(inputs)
        resolution = self.problem.infer_resolution(checked)
        return self._solve_each(checked, resolution, first_index)

    def _solve_each(
        self, inputs: dict[str, np.ndarray], resolution: int, first_index: int
    ) -> tuple[dict[str, np.ndarray], dict[int, str]]:
        problem = self.problem
        if self._function is None:
            self._function = resolve_callable(problem.solver, f"{problem.label}: solver")
        n = len(next(iter(inputs.values())))
        outputs = {
            name: np.full((n, *problem.field_shape(name, resolution)), np.nan)
            for name in problem.output_names
        }
        failures: dict[int, str] = {}
        for i in range(n):
            one = {name: value[i] for name, value in inputs.items()}
            where = f"solver {problem.solver}"
            try:
                with time_limit(problem.time_limit):
                    result = self._function(one, resolution=resolution, **self._options)
            except Exception as error:
                message = " ".join(str(error).split())
                failures[first_index + i] = f"{where} raised {type(error).__name__}: {message}"
                continue
            try:
                checked = check_sample(problem, result, problem.output_names, resolution, where)
            except ValueError as error:
                failures[first_index + i] = " ".join(str(error).split())
                continue
            for name, value in checked.items():
                outputs[name][i] = value
        return outputs, failures
