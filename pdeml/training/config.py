"""Training options (:class:`TrainerConfig`), checked on construction, and the device and
thread settings every training and inference run starts from."""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

import torch

from pdeml.training.tracking import check_track

OPTIMIZERS = ("adam", "adamw")
SCHEDULERS = ("step", "cosine", "onecycle", "none")
LOSSES = ("l2", "l1", "h1")

#: Upper bound on ``epochs``: ten million epochs of even a tiny model is weeks of training.
MAX_EPOCHS = 10**7


@dataclasses.dataclass
class TrainerConfig:
    """Settings of a training run (every field has a default).

    Parameters
    ----------
    epochs : int
        Passes over the training set.
    batch_size : int
        Samples per step (per process under DDP).
    lr : float
        Peak learning rate.
    weight_decay : float
        L2 penalty (Adam) or decoupled decay (AdamW).
    optimizer : {"adam", "adamw"}
    scheduler : {"step", "cosine", "onecycle", "none"}
        ``step`` multiplies the rate by ``gamma`` every ``step_size`` epochs (the FNO
        paper: 0.5 every 100); ``cosine`` anneals to zero; ``onecycle`` warms up then
        anneals per step (the MgNO paper).
    step_size, gamma : int, float
        Parameters of the ``step`` schedule.
    loss : {"l2", "l1", "h1"}
        Relative Lp or relative H1 loss.
    device : str, optional
        ``"cuda"`` when available, else ``"cpu"``, unless given.
    amp : bool
        bf16 autocast (CUDA only; ignored on CPU).
    compile : bool
        ``torch.compile`` the model (CUDA only unless ``compile_on_cpu``).
    checkpoint_every : int
        Epochs between checkpoints (0: only at the end).
    seed : int
        Seeds initialisation and sample order.
    progress : bool
        Show a progress bar.
    track : {"tensorboard", "mlflow"}, optional
        Also send the metrics log there (:mod:`pdeml.training.tracking`; needs the
        package, ``pip install "pdeml[tensorboard]"`` or ``"pdeml[mlflow]"``).
    """

    epochs: int = 500
    batch_size: int = 20
    lr: float = 1e-3
    weight_decay: float = 1e-4
    optimizer: str = "adam"
    scheduler: str = "step"
    step_size: int = 100
    gamma: float = 0.5
    loss: str = "l2"
    device: str | None = None
    amp: bool = False
    compile: bool = False
    compile_on_cpu: bool = False
    checkpoint_every: int = 0
    seed: int = 0
    progress: bool = True
    track: str | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.epochs > MAX_EPOCHS:
            # Not a run anyone can wait for (a tiny epoch takes milliseconds): a typo.
            raise ValueError(f"epochs must be at most {MAX_EPOCHS}, got {self.epochs!r}")
        for name in ("checkpoint_every", "step_size", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        for name in ("lr", "weight_decay", "gamma"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name} must be a number, got {value!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(
                f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}"
            )
        if not 0 < self.gamma <= 1:
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma!r}")
        for name in ("amp", "compile", "compile_on_cpu", "progress"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be true or false, got {value!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler must be one of {SCHEDULERS}, got {self.scheduler!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.device is not None and not (
            isinstance(self.device, str) and _DEVICE.fullmatch(self.device)
        ):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        self.track = check_track(self.track)

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> TrainerConfig:
        """Build from keyword options, naming any that are not settings."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(
                f"unknown training option(s) {unknown}; expected some of {sorted(known)}"
            )
        return cls(**options)


_DEVICE = re.compile(r"cpu|cuda(:[0-9]+)?")


def check_device(device: str, option: str = "device") -> torch.device:
    """``device`` as a ``torch.device`` if this machine has it, else a ``ValueError``.

    Checked before anything is moved, so that ``device="cuda"`` on a machine without a
    GPU is one clear line rather than a CUDA initialisation traceback.
    """
    if not (isinstance(device, str) and _DEVICE.fullmatch(device)):
        raise ValueError(f"{option} must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"{option} {device!r}: this machine has no CUDA device; use 'cpu'")
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"{option} {device!r}: this machine has {torch.cuda.device_count()} CUDA "
                f"device(s), numbered from 0"
            )
    return torch.device(device)


def cap_threads() -> None:
    """Keep torch's thread pool within the cores this process may use.

    Torch sizes its pool to the whole machine even when a container or ``taskset`` allows
    fewer cores, and oversubscribed threads wait on each other. A smaller count the user
    set (``torch.set_num_threads``) is kept.
    """
    from pdeml._threads import available_cores, limit_threads

    cores = available_cores()
    if torch.get_num_threads() > cores:
        limit_threads(cores)


def default_device() -> str:
    """``"cuda"`` when a GPU is visible, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"
