"""The reference ladder: the reference solver at several settings, timed and scored.

A setting is a grid (``resolution``) and, where the problem has a time step, a ``dt``.
Each setting solves the same test inputs (the same input functions drawn on its grid);
its solution is moved onto the stored grid (:mod:`pdeml.validation.regrid`: strided from
a finer grid, interpolated from a coarser one) and compared there with a much finer
truth. Each setting is timed two ways: batched (all its samples in one call, the time
divided by their number: the throughput, which the speed-ups use, as for the surrogates)
and one sample per call (the latency a single query sees).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from pdeml.validation.metrics.arrays import relative_l2
from pdeml.validation.regrid import from_coarser_draw, interpolation_name, to_stored_grid
from pdeml.validation.timing import spread, timed_calls

#: One-sample calls timed per setting (and per surrogate): their median is the latency.
SINGLE_CALLS = 3
#: Batched calls timed per setting (their median is the setting's time), and the seconds
#: after which no further repeat starts (a costly setting is timed once).
REPEATS, REPEAT_BUDGET = 3, 2.0


def solver_at(problem: Any, dt: float | None = None) -> Any:
    """The problem's reference solver with time step ``dt`` (``None``: its own step).

    ``dt`` goes to the solver's ``dt`` option where it has one (Burgers, Lorenz96), else to
    the problem's ``dt`` parameter on a copy of the problem (Navier–Stokes, whose stored
    data depend on it); a problem with neither has no time step to set.
    """
    solver = problem.reference_solver()
    if dt is None:
        return solver
    if "dt" in inspect.signature(type(solver)).parameters:
        return problem.reference_solver(dt=dt)
    if "dt" in {f.name for f in dataclasses.fields(problem)}:
        return dataclasses.replace(problem, dt=dt).reference_solver()
    raise ValueError(
        f"the reference solver {solver.name!r} of {problem.name!r} has no time step "
        "(no dt option, no dt parameter); leave dt out of the ladder"
    )


def solver_dt(solver: Any) -> float | None:
    """The time step a reference solver runs with (``None`` for a stationary problem)."""
    dt = getattr(solver, "dt", None)
    if dt is None:
        dt = getattr(solver.problem, "dt", None)
    return None if dt is None else float(dt)


def time_single(call: Callable[[dict], Any], inputs: Mapping[str, np.ndarray]) -> float:
    """Median seconds of one-sample calls on the first :data:`SINGLE_CALLS` samples."""
    n = len(next(iter(inputs.values())))
    times = []
    for i in range(min(n, SINGLE_CALLS)):
        one = {k: v[i : i + 1] for k, v in inputs.items()}
        start = time.perf_counter()
        call(one)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


class _Inputs:
    """The test inputs on each grid, drawn once per grid."""

    def __init__(self, problem: Any, n: int, seed: int, first: int) -> None:
        self.problem, self.n, self.seed, self.first = problem, n, seed, first
        self.cache: dict[int, dict[str, np.ndarray]] = {}

    def at(self, resolution: int) -> dict[str, np.ndarray]:
        if resolution not in self.cache:
            self.cache[resolution] = self._draw(resolution)
        return self.cache[resolution]

    def _draw(self, resolution: int) -> dict[str, np.ndarray]:
        problem = self.problem
        solver_grid = getattr(problem, "solver_resolution", resolution)
        try:
            # The same input functions (same seed, same test indices, same random modes),
            # evaluated on the grid of `resolution`.
            return problem.sample_inputs(self.n, self.seed, start=self.first, resolution=resolution)
        except ValueError:
            if resolution <= solver_grid:
                raise
        # Inputs made on the solver grid only (Navier-Stokes: a trajectory computed there)
        # are band-limited there: on a finer grid they are their Fourier interpolants.
        return from_coarser_draw(problem, self.at(solver_grid), solver_grid, resolution)


def _label(resolution: int, dt: float | None, one_grid: bool) -> str:
    if dt is None:
        return str(resolution)
    return f"dt {dt:g}" if one_grid else f"{resolution}, dt {dt:g}"


def run_ladder(
    problem: Any, ladder: Mapping[str, Any], *, n_train: int, n_test: int, seed: int
) -> dict[str, Any]:
    """Solve, time and score every setting of ``ladder`` (a :meth:`ReferenceLadder.spec`).

    Returns the reference entry's record fields: ``ladder`` (one point per setting:
    ``resolution``, ``dt``, ``setting``, ``seconds_per_sample`` (batched),
    ``seconds_per_sample_single``, ``relative_l2`` (mean over the outputs) and ``errors``
    per output; ``relative_l2`` ``None`` and ``failed`` for a setting whose solve
    diverged), the data setting's times and error, and how coarser grids were moved.
    """
    n = min(int(ladder["samples"]), n_test)
    inputs = _Inputs(problem, n, seed, n_train)  # the test samples are the last n_test
    steps = sorted(ladder.get("dt") or [], reverse=True) or [None]
    resolutions = sorted(ladder["resolutions"])
    truth_resolution = ladder["truth_resolution"]
    one_grid = set(resolutions) == {truth_resolution}
    stored = problem.resolution
    truth_dt = ladder.get("truth_dt") if ladder.get("dt") or ladder.get("truth_dt") else None

    def solve(resolution: int, dt: float | None) -> tuple[Any, dict, dict, float]:
        solver = solver_at(problem, dt)
        given = inputs.at(resolution)
        solver.solve({k: v[:1] for k, v in given.items()})  # compile / warm caches
        single = time_single(solver.solve, given)
        outputs, seconds = timed_calls(lambda: solver.solve(given), REPEATS, REPEAT_BUDGET)
        batched = spread(seconds, per=n)
        return solver, to_stored_grid(problem, outputs, resolution), batched, single

    # The truth is not timed: one batched solve.
    truth_given = inputs.at(truth_resolution)
    truth = to_stored_grid(
        problem, solver_at(problem, truth_dt).solve(truth_given), truth_resolution
    )
    points = []
    for resolution, dt in [(r, d) for r in resolutions for d in steps]:
        point: dict[str, Any] = {"resolution": resolution, "dt": dt}
        point["setting"] = _label(resolution, dt, one_grid)
        try:
            solver, outputs, batched, single = solve(resolution, dt)
        except FloatingPointError as error:  # a step too large for the scheme: diverged
            point |= {"seconds_per_sample": None, "relative_l2": None, "failed": str(error)}
            points.append(point)
            continue
        errors = {k: float(relative_l2(outputs[k], truth[k]).mean()) for k in truth}
        point |= {
            "dt": solver_dt(solver),
            "seconds_per_sample": batched["median"],
            "seconds_per_sample_spread": batched,
            "seconds_per_sample_single": single,
            "relative_l2": float(np.mean(list(errors.values()))),
            "errors": errors,
        }
        points.append(point)
    data_dt = solver_dt(problem.reference_solver())
    data = [
        p
        for p in points
        if p["resolution"] == problem.solver_resolution
        and p["seconds_per_sample"] is not None
        and (p["dt"] is None or data_dt is None or math.isclose(p["dt"], data_dt))
    ]
    first = data[0] if data else {}
    return {
        "surrogate": problem.reference_solver().name,
        "device": "cpu",
        "ladder": points,
        "timing": "batched",
        "time_per_sample": first.get("seconds_per_sample"),
        "time_per_sample_single": first.get("seconds_per_sample_single"),
        "truth": {"resolution": truth_resolution, "dt": truth_dt},
        "regrid": interpolation_name(problem) if min(resolutions) < stored else None,
        "n_train": 0,
        "n_test": n,
        "metrics": {
            "relative_l2": {
                "all": {
                    "mean": first.get("relative_l2", float("nan")),
                    "std": float("nan"),
                    "median": float("nan"),
                    "max": float("nan"),
                }
            }
        },
    }


def ladder_words(record: Mapping[str, Any]) -> str:
    """One paragraph saying what a reference entry's ladder table holds (for reports)."""
    truth = record.get("truth") or {}
    grids = {p.get("resolution") for p in record.get("ladder") or []} | {truth.get("resolution")}
    grids.discard(None)  # records written before the ladder recorded its truth
    where = [f"{truth['resolution']} points"] if len(grids) > 1 and "resolution" in truth else []
    where += [f"dt {truth['dt']:g}"] if truth.get("dt") is not None else []
    text = f"{record.get('surrogate', '?')} on {record.get('device') or '?'}; each setting's "
    text += "error is measured against a finer ground truth"
    text += f" ({', '.join(where)})" if where else ""
    if len(grids) > 1:
        text += " on the stored grid, onto which finer grids are strided"
        if record.get("regrid"):
            text += f" and coarser ones brought by {record['regrid']} interpolation"
    return text + (
        ". Times per sample: batched (all the ladder's samples in one call, the throughput "
        "the speed-ups use) and one sample per call (the latency of a single query)."
    )
