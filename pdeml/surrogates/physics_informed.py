"""What every physics-informed surrogate shares: PINN and PIG.

A physics-informed surrogate learns from the problem alone. For one input instance it
trains a network ``u_θ`` so that the PDE residual of :meth:`Problem.physics` vanishes at
collocation points and the boundary and initial conditions hold (exactly, through a
wrapper, where the geometry allows: :mod:`pdeml.surrogates.constrained`; otherwise as
penalties), with Adam and then L-BFGS, through the shared
:class:`~pdeml.training.Trainer` (:mod:`pdeml.surrogates.collocation`). Subclasses only
say which network to train (:meth:`PhysicsInformedSurrogate._make_network`): an MLP for
``"pinn"`` (:mod:`pdeml.surrogates.pinn`), Gaussian features and a small MLP for ``"pig"``
(:mod:`pdeml.surrogates.pig`).

The constructor takes the network's hyperparameters, ``hard_constraints``, ``parametric``
and ``dtype``; every optimisation setting (points, steps, learning rate, resampling, loss
weights, seed, device, time limit) is an option of :meth:`~PhysicsInformedSurrogate.fit`.

Two ways to use one
-------------------
*Per instance* (default): :meth:`~PhysicsInformedSurrogate.solve` trains one fresh network
per input sample with the settings :meth:`~PhysicsInformedSurrogate.fit` recorded; that
time is the surrogate's inference cost in reports (``capabilities.trains_per_query``).

*Parametric* (``parametric={"nu": (lo, hi)}``): the named PDE parameters become extra
network inputs, drawn uniformly in their ranges with every collocation point, and
:meth:`~PhysicsInformedSurrogate.fit` trains one network for one input instance over the
whole range. :meth:`~PhysicsInformedSurrogate.solve` then only evaluates it (at the
problem's own parameter values) and :meth:`~PhysicsInformedSurrogate.solve_parameters`
at any others in the range.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from pdeml._checks import check_choice, check_int
from pdeml.problems.base import Problem
from pdeml.protocols import DatasetLike, FieldsLike, ResidualLike
from pdeml.surrogates.base import Capabilities, Surrogate, check_bool
from pdeml.surrogates.collocation import (
    DTYPES,
    FIT_DEFAULTS,
    RESAMPLING,
    CollocationTraining,
    check_settings,
)
from pdeml.surrogates.constrained import (
    ConstrainedSolution,
    evaluate_outputs,
    hard_constraint_applies,
    initial_condition,
    relative_error,
)
from pdeml.surrogates.parametric import ParametricMode, check_parametric
from pdeml.training.checkpoint import load_checkpoint, save_checkpoint
from pdeml.training.config import check_device, default_device

__all__ = [
    "COMMON_HYPERPARAMETERS",
    "DTYPES",
    "FIT_DEFAULTS",
    "RESAMPLING",
    "ConstrainedSolution",
    "PhysicsInformedSurrogate",
    "hard_constraint_applies",
    "initial_condition",
]

#: Hyperparameters every physics-informed surrogate takes (besides its network's own).
COMMON_HYPERPARAMETERS = ("hard_constraints", "parametric", "dtype")
#: ``fit`` options that are not training settings: where to checkpoint, and the instance.
RUN_OPTIONS = ("out_dir", "resume", "inputs")
WEIGHTS = "model.pt"


class PhysicsInformedSurrogate(ParametricMode, CollocationTraining, Surrogate):
    """Base class of surrogates trained on the problem's residual (PINN, PIG).

    Subclasses implement :meth:`_make_network` and call :meth:`_set_common` from their
    constructor with their own hyperparameters; ``fit_defaults`` changes defaults of
    :data:`~pdeml.surrogates.collocation.FIT_DEFAULTS` (and may add options).
    """

    # One network per query by default; a parametric instance narrows this to a fitted
    # network that checkpoints (see _set_common).
    capabilities = Capabilities(
        needs_data=False, trains_per_query=True, checkpoints=True, devices=("cpu", "cuda")
    )
    fit_defaults: ClassVar[dict[str, Any]] = {}

    def _set_common(self, own: Mapping[str, Any], arguments: Mapping[str, Any]) -> None:
        """Check and store ``own`` and the common hyperparameters read from ``arguments``
        (the constructor's ``locals()``)."""
        values = {
            **own,
            "hard_constraints": check_bool("hard_constraints", arguments["hard_constraints"]),
            "parametric": check_parametric(arguments["parametric"]),
            "dtype": check_choice("dtype", arguments["dtype"], tuple(DTYPES)),
        }
        self._set_hyperparameters(values)
        physics = self._check_problem(self.problem)
        # The domain box is the same for every instance; kept so that load() need not draw
        # inputs again (for Navier–Stokes that runs the solver).
        self._box_of_problem = self._box(physics)
        if values["parametric"]:
            unknown = sorted(set(values["parametric"]) - set(physics.parameters))
            if unknown:
                raise ValueError(
                    f"parametric: {self.problem.name!r} has no PDE parameter {unknown}; "
                    f"its residual takes {sorted(physics.parameters) or 'none'}"
                )
            self.capabilities = dataclasses.replace(type(self).capabilities, trains_per_query=False)
        else:
            self.capabilities = dataclasses.replace(type(self).capabilities, checkpoints=False)
        self.uses_hard_constraints = values["hard_constraints"] and hard_constraint_applies(physics)
        self.settings = check_settings(self._defaults())
        self.device = default_device()
        self.networks: list[nn.Module] = []
        self.last_solve_stats: list[dict[str, Any]] = []
        self.fit_options: dict[str, Any] = {}
        self.instance: dict[str, np.ndarray] | None = None
        self._valid: tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None = None
        # Per instance there is nothing to learn ahead of solve: usable (and savable) at
        # once. A parametric surrogate must be fitted first.
        self.fitted = not values["parametric"]

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        return {**FIT_DEFAULTS, **cls.fit_defaults}

    def _check_problem(self, problem: Problem) -> ResidualLike:
        try:
            if type(problem).physics is Problem.physics:
                # Fail before drawing inputs, which can be costly (Navier–Stokes runs its
                # solver for the input snapshots); the base method raises with the reason.
                problem.physics({})
            physics = problem.physics(problem.sample_inputs(1, 0))
        except NotImplementedError as error:
            raise ValueError(
                f"surrogate {self.name!r} cannot serve this problem: {error}"
            ) from None
        for name in problem.output_names:
            dims = problem.field_dims(name)
            missing = [d for d in dims if d not in physics.coordinates]
            if missing:
                raise ValueError(
                    f"surrogate {self.name!r}: output {name!r} of {problem.name!r} has dims "
                    f"{missing} that are not coordinates of its residual {physics.coordinates}"
                )
        return physics

    def parameter_count(self) -> int:
        """Trainable parameters of one network (per instance, each query trains one)."""
        self._require_fitted()
        network = self.networks[0] if self.networks else self._make_network(*self._box_of_problem)
        return sum(p.numel() for p in network.parameters() if p.requires_grad)

    # -- fit --------------------------------------------------------------------------------
    @classmethod
    def fit_option_names(cls) -> list[str]:
        return sorted({*cls._defaults(), *RUN_OPTIONS})

    def check_fit_options(self, options: Mapping[str, Any]) -> None:
        """Refuse unknown options (``TypeError``) and bad values (``ValueError``)."""
        super().check_fit_options(options)
        training = {k: v for k, v in options.items() if k not in RUN_OPTIONS}
        check_settings({**self._defaults(), **training})
        if options.get("device") is not None:
            check_device(options["device"])

    def fit(
        self, train: DatasetLike | None = None, valid: FieldsLike | None = None, **options: Any
    ) -> PhysicsInformedSurrogate:
        """Record the training settings; in parametric mode, train the one network.

        Parameters
        ----------
        train : None
            Ignored: a physics-informed surrogate needs no data.
        valid : pdeml.Dataset, optional
            Reference solutions. Its relative L2 error (first output) is logged as
            ``valid_metric`` in :attr:`history` every ``log_every`` steps: per instance
            while :meth:`solve` trains the network of the first sample that is one of
            ``valid``'s inputs; in parametric mode while ``fit`` trains, if the instance
            is one of them.
        n_collocation, n_boundary, n_initial : int
            Points for the residual, boundary and initial terms (10000, 200, 200); drawn
            once per instance, seeded.
        sampling : {"uniform", "latin"}
            How collocation points are drawn.
        resampling : {"none", "uniform", "rad"}
            Redrawing of the collocation points during Adam (see
            :mod:`pdeml.surrogates.collocation`); PINN "none", PIG "rad".
        resample_every : int
            Adam steps between two redraws (PINN 500, PIG 50).
        resample_power, resample_floor : float
            ``k`` and ``c`` of the RAD density ``|r|^k / mean(|r|^k) + c`` (1, 1).
        lbfgs_resample_every : int
            With resampling on, redraw the points every this many L-BFGS iterations too and
            restart L-BFGS on them (0, the default: L-BFGS keeps the last points). A network
            with many local degrees of freedom (PIG) can otherwise fit the residual at the
            fixed points rather than between them.
        adam_steps : int
            Adam iterations (2000), full batch.
        lr : float
            Adam learning rate (PINN 1e-3, PIG 1e-2).
        lr_decay : float
            Factor by which the Adam learning rates have decayed (exponentially) at the last
            Adam step (1, the default: constant). Must be in (0, 1].
        lbfgs_steps : int
            L-BFGS iterations after Adam (500; 0 skips L-BFGS).
        weight_residual, weight_boundary, weight_initial : float
            Loss weights (1 each); the latter two are unused under hard constraints.
        seed : int
            Seed of the initial weights and the points (sample ``i`` uses ``seed + i``).
        device : str, optional
            Torch device; default CUDA when available, else CPU.
        time_limit : float, optional
            Seconds of training per network after which it stops (also before L-BFGS).
        log_every : int
            Steps between two records of the metrics log (100).
        checkpoint_every : int
            Adam steps between checkpoints of a parametric fit (0: end of each phase).
        progress : bool
            Show a progress bar per trained network.
        track : {"tensorboard", "mlflow"}, optional
            Also send the metrics log of each trained network there
            (:mod:`pdeml.training.tracking`).
        out_dir : path, optional
            Parametric mode: checkpoints and ``metrics.jsonl`` go here.
        resume : bool
            Parametric mode: continue from ``out_dir``'s checkpoint.
        inputs : dict, optional
            Parametric mode: the input instance (one sample; default the problem's
            ``sample_inputs(1, seed)``).

        Raises
        ------
        TypeError
            For an option not listed here, naming it.
        ValueError
            For a bad value, or ``out_dir``/``resume`` per instance (nothing is trained).
        """
        self.check_fit_options(options)
        run = {k: options.pop(k) for k in RUN_OPTIONS if k in options}
        self.fit_options = dict(options)
        self.settings = check_settings({**self._defaults(), **options})
        device = self.settings["device"]
        self.device = str(check_device(device)) if device else default_device()
        self._valid = _reference(valid)
        if not self.hyperparameters["parametric"]:
            if run.get("out_dir") is not None or run.get("resume"):
                raise ValueError(
                    f"{self.name}: out_dir and resume apply to a parametric fit; per "
                    "instance, solve trains a network per query"
                )
            self.fitted = True
            return self
        inputs = run.get("inputs")
        if inputs is None:
            inputs = self.problem.sample_inputs(1, self.settings["seed"])
        resolution = self.problem.infer_resolution(inputs)
        inputs = self.problem.check_inputs(inputs, resolution)
        if next(iter(inputs.values())).shape[0] != 1:
            raise ValueError("fit(inputs=...): a parametric surrogate trains for one sample")
        one = {k: v[0] for k, v in inputs.items()}
        physics = self.problem.physics(one)
        monitor = self._valid_monitor(one, physics, resolution)
        out_dir = Path(run["out_dir"]) if run.get("out_dir") is not None else None
        network, stats, history = self._train_one(
            physics, self.settings["seed"], monitor, None, out_dir, bool(run.get("resume"))
        )
        self.networks, self.last_solve_stats, self.history = [network], [stats], history
        self.instance = {k: np.array(v) for k, v in inputs.items()}
        self.fitted = True
        return self

    def _valid_monitor(self, one: Mapping[str, np.ndarray], physics: ResidualLike,
                       resolution: int) -> Any:  # fmt: skip
        """The validation metric for the instance ``one``, if ``valid`` holds it."""
        if self._valid is None:
            return None
        inputs, outputs = self._valid
        for j in range(len(next(iter(inputs.values())))):
            if all(
                k in inputs
                and np.shape(inputs[k][j]) == np.shape(v)
                and np.allclose(inputs[k][j], v, rtol=1e-12, atol=0)
                for k, v in one.items()
            ):
                reference = {k: v[j] for k, v in outputs.items()}
                dtype = DTYPES[self.hyperparameters["dtype"]]
                return relative_error(self.problem, physics, resolution, reference, dtype)
        return None

    # -- the Solver contract --------------------------------------------------------------
    def solve(
        self,
        inputs: Mapping[str, np.ndarray],
        *,
        reference: Mapping[str, np.ndarray] | None = None,
        record_every: int = 0,
    ) -> dict[str, np.ndarray]:
        """Train one network per sample of ``inputs`` and evaluate it on the output grid.

        In parametric mode nothing is trained: the fitted network is evaluated at the
        problem's own parameter values (the inputs must be the fitted instance).

        Parameters
        ----------
        inputs : dict
            ``name -> [n, ...]`` arrays, the problem's inputs.
        reference : dict, optional
            Reference outputs ``[n, ...]``; with ``record_every > 0`` the relative L2 error
            of the first output is recorded during training in
            ``last_solve_stats[i]["curve"]`` as ``[seconds, step, error]`` rows.
        record_every : int
            Optimiser steps between two records (0: none).

        Returns
        -------
        dict
            ``name -> [n, ...]`` for every output of the problem, on
            ``problem.coords(resolution)``, the resolution read from the inputs.

        Notes
        -----
        After ``solve``, ``last_solve_stats`` holds per sample ``time_s`` (set-up, training
        and evaluation), ``train_s``, ``loss`` (final total loss), the loss terms and
        ``lbfgs_iterations``; :attr:`history` is the metrics log of the first sample's
        training.
        """
        self._require_fitted()
        resolution = self.problem.infer_resolution(inputs)
        inputs = self.problem.check_inputs(inputs, resolution)
        n = next(iter(inputs.values())).shape[0]
        if self.hyperparameters["parametric"]:
            return self._solve_parametric(inputs, n, resolution)
        record_every = check_int("record_every", record_every, 0)
        if record_every and reference is None:
            raise ValueError("record_every needs reference=... (the outputs to compare with)")
        out: dict[str, np.ndarray] = {}
        self.networks, self.last_solve_stats = [], []
        seed = self.settings["seed"]
        dtype = DTYPES[self.hyperparameters["dtype"]]
        watched = False
        for i in range(n):
            start = time.perf_counter()
            one = {k: v[i] for k, v in inputs.items()}
            physics = self.problem.physics(one)
            setup_s = time.perf_counter() - start
            monitor = None
            if record_every and reference is not None:  # (record_every needs reference)
                mine = {k: np.asarray(v)[i] for k, v in reference.items()}
                monitor = relative_error(self.problem, physics, resolution, mine, dtype)
            elif not watched:
                monitor = self._valid_monitor(one, physics, resolution)
                watched = monitor is not None
            network, stats, history = self._train_one(
                physics, seed + i, monitor, record_every or None
            )
            if i == 0:
                self.history = history
            start = time.perf_counter()
            solution = ConstrainedSolution(network, physics, self.uses_hard_constraints)
            fields = evaluate_outputs(self.problem, solution, physics, resolution, dtype)
            for name, values in fields.items():
                out.setdefault(name, np.empty((n, *values.shape)))[i] = values
            if self.device.startswith("cuda"):
                torch.cuda.synchronize()
            # Set-up, training (monitoring left out) and evaluation: the inference cost.
            stats["time_s"] = setup_s + stats["train_s"] + time.perf_counter() - start
            self.networks.append(network)
            self.last_solve_stats.append(stats)
        return out

    # -- persistence ----------------------------------------------------------------------
    def _save_state(self, folder: Path) -> dict[str, Any]:
        """Save the training settings and the networks of the last :meth:`solve` or
        parametric :meth:`fit`.

        Loading restores the settings and these networks. Per instance, a later ``solve``
        trains afresh with the same settings (loading restores settings, not a reusable
        solution operator); a parametric surrogate is restored ready to evaluate.
        """
        config: dict[str, Any] = {"training": self.settings, "networks": len(self.networks)}
        if not self.networks:
            return config
        state = {
            f"{i}.{k}": v.detach().cpu()
            for i, net in enumerate(self.networks)
            for k, v in net.state_dict().items()
        }
        for key, value in (self.instance or {}).items():
            state[f"instance.{key}"] = torch.as_tensor(value)
        save_checkpoint(folder / WEIGHTS, state)
        stats = [{k: v for k, v in s.items() if k != "curve"} for s in self.last_solve_stats]
        return {**config, "last_solve_stats": stats}

    def _load_state(self, folder: Path, config: dict[str, Any]) -> None:
        training = config.get("training")
        training = dict(training) if isinstance(training, dict) else {}
        # Saved on another machine: its device may be absent here, and so may the package of
        # its tracker (where this process sends its logs: not restored, as fit's default).
        saved_device = training.pop("device", None)
        training.pop("track", None)
        try:
            self.check_fit_options(training)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{folder / 'config.json'}: key 'training': {error}") from None
        self.settings = check_settings({**self._defaults(), **training})
        self.fit_options = training
        try:
            self.device = str(check_device(saved_device)) if saved_device else default_device()
        except ValueError:
            self.device = default_device()
        self.settings["device"] = self.device if saved_device else None
        self.last_solve_stats = list(config.get("last_solve_stats", []))
        count = int(config.get("networks", 0))
        if not count:
            return
        state = load_checkpoint(folder / WEIGHTS)
        dtype = DTYPES[self.hyperparameters["dtype"]]
        self.networks = []
        for i in range(count):
            # In the training dtype before loading, so float64 weights are not rounded.
            net = self._make_network(*self._box_of_problem).to(dtype=dtype)
            prefix = f"{i}."
            own = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            try:
                net.load_state_dict(own)
            except RuntimeError as error:
                raise ValueError(
                    f"{folder / WEIGHTS}: weights do not match the saved hyperparameters ({error})"
                ) from None
            self.networks.append(net.to(device=self.device, dtype=dtype))
        instance = {k[9:]: v.numpy() for k, v in state.items() if k.startswith("instance.")}
        self.instance = instance or None


def _reference(valid: object) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None:
    """``valid``'s inputs and outputs as arrays (None without a dataset)."""
    if valid is None:
        return None
    if not (hasattr(valid, "inputs") and hasattr(valid, "outputs")):
        raise TypeError(f"valid must be a pdeml Dataset, got {type(valid).__name__}")
    inputs = {k: np.asarray(v) for k, v in valid.inputs.items()}
    return inputs, {k: np.asarray(v) for k, v in valid.outputs.items()}
