"""Multi-process training with DistributedDataParallel, started by ``torchrun``.

Outside ``torchrun`` (no ``WORLD_SIZE`` above 1 in the environment) every method is a
no-op, so the same training code runs single-process.
"""

from __future__ import annotations

import dataclasses
import os

import torch
import torch.distributed as torch_dist
from torch import nn


@dataclasses.dataclass
class DistributedContext:
    """Rank, world size and device of this process."""

    rank: int = 0
    world_size: int = 1
    device: str | None = None

    @classmethod
    def from_environment(cls) -> DistributedContext:
        """Join the process group that ``torchrun`` describes, if any.

        Uses NCCL with one GPU per process when CUDA is available, gloo on CPU.
        """
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1 or not torch_dist.is_available():
            return cls()
        cuda = torch.cuda.is_available()
        if not torch_dist.is_initialized():
            torch_dist.init_process_group("nccl" if cuda else "gloo")
        rank = torch_dist.get_rank()
        device = None
        if cuda:
            local = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local)
            device = f"cuda:{local}"
        return cls(rank, torch_dist.get_world_size(), device)

    @property
    def is_main(self) -> bool:
        """True on the process that writes logs and checkpoints."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def wrap(self, model: nn.Module) -> nn.Module:
        """``DistributedDataParallel(model)`` when distributed, else ``model``."""
        if not self.active:
            return model
        ids = [torch.cuda.current_device()] if torch.cuda.is_available() else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def average(self, total: float, count: int) -> float:
        """Global ``Σ total / Σ count`` over all processes."""
        if not self.active:
            return total / max(count, 1)
        values = torch.tensor([total, float(count)], dtype=torch.float64)
        if torch.cuda.is_available():
            values = values.cuda()
        torch_dist.all_reduce(values)
        return float(values[0] / values[1].clamp_min(1.0))

    def barrier(self) -> None:
        """Wait for every process."""
        if self.active:
            torch_dist.barrier()
