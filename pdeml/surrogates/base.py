"""The ``Surrogate`` contract: a Solver that can also ``fit``, ``save`` and ``load``.

Constructors take the problem and hyperparameters only (the scikit-learn habit); learned
state is set by :meth:`Surrogate.fit`. Each surrogate registers under a short name so that
suites and the CLI can name it, and refuses a problem it cannot serve at construction.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from pdeml._json import read_json_object
from pdeml._version import __version__
from pdeml.problems.base import Problem
from pdeml.problems.checks import nonfinite_samples
from pdeml.registry import Registry
from pdeml.solvers.base import Solver

_REGISTRY: Registry[type[Surrogate]] = Registry("surrogate", builtins="pdeml.surrogates")
CONFIG = "config.json"
#: Most trainable parameters a surrogate may ask for: with gradients and Adam's two
#: moments that is about 8 GB of float32 state. Checked before anything is allocated, so
#: that a typo (``width=32000``) is one line instead of minutes of swapping.
MAX_PARAMETERS = 500_000_000


def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is a bool (``"yes"``, 1 or ``"false"`` are refused, not guessed)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return bool(value)


def check_parameter_count(surrogate: str, count: int, hint: str) -> None:
    """Refuse a network of more than :data:`MAX_PARAMETERS` parameters (``hint`` names the
    hyperparameters that set the size)."""
    if count > MAX_PARAMETERS:
        raise ValueError(
            f"{surrogate}: {hint} give about {count:.3g} trainable parameters, more than the "
            f"{MAX_PARAMETERS:.3g} allowed (about 8 GB with optimiser state); choose smaller "
            "values"
        )


def check_finite_data(data: Any, argument: str) -> None:
    """Refuse NaN or infinite values in a dataset, naming the field and the first sample.

    Training on such data ends in a NaN loss or metric after the whole run; checking first
    costs one pass over the data. Uses the dataset's own ``check_finite`` where it has one.
    """
    if hasattr(data, "check_finite"):
        try:
            data.check_finite()
        except ValueError as error:
            raise ValueError(f"{argument}: {error}") from None
        return
    check_finite_fields(data.inputs, argument, "input", getattr(data, "path", None))
    check_finite_fields(data.outputs, argument, "output", getattr(data, "path", None))


def check_finite_fields(
    fields: Mapping[str, np.ndarray], argument: str, role: str, path: Any = None
) -> None:
    """Refuse NaN or infinite values in already loaded fields (sample axis first)."""
    where = f" of {path}" if path else ""
    for name, array in fields.items():
        found = nonfinite_samples(array)
        if found is not None:
            raise ValueError(
                f"{argument}: {role} field {name!r}{where} holds NaN or infinite values in "
                f"{found[0]} sample(s), the first at position {found[1]}; "
                "remove or fix those samples"
            )


def register_surrogate(cls: type[Surrogate]) -> type[Surrogate]:
    """Class decorator: make a surrogate constructible by its ``name``."""
    return _REGISTRY.register(cls)


def available_surrogates() -> list[str]:
    """Names of the registered surrogates, sorted."""
    return _REGISTRY.names()


def surrogate_class(name: str) -> type[Surrogate]:
    """The surrogate class registered as ``name`` (``ValueError`` lists the known ones)."""
    return _REGISTRY.get(name)


def make_surrogate(name: str, problem: Problem, **hyperparameters: Any) -> Surrogate:
    """Build an untrained surrogate by name.

    Examples
    --------
    >>> import pdeml
    >>> problem = pdeml.load_problem("darcy")
    >>> fno = pdeml.make_surrogate("fno", problem, modes=8, width=16)
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a pdeml Problem, got {type(problem).__name__}")
    return surrogate_class(name)(problem, **hyperparameters)


def load_surrogate(path: str | Path) -> Surrogate:
    """Load any saved surrogate from its run directory (dispatches on the saved name)."""
    config = read_config(path)
    return surrogate_class(config["surrogate"]).load(path)


def read_config(path: str | Path) -> dict[str, Any]:
    """The ``config.json`` of a saved surrogate, with clear errors for missing files."""
    folder = Path(path)
    file = folder / CONFIG
    if not file.is_file():
        raise FileNotFoundError(
            f"surrogate {str(folder)!r}: no {CONFIG} (not a saved run directory)"
        )
    config = read_json_object(file)
    for key in ("surrogate", "problem", "hyperparameters"):
        if key not in config:
            raise ValueError(f"{file}: missing key {key!r}")
    if not isinstance(config["surrogate"], str):
        raise ValueError(f"{file}: key 'surrogate' must be a name, got {config['surrogate']!r}")
    return config


