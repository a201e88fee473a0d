"""The ``Surrogate`` contract: a Solver that can also ``fit``, ``save`` and ``load``.

Constructors take the problem and model hyperparameters only (the scikit-learn habit);
every optimisation setting (epochs or steps, learning rate and schedule, seed, device, time
limit, batch size) is an option of :meth:`Surrogate.fit`, and learned state is set there.
Each surrogate declares what it can do in :class:`Capabilities` (read, never probed),
registers under a short name so that suites and the CLI can name it, and refuses a problem
it cannot serve at construction.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from pdeml._checks import nonfinite_samples
from pdeml._json import read_json_object
from pdeml._version import __version__
from pdeml.problems.base import Problem
from pdeml.protocols import DatasetLike
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


def check_finite_data(data: DatasetLike, argument: str) -> None:
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


@dataclasses.dataclass(frozen=True)
class Capabilities:
    """What a surrogate class can do, declared once as its ``capabilities`` class attribute.

    Validation, the CLI and the contract test read these instead of probing a surrogate
    with ``getattr``; the contract test checks each against the surrogate's behaviour.
    Where a hyperparameter decides, an instance narrows its class's declaration by setting
    its own ``capabilities`` (a parametric PINN trains in ``fit``, not per query); code
    reads ``surrogate.capabilities``.

    Parameters
    ----------
    needs_data : bool
        ``fit`` needs solution data (a Dataset with outputs). False for surrogates that learn
        from the problem alone (physics-informed ones); they may take a Dataset to validate.
    trains_per_query : bool
        ``solve`` trains (one network per input sample, as a PINN): the cost of a query
        includes training, and a warm-up call before timing would train once more.
    checkpoints : bool
        ``fit`` accepts ``out_dir=`` and ``resume=``: it writes checkpoints and the metrics
        log there, and continues an interrupted run.
    uncertainty : bool
        :meth:`Surrogate.solve_with_uncertainty` gives a predictive mean and variance.
    devices : tuple of str
        Kinds of torch device the surrogate trains and predicts on: ``("cpu",)`` or
        ``("cpu", "cuda")`` (CUDA used when present unless the ``device`` option says).

    Examples
    --------
    >>> from pdeml.surrogates.base import surrogate_class
    >>> surrogate_class("fno").capabilities.checkpoints
    True
    """

    needs_data: bool = True
    trains_per_query: bool = False
    checkpoints: bool = False
    uncertainty: bool = False
    devices: tuple[str, ...] = ("cpu",)

    def __post_init__(self) -> None:
        for field in ("needs_data", "trains_per_query", "checkpoints", "uncertainty"):
            check_bool(field, getattr(self, field))
        if not self.devices or not set(self.devices) <= {"cpu", "cuda"}:
            raise ValueError(f"devices must be some of ('cpu', 'cuda'), got {self.devices!r}")


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

    Subclasses set ``name`` and ``capabilities``, accept their model hyperparameters as
    keyword arguments in ``__init__`` (stored by :meth:`_set_hyperparameters`), take every
    optimisation setting as a keyword option of :meth:`fit`, and implement :meth:`fit`,
    :meth:`solve`, :meth:`_save_state` and :meth:`_load_state`.

    Attributes
    ----------
    hyperparameters : dict
        The constructor's arguments as checked and resolved (see :meth:`get_params`).
    history : list of dict
        The training log of the last :meth:`fit` (empty for surrogates without epochs).
    device : str
        Where the learned state lives and :meth:`solve` runs (``"cpu"`` until fitted on
        another device).
    """

    name: str = ""
    #: Read from the instance: one may narrow its class's declaration (see Capabilities).
    capabilities: Capabilities = Capabilities()
    #: ``capabilities.needs_data`` and ``capabilities.checkpoints`` of the class, kept as
    #: class attributes for code that reads them; set from ``capabilities`` for every
    #: subclass (read ``surrogate.capabilities``: an instance may narrow its class's).
    needs_data: ClassVar[bool] = True
    checkpoints: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.needs_data = cls.capabilities.needs_data
        cls.checkpoints = cls.capabilities.checkpoints

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem)
        self.hyperparameters: dict[str, Any] = {}
        self.fitted = False
        self.history: list[dict[str, float]] = []
        self.device = "cpu"

    def _set_hyperparameters(self, values: Mapping[str, Any]) -> None:
        self.hyperparameters = dict(values)

    @classmethod
    def hyperparameter_names(cls) -> list[str]:
        """Named keyword arguments the constructor accepts besides ``problem``."""
        return _keywords(cls.__init__, ("self", "problem"))

    @classmethod
    def accepts_extra_hyperparameters(cls) -> bool:
        """Whether the constructor also takes ``**hyperparameters`` it passes on (e.g. to
        a closure); then a key outside :meth:`hyperparameter_names` is the constructor's
        to judge, not a mistake to refuse beforehand."""
        kinds = [p.kind for p in inspect.signature(cls.__init__).parameters.values()]
        return inspect.Parameter.VAR_KEYWORD in kinds

    @classmethod
    def fit_option_names(cls) -> list[str]:
        """Options :meth:`fit` accepts besides ``train`` and ``valid``, sorted.

        The keyword parameters of ``fit`` by default; a ``fit`` that forwards ``**options``
        to a training engine overrides this to list the engine's settings. ``progress`` is
        always accepted (the validation runner and the CLI pass it to every surrogate).
        """
        return sorted({"progress", *_keywords(cls.fit, ("self", "train", "valid"))})

    def check_fit_options(self, options: Mapping[str, Any]) -> None:
        """Refuse options :meth:`fit` does not take, naming them (``TypeError``).

        Surrogates whose options go to a training engine also check the values here
        (``ValueError``), so that the CLI can refuse a bad setting before it clears a run
        folder.
        """
        unknown = sorted(set(options) - set(self.fit_option_names()))
        if unknown:
            hint = [k for k in unknown if k in self.hyperparameter_names()]
            where = f"; {hint} are hyperparameters: give them to the constructor" if hint else ""
            raise TypeError(
                f"{self.name}.fit: unexpected option(s) {unknown}; expected some of "
                f"{self.fit_option_names()}{where}"
            )

    def get_params(self) -> dict[str, Any]:
        """The constructor's hyperparameters, as checked and resolved.

        ``type(s)(s.problem, **s.get_params())`` builds an equal, untrained surrogate.
        """
        return copy.deepcopy(self.hyperparameters)

    def options(self) -> dict[str, Any]:
        return dict(self.hyperparameters)

    def parameter_count(self) -> int | None:
        """Trainable parameters of the fitted model; ``None`` where a model has no fixed
        set of them (a GP keeps its training data). Requires a fitted surrogate."""
        self._require_fitted()
        return None

    def fit(
        self, train: DatasetLike, valid: DatasetLike | None = None, **options: Any
    ) -> Surrogate:
        """Learn from ``train`` (a :class:`pdeml.Dataset`); return ``self``."""
        raise NotImplementedError

    def solve_with_uncertainty(
        self, inputs: Mapping[str, np.ndarray]
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Predictive mean and variance, for surrogates that have them."""
        raise NotImplementedError(f"surrogate {self.name!r} gives no predictive variance")

    def _check_train(self, train: object, options: Mapping[str, Any]) -> None:
        """Refuse unknown fit options and data of another problem, with clear errors."""
        self.check_fit_options(options)
        self._check_data(train, "train")

    def _check_data(self, data: object, argument: str) -> None:
        """Refuse anything but a Dataset of this surrogate's problem (``argument`` names
        it in the message)."""
        problem = getattr(data, "problem", None)
        if problem is None or not hasattr(data, "inputs"):
            raise TypeError(f"{argument} must be a pdeml Dataset, got {type(data).__name__}")
        if problem.name != self.problem.name:
            raise ValueError(
                f"{argument}: data of problem {problem.name!r}, but this surrogate was built "
                f"for {self.problem.name!r}"
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
        kind = surrogate_class(config["surrogate"])
        hyper, config = _moved_to_fit(kind, hyper, config)
        try:
            surrogate = kind(problem, **hyper)
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


def _keywords(function: Any, skip: tuple[str, ...]) -> list[str]:
    """Names ``function`` takes by keyword (no ``*args``/``**kwargs``), in order."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [
        p.name
        for p in inspect.signature(function).parameters.values()
        if p.kind in kinds and p.name not in skip
    ]


def _moved_to_fit(
    kind: type[Surrogate], hyper: dict[str, Any], config: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a run saved when some optimisation settings (a GP's ``restarts``, ``max_iter``
    and ``seed``) were still hyperparameters: they move to the ``training`` record, where
    runs saved now keep them. Unknown keys stay, for the constructor to name."""
    names = set(kind.hyperparameter_names())
    moved = {k: v for k, v in hyper.items() if k not in names and k in kind.fit_option_names()}
    if not moved:
        return hyper, config
    training = config.get("training")
    training = dict(training) if isinstance(training, dict) else {}
    kept = {k: v for k, v in hyper.items() if k not in moved}
    return kept, {**config, "training": {**moved, **training}}
