"""The closure contract: a learned map from the slow Lorenz96 state to the fast-scale term.

A closure ``c`` stands in for the effect of the unresolved fast variables on the slow ones,
``c(X)_k ≈ −(hc/b) Σ_j Y_{j,k}``, so that a hybrid model (the surrogate ``"l96-hybrid"``,
:mod:`pdeml.surrogates.l96_hybrid`) integrates only ``X``. Every closure

* takes hyperparameters only in its constructor (learned state is set by :meth:`Closure.fit`);
* learns from pairs ``X [m, K]`` → ``coupling [m, K]`` recorded by the resolved solver
  (:func:`closure_training_data` makes them);
* is evaluated on a whole ensemble at once, ``closure(X [n, K]) -> [n, K]`` in numpy, or
  :meth:`Closure.torch_call` on a float64 tensor (the torch RK4 path);
* saves to a directory of ``closure.json`` (name, hyperparameters, small arrays as lists)
  and, for networks, ``weights.pt`` (tensors only, read back with ``weights_only=True``);
  the same record (:meth:`Closure.to_record`) sits inside a hybrid surrogate's run folder.

Closures register under a short name in the registry that also serves problems and
surrogates (:class:`pdeml.registry.Registry`); :func:`make_closure` builds one by name.
"""

from __future__ import annotations

import abc
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from pdeml._json import read_json_object, write_json
from pdeml._version import __version__
from pdeml.registry import Registry
from pdeml.solvers.hybrid import as_states

if TYPE_CHECKING:
    from pdeml.problems.lorenz96 import Lorenz96

_REGISTRY: Registry[type[Closure]] = Registry("closure", builtins="pdeml.closures")
CONFIG = "closure.json"
WEIGHTS = "weights.pt"


def register_closure(cls: type[Closure]) -> type[Closure]:
    """Class decorator: make a closure constructible by its ``name``."""
    return _REGISTRY.register(cls)


def available_closures() -> list[str]:
    """Names of the registered closures, sorted."""
    return _REGISTRY.names()


def closure_class(name: str) -> type[Closure]:
    """The closure class registered as ``name`` (``ValueError`` lists the known ones)."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    return _REGISTRY.get(name)


def make_closure(name: str, **hyperparameters: Any) -> Closure:
    """Build an untrained closure by name.

    Examples
    --------
    >>> from pdeml.closures import make_closure
    >>> poly = make_closure("polynomial", degree=4)
    """
    return closure_class(name)(**hyperparameters)


def load_closure(path: str | Path) -> Closure:
    """Load any saved closure from its directory (dispatches on the saved name)."""
    return Closure.load(path)


def _read_config(path: str | Path) -> dict[str, Any]:
    file = Path(path) / CONFIG
    if not file.is_file():
        raise FileNotFoundError(f"closure {str(path)!r}: no {CONFIG} (not a saved closure)")
    return read_json_object(file)


def load_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Named tensors from a ``torch.save`` file, read with ``weights_only=True`` (no pickle)."""
    tensors = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(tensors, dict):
        raise ValueError(f"{path}: expected named tensors, got {type(tensors).__name__}")
    return tensors


