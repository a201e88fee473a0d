"""One training loop for every neural surrogate.

The :class:`Trainer` takes a model that maps raw input tensors to raw output tensors (any
normalisation lives inside the model, so it is saved with it), a loss, and in-memory
training and validation tensors. It handles the optimiser and schedule, the device, bf16
autocast and ``torch.compile`` on CUDA, per-epoch validation and metrics log, checkpoints
with exact resume, a NaN guard, a progress bar, and DistributedDataParallel when started
under ``torchrun``.

Exact resume: the order of the samples in epoch ``e`` is a permutation drawn from
``(seed, e)`` alone, and checkpoints hold the model, optimiser and scheduler states, so a
run killed and resumed from its last checkpoint computes the same updates as one that was
never interrupted (bitwise on CPU).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pdeml._json import strict_dumps
from pdeml._threads import idle_cores, limited_threads
from pdeml.training.checkpoint import load_checkpoint, save_checkpoint
from pdeml.training.config import (
    TrainerConfig,
    check_device,
    default_device,
)
from pdeml.training.distributed import DistributedContext

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message says where and what was kept."""


def finite_json(record: dict[str, Any]) -> str:
    """One strict-JSON line of the metrics log: NaN and infinities are written as ``null``."""
    return strict_dumps(record)


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The sample order of ``epoch``: depends only on ``(seed, epoch)`` (exact resume)."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=generator)


