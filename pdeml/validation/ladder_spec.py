"""The reference ladder of a suite's problem: its settings, read and checked from TOML.

``reference = { resolutions = [...], truth_resolution = R, dt = [...], truth_dt = D,
samples = S }``: every (resolution, dt) pair is a setting of the reference solver, scored
against the truth (R, D) on the stored grid (:mod:`pdeml.validation.ladder` runs it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from pdeml.validation.suite_keys import array, count, known, table

#: Most grid points of one reference-ladder solve (a 4096 x 4096 grid): beyond it a solve
#: takes hours on the machines this runs on, which looks like a hang.
MAX_LADDER_POINTS = 2**24


@dataclasses.dataclass(frozen=True)
class ReferenceLadder:
    """The reference solver's accuracy-against-cost curve for one problem.

    ``resolutions``: solver grids to time and measure, coarser or finer than the stored one
    (a coarser grid's solution is interpolated onto the stored grid, a finer one strided);
    ``dt``: time steps to try on each grid (empty: the solver's own step);
    ``truth_resolution`` and ``truth_dt``: the much finer run taken as ground truth
    (``truth_dt`` ``None``: the smallest of ``dt``, or the solver's own step);
    ``samples``: how many test samples to use. Every (resolution, dt) pair is a setting.
    """

    resolutions: tuple[int, ...]
    truth_resolution: int
    samples: int = 4
    dt: tuple[float, ...] = ()
    truth_dt: float | None = None

    def settings(self) -> list[tuple[int, float | None]]:
        """Every (resolution, dt) pair of the ladder, coarsest grid and largest step first."""
        steps: tuple[float | None, ...] = tuple(sorted(self.dt, reverse=True)) or (None,)
        return [(r, d) for r in sorted(self.resolutions) for d in steps]

    def truth(self) -> tuple[int, float | None]:
        """The ground truth's (resolution, dt)."""
        return self.truth_resolution, self.truth_dt if self.dt or self.truth_dt else None

    def spec(self) -> dict[str, Any]:
        """Plain values for the runner's entry spec (the ladder entry reads them back)."""
        return {
            "resolutions": list(self.resolutions),
            "truth_resolution": self.truth_resolution,
            "samples": self.samples,
            "dt": list(self.dt),
            "truth_dt": self.truth_dt,
        }


def parse_ladder(raw: Mapping[str, Any], where: str) -> ReferenceLadder:
    """Check ``reference = { resolutions, truth_resolution, dt, truth_dt, samples }``."""
    ref = table(raw, "reference", where)
    where = f"{where}.reference"
    known(ref, {"resolutions", "truth_resolution", "samples", "dt", "truth_dt"}, where)
    if "resolutions" not in ref or "truth_resolution" not in ref:
        raise ValueError(f"{where}: needs 'resolutions' and 'truth_resolution'")
    listed = array(ref, "resolutions", where)
    if not listed:
        raise ValueError(f"{where}.resolutions: expected at least one grid")
    resolutions = tuple(count(r, f"{where}.resolutions", 2) for r in listed)
    if len(set(resolutions)) != len(resolutions):
        raise ValueError(f"{where}.resolutions: each grid once, got {list(resolutions)}")
    truth = count(ref["truth_resolution"], f"{where}.truth_resolution", 2)
    steps = tuple(_step(d, f"{where}.dt") for d in array(ref, "dt", where))
    if len(set(steps)) != len(steps):
        raise ValueError(f"{where}.dt: each time step once, got {list(steps)}")
    truth_dt = _step(ref["truth_dt"], f"{where}.truth_dt") if "truth_dt" in ref else None
    if steps and truth_dt is None:
        truth_dt = min(steps)
    if truth < max(resolutions):
        raise ValueError(
            f"{where}: truth_resolution ({truth}) must be at least every resolution "
            f"{list(resolutions)}"
        )
    if steps and truth_dt is not None and truth_dt > min(steps):
        raise ValueError(f"{where}: truth_dt ({truth_dt:g}) must be at most every dt {list(steps)}")
    # The truth must be finer than every setting in grid or step. A single setting equal to
    # the truth only times the solver (its error is 0): the old ladder of a problem with one
    # grid, such as Lorenz96, kept parsing.
    finer_step = bool(steps) and truth_dt is not None and truth_dt < min(steps)
    same = truth == max(resolutions) and not finer_step
    if same and (len(resolutions) > 1 or len(steps) > 1):
        raise ValueError(
            f"{where}: the truth must be finer than every setting: truth_resolution "
            f"({truth}) above every resolution {list(resolutions)}, or truth_dt below every dt"
        )
    return ReferenceLadder(
        resolutions, truth, count(ref.get("samples", 4), f"{where}.samples"), steps, truth_dt
    )


def _step(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1e6:
        raise ValueError(f"{where} must be a positive time step (a number), got {value!r}")
    return float(value)


def check_ladder(problem: Any, ladder: ReferenceLadder, where: str) -> None:
    """Refuse settings that cannot be compared on the stored grid, time steps the solver
    cannot take, and grids whose solves could not fit in memory or would take hours.

    Each error is one line naming the key (``<where>.resolutions``, ``.truth_resolution``,
    ``.dt``, ``.truth_dt``) and what was expected.
    """
    from pdeml._checks import check_memory

    dims = len(problem.spatial_dims())
    _check_steps(problem, ladder, where)
    grids = [(r, "resolutions") for r in ladder.resolutions]
    for resolution, key in [*grids, (ladder.truth_resolution, "truth_resolution")]:
        if resolution**dims > MAX_LADDER_POINTS:
            raise ValueError(
                f"{where}.{key}: a grid of {resolution} points per side ({dims}-D) has "
                f"{resolution**dims:,} points, more than {MAX_LADDER_POINTS:,}; use coarser "
                "resolutions"
            )
        nbytes = getattr(problem, "sample_nbytes", lambda _: 0.0)(resolution)
        try:
            check_memory(
                problem.name,
                f"{ladder.samples} samples at resolution {resolution}",
                2 * ladder.samples * nbytes,  # the ladder holds the truth beside each solve
                "reduce reference.samples or the resolutions",
            )
        except ValueError as error:
            raise ValueError(f"{where}.{key}: {error}") from None
        _check_strides_to_stored(problem, resolution, f"{where}.{key}")


def _check_strides_to_stored(problem: Any, resolution: int, where: str) -> None:
    """Each ladder grid is scored on the stored grid: a finer grid is strided onto it, a
    coarser one interpolated, so a coarser grid must nest in the stored one (each of its
    points a stored point) and a finer one must stride onto it."""
    fields = {f.name for f in dataclasses.fields(problem)}
    if not {"resolution", "solver_resolution"} <= fields:
        return  # a problem with one grid (Lorenz96) or a mesh: nothing is strided
    stored = problem.resolution
    bounded = problem.grid_includes_right_end()
    if resolution < stored:
        nests = (stored - 1) % (resolution - 1) == 0 if bounded else stored % resolution == 0
        if nests and resolution >= problem.min_resolution():
            return
        rule = "(stored - 1) a multiple of (resolution - 1)" if bounded else "dividing it"
        fits = [
            r
            for r in range(stored - 1, problem.min_resolution() - 1, -1)
            if ((stored - 1) % (r - 1) == 0 if bounded else stored % r == 0)
        ]
        raise ValueError(
            f"{where}: resolution {resolution} cannot be compared on the stored grid of "
            f"{stored} points (a coarser grid is interpolated onto it and must nest in it, "
            f"{rule}, with at least {problem.min_resolution()} points); expected one of "
            f"{fits[:6]}"
        )
    try:
        problem.restriction_stride(resolution, stored)
    except ValueError:
        rule = (
            "(resolution - 1) a multiple of (stored - 1)"
            if bounded
            else "a multiple of the stored resolution"
        )
        raise ValueError(
            f"{where}: resolution {resolution} cannot be compared on the stored grid of "
            f"{stored} points (errors are measured there, by striding); expected {rule}"
        ) from None


def _check_steps(problem: Any, ladder: ReferenceLadder, where: str) -> None:
    """A ladder ``dt`` needs a solver with a ``dt`` option or a problem with a ``dt`` field."""
    from pdeml.validation.ladder import solver_at

    steps = [*ladder.dt, *([ladder.truth_dt] if ladder.truth_dt is not None else [])]
    for dt in steps:
        key = "truth_dt" if dt == ladder.truth_dt and dt not in ladder.dt else "dt"
        try:
            solver_at(problem, dt)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{where}.{key}: {dt:g} cannot be used: {error}") from None
