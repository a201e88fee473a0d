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
    reference = { resolutions = [8, 15, 29, 85], truth_resolution = 169, samples = 4 }
    # a coarser grid than the stored one is interpolated onto it; where the problem has a
    # time step: dt = [...] (each grid at each step) and truth_dt (pdeml.validation.ladder_spec)

    [[surrogates]]
    id = "fno"
    problem = "darcy"
    name = "fno"                          # registered surrogate name
    hyperparameters = { modes = 8, width = 24 }   # the constructor's arguments
    training = { epochs = 30, batch_size = 10 }   # the options of fit
    # run = "runs/darcy-fno"              # load a trained run instead of training

Relative paths are taken relative to the current directory.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pdeml.validation.ladder_spec import ReferenceLadder, check_ladder, parse_ladder
from pdeml.validation.suite_keys import array as _array
from pdeml.validation.suite_keys import count as _count
from pdeml.validation.suite_keys import known as _known
from pdeml.validation.suite_keys import table as _table

if TYPE_CHECKING:
    from pdeml.problems.base import Problem

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_METRICS = ("relative_l2", "relative_h1", "nrmse", "max_error")
#: Most samples (n_train + n_test) of one problem of a suite.
MAX_SAMPLES = 10**7
#: Largest suite file read: suites are a few kB; a bigger file is the wrong file.
MAX_SUITE_BYTES = 2**20


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

    def problem(self) -> Problem:
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
    #: Guarded inference (:mod:`pdeml.validation.guarded`): ``{tol, fallback, ...}`` or None.
    guard: Mapping[str, Any] | None = None


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


def _text(data: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise ValueError(f"{where}: {key} must be a string, got {value!r} ({type(value).__name__})")
    return value


#: Entry ids become file names (``entries/<problem>__<surrogate>.json``): letters, digits,
#: ``.``, ``-`` and single ``_``, so that no id reaches outside the folder and no two
#: (problem, surrogate) pairs share a name.
_ID = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]|_(?!_))*")