class Trainer:
    """Trains ``model`` so that ``loss(model(x), y)`` is small; see :class:`TrainerConfig`."""

    def __init__(self, config: TrainerConfig | None = None) -> None:
        self.config = config or TrainerConfig()
        self.history: list[dict[str, float]] = []

    # -- building blocks ----------------------------------------------------------------
    def _optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        c = self.config
        cls = torch.optim.AdamW if c.optimizer == "adamw" else torch.optim.Adam
        return cls(model.parameters(), lr=c.lr, weight_decay=c.weight_decay)

    def _scheduler(self, optimizer: torch.optim.Optimizer, steps_per_epoch: int):
        c = self.config
        if c.scheduler == "step":
            return torch.optim.lr_scheduler.StepLR(optimizer, max(1, c.step_size), c.gamma)
        if c.scheduler == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, c.epochs)
        if c.scheduler == "onecycle":
            return torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=c.lr, total_steps=c.epochs * steps_per_epoch
            )
        return None

    # -- the loop -----------------------------------------------------------------------
    def fit(
        self,
        model: nn.Module,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        train: tuple[torch.Tensor, torch.Tensor],
        valid: tuple[torch.Tensor, torch.Tensor] | None = None,
        *,
        out_dir: str | Path | None = None,
        resume: bool = False,
        metric_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        run_info: dict[str, Any] | None = None,
    ) -> list[dict[str, float]]:
        """Train in place and return the per-epoch history.

        Parameters
        ----------
        model : nn.Module
            Maps a batch of raw inputs to raw outputs.
        loss_fn : callable
            ``(pred, target) -> scalar`` minimised on the training set.
        train, valid : (x, y) tensors
            In-memory data, sample axis first.
        out_dir : path, optional
            Where checkpoints (``checkpoint.pt``) and the metrics log (``metrics.jsonl``)
            go. Required for ``checkpoint_every`` and ``resume``.
        resume : bool
            Continue from ``out_dir/checkpoint.pt`` if it exists.
        metric_fn : callable, optional
            Validation metric (default: ``loss_fn``).
        run_info : dict, optional
            What else defines the run (hyperparameters, a fingerprint of the data: JSON
            values). Stored in every checkpoint with the settings that shape the updates;
            ``resume`` refuses a checkpoint whose stored values differ, naming the keys.

        Raises
        ------
        TrainingDiverged
            If the loss becomes NaN or infinite; the model is left at the last good
            checkpoint this run wrote (or resumed from) when there is one.
        ValueError
            For non-finite data, a device this machine lacks, or a ``resume`` from a
            checkpoint of other settings.
        """
        c = self.config
        metric_fn = metric_fn or loss_fn
        out = Path(out_dir) if out_dir is not None else None
        if (resume or c.checkpoint_every) and out is None:
            raise ValueError("out_dir is required for checkpoint_every and resume")
        _check_finite(train, "train")
        if valid is not None:
            _check_finite(valid, "valid")
        # Threads beside work that keeps a core busy wait for it at every step: train with
        # the cores that are idle now, and give the caller's settings back afterwards.
        with limited_threads(idle_cores()):
            return self._fit(model, loss_fn, train, valid, out, resume, metric_fn, run_info)

    def _fit(
        self,
        model: nn.Module,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        train: tuple[torch.Tensor, torch.Tensor],
        valid: tuple[torch.Tensor, torch.Tensor] | None,
        out: Path | None,
        resume: bool,
        metric_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        run_info: dict[str, Any] | None,
    ) -> list[dict[str, float]]:
        c = self.config
        dist = DistributedContext.from_environment()
        device = (
            check_device(c.device) if c.device else torch.device(dist.device or default_device())
        )
        model.to(device)
        x_train, y_train = (t.to(device) for t in train)
        if x_train.shape[0] != y_train.shape[0]:
            raise ValueError(f"train: {x_train.shape[0]} inputs but {y_train.shape[0]} outputs")
        n = x_train.shape[0]
        steps_per_epoch = max(
            1, math.ceil(len(range(dist.rank, n, dist.world_size)) / c.batch_size)
        )
        optimizer = self._optimizer(model)
        scheduler = self._scheduler(optimizer, steps_per_epoch)
        run = {**(run_info or {}), "training": self._run_settings()}
        # The checkpoint the divergence guard may restore: only one this call wrote or
        # resumed from, never a file another run left in out_dir.
        self._own_checkpoint = False

        start_epoch = 0
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
        if resume and out is not None and (out / CHECKPOINT).exists():
            state = load_checkpoint(out / CHECKPOINT, map_location=device)
            _check_same_run(out / CHECKPOINT, state.get("run"), run)
            try:
                model.load_state_dict(state["model"])
                optimizer.load_state_dict(state["optimizer"])
            except (RuntimeError, ValueError, KeyError) as error:
                raise ValueError(
                    f"resume: {out / CHECKPOINT} holds a model of other hyperparameters or "
                    f"data ({str(error).splitlines()[0]}); train afresh instead"
                ) from None
            if scheduler is not None and state.get("scheduler") is not None:
                scheduler.load_state_dict(state["scheduler"])
            start_epoch = int(state["epoch"])
            self.history = _read_history(out / METRICS, start_epoch)
            self._own_checkpoint = True
        elif dist.is_main and out is not None:
            # A fresh run: whatever an earlier run left here is not ours to resume from.
            (out / METRICS).unlink(missing_ok=True)
            (out / CHECKPOINT).unlink(missing_ok=True)

        network = dist.wrap(model)
        if c.compile and (device.type == "cuda" or c.compile_on_cpu):
            network = torch.compile(network)
        use_amp = c.amp and device.type == "cuda"
        autocast = torch.autocast("cuda", dtype=torch.bfloat16) if use_amp else nullcontext()

        from tqdm.auto import tqdm

        bar = tqdm(
            range(start_epoch, c.epochs),
            initial=start_epoch,
            total=c.epochs,
            desc="train",
            unit="epoch",
            disable=not (c.progress and dist.is_main),
        )
        for epoch in bar:
            begin = time.perf_counter()
            network.train()
            order = epoch_permutation(n, c.seed, epoch)[dist.rank :: dist.world_size]
            total, count = 0.0, 0
            for step in range(steps_per_epoch):
                index = order[step * c.batch_size : (step + 1) * c.batch_size].to(device)
                if index.numel() == 0:
                    continue
                xb, yb = x_train[index], y_train[index]
                optimizer.zero_grad(set_to_none=True)
                with autocast:
                    pred = network(xb)
                loss = loss_fn(pred.float(), yb)
                if not torch.isfinite(loss):
                    self._diverged(model, out, epoch, step, loss, device)
                loss.backward()
                optimizer.step()
                if scheduler is not None and c.scheduler == "onecycle":
                    scheduler.step()
                total += float(loss.detach()) * len(index)
                count += len(index)
            if scheduler is not None and c.scheduler != "onecycle":
                scheduler.step()
            train_loss = dist.average(total, count)
            record = {
                "epoch": epoch + 1,
                "train_loss": train_loss,
                "lr": optimizer.param_groups[0]["lr"],
                "seconds": time.perf_counter() - begin,
            }
            if valid is not None:
                record["valid_metric"] = self.evaluate(model, metric_fn, valid, device)
            self.history.append(record)
            bar.set_postfix(
                {k: f"{v:.3g}" for k, v in record.items() if k in ("train_loss", "valid_metric")}
            )
            if dist.is_main and out is not None:
                with open(out / METRICS, "a") as log:
                    log.write(finite_json(record) + "\n")
                last = epoch + 1 == c.epochs
                if last or (c.checkpoint_every and (epoch + 1) % c.checkpoint_every == 0):
                    save_checkpoint(
                        out / CHECKPOINT,
                        {
                            "model": model.state_dict(),
                            "optimizer": optimizer.state_dict(),
                            "scheduler": scheduler.state_dict() if scheduler else None,
                            "epoch": epoch + 1,
                            "run": run,
                        },
                    )
                    self._own_checkpoint = True
        bar.close()
        dist.barrier()
        return self.history

    def _run_settings(self) -> dict[str, Any]:
        """The settings a resumed run must share with the checkpoint (not the device,
        progress bar or checkpoint interval; the epoch count only where the schedule
        depends on it)."""
        c = dataclasses.asdict(self.config)
        skip = {"device", "progress", "checkpoint_every", "amp", "compile", "compile_on_cpu"}
        if self.config.scheduler in ("step", "none"):
            skip.add("epochs")  # training longer is a resume: the schedule does not change
        return {k: v for k, v in c.items() if k not in skip}

    @torch.no_grad()
    def evaluate(
        self,
        model: nn.Module,
        metric_fn: Callable,
        data: tuple[torch.Tensor, ...],
        device: torch.device | str | None = None,
    ) -> float:
        """Mean of ``metric_fn`` over ``data`` in batches, model in eval mode."""
        device = torch.device(device or next(model.parameters()).device)
        model.eval()
        x, y = data
        total, count = 0.0, 0
        for start in range(0, x.shape[0], self.config.batch_size):
            xb = x[start : start + self.config.batch_size].to(device)
            yb = y[start : start + self.config.batch_size].to(device)
            total += float(metric_fn(model(xb).float(), yb)) * len(xb)
            count += len(xb)
        return total / max(count, 1)

    def _diverged(
        self,
        model: nn.Module,
        out: Path | None,
        epoch: int,
        step: int,
        loss: torch.Tensor,
        device: torch.device,
    ) -> None:
        kept = "no checkpoint was kept (set checkpoint_every and out_dir to keep one)"
        if out is not None and getattr(self, "_own_checkpoint", False):
            state = load_checkpoint(out / CHECKPOINT, map_location=device)
            model.load_state_dict(state["model"])
            kept = (
                f"the model is restored from the last good checkpoint "
                f"{out / CHECKPOINT} (epoch {state['epoch']})"
            )
        raise TrainingDiverged(
            f"training loss became {float(loss.detach())} at epoch {epoch + 1}, step {step + 1}; "
            f"{kept}; try a lower lr (now {self.config.lr})"
        )


