"""Settings and batch sources of step-based training (:meth:`pdeml.training.Trainer.run`).

Data-driven operators train by epochs over a data set (:class:`~pdeml.training.TrainerConfig`).
Physics-informed surrogates and the NSM train by optimiser steps on batches they draw
themselves: collocation points (PINN, PIG), input functions with their spectral
coefficients (NSM). A :class:`BatchSource` hands the loop those batches; a
:class:`StepConfig` holds the settings of such a run: a first-order phase (Adam) with its
schedule, an optional L-BFGS phase after it, a time budget, the metrics log interval and
checkpoints.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch

from pdeml._checks import check_choice, check_float, check_int
from pdeml.training.tracking import check_track

SCHEDULES = ("constant", "exponential", "cosine")


@dataclasses.dataclass
class StepConfig:
    """Settings of a step-based training run (every field has a default).

    Parameters
    ----------
    steps : int
        First-order (Adam) steps.
    lr : float
        Learning rate of the first phase (of the parameter groups without their own).
    schedule : {"constant", "exponential", "cosine"}
        ``exponential`` decays every group's rate to ``lr_decay`` times its start at the
        last step; ``cosine`` anneals to zero over ``steps``, or over ``time_limit`` when
        that is given (so a time-limited run also ends at a rate near zero).
    lr_decay : float
        Factor of the ``exponential`` schedule, in (0, 1].
    lbfgs_steps : int
        L-BFGS iterations after the first phase (strong-Wolfe line search; 0: none).
    lbfgs_restart : int
        Restart L-BFGS on a fresh batch (:meth:`BatchSource.refresh`) every this many
        iterations, or when it stalls (0: one run on the last batch).
    time_limit : float, optional
        Seconds of training (validation excluded) after which the run stops.
    log_every : int
        Steps between two records of the metrics log (and validations); L-BFGS runs in
        chunks of this many iterations, which continue the same run.
    checkpoint_every : int
        First-phase steps between checkpoints (0: at the end of each phase only); needs
        an ``out_dir``.
    seed : int
        Seeds the initial weights and what the batch source draws.
    device : str, optional
        ``"cuda"`` when available, else ``"cpu"``, unless given.
    progress : bool
        Show a progress bar.
    track : {"tensorboard", "mlflow"}, optional
        Also send the metrics log there (:mod:`pdeml.training.tracking`).
    """

    steps: int = 1000
    lr: float = 1e-3
    schedule: str = "constant"
    lr_decay: float = 1.0
    lbfgs_steps: int = 0
    lbfgs_restart: int = 0
    time_limit: float | None = None
    log_every: int = 100
    checkpoint_every: int = 0
    seed: int = 0
    device: str | None = None
    progress: bool = False
    track: str | None = None

    def __post_init__(self) -> None:
        self.steps = check_int("steps", self.steps, 0)
        self.lr = check_float("lr", self.lr, positive=True)
        check_choice("schedule", self.schedule, SCHEDULES)
        self.lr_decay = check_float("lr_decay", self.lr_decay, positive=True)
        if self.lr_decay > 1:
            raise ValueError(f"lr_decay must be in (0, 1], got {self.lr_decay!r}")
        for name in ("lbfgs_steps", "lbfgs_restart", "checkpoint_every", "seed"):
            setattr(self, name, check_int(name, getattr(self, name), 0))
        self.log_every = check_int("log_every", self.log_every, 1)
        self.time_limit = check_time_limit(self.time_limit)
        if self.device is not None and not isinstance(self.device, str):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        if not isinstance(self.progress, bool):
            raise ValueError(f"progress must be true or false, got {self.progress!r}")
        self.track = check_track(self.track)

    def torch_device(self) -> torch.device:
        """The device to train on: ``device`` if this machine has it, else the default."""
        from pdeml.training.config import check_device, default_device

        return check_device(self.device) if self.device else torch.device(default_device())

    def resume_settings(self) -> dict[str, Any]:
        """The settings a resumed run must share with its checkpoint."""
        skip = {"device", "progress", "checkpoint_every", "time_limit", "log_every", "track"}
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in skip}


def check_time_limit(value: Any) -> float | None:
    """``value`` as seconds (> 0), or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"time_limit must be a number of seconds > 0, got {value!r}")
    if not math.isfinite(value):
        return None
    return float(value)


class BatchSource:
    """Where a step-based run gets its batches; subclasses implement :meth:`batch`.

    A batch is whatever the run's loss takes (a dict of collocation points, a batch of
    spectral coefficients and features). ``steps_per_epoch`` is how many batches make one
    pass over the source (1 for a full collocation set).
    """

    steps_per_epoch: int = 1

    def batch(self, step: int) -> Any:
        """The batch of first-phase step ``step`` (counted from 1)."""
        raise NotImplementedError

    def current(self) -> Any:
        """The batch the L-BFGS phase starts on (by default the last one handed out)."""
        raise NotImplementedError

    def refresh(self, step: int) -> Any:
        """A fresh batch for an L-BFGS restart after ``step`` steps in all."""
        return self.current()

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint must hold to continue drawing as an uninterrupted run."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
