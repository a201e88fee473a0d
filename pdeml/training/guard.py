"""What keeps a training run honest: the NaN guard, the data check and a pausable clock."""

from __future__ import annotations

import time
from pathlib import Path

import torch
from torch import nn

from pdeml.training.checkpoint import load_checkpoint


class TrainingDiverged(RuntimeError, FloatingPointError):
    """The loss became NaN or infinite; the message says where and what was kept.

    Also a ``FloatingPointError``, which the physics-informed loops raised before they
    trained through the one engine.
    """


def check_finite(data: tuple[torch.Tensor, ...], argument: str) -> None:
    """Refuse NaN or infinite data: training on it ends in a NaN loss or metric."""
    for role, tensor in zip(("inputs", "outputs"), data):
        if tensor.is_floating_point() or tensor.is_complex():
            bad = ~torch.isfinite(tensor.reshape(tensor.shape[0], -1)).all(dim=1)
            if bool(bad.any()):
                first = int(torch.nonzero(bad)[0, 0])
                raise ValueError(
                    f"{argument} {role}: {int(bad.sum())} sample(s) hold NaN or infinite "
                    f"values, the first at sample {first}; remove or fix them"
                )


def diverged(
    loss: torch.Tensor,
    where: str,
    lr: float,
    model: nn.Module | None = None,
    checkpoint: Path | None = None,
    device: torch.device | str = "cpu",
) -> TrainingDiverged:
    """The error to raise for a non-finite ``loss`` at ``where`` (e.g. ``"epoch 3, step 1"``).

    With a ``checkpoint`` this run wrote, ``model`` is first restored from it (the last
    good weights); the message says which.
    """
    kept = "no checkpoint was kept (set checkpoint_every and out_dir to keep one)"
    if model is not None and checkpoint is not None:
        state = load_checkpoint(checkpoint, map_location=device)
        model.load_state_dict(state["model"])
        at = f"epoch {state['epoch']}" if "epoch" in state else f"step {state['step']}"
        kept = f"the model is restored from the last good checkpoint {checkpoint} ({at})"
    return TrainingDiverged(
        f"training loss became {float(loss.detach())} at {where}; {kept}; try a lower lr (now {lr})"
    )


class Clock:
    """Training wall time that can be paused (validation is left out of it).

    On CUDA the device is synchronised before a reading, so that queued kernels count.
    """

    def __init__(self, device: torch.device | str) -> None:
        self.cuda = str(device).startswith("cuda")
        self.total = 0.0
        self.start: float | None = time.perf_counter()

    def _sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def pause(self) -> None:
        self._sync()
        if self.start is not None:
            self.total += time.perf_counter() - self.start
            self.start = None

    def resume(self) -> None:
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        running = 0.0 if self.start is None else time.perf_counter() - self.start
        return self.total + running
