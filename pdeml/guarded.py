"""Guarded inference: a surrogate whose every answer is checked before it is trusted.

``pdeml.guard(surrogate, tol=0.05, fallback="solve")`` is a :class:`~pdeml.solvers.base.Solver`.
For each input it predicts with the surrogate, estimates the prediction's relative L2 error
with the problem's a-posteriori indicator (:meth:`pdeml.problems.base.Problem.error_indicator`,
no reference solve), and accepts the prediction where the estimate is at most ``tol``.
Elsewhere it

* ``"solve"``: re-solves with the reference solver,
* ``"warm-start"``: runs the reference solver's iteration from the prediction (Darcy: the
  AMG-preconditioned CG) and counts its iterations,
* ``"flag"``: returns the prediction, marked as not trusted.

``solve(inputs)`` returns the outputs, as every solver does; ``solve_with_report(inputs)``
returns a :class:`GuardResult` with the outputs, the estimates, the path each sample took and
the time spent in each stage, and the last one is kept as ``last_report``. An optional
out-of-distribution score of the inputs (:class:`pdeml.ood.InputDistance`) rejects inputs
unlike the training inputs whatever their estimate.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from pdeml.solvers.base import Solver

#: What happens to a sample whose estimate exceeds ``tol``.
FALLBACKS = ("solve", "warm-start", "flag")
#: The path a sample took, per fallback (and ``"accepted"``).
PATHS = {"solve": "solved", "warm-start": "warm-started", "flag": "flagged"}

Indicator = Callable[[Mapping[str, np.ndarray], Mapping[str, np.ndarray]], Any]


def check_tol(tol: Any) -> float:
    """``tol`` as a positive finite float, else ``ValueError`` naming it."""
    ok = isinstance(tol, (int, float, np.integer, np.floating)) and not isinstance(tol, bool)
    if not ok or not (math.isfinite(float(tol)) and float(tol) > 0.0):
        raise ValueError(
            f"tol must be a positive number (a relative L2 error, e.g. 0.05), got {tol!r}"
        )
    return float(tol)


def check_fallback(fallback: Any) -> str:
    """``fallback`` if it is one of :data:`FALLBACKS`, else ``ValueError`` naming them."""
    if not isinstance(fallback, str) or fallback not in FALLBACKS:
        raise ValueError(f"fallback must be one of {FALLBACKS}, got {fallback!r}")
    return fallback


def _overrides(problem: Any, method: str) -> bool:
    """Whether ``problem`` provides ``method`` itself (the base class only refuses)."""
    from pdeml.problems.base import Problem

    own = getattr(type(problem), method, None)
    return own is not None and own is not getattr(Problem, method)


@dataclasses.dataclass(frozen=True)
class GuardResult:
    """What a guarded solve did, sample by sample.

    Attributes
    ----------
    outputs : dict
        ``name -> [n, ...]`` float64: accepted predictions, and the fallback's outputs
        elsewhere (the predictions themselves with ``fallback="flag"``).
    estimates : numpy.ndarray
        ``[n]`` estimated relative L2 errors of the predictions.
    paths : numpy.ndarray
        ``[n]`` strings: ``"accepted"``, ``"solved"``, ``"warm-started"`` or ``"flagged"``.
    tol : float
        The tolerance the estimates were held to.
    ood_scores : numpy.ndarray or None
        ``[n]`` out-of-distribution scores of the inputs, when the guard has one.
    iterations : numpy.ndarray or None
        With ``fallback="warm-start"``: ``[n]`` iterations of each warm-started solve
        (0 for samples not re-solved).
    cold_iterations : numpy.ndarray or None
        With ``compare_cold=True``: the iterations the same solves take from zero.
    seconds : dict
        Wall time of ``"predict"``, ``"estimate"``, ``"fallback"`` and ``"total"``.
    """

    outputs: dict[str, np.ndarray]
    estimates: np.ndarray
    paths: np.ndarray
    tol: float
    ood_scores: np.ndarray | None = None
    iterations: np.ndarray | None = None
    cold_iterations: np.ndarray | None = None
    seconds: Mapping[str, float] = dataclasses.field(default_factory=dict)

    @property
    def accepted(self) -> np.ndarray:
        """``[n]`` booleans: whether the prediction was trusted."""
        return self.paths == "accepted"

    @property
    def accepted_fraction(self) -> float:
        """Share of samples whose prediction was trusted."""
        return float(np.mean(self.accepted))

    def counts(self) -> dict[str, int]:
        """Number of samples per path taken."""
        names, counts = np.unique(self.paths, return_counts=True)
        return {str(k): int(v) for k, v in zip(names, counts)}

    def iterations_saved(self) -> float | None:
        """Mean CG iterations saved per warm-started sample against a cold start, if known."""
        if self.iterations is None or self.cold_iterations is None:
            return None
        warm = self.paths == "warm-started"
        if not warm.any():
            return 0.0
        return float(np.mean(self.cold_iterations[warm] - self.iterations[warm]))


class GuardedSolver(Solver):
    """A surrogate checked per query; :func:`guard` builds one.

    Parameters
    ----------
    surrogate : Solver
        A fitted surrogate (or any solver with ``.problem``).
    tol : float
        Largest estimated relative L2 error accepted (e.g. 0.05).
    fallback : {"solve", "warm-start", "flag"}
        For samples above ``tol``: re-solve with the reference solver, run the reference
        iteration from the prediction (problems with an iterative reference solver: Darcy),
        or keep the prediction and flag it.
    reference : Solver, optional
        The solver of the fallback; by default ``problem.reference_solver()``. It solves on
        the grid of the inputs given, which may be coarser than the grid the data were made
        on (the stored grid): its answer then carries that grid's discretisation error.
    indicator : callable, optional
        ``f(inputs, outputs) -> [n]`` estimates replacing the problem's own indicator; the
        only way to guard a problem without one (a ``GridProblem``, Lorenz96).
    indicator_options : dict, optional
        Keyword options of the problem's indicator (e.g. ``{"grid_error": False}`` on Darcy).
    ood : pdeml.ood.InputDistance, optional
        A fitted out-of-distribution score; inputs scoring above ``ood_limit`` are not
        accepted whatever their estimate.
    ood_limit : float, optional
        Default: the score's ``threshold`` (a quantile of the training inputs' scores).
    compare_cold : bool
        With ``fallback="warm-start"``, also solve the same samples from zero and record
        its iterations, to measure the saving (doubles the fallback's cost).

    Attributes
    ----------
    last_report : GuardResult or None
        The result of the last :meth:`solve` or :meth:`solve_with_report`.
    """

    name = "guarded"

    def __init__(
        self,
        surrogate: Solver,
        tol: float,
        fallback: str = "solve",
        *,
        reference: Solver | None = None,
        indicator: Indicator | None = None,
        indicator_options: Mapping[str, Any] | None = None,
        ood: Any = None,
        ood_limit: float | None = None,
        compare_cold: bool = False,
    ) -> None:
        problem = getattr(surrogate, "problem", None)
        if not callable(getattr(surrogate, "solve", None)) or problem is None:
            raise TypeError(
                "surrogate must be a solver of a problem (with .solve and .problem), got "
                f"{type(surrogate).__name__}"
            )
        super().__init__(problem)
        self.surrogate = surrogate
        self.tol = check_tol(tol)
        self.fallback = check_fallback(fallback)
        title = getattr(problem, "title", getattr(problem, "name", "?"))
        if indicator is None and not _overrides(problem, "error_indicator"):
            raise ValueError(
                f"problem {title!r} has no a-posteriori error indicator; pass your own, "
                "indicator=f with f(inputs, outputs) -> one estimate per sample"
            )
        if indicator is not None and not callable(indicator):
            raise TypeError(f"indicator must be callable, got {type(indicator).__name__}")
        if indicator is not None and indicator_options:
            raise ValueError("indicator_options apply to the problem's indicator only")
        if indicator_options is not None and not isinstance(indicator_options, Mapping):
            raise TypeError(
                f"indicator_options must be a dict, got {type(indicator_options).__name__}"
            )
        self.indicator = indicator
        self.indicator_options = dict(indicator_options or {})
        if reference is not None and not callable(getattr(reference, "solve", None)):
            raise TypeError(f"reference must be a Solver, got {type(reference).__name__}")
        if self.fallback == "warm-start":
            if not _overrides(problem, "warm_start"):
                raise ValueError(
                    f"fallback='warm-start': problem {title!r} has no iterative reference "
                    "solver to start from a prediction; use fallback='solve' or 'flag'"
                )
            default = type(problem.reference_solver())
            if reference is not None and type(reference) is not default:
                raise ValueError(
                    f"fallback='warm-start' runs the problem's own reference solver "
                    f"({default.__name__}); got reference={type(reference).__name__}"
                )
        if reference is None and self.fallback != "flag":
            reference = problem.reference_solver()
        self.reference = reference
        if ood is not None and not callable(getattr(ood, "score", None)):
            raise TypeError(
                f"ood must be a fitted pdeml.ood.InputDistance, got {type(ood).__name__}"
            )
        if ood is not None and ood_limit is None:
            ood_limit = getattr(ood, "threshold", None)
        if ood is not None:
            ood_limit = _positive(ood_limit, "ood_limit")
        self.ood, self.ood_limit = ood, ood_limit
        self.compare_cold = bool(compare_cold)
        self.last_report: GuardResult | None = None

    def options(self) -> dict[str, Any]:
        """Tolerance, fallback, the surrogate's and reference solver's names."""
        return {
            "tol": self.tol,
            "fallback": self.fallback,
            "surrogate": getattr(self.surrogate, "name", type(self.surrogate).__name__),
            "reference": None if self.reference is None else self.reference.describe(),
            "ood_limit": self.ood_limit,
        }

    def solve(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Outputs, ``name -> [n, ...]``; the details are kept in :attr:`last_report`."""
        return self.solve_with_report(inputs).outputs

    def estimate(
        self, inputs: Mapping[str, np.ndarray], predictions: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        """``[n]`` estimated relative errors of ``predictions`` (the guard's indicator)."""
        if self.indicator is not None:
            values = self.indicator(inputs, predictions)
        else:
            values = self.problem.error_indicator(inputs, predictions, **self.indicator_options)
        values = np.asarray(values, dtype=np.float64)
        n = len(next(iter(predictions.values())))
        if values.shape != (n,):
            raise ValueError(
                f"indicator: expected {n} estimates (one per sample), got shape {values.shape}"
            )
        return values

    def solve_with_report(self, inputs: Mapping[str, np.ndarray]) -> GuardResult:
        """Predict, estimate, fall back where the estimate exceeds ``tol``; see GuardResult."""
        begin = time.perf_counter()
        predictions = self.surrogate.solve(inputs)
        predicted = time.perf_counter()
        estimates = self.estimate(inputs, predictions)
        # A NaN estimate is not a small one: only estimates known to be small pass.
        accept = estimates <= self.tol
        scores = None
        if self.ood is not None and self.ood_limit is not None:
            scores = np.asarray(self.ood.score(inputs), dtype=np.float64)
            accept &= scores <= self.ood_limit
        estimated = time.perf_counter()
        names = self.problem.output_names
        outputs = {k: np.array(predictions[k], dtype=np.float64) for k in names}
        paths = np.where(accept, "accepted", PATHS[self.fallback]).astype("<U12")
        iterations = cold = None
        rejected = np.flatnonzero(~accept)
        if self.fallback != "flag" and len(rejected):
            subset = {k: np.asarray(v)[rejected] for k, v in inputs.items()}
            if self.fallback == "solve":
                assert self.reference is not None  # set for every fallback but "flag"
                solved = self.reference.solve(subset)
            else:
                solved, iterations, cold = self._warm_start(subset, outputs, rejected, len(paths))
            for k in names:
                outputs[k][rejected] = solved[k]
        elif self.fallback == "warm-start":
            iterations = np.zeros(len(paths), dtype=np.int64)
            cold = iterations.copy() if self.compare_cold else None
        end = time.perf_counter()
        result = GuardResult(
            outputs=outputs,
            estimates=estimates,
            paths=paths,
            tol=self.tol,
            ood_scores=scores,
            iterations=iterations,
            cold_iterations=cold,
            seconds={
                "predict": predicted - begin,
                "estimate": estimated - predicted,
                "fallback": end - estimated,
                "total": end - begin,
            },
        )
        self.last_report = result
        return result

    def _warm_start(
        self,
        subset: dict[str, np.ndarray],
        outputs: dict[str, np.ndarray],
        rejected: np.ndarray,
        n: int,
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray | None]:
        """Warm-started solves of the rejected samples; iterations scattered to ``[n]``."""
        options = self.reference.options() if self.reference is not None else {}
        guesses = {k: v[rejected] for k, v in outputs.items()}
        solved, warm = self.problem.warm_start(subset, guesses, **options)
        iterations = np.zeros(n, dtype=np.int64)
        iterations[rejected] = warm
        cold = None
        if self.compare_cold:
            _, from_zero = self.problem.warm_start(subset, None, **options)
            cold = np.zeros(n, dtype=np.int64)
            cold[rejected] = from_zero
        return solved, iterations, cold


def _positive(value: Any, name: str) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not (math.isfinite(float(value)) and float(value) > 0.0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def guard(surrogate: Solver, tol: float, fallback: str = "solve", **options: Any) -> GuardedSolver:
    """A solver that trusts ``surrogate``'s answer only where its estimated error is small.

    Parameters
    ----------
    surrogate, tol, fallback, **options
        As :class:`GuardedSolver` describes them (``surrogate``: a fitted surrogate;
        ``tol``: the largest estimated relative L2 error accepted; ``fallback``: what
        happens above it; ``options`` are keyword-only and an unknown one is a
        ``TypeError``).

    Returns
    -------
    GuardedSolver
        ``solve(inputs)`` gives the outputs; ``solve_with_report(inputs)`` a
        :class:`GuardResult`; ``last_report`` the result of the last call.

    Raises
    ------
    ValueError
        For a ``tol`` that is not a positive number, an unknown ``fallback``, a problem with
        no indicator (and none given), or ``"warm-start"`` where the reference solver has
        no iteration to start.
    TypeError
        If ``surrogate`` is not a solver of a problem.

    Examples
    --------
    >>> guarded = pdeml.guard(fno, tol=0.05, fallback="solve")  # doctest: +SKIP
    >>> result = guarded.solve_with_report(test.inputs)  # doctest: +SKIP
    >>> result.accepted_fraction, result.counts()  # doctest: +SKIP
    """
    return GuardedSolver(surrogate, tol, fallback, **options)