def check_training_pairs(X: Any, coupling: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``X [m, K]`` and ``coupling [m, K]`` (same shape, finite, m >= 1)."""
    x = as_states(X, "X")
    y = as_states(coupling, "coupling")
    if x.shape != y.shape:
        raise ValueError(f"X {x.shape} and coupling {y.shape} must have the same shape [m, K]")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("X and coupling must be finite (the training run blew up?)")
    return x, y


class Closure(abc.ABC):
    """Base class of closures ``c(X)``: ``[n, K] -> [n, K]``.

    Subclasses set ``name``, take hyperparameters as keyword arguments (stored with
    :meth:`_set_hyperparameters`, so that :meth:`save` can rebuild them), and implement
    :meth:`_fit`, :meth:`torch_call` or :meth:`_numpy_call`, :meth:`_state` and
    :meth:`_set_state`.

    Attributes
    ----------
    fitted : bool
        Whether learned state is present (set by :meth:`fit` or :meth:`load`).
    history : list of dict
        Per-epoch training records of neural closures (empty for the others).
    """

    name: ClassVar[str] = ""

    def __init__(self) -> None:
        self.hyperparameters: dict[str, Any] = {}
        self.fitted = False
        self.history: list[dict[str, float]] = []

    def _set_hyperparameters(self, values: dict[str, Any]) -> None:
        self.hyperparameters = dict(values)

    @classmethod
    def hyperparameter_names(cls) -> list[str]:
        """Keyword arguments the constructor accepts."""
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters.items())
        return f"{type(self).__name__}({args})"

    # -- learning and evaluation --------------------------------------------------------
    def fit(self, X: Any, coupling: Any) -> Closure:
        """Learn ``coupling ≈ c(X)`` from pairs of slow states and closure terms.

        Parameters
        ----------
        X : array_like
            Slow states ``[m, K]`` (snapshots, any order).
        coupling : array_like
            The closure term ``−(hc/b) Σ_j Y_{j,k}`` at the same snapshots, ``[m, K]``.

        Returns
        -------
        Closure
            ``self``, fitted.
        """
        x, y = check_training_pairs(X, coupling)
        self._fit(x, y)
        self.fitted = True
        return self

    @abc.abstractmethod
    def _fit(self, X: np.ndarray, coupling: np.ndarray) -> None:
        """Learn from validated float64 pairs."""

    def __call__(self, X: Any) -> np.ndarray:
        """The closure term ``c(X)`` of a batch of states ``[n, K]``, as float64 ``[n, K]``."""
        self._require_fitted()
        return self._numpy_call(as_states(X))

    def _numpy_call(self, X: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.torch_call(torch.from_numpy(X)).cpu().numpy().astype(np.float64)

    def torch_call(self, X: torch.Tensor) -> torch.Tensor:
        """``c(X)`` on a tensor ``[n, K]``; returns a tensor of the same dtype and device.

        The default goes through numpy (for closures with no torch form).
        """
        out = self._numpy_call(X.detach().cpu().numpy().astype(np.float64))
        return torch.as_tensor(out, dtype=X.dtype, device=X.device)

    def inference(self, K: int) -> Callable[[np.ndarray], np.ndarray]:
        """A fast evaluator of ``c`` on rings of ``K`` sites: float64 ``[n, K] -> [n, K]``.

        The hybrid solver calls the closure four times per RK4 step on a small
        ``[members, K]`` batch, where the per-call overhead of a general forward pass
        (input checks, dtype casts, a torch graph of many tiny operations) costs more than
        the arithmetic. Closures override this with a precomputed numpy form (built once
        per ``K`` and cached); the returned function does no input checking and expects a
        float64 C-contiguous ``[n, K]`` array. The default is :meth:`_numpy_call`.
        """
        self._require_fitted()
        if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 4:
            raise ValueError(f"K must be an integer >= 4, got {K!r}")
        return self._numpy_call

    def polynomial_coefficients(self) -> np.ndarray | None:
        """Coefficients ``a_p`` of ``c(X)_k = Σ_p a_p X_k^p`` if the closure is one, else None.

        A closure that returns coefficients runs inside the numba RK4 kernel of the hybrid
        solver; the others are evaluated per stage on the whole ensemble.
        """
        return None

    def parameter_count(self) -> int | None:
        """Learned numbers: a network's trainable parameters, a polynomial's coefficients;
        ``None`` where the closure keeps its training data instead (a GP)."""
        self._require_fitted()
        model = getattr(self, "model", None)  # the network of a NeuralClosure
        if isinstance(model, torch.nn.Module):
            return sum(p.numel() for p in model.parameters() if p.requires_grad)
        return None

    def to(self, device: str | torch.device) -> Closure:
        """Move learned tensors to ``device`` (a no-op for closures without any)."""
        return self

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise ValueError(f"closure {self.name!r} is not fitted; call fit(...) or load(...)")

    # -- persistence --------------------------------------------------------------------
    def to_record(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """The fitted closure as a JSON-able record and named CPU tensors.

        The record holds the name, the hyperparameters, small learned arrays as lists and
        the training history; the tensors (network weights, GP training data) go to a
        ``weights.pt`` next to it. :meth:`save` writes both to a folder of their own; a
        hybrid surrogate keeps them in its run folder.
        """
        self._require_fitted()
        state, tensors = self._state()
        record = {
            "closure": self.name,
            "pdeml_version": __version__,
            "hyperparameters": self.hyperparameters,
            "state": state,
            "history": self.history,
        }
        return record, {k: v.detach().cpu() for k, v in tensors.items()}

    @classmethod
    def from_record(
        cls, record: Any, tensors: dict[str, torch.Tensor], where: str | Path
    ) -> Closure:
        """Rebuild a fitted closure from :meth:`to_record`'s output (``where`` names the
        file in messages). Called on a subclass, refuses a record of another closure."""
        if not isinstance(record, dict):
            raise ValueError(f"{where}: a closure record must be a mapping")
        for key in ("closure", "hyperparameters", "state"):
            if key not in record:
                raise ValueError(f"{where}: missing key {key!r}")
        if cls.name and record["closure"] != cls.name:
            raise ValueError(f"{where}: holds a {record['closure']!r} closure, not {cls.name!r}")
        closure = closure_class(record["closure"])(**record["hyperparameters"])
        closure._set_state(record["state"], tensors)
        closure.history = list(record.get("history", []))
        closure.fitted = True
        return closure

    def save(self, path: str | Path) -> Path:
        """Save to directory ``path``: ``closure.json`` and, for networks, ``weights.pt``."""
        record, tensors = self.to_record()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        if tensors:
            tmp = folder / (WEIGHTS + ".tmp")
            torch.save(tensors, tmp)
            tmp.replace(folder / WEIGHTS)
        write_json(folder / CONFIG, record)
        return folder

    @classmethod
    def load(cls, path: str | Path) -> Closure:
        """Rebuild a fitted closure from its directory alone."""
        record = _read_config(path)
        weights = Path(path) / WEIGHTS
        tensors = load_tensors(weights) if weights.is_file() else {}
        return cls.from_record(record, tensors, Path(path) / CONFIG)

    @abc.abstractmethod
    def _state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """Learned state: JSON-able entries and named tensors."""

    @abc.abstractmethod
    def _set_state(self, state: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        """Restore what :meth:`_state` returned."""


def closure_training_data(
    problem: Lorenz96, n: int, seed: int, *, solver_options: dict[str, Any] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(X, coupling)`` recorded along trajectories of the resolved solver.

    Draws ``n`` initial states on the attractor (``problem.sample_inputs``, which spins up
    each one), integrates them with the problem's reference solver to ``problem.T`` and
    stacks the stored states of every trajectory (``problem.closure_pairs``).

    Parameters
    ----------
    problem : Lorenz96
        The two-scale system (its ``T`` and ``save_every`` set how much each trajectory
        gives).
    n : int
        Number of trajectories.
    seed : int
        Seed of the initial states.
    solver_options : dict, optional
        Passed to ``problem.reference_solver``.

    Returns
    -------
    X, coupling : numpy.ndarray
        ``[n · n_save, K]`` each.
    """
    # By name, not isinstance: closures do not import the problems (no import circle).
    if getattr(problem, "name", None) != "lorenz96":
        raise TypeError(f"problem must be a Lorenz96 problem, got {type(problem).__name__}")
    inputs = problem.sample_inputs(n, seed)
    return problem.closure_pairs(problem.reference_solver(**(solver_options or {})).solve(inputs))