def _id(data: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = _text(data, key, where, default)
    if not _ID.fullmatch(value) or len(value) > 100:
        raise ValueError(
            f"{where}: {key} {value!r} must be 1-100 letters, digits, '.', '-' or single '_', "
            "starting with a letter or digit"
        )
    return value


def parse_suite(data: Mapping[str, Any], source: str = "suite") -> Suite:
    """Check a suite mapping (as read from TOML) and build a :class:`Suite`.

    Every mistake raises ``ValueError`` naming the entry and the key.
    """
    from pdeml.surrogates.base import surrogate_class
    from pdeml.validation.guarded import check_guard
    from pdeml.validation.metrics import METRICS

    if not isinstance(data, Mapping):
        raise ValueError(f"{source}: expected a table of suite keys, got {type(data).__name__}")
    _known(data, {"name", "description", "data_dir", "metrics", "problems", "surrogates"}, source)
    suite_name = _text(data, "name", source, Path(source).stem) or Path(source).stem
    description = _text(data, "description", source, "")
    data_dir = _text(data, "data_dir", source, "data/suites")
    if not data_dir.strip():
        raise ValueError(f"{source}: data_dir must name a folder, got {data_dir!r}")
    metrics = data.get("metrics", list(DEFAULT_METRICS))
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise ValueError(f"{source}: metrics must be an array of metric names, got {metrics!r}")
    metrics = tuple(metrics)
    if "error_over_time" in metrics:
        raise ValueError(
            f"{source}: metrics: error_over_time is recorded automatically for "
            "time-dependent outputs; leave it out of the list"
        )
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(
            f"{source}: metrics: unknown metric(s) {unknown}; expected some of {sorted(METRICS)}"
        )
    problems = []
    for i, raw in enumerate(_array(data, "problems", source, tables=True)):
        where = f"{source}: problems[{i}]"
        _known(
            raw, {"id", "preset", "size", "set", "n_train", "n_test", "seed", "reference"}, where
        )
        if "id" not in raw or "preset" not in raw:
            raise ValueError(f"{where}: needs 'id' and 'preset'")
        ladder = parse_ladder(raw, where) if "reference" in raw else None
        case = ProblemCase(
            id=_id(raw, "id", where),
            preset=_text(raw, "preset", where),
            size=_text(raw, "size", where, "quick"),
            overrides=_table(raw, "set", where),
            n_train=_count(raw.get("n_train", 100), f"{where}.n_train"),
            n_test=_count(raw.get("n_test", 20), f"{where}.n_test"),
            seed=_count(raw.get("seed", 0), f"{where}.seed", 0),
            reference=ladder,
        )
        if case.n_train + case.n_test > MAX_SAMPLES:
            raise ValueError(
                f"{where}: n_train + n_test must be at most {MAX_SAMPLES:,}, "
                f"got {case.n_train + case.n_test:,}"
            )
        if case.seed >= 2**63:
            raise ValueError(f"{where}.seed must be below 2**63, got {case.seed}")
        try:
            problem = case.problem()
        except (ValueError, TypeError, KeyError, FileNotFoundError) as error:
            message = error.args[0] if isinstance(error, KeyError) and error.args else error
            raise ValueError(f"{where} ({case.id}): {message}") from None
        if ladder is not None:
            check_ladder(problem, ladder, f"{where}.reference")
        problems.append(case)
    if not problems:
        raise ValueError(
            f"{source}: no [[problems]] table; a suite needs at least one problem to validate"
        )
    ids = [p.id for p in problems]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{source}: problem ids must be unique, got {ids}")
    surrogates = []
    for i, raw in enumerate(_array(data, "surrogates", source, tables=True)):
        where = f"{source}: surrogates[{i}]"
        _known(
            raw,
            {"id", "problem", "name", "hyperparameters", "training", "run", "goal", "guard"},
            where,
        )
        if "problem" not in raw or "name" not in raw:
            raise ValueError(f"{where}: needs 'problem' and 'name'")
        problem_id = _text(raw, "problem", where)
        if problem_id not in ids:
            raise ValueError(f"{where}: problem {problem_id!r} is not one of {ids}")
        name = _text(raw, "name", where)
        try:
            kind = surrogate_class(name)
        except (ValueError, KeyError) as error:
            raise ValueError(f"{where}: name: {error}") from None
        hyperparameters = _table(raw, "hyperparameters", where)
        training = _table(raw, "training", where)
        _check_settings(kind, hyperparameters, training, where)
        run = raw.get("run")
        if run is not None and (not isinstance(run, str) or not run.strip()):
            raise ValueError(f"{where}: run must be the path of a trained run, got {run!r}")
        surrogates.append(
            SurrogateCase(
                id=_id(raw, "id", where, name),
                problem=problem_id,
                name=name,
                hyperparameters=hyperparameters,
                training=training,
                run=run,
                goal=_goal(_table(raw, "goal", where), metrics, where),
                guard=check_guard(raw["guard"], f"{where}.guard") if "guard" in raw else None,
            )
        )
    keys = [(s.problem, s.id) for s in surrogates]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{source}: surrogate ids must be unique per problem")
    return Suite(
        name=suite_name,
        description=description,
        data_dir=Path(data_dir),
        metrics=metrics,
        problems=tuple(problems),
        surrogates=tuple(surrogates),
    )


#: Fit options the runner sets itself: a suite may not give them.
_RUNNER_OPTIONS = ("out_dir", "resume")


def _check_settings(
    kind: Any, hyperparameters: Mapping[str, Any], training: Mapping[str, Any], where: str
) -> None:
    """One rule for every surrogate: ``hyperparameters`` are the constructor's arguments,
    ``training`` the options of ``fit``. A key in the wrong table is named with the table
    it belongs in; values are checked when the entry runs (a bad one fails that entry)."""
    accepted = {
        "hyperparameters": set(kind.hyperparameter_names()),
        "training": set(kind.fit_option_names()) - set(_RUNNER_OPTIONS),
    }
    for table, given in (("hyperparameters", hyperparameters), ("training", training)):
        other = "training" if table == "hyperparameters" else "hyperparameters"
        for key in sorted(set(given) - accepted[table]):
            if table == "hyperparameters" and key not in accepted[other]:
                if kind.accepts_extra_hyperparameters():
                    continue  # passed on by the constructor, which checks it
            if key in accepted[other]:
                raise ValueError(
                    f"{where}.{table}: {key!r} is a {other} setting of {kind.name!r}; "
                    f"move it to {other}"
                )
            raise ValueError(
                f"{where}.{table}: unknown key {key!r} for {kind.name!r}; expected some of "
                f"{sorted(accepted[table])}"
            )


def load_suite(source: str | Path | Mapping[str, Any]) -> Suite:
    """Read and check a suite from a TOML file (or an already-parsed mapping).

    Parameters
    ----------
    source : path or mapping
        The suite file, or its parsed contents.

    Returns
    -------
    Suite

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file is not UTF-8 TOML, or for any mistake in it; the message names the
        file and the key.
    TypeError
        If ``source`` is neither a path nor a mapping.
    """
    if isinstance(source, Mapping):
        return parse_suite(source)
    if not isinstance(source, (str, Path)):
        raise TypeError(
            f"suite: expected a TOML file path or a mapping, got {type(source).__name__}"
        )
    path = Path(source)
    if path.is_dir():
        raise IsADirectoryError(f"suite {str(path)!r}: is a folder, expected a TOML file")
    if not path.is_file():
        raise FileNotFoundError(f"suite {str(path)!r}: no such file")
    if path.stat().st_size > MAX_SUITE_BYTES:
        raise ValueError(
            f"suite {str(path)!r}: {path.stat().st_size:,} bytes, expected a TOML file of at "
            f"most {MAX_SUITE_BYTES:,} bytes"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"suite {str(path)!r}: not a text (UTF-8) TOML file") from None
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not valid TOML ({error})") from None
    return parse_suite(data, str(path))
