"""The ``Solver`` contract: ``solve(inputs) -> outputs``, batched, numpy in and out.

Reference solvers and surrogates are both solvers, so validation never needs to know
which kind it holds. Inputs and outputs are ``dict[str, numpy.ndarray]`` keyed by the
problem's field names, sample axis first.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np


class ProblemLike(Protocol):
    """What a solver uses of a problem (:class:`pdeml.problems.base.Problem` has it all).

    Solvers hold a problem but never import one: this layer sits below the problems.
    """

    @property
    def input_names(self) -> tuple[str, ...]: ...

    @property
    def output_names(self) -> tuple[str, ...]: ...

    def check_inputs(
        self, inputs: Mapping[str, np.ndarray], resolution: int | None = None
    ) -> dict[str, np.ndarray]: ...

    def infer_resolution(self, inputs: Mapping[str, np.ndarray]) -> int | None: ...


class Solver(abc.ABC):
    """Anything that maps a batch of a problem's inputs to its outputs.

    Attributes
    ----------
    problem : Problem
        The problem whose fields ``solve`` takes and returns.
    """

    #: Short name used in dataset attributes, reports and the CLI.
    name: str = "solver"

    def __init__(self, problem: ProblemLike) -> None:
        # Any: each solver reads its own problem's parameters (nu, T, ...).
        self.problem: Any = problem

    @abc.abstractmethod
    def solve(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Map inputs (``name -> [n, ...]``) to outputs (``name -> [n, ...]``)."""

    def solve_recording_failures(
        self, inputs: Mapping[str, np.ndarray], first_index: int = 0
    ) -> tuple[dict[str, np.ndarray], dict[int, str]]:
        """Solve a batch, recording samples that fail instead of stopping at the first.

        Dataset generation calls this. The default solves the batch at once and has no
        failures to record (an error stops the batch); a solver wrapping user code that
        can fail per sample returns NaN rows for those and ``{index: one-line message}``
        with ``index = first_index + position``.
        """
        return self.solve(inputs), {}

    def options(self) -> dict[str, Any]:
        """The solver's settings, recorded in dataset attributes and reports."""
        return {}

    def describe(self) -> dict[str, Any]:
        """Name and options, for provenance records."""
        return {"name": self.name, "options": self.options()}


class ReferenceSolver(Solver):
    """A classical solver: validates its inputs, then runs numeric kernels on the batch.

    Subclasses implement :meth:`_solve` on validated float64 arrays. The resolution is
    read from the inputs, so the same solver object serves every grid size the problem
    allows (accuracy-against-cost curves run one solver at several resolutions).
    """

    def solve(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        checked = self.problem.check_inputs(inputs)
        resolution = self.problem.infer_resolution(checked)
        outputs = self._solve(checked, resolution)
        return {k: outputs[k] for k in self.problem.output_names}

    @abc.abstractmethod
    def _solve(self, inputs: dict[str, np.ndarray], resolution: int) -> dict[str, np.ndarray]:
        """Solve validated float64 inputs on the grid of ``resolution`` points."""


@contextmanager
def stopwatch() -> Iterator[dict[str, float]]:
    """Context manager measuring wall time: ``with stopwatch() as t: ...; t["seconds"]``."""
    record: dict[str, float] = {"seconds": float("nan")}
    start = time.perf_counter()
    try:
        yield record
    finally:
        record["seconds"] = time.perf_counter() - start


def time_per_sample(solver: Solver, inputs: Mapping[str, np.ndarray], repeats: int = 1) -> float:
    """Best-of-``repeats`` wall time of ``solver.solve(inputs)`` divided by the batch size."""
    n = len(next(iter(inputs.values())))
    best = float("inf")
    for _ in range(max(1, repeats)):
        with stopwatch() as clock:
            solver.solve(inputs)
        best = min(best, clock["seconds"])
    return best / max(n, 1)