class Surrogate(Solver):
    """Base class of learned solvers.

    Subclasses set ``name``, accept their hyperparameters as keyword arguments in
    ``__init__`` (stored by :meth:`_set_hyperparameters`), and implement :meth:`fit`,
    :meth:`solve`, :meth:`_save_state` and :meth:`_load_state`.
    """

    name: ClassVar[str] = ""
    #: Whether ``fit`` needs solution data (False for physics-informed surrogates).
    needs_data: ClassVar[bool] = True
    #: Whether ``fit`` takes ``out_dir=`` and ``resume=`` (checkpointed training loops).
    checkpoints: ClassVar[bool] = False

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem)
        self.hyperparameters: dict[str, Any] = {}
        self.fitted = False
        self.history: list[dict[str, float]] = []

    def _set_hyperparameters(self, values: Mapping[str, Any]) -> None:
        self.hyperparameters = dict(values)

    @classmethod
    def hyperparameter_names(cls) -> list[str]:
        """Keyword arguments the constructor accepts besides ``problem``."""
        signature = inspect.signature(cls.__init__)
        return [p for p in signature.parameters if p not in ("self", "problem")]

    def options(self) -> dict[str, Any]:
        return dict(self.hyperparameters)

    def fit(self, train: Any, valid: Any = None, **options: Any) -> Surrogate:
        """Learn from ``train`` (a :class:`pdeml.Dataset`); return ``self``."""
        raise NotImplementedError

    def solve_with_uncertainty(
        self, inputs: Mapping[str, np.ndarray]
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Predictive mean and variance, for surrogates that have them."""
        raise NotImplementedError(f"surrogate {self.name!r} gives no predictive variance")

    def _check_train(self, train: Any, options: Mapping[str, Any]) -> None:
        """Refuse unknown fit options and data of another problem, with clear errors.

        For surrogates whose ``fit`` takes no options: ``progress`` is accepted and
        ignored (the validation runner and the CLI pass it to every surrogate).
        """
        unknown = sorted(set(options) - {"progress"})
        if unknown:
            raise TypeError(f"{self.name}.fit: unexpected options {unknown}")
        problem = getattr(train, "problem", None)
        if problem is None or not hasattr(train, "inputs"):
            raise TypeError(f"train must be a pdeml Dataset, got {type(train).__name__}")
        if problem.name != self.problem.name:
            raise ValueError(
                f"train: data of problem {problem.name!r}, but this surrogate was built for "
                f"{self.problem.name!r}"
            )

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise ValueError(f"surrogate {self.name!r} is not fitted; call fit(...) or load(...)")

    # -- persistence ----------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Save to the run directory ``path`` (``config.json`` plus the learned state)."""
        self._require_fitted()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        config = {
            "surrogate": self.name,
            "pdeml_version": __version__,
            "problem": self.problem.to_dict(),
            "hyperparameters": self.hyperparameters,
            **self._save_state(folder),
        }
        tmp = folder / (CONFIG + ".tmp")
        tmp.write_text(json.dumps(config, indent=1))
        tmp.replace(folder / CONFIG)
        return folder

    @classmethod
    def load(cls, path: str | Path) -> Surrogate:
        """Rebuild a fitted surrogate from its run directory alone."""
        config = read_config(path)
        file = Path(path) / CONFIG
        if cls.name and config["surrogate"] != cls.name:
            raise ValueError(f"{path}: holds a {config['surrogate']!r} surrogate, not {cls.name!r}")
        # The file may have been edited: every value goes through the same checks as a
        # user's, and the message names the file and the key.
        if not isinstance(config["problem"], dict):
            raise ValueError(f"{file}: key 'problem' must be a mapping")
        try:
            problem = Problem.from_dict(config["problem"])
        except (ValueError, TypeError, KeyError) as error:
            raise ValueError(f"{file}: key 'problem': {error}") from None
        hyper = config["hyperparameters"]
        if not isinstance(hyper, dict):
            raise ValueError(f"{file}: key 'hyperparameters' must be a mapping")
        try:
            surrogate = surrogate_class(config["surrogate"])(problem, **hyper)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{file}: key 'hyperparameters': {error}") from None
        surrogate._load_state(Path(path), config)
        surrogate.fitted = True
        return surrogate

    def _save_state(self, folder: Path) -> dict[str, Any]:
        """Write learned state into ``folder``; return extra entries for ``config.json``."""
        raise NotImplementedError

    def _load_state(self, folder: Path, config: dict[str, Any]) -> None:
        """Restore learned state written by :meth:`_save_state`."""
        raise NotImplementedError
