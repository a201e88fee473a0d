"""Validation suites: which problems, datasets, surrogates and metrics to compare.

A suite is a TOML file::

    name = "quick"
    description = "Every problem and surrogate at a size for 2 CPU cores."
    data_dir = "data/suites"              # where datasets are made if missing
    metrics = ["relative_l2", "relative_h1", "nrmse", "max_error"]

    [[problems]]
    id = "darcy"                          # names the problem inside the suite
    preset = "darcy"                      # built-in preset or TOML file
    size = "quick"
    set = { resolution = 29 }             # problem parameter overrides
    n_train = 100
    n_test = 20
    seed = 0
    reference = { resolutions = [29, 85], truth_resolution = 169, samples = 4 }

    [[surrogates]]
    id = "fno"
    problem = "darcy"
    name = "fno"                          # registered surrogate name
    hyperparameters = { modes = 8, width = 24 }
    training = { epochs = 30, batch_size = 10 }
    # run = "runs/darcy-fno"              # load a trained run instead of training

Relative paths are taken relative to the current directory.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_METRICS = ("relative_l2", "relative_h1", "nrmse", "max_error")


@dataclasses.dataclass(frozen=True)
class ReferenceLadder:
    """The reference solver's accuracy-against-cost curve for one problem.

    ``resolutions``: solver grids to time and measure; ``truth_resolution``: the much finer
    run taken as ground truth; ``samples``: how many test samples to use.
    """

    resolutions: tuple[int, ...]
    truth_resolution: int
    samples: int = 4


@dataclasses.dataclass(frozen=True)
class ProblemCase:
    """A problem of the suite and the dataset made for it."""

    id: str
    preset: str
    size: str = "quick"
    overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    n_train: int = 100
    n_test: int = 20
    seed: int = 0
    reference: ReferenceLadder | None = None

    def problem(self):
        """Build the problem (validated)."""
        from pdeml.problems.presets import load_problem

        return load_problem(self.preset, size=self.size, **dict(self.overrides))


@dataclasses.dataclass(frozen=True)
class SurrogateCase:
    """A surrogate of the suite: trained with ``training``, or loaded from ``run``."""

    id: str
    problem: str
    name: str
    hyperparameters: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    training: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    run: str | None = None
    #: Accuracy goals: metric name -> upper bound on its mean (over samples and fields), or
    #: ``[low, high]``, or a table of such bounds per output field.
    goal: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Suite:
    """A parsed, checked suite."""

    name: str
    description: str
    data_dir: Path
    metrics: tuple[str, ...]
    problems: tuple[ProblemCase, ...]
    surrogates: tuple[SurrogateCase, ...]

    def problem_case(self, problem_id: str) -> ProblemCase:
        for case in self.problems:
            if case.id == problem_id:
                return case
        raise KeyError(problem_id)


def _goal(goal: Mapping[str, Any], metrics: tuple[str, ...], where: str) -> dict[str, Any]:
    """Check ``goal = { metric = bound }``: known metrics of the suite, positive bounds.

    A bound is a number (the metric's mean must stay below it) or ``[low, high]`` (the mean
    must lie in ``[low, high)``, e.g. an interval coverage); ``metric = { field = bound }``
    sets one bound per output field instead of one on the mean over the fields.
    """
    checked: dict[str, Any] = {}
    for metric, bound in goal.items():
        if metric not in metrics:
            raise ValueError(
                f"{where}.goal: {metric!r} is not one of the suite's metrics {metrics}"
            )
        if isinstance(bound, Mapping):
            if not bound:
                raise ValueError(f"{where}.goal.{metric}: expected at least one field bound")
            checked[metric] = {
                str(f): _bound(b, f"{where}.goal.{metric}.{f}") for f, b in bound.items()
            }
        else:
            checked[metric] = _bound(bound, f"{where}.goal.{metric}")
    return checked


def _bound(bound: Any, where: str) -> float | list[float]:
    def number(value: Any) -> bool:
        return not isinstance(value, bool) and isinstance(value, (int, float)) and value > 0

    if isinstance(bound, (list, tuple)):
        if len(bound) != 2 or not all(number(b) for b in bound) or not bound[0] < bound[1]:
            raise ValueError(
                f"{where} must be a positive number or [low, high] with 0 < low < high, "
                f"got {bound!r}"
            )
        return [float(bound[0]), float(bound[1])]
    if not number(bound):
        raise ValueError(f"{where} must be a positive number, got {bound!r}")
    return float(bound)


def _table(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: {key} must be a table, got {type(value).__name__}")
    return dict(value)


def _count(value: Any, where: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{where} must be an integer >= {minimum}, got {value!r}")
    return value


def _known(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(allowed)}")


def parse_suite(data: Mapping[str, Any], source: str = "suite") -> Suite:
    """Check a suite mapping (as read from TOML) and build a :class:`Suite`.

    Every mistake raises ``ValueError`` naming the entry and the key.
    """
    from pdeml.surrogates.base import surrogate_class
    from pdeml.validation.metrics import METRICS

    _known(data, {"name", "description", "data_dir", "metrics", "problems", "surrogates"}, source)
    name = data.get("name") or Path(source).stem
    metrics = tuple(data.get("metrics", DEFAULT_METRICS))
    if "error_over_time" in metrics:
        raise ValueError(
            f"{source}: metrics: error_over_time is recorded automatically for "
            "time-dependent outputs; leave it out of the list"
        )
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(
            f"{source}: unknown metric(s) {unknown}; expected some of {sorted(METRICS)}"
        )
    problems = []
    for i, raw in enumerate(data.get("problems", [])):
        where = f"{source}: problems[{i}]"
        _known(
            raw, {"id", "preset", "size", "set", "n_train", "n_test", "seed", "reference"}, where
        )
        if "id" not in raw or "preset" not in raw:
            raise ValueError(f"{where}: needs 'id' and 'preset'")
        ladder = None
        if "reference" in raw:
            ref = _table(raw, "reference", where)
            _known(ref, {"resolutions", "truth_resolution", "samples"}, f"{where}.reference")
            if "resolutions" not in ref or "truth_resolution" not in ref:
                raise ValueError(f"{where}.reference: needs 'resolutions' and 'truth_resolution'")
            resolutions = tuple(
                _count(r, f"{where}.reference.resolutions", 2) for r in ref["resolutions"]
            )
            truth = _count(ref["truth_resolution"], f"{where}.reference.truth_resolution", 2)
            if truth <= max(resolutions):
                raise ValueError(
                    f"{where}.reference: truth_resolution ({truth}) must be finer "
                    f"than every resolution {list(resolutions)}"
                )
            ladder = ReferenceLadder(
                resolutions, truth, _count(ref.get("samples", 4), f"{where}.reference.samples")
            )
        case = ProblemCase(
            id=str(raw["id"]),
            preset=str(raw["preset"]),
            size=str(raw.get("size", "quick")),
            overrides=_table(raw, "set", where),
            n_train=_count(raw.get("n_train", 100), f"{where}.n_train"),
            n_test=_count(raw.get("n_test", 20), f"{where}.n_test"),
            seed=_count(raw.get("seed", 0), f"{where}.seed", 0),
            reference=ladder,
        )
        try:
            case.problem()
        except (ValueError, FileNotFoundError) as error:
            raise ValueError(f"{where} ({case.id}): {error}") from None
        problems.append(case)
    ids = [p.id for p in problems]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{source}: problem ids must be unique, got {ids}")
    surrogates = []
    for i, raw in enumerate(data.get("surrogates", [])):
        where = f"{source}: surrogates[{i}]"
        _known(raw, {"id", "problem", "name", "hyperparameters", "training", "run", "goal"}, where)
        if "problem" not in raw or "name" not in raw:
            raise ValueError(f"{where}: needs 'problem' and 'name'")
        if raw["problem"] not in ids:
            raise ValueError(f"{where}: problem {raw['problem']!r} is not one of {ids}")
        try:
            surrogate_class(raw["name"])
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        surrogates.append(
            SurrogateCase(
                id=str(raw.get("id", raw["name"])),
                problem=str(raw["problem"]),
                name=str(raw["name"]),
                hyperparameters=_table(raw, "hyperparameters", where),
                training=_table(raw, "training", where),
                run=raw.get("run"),
                goal=_goal(_table(raw, "goal", where), metrics, where),
            )
        )
    keys = [(s.problem, s.id) for s in surrogates]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{source}: surrogate ids must be unique per problem")
    return Suite(
        name=str(name),
        description=str(data.get("description", "")),
        data_dir=Path(data.get("data_dir", "data/suites")),
        metrics=metrics,
        problems=tuple(problems),
        surrogates=tuple(surrogates),
    )


def load_suite(source: str | Path | Mapping[str, Any]) -> Suite:
    """Read and check a suite from a TOML file (or an already-parsed mapping)."""
    if isinstance(source, Mapping):
        return parse_suite(source)
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"suite {str(path)!r}: no such file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not valid TOML ({error})") from None
    return parse_suite(data, str(path))