def _check_finite(data: tuple[torch.Tensor, ...], argument: str) -> None:
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


def _flatten(values: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(values, dict):
        return {prefix: values}
    out: dict[str, Any] = {}
    for key, value in values.items():
        out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def _check_same_run(path: Path, stored: Any, current: dict[str, Any]) -> None:
    """Refuse to resume from a checkpoint written with other settings, naming them."""
    if stored is None:
        return  # written before checkpoints recorded their settings: the weights decide
    old, new = _flatten(stored), _flatten(current)
    differ = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    if differ:
        shown = "; ".join(f"{k}: {old.get(k)!r} then, {new.get(k)!r} now" for k in differ[:6])
        more = f" (and {len(differ) - 6} more)" if len(differ) > 6 else ""
        raise ValueError(
            f"resume: {path} was written with other settings ({shown}{more}); resume with "
            "the same settings and data, or train afresh without --resume"
        )


def _read_history(path: Path, upto_epoch: int) -> list[dict[str, float]]:
    """Metrics records up to ``upto_epoch``; later ones (after the checkpoint) are dropped."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a kill during the write
        if isinstance(record, dict) and isinstance(record.get("epoch"), int):
            records.append(record)
    records = [r for r in records if r["epoch"] <= upto_epoch]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(finite_json(r) + "\n" for r in records))
    os.replace(tmp, path)
    return records
