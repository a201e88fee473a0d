"""The hybrid Lorenz96 model as a surrogate: the slow variables only, a learned closure for
the fast ones (registered as ``"l96-hybrid"``).

    dX_k/dt = X_{k−1}(X_{k+1} − X_{k−2}) − X_k + F + c(X)_k

``fit(train)`` fits the closure ``c`` (:mod:`pdeml.closures`) to the pairs ``(X,
coupling)`` stored along the resolved trajectories of a Lorenz96 dataset; ``solve({"X0"})``
integrates the slow ring with classic RK4 to the problem's output times, in the fastest
loop of :mod:`pdeml.solvers.hybrid` the closure allows. The run folder holds
``config.json`` (with the closure's record) and, for closures with tensors,
``closure_weights.pt``.

Examples
--------
>>> import pdeml
>>> problem = pdeml.load_problem("lorenz96-wilks", size="quick")
>>> hybrid = pdeml.make_surrogate("l96-hybrid", problem, closure="polynomial", degree=4)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pdeml._checks import require_positive
from pdeml.closures.base import Closure, closure_class, load_tensors, make_closure
from pdeml.problems.base import Problem
from pdeml.problems.lorenz96 import Lorenz96
from pdeml.protocols import DatasetLike
from pdeml.solvers.hybrid import (
    as_states,
    hybrid_rk4_network,
    hybrid_rk4_numpy,
    hybrid_rk4_polynomial,
    hybrid_rk4_torch,
)
from pdeml.solvers.ode import steps_between
from pdeml.surrogates.base import Capabilities, Surrogate, check_bool, register_surrogate

#: Default largest RK4 step of the slow-only system, independent of the resolved model's
#: step (which the fast scale sets). From the step-size study (docs/problems/
#: lorenz96_hybrid.md, "Step size"; ``validation/benchmarks/hybrid_lorenz96.py --dt-study``):
#: at t = 1 the dt = 0.05 trajectories differ from the dt = 0.005 ones by 2-4 % of the
#: closures' own forecast error, at both the Wilks and the Lorenz-1996 settings.
DEFAULT_DT = 0.05
BACKENDS = ("auto", "numba", "numpy", "torch")
#: Closure settings that belong to the optimisation, so to :meth:`L96HybridSurrogate.fit`:
#: the constructor refuses them (model hyperparameters only).
TRAINING_OPTIONS = ("epochs", "batch_size", "lr", "max_samples", "seed", "restarts", "device")
WEIGHTS = "closure_weights.pt"


@register_surrogate
class L96HybridSurrogate(Surrogate):
    """Slow-only Lorenz96 with a learned closure for the fast scale, on the problem's times.

    Parameters
    ----------
    problem : Lorenz96
        Gives ``K``, ``F``, the horizon ``T`` and the output interval ``save_every·dt``;
        ``J, h, b, c`` are not used (the closure stands for them).
    closure : str or Closure
        A registered closure name (``"none"``, ``"polynomial"``, ``"mlp"``, ``"gp"``,
        ``"fno"``), built with ``closure_hyperparameters``; or a closure object, used as it
        is (a fitted one makes the surrogate fitted: the way to run a closure fitted
        elsewhere).
    dt : float, optional
        Largest RK4 step (default ``min(DEFAULT_DT, save_interval)`` with
        :data:`DEFAULT_DT` = 0.05, chosen by a step-size study, not the problem's ``dt``);
        each output interval is split into the fewest equal steps not longer than ``dt``.
    backend : {"auto", "numba", "numpy", "torch"}
        ``auto``: numba for polynomial closures and for closures with a compiled network
        form (the FNO when ``K·width ≤`` :data:`pdeml.closures.fno.DENSE_LIMIT`), numpy
        (the closure's inference fast path) for the others, torch when fitted on a non-CPU
        ``device``. ``numpy`` and ``torch`` work for every closure (the tests compare
        them); ``numba`` only for those two kinds.
    check_finite : bool
        Raise ``FloatingPointError`` when the trajectory blows up (default). Evaluations
        that measure the time to failure pass False and get the NaN/inf trajectory.
    **closure_hyperparameters
        Model hyperparameters of the closure (``degree``, ``window``, ``hidden``,
        ``modes``, ...); its training settings (:data:`TRAINING_OPTIONS`) go to :meth:`fit`.

    Notes
    -----
    ``solve({"X0": X0 [n, K]})`` returns ``X [n, t, K]`` at ``problem.output_times()`` (as
    the reference solver's ``X``) and ``coupling [n, t, K]``, the closure at those states.
    A ``Y0`` entry, if present, is ignored. :meth:`integrate` takes any horizon.
    """

    name = "l96-hybrid"
    capabilities = Capabilities(devices=("cpu", "cuda"))

    def __init__(
        self,
        problem: Lorenz96,
        closure: str | Closure = "none",
        *,
        dt: float | None = None,
        backend: str = "auto",
        check_finite: bool = True,
        **closure_hyperparameters: Any,
    ) -> None:
        if not isinstance(problem, Lorenz96):
            kind = problem.name if isinstance(problem, Problem) else type(problem).__name__
            raise TypeError(f"{self.name}: problem must be a Lorenz96 problem, got {kind}")
        super().__init__(problem)
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        dt = min(DEFAULT_DT, problem.save_interval) if dt is None else dt
        require_positive(self.name, "dt", dt)
        self.closure = self._closure(closure, closure_hyperparameters)
        # What each fit starts from: fit options apply to that fit only.
        self._closure_hyperparameters = dict(self.closure.hyperparameters)
        self.dt = float(dt)
        self.backend = backend
        self.check_finite = check_bool("check_finite", check_finite)
        self.fitted = self.closure.fitted
        self.valid_closure_error: float | None = None
        model = {k: v for k, v in self.closure.hyperparameters.items() if k not in TRAINING_OPTIONS}
        self._set_hyperparameters(
            {
                "closure": self.closure.name,
                **model,
                "dt": self.dt,
                "backend": backend,
                "check_finite": self.check_finite,
            }
        )
        if backend == "numba" and self.closure.fitted and not self._compiles(problem.K):
            raise ValueError(
                f"backend 'numba' needs a polynomial closure or a compiled network form; "
                f"{self.closure.name!r} on K = {problem.K} has neither (use 'auto' or 'torch')"
            )

    @staticmethod
    def _closure(closure: Any, hyperparameters: dict[str, Any]) -> Closure:
        """The closure object: the one given, or a new one built by name."""
        if isinstance(closure, Closure):
            if hyperparameters:
                raise TypeError(
                    f"closure hyperparameters {sorted(hyperparameters)} given with a closure "
                    "object; give a closure name instead"
                )
            return closure
        if not isinstance(closure, str):
            raise TypeError(
                f"closure must be a closure name or a pdeml Closure, got {type(closure).__name__}"
            )
        training = sorted(set(hyperparameters) & set(TRAINING_OPTIONS))
        if training:
            raise TypeError(f"{training} are training settings: give them to fit(...)")
        return make_closure(closure, **hyperparameters)

    @classmethod
    def fit_option_names(cls) -> list[str]:
        """``progress`` and the closures' training settings (:data:`TRAINING_OPTIONS`)."""
        return sorted({"progress", *TRAINING_OPTIONS})

    def parameter_count(self) -> int | None:
        """Learned numbers of the closure (``None`` for a GP: it keeps its data)."""
        self._require_fitted()
        return self.closure.parameter_count()

    # -- learning -------------------------------------------------------------------------
    def fit(
        self, train: DatasetLike, valid: DatasetLike | None = None, **options: Any
    ) -> L96HybridSurrogate:
        """Fit the closure to the ``(X, coupling)`` pairs of the trajectories in ``train``.

        Parameters
        ----------
        train : Dataset
            Resolved Lorenz96 trajectories (outputs ``X`` and ``coupling``); every stored
            state is one training pair.
        valid : Dataset, optional
            Held-out trajectories: the closure's normalised mean squared error on their
            pairs (1 = predicting the mean) is kept in ``valid_closure_error``.
        **options
            The closure's training settings (those of :data:`TRAINING_OPTIONS` it takes:
            ``epochs``, ``batch_size``, ``lr``, ``max_samples``, ``seed`` for networks,
            ``restarts``, ``seed`` for the GP, ``device`` for both, which is also where
            the torch loop of :meth:`solve` runs); ``progress`` is accepted and ignored.

        Returns
        -------
        L96HybridSurrogate
            ``self``, fitted.
        """
        self._check_train(train, options)
        settings = {k: v for k, v in options.items() if k != "progress"}
        accepted = set(closure_class(self.closure.name).hyperparameter_names())
        refused = sorted(set(settings) - accepted - {"device"})
        if refused:
            raise TypeError(
                f"{self.name}.fit: the {self.closure.name!r} closure takes no option(s) {refused}"
            )
        chosen = {k: v for k, v in settings.items() if k in accepted}
        closure = make_closure(self.closure.name, **{**self._closure_hyperparameters, **chosen})
        closure.fit(*self.problem.closure_pairs(_outputs(train)))
        self.closure = closure
        self.device = str(settings.get("device") or "cpu")
        self.history = list(closure.history)
        self.fitted = True
        if valid is not None:
            self._check_train(valid, {})
            self.valid_closure_error = self.closure_error(valid)
        return self

    def closure_error(self, data: DatasetLike | Mapping[str, np.ndarray]) -> float:
        """Normalised mean squared error of the closure on the pairs of ``data`` (a
        Dataset, or a mapping with ``X`` and ``coupling`` ``[n, t, K]``): 1 = the mean."""
        self._require_fitted()
        x, target = self.problem.closure_pairs(
            data if isinstance(data, Mapping) else _outputs(data)
        )
        return float(np.mean((self.closure(x) - target) ** 2) / np.var(target))

    # -- integration ----------------------------------------------------------------------
    def _network(self, K: int) -> tuple | None:
        """The closure's compiled network form on rings of ``K`` sites, if it has one."""
        if not self.closure.fitted:
            return None
        form = getattr(self.closure.inference(K), "compiled_form", None)
        return form() if form is not None else None

    def _compiles(self, K: int) -> bool:
        """Whether the closure runs inside a numba kernel on rings of ``K`` sites."""
        return self.closure.polynomial_coefficients() is not None or self._network(K) is not None

    def uses_numba(self, K: int | None = None) -> bool:
        """Whether :meth:`integrate` runs in a numba kernel (rings of ``K``, default the
        problem's)."""
        return self.path(K) == "numba"

    def path(self, K: int | None = None) -> str:
        """The loop :meth:`integrate` runs: ``"numba"``, ``"numpy"`` or ``"torch"``.

        ``numba`` for polynomial closures and for closures whose fast path has a
        ``compiled_form`` (the FNO on rings with ``K·width ≤`` DENSE_LIMIT) on rings of
        ``K`` sites (default the problem's ``K``), ``numpy`` for the other CPU runs.
        """
        if self.backend != "auto":
            return self.backend
        if not str(self.device).startswith("cpu"):
            return "torch"
        if self._compiles(self.problem.K if K is None else int(K)):
            return "numba"
        return "numpy"

    def integrate(self, X0: Any, T: float, save_interval: float | None = None) -> np.ndarray:
        """Integrate ``X0 [n, K]`` to time ``T``, storing every ``save_interval``.

        Parameters
        ----------
        X0 : array_like
            Initial slow states ``[n, K]`` (any ``K >= 4``).
        T : float
            Horizon, a whole multiple of ``save_interval``.
        save_interval : float, optional
            Time between stored states (default: the problem's).

        Returns
        -------
        numpy.ndarray
            ``[n, T/save_interval, K]`` at ``save_interval, 2·save_interval, …, T``.
        """
        self.closure._require_fitted()
        interval = self.problem.save_interval if save_interval is None else save_interval
        require_positive(self.name, "save_interval", interval)
        require_positive(self.name, "T", T)
        ratio = T / interval
        n_save = round(ratio)
        if n_save < 1 or abs(ratio - n_save) > 1e-9 * ratio:
            raise ValueError(
                f"T = {T} must be a whole multiple (>= 1) of save_interval = {interval}"
            )
        steps = steps_between(interval, self.dt)
        run = {"F": self.problem.F, "dt": interval / steps, "n_save": n_save, "save_every": steps}
        x0 = as_states(X0, "X0")
        x = self._run(x0, run)
        if self.check_finite and not np.all(np.isfinite(x)):
            raise FloatingPointError(
                f"{self.name}: the state became NaN or infinite with the {self.closure.name!r} "
                f"closure (dt = {self.dt}); the closure drives X off the attractor, or dt is "
                "too large"
            )
        return x

    def _run(self, x0: np.ndarray, run: dict[str, Any]) -> np.ndarray:
        """The loop of :meth:`path` on checked states."""
        path = self.path(x0.shape[1])
        if path == "numpy":
            return hybrid_rk4_numpy(x0, self.closure.inference(x0.shape[1]), **run)
        if path == "torch":
            return hybrid_rk4_torch(x0, self.closure.torch_call, device=self.device, **run)
        coefficients = self.closure.polynomial_coefficients()
        if coefficients is not None:
            return hybrid_rk4_polynomial(x0, coefficients, **run)
        network = self._network(x0.shape[1])
        if network is None:
            raise ValueError(
                f"backend 'numba' needs a polynomial closure or a compiled network form; "
                f"{self.closure.name!r} on K = {x0.shape[1]} has neither (use 'auto', "
                "'numpy' or 'torch')"
            )
        return hybrid_rk4_network(x0, network, **run)

    def solve(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``{"X0": [n, K]}`` → ``{"X": [n, t, K], "coupling": [n, t, K]}`` (see class)."""
        if not isinstance(inputs, Mapping) or "X0" not in inputs:
            raise ValueError("inputs must be a mapping with an 'X0' entry [n, K]")
        x0 = as_states(inputs["X0"], "X0")
        if x0.shape[1] != self.problem.K:
            raise ValueError(f"X0 must have K = {self.problem.K} columns, got {x0.shape[1]}")
        x = self.integrate(x0, self.problem.T)
        n, t, k = x.shape
        with np.errstate(all="ignore"):  # a blown-up run (check_finite=False) gives NaN here
            # A float64 evaluation of the closure (a network's float32 torch forward would
            # differ from the trajectory's own evaluation by ~1e-6).
            states = np.ascontiguousarray(x.reshape(n * t, k), dtype=np.float64)
            coupling = self.closure.inference(k)(states).reshape(n, t, k)
        return {"X": x, "coupling": coupling}

    # -- persistence ----------------------------------------------------------------------
    def _save_state(self, folder: Path) -> dict[str, Any]:
        record, tensors = self.closure.to_record()
        if tensors:
            tmp = folder / (WEIGHTS + ".tmp")
            torch.save(tensors, tmp)
            tmp.replace(folder / WEIGHTS)
        else:  # a stale file from an earlier run in the same folder would be read back
            (folder / WEIGHTS).unlink(missing_ok=True)
        return {
            "closure": record,
            "device": self.device,
            "valid_closure_error": self.valid_closure_error,
        }

    def _load_state(self, folder: Path, config: dict[str, Any]) -> None:
        weights = folder / WEIGHTS
        tensors = load_tensors(weights) if weights.is_file() else {}
        kind = closure_class(self.closure.name)
        self.closure = kind.from_record(config.get("closure"), tensors, folder / "config.json")
        self.history = list(self.closure.history)
        device = str(config.get("device") or "cpu")
        # Runs saved on a GPU machine still load (on the CPU) where there is none.
        self.device = device if torch.cuda.is_available() else "cpu"
        self.valid_closure_error = config.get("valid_closure_error")


def _outputs(data: DatasetLike) -> dict[str, np.ndarray]:
    """``X`` and ``coupling`` of a Dataset, loading only those two fields (not ``Y``)."""
    view = getattr(data, "xr", None)
    if view is not None:
        return {name: np.asarray(view[name].values, dtype=np.float64) for name in ("X", "coupling")}
    return {name: data.outputs[name] for name in ("X", "coupling")}
