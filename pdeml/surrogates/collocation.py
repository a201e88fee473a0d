"""How a physics-informed surrogate trains one network: its ``fit`` options, the collocation
points (a :class:`~pdeml.training.BatchSource`, with residual-based resampling), the loss,
and one run of the shared :class:`~pdeml.training.Trainer` (Adam, then L-BFGS).

Residual-based adaptive resampling
----------------------------------
With ``resampling="uniform"``, every ``resample_every`` Adam steps the collocation points
are drawn afresh (a stochastic residual: a network cannot fit the residual at a fixed set of
points only). With ``resampling="rad"``, every ``resample_every`` Adam steps they are
redrawn from a uniform pool of ``4 × n_collocation`` candidates with probability
proportional to ``|r|^k / mean(|r|^k) + c`` (the RAD scheme of Wu, Zhu, Tan, Kartha, Lu,
*CMAME* 403, 2023; ``k = resample_power``, ``c = resample_floor``), so points gather where
the current residual is large (the shock of Burgers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pdeml._checks import check_choice, check_float, check_int
from pdeml.problems.residual import SAMPLING_METHODS
from pdeml.protocols import ResidualLike
from pdeml.surrogates.base import check_bool
from pdeml.surrogates.constrained import ConstrainedSolution
from pdeml.training import BatchSource, StepConfig, Trainer
from pdeml.training.steps import check_time_limit
from pdeml.training.tracking import check_track

DTYPES = {"float32": torch.float32, "float64": torch.float64}
RESAMPLING = ("none", "uniform", "rad")

#: The ``fit`` options of every physics-informed surrogate and their defaults (PINN's; a
#: subclass changes some in its ``fit_defaults``). Documented in
#: :meth:`pdeml.surrogates.physics_informed.PhysicsInformedSurrogate.fit`.
FIT_DEFAULTS: dict[str, Any] = {
    "n_collocation": 10000,
    "n_boundary": 200,
    "n_initial": 200,
    "sampling": "uniform",
    "resampling": "none",
    "resample_every": 500,
    "resample_power": 1.0,
    "resample_floor": 1.0,
    "lbfgs_resample_every": 0,
    "adam_steps": 2000,
    "lr": 1e-3,
    "lr_decay": 1.0,
    "lbfgs_steps": 500,
    "weight_residual": 1.0,
    "weight_boundary": 1.0,
    "weight_initial": 1.0,
    "seed": 0,
    "device": None,
    "time_limit": None,
    "log_every": 100,
    "checkpoint_every": 0,
    "progress": False,
    "track": None,
}
_COUNTS = {"n_collocation": 1, "n_boundary": 1, "n_initial": 1, "resample_every": 1}
_COUNTS |= {"lbfgs_resample_every": 0, "adam_steps": 0, "lbfgs_steps": 0, "seed": 0}
_COUNTS |= {"log_every": 1, "checkpoint_every": 0}
_NUMBERS: tuple[str, ...] = ("resample_power", "resample_floor", "weight_residual")
_NUMBERS += ("weight_boundary", "weight_initial")


def check_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """Check every training setting of :data:`FIT_DEFAULTS` (plus ``lr_network``)."""
    out = dict(values)
    for name, minimum in _COUNTS.items():
        out[name] = check_int(name, values[name], minimum)
    for name in _NUMBERS:
        out[name] = check_float(name, values[name])
    out["lr"] = check_float("lr", values["lr"], positive=True)
    out["lr_decay"] = check_float("lr_decay", values["lr_decay"], positive=True)
    if out["lr_decay"] > 1:
        raise ValueError(f"lr_decay must be in (0, 1], got {out['lr_decay']!r}")
    if values.get("lr_network") is not None:
        out["lr_network"] = check_float("lr_network", values["lr_network"], positive=True)
    out["sampling"] = check_choice("sampling", values["sampling"], SAMPLING_METHODS)
    out["resampling"] = check_choice("resampling", values["resampling"], RESAMPLING)
    if out["resample_power"] == 0 and out["resample_floor"] == 0:
        raise ValueError("resample_power and resample_floor must not both be 0")
    out["time_limit"] = check_time_limit(values["time_limit"])
    out["progress"] = check_bool("progress", values["progress"])
    out["track"] = check_track(values["track"])
    device = values["device"]
    if device is not None and not isinstance(device, str):
        raise ValueError(f"device must be a string such as 'cpu' or 'cuda', got {device!r}")
    return out


def step_config(settings: Mapping[str, Any], log_every: int | None = None) -> StepConfig:
    """The engine's settings for one network: Adam with exponential decay, then L-BFGS,
    restarted on fresh points every ``lbfgs_resample_every`` iterations when resampling."""
    s = settings
    return StepConfig(
        steps=s["adam_steps"],
        lr=s["lr"],
        schedule="exponential",
        lr_decay=s["lr_decay"],
        lbfgs_steps=s["lbfgs_steps"],
        lbfgs_restart=s["lbfgs_resample_every"] if s["resampling"] != "none" else 0,
        time_limit=s["time_limit"],
        log_every=log_every or s["log_every"],
        checkpoint_every=s["checkpoint_every"],
        seed=s["seed"],
        device=s["device"],
        progress=s["progress"],
        track=s["track"],
    )


class CollocationPoints(BatchSource):
    """The points of one training run: drawn once, redrawn every ``resample_every`` Adam
    steps when resampling, and on every L-BFGS restart (seeded by the step count)."""

    def __init__(self, surrogate: CollocationTraining, solution: ConstrainedSolution,
                 physics: ResidualLike, seed: int, dtype: torch.dtype) -> None:  # fmt: skip
        self.surrogate, self.solution, self.physics = surrogate, solution, physics
        self.seed, self.dtype = seed, dtype
        self.points = surrogate._draw_points(physics, seed, dtype, solution)

    def _redraw(self, step: int) -> dict[str, torch.Tensor]:
        self.points["collocation"] = self.surrogate._resample(
            self.solution, self.physics, self.seed + step, self.dtype
        )
        return self.points

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        every = self.surrogate.settings["resample_every"]
        if self.surrogate.settings["resampling"] != "none" and step > 1 and (step - 1) % every == 0:
            return self._redraw(step)
        return self.points

    def current(self) -> dict[str, torch.Tensor]:
        return self.points

    def refresh(self, step: int) -> dict[str, torch.Tensor]:
        return self._redraw(step)

    def state_dict(self) -> dict[str, Any]:
        return {k: v.detach().cpu() for k, v in self.points.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        device = next(iter(self.points.values())).device
        self.points = {k: v.to(device).requires_grad_(True) for k, v in state.items()}


class CollocationTraining:
    """The training half of :class:`~pdeml.surrogates.physics_informed.PhysicsInformedSurrogate`:
    points, losses, resampling and one run of the Trainer. Reads ``self.settings`` (the
    ``fit`` options), ``self.hyperparameters`` and ``self.device``."""

    name: str
    settings: dict[str, Any]
    hyperparameters: dict[str, Any]
    device: str
    uses_hard_constraints: bool

    def _make_network(self, lower: tuple[float, ...], upper: tuple[float, ...]) -> nn.Module:
        """A fresh network on the box ``lower``–``upper`` (points plus parameter columns)."""
        raise NotImplementedError

    def _adam_groups(self, network: nn.Module) -> list[dict[str, Any]]:
        """Adam parameter groups (one group at ``lr`` unless a subclass splits them)."""
        return [{"params": list(network.parameters())}]

    # -- geometry of the network's inputs -------------------------------------------------
    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Names of the PDE parameters that are network inputs (parametric mode)."""
        return tuple(self.hyperparameters["parametric"] or ())

    def _box(self, physics: ResidualLike) -> tuple[tuple[float, ...], tuple[float, ...]]:
        ranges = self.hyperparameters["parametric"] or {}
        lower = tuple(physics.lower) + tuple(r[0] for r in ranges.values())
        upper = tuple(physics.upper) + tuple(r[1] for r in ranges.values())
        return lower, upper

    def _with_parameters(self, points: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """``points`` ``[m, d]`` with one uniform column per parametric range appended."""
        ranges = self.hyperparameters["parametric"]
        if not ranges:
            return points
        low = np.array([r[0] for r in ranges.values()])
        high = np.array([r[1] for r in ranges.values()])
        values = low + (high - low) * rng.random((points.shape[0], len(ranges)))
        return torch.cat([points, torch.as_tensor(values, dtype=points.dtype)], dim=1)

    def _draw_points(
        self, physics: ResidualLike, seed: int, dtype: torch.dtype, solution: ConstrainedSolution
    ) -> dict[str, torch.Tensor]:
        s = self.settings
        rng = np.random.default_rng([seed, 7])
        points = {
            "collocation": physics.sample_collocation(
                s["n_collocation"], seed, s["sampling"], dtype=dtype
            )
        }
        if not solution.hard:
            points["boundary"] = physics.sample_boundary(s["n_boundary"], seed, dtype=dtype)
            if physics.time_dependent:
                points["initial"] = physics.sample_initial(s["n_initial"], seed, dtype=dtype)
        device = torch.device(self.device)
        return {
            k: self._with_parameters(v, rng).to(device).requires_grad_(True)
            for k, v in points.items()
        }

    # -- losses ---------------------------------------------------------------------------
    def _split(
        self, physics: ResidualLike, augmented: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor] | None, torch.Tensor | None]:
        """Points, parameter values per point, and the parameter columns of ``augmented``."""
        d = physics.dim
        if augmented.shape[1] == d:
            return augmented, None, None
        extra = augmented[:, d:]
        values = {name: extra[:, i] for i, name in enumerate(self.parameter_names)}
        return augmented[:, :d], values, extra

    def _mismatch(
        self,
        which: str,
        solution: ConstrainedSolution,
        physics: ResidualLike,
        augmented: torch.Tensor,
    ) -> torch.Tensor:
        """The residual, boundary or initial mismatch at ``augmented`` points."""
        points, values, extra = self._split(physics, augmented)
        solution.extra = extra
        try:
            if which == "residual":
                return physics.residual(solution, points, values)
            if which == "boundary":
                return physics.boundary_residual(solution, points)
            return physics.initial_residual(solution, points)
        finally:
            solution.extra = None

    def _loss(
        self,
        solution: ConstrainedSolution,
        physics: ResidualLike,
        points: dict[str, torch.Tensor],
    ) -> tuple[torch.Tensor, dict[str, float]]:
        s = self.settings
        residual = self._mismatch("residual", solution, physics, points["collocation"])
        terms = {"residual": residual.pow(2).mean()}
        total = s["weight_residual"] * terms["residual"]
        if not solution.hard:
            boundary = self._mismatch("boundary", solution, physics, points["boundary"])
            terms["boundary"] = boundary.pow(2).mean()
            total = total + s["weight_boundary"] * terms["boundary"]
            if physics.time_dependent:
                initial = self._mismatch("initial", solution, physics, points["initial"])
                terms["initial"] = initial.pow(2).mean()
                total = total + s["weight_initial"] * terms["initial"]
        return total, {k: float(v.detach()) for k, v in terms.items()}

    def _resample(
        self,
        solution: ConstrainedSolution,
        physics: ResidualLike,
        seed: int,
        dtype: torch.dtype,
    ) -> torch.Tensor:
        """Fresh collocation points: uniform, or drawn where the residual is large (RAD)."""
        s = self.settings
        m = s["n_collocation"]
        rng = np.random.default_rng([seed, 11])
        if s["resampling"] == "uniform":
            fresh = physics.sample_collocation(
                m, int(rng.integers(2**31)), s["sampling"], dtype=dtype
            )
            fresh = self._with_parameters(fresh, rng).to(torch.device(self.device))
            return fresh.requires_grad_(True)
        pool = physics.sample_collocation(4 * m, int(rng.integers(2**31)), "uniform", dtype=dtype)
        pool = self._with_parameters(pool, rng).to(torch.device(self.device))
        residual = self._mismatch("residual", solution, physics, pool.requires_grad_(True))
        magnitude = residual.detach().abs().cpu().numpy().astype(np.float64)
        weight = magnitude ** s["resample_power"]
        weight = weight / max(weight.mean(), np.finfo(float).tiny) + s["resample_floor"]
        chosen = rng.choice(pool.shape[0], size=m, replace=False, p=weight / weight.sum())
        return pool[chosen].detach().requires_grad_(True)

    # -- one training run -----------------------------------------------------------------
    def _train_one(
        self,
        physics: ResidualLike,
        seed: int,
        monitor: Callable[[ConstrainedSolution], float] | None = None,
        log_every: int | None = None,
        out_dir: Path | None = None,
        resume: bool = False,
    ) -> tuple[nn.Module, dict[str, Any], list[dict[str, Any]]]:
        """Train one network for ``physics``; return it, its statistics and its log.

        ``monitor(solution)``, if given, is the validation metric of the log, evaluated
        every ``log_every`` steps (default the ``log_every`` option) off the training clock;
        the log then also goes into ``stats["curve"]`` as ``[seconds, step, value]`` rows.
        """
        dtype = DTYPES[self.hyperparameters["dtype"]]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            network = self._make_network(*self._box(physics))
        network = network.to(device=torch.device(self.device), dtype=dtype)
        solution = ConstrainedSolution(network, physics, self.uses_hard_constraints)
        source = CollocationPoints(self, solution, physics, seed, dtype)
        trainer = Trainer(step_config(self.settings, log_every))
        history = trainer.run(
            network,
            lambda points: self._loss(solution, physics, points)[0],
            source,
            groups=self._adam_groups(network),
            validate=(lambda: monitor(solution)) if monitor is not None else None,
            out_dir=out_dir,
            resume=resume,
            run_info={"surrogate": self.name, "hyperparameters": self.hyperparameters},
        )
        loss, terms = self._loss(solution, physics, source.current())
        stats: dict[str, Any] = {
            "loss": float(loss.detach()),
            "lbfgs_iterations": trainer.lbfgs_iterations,
            "train_s": trainer.seconds,
        }
        stats.update({f"loss_{k}": v for k, v in terms.items()})
        if monitor is not None:
            seconds = np.cumsum([r["seconds"] for r in history])
            stats["curve"] = [
                [float(t), float(r["step"]), r["valid_metric"]] for t, r in zip(seconds, history)
            ]
        if not np.isfinite(stats["loss"]):
            raise FloatingPointError(
                f"surrogate {self.name!r}: training diverged (loss {stats['loss']})"
            )
        return network, stats, history
