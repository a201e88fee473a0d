"""One training engine for every neural surrogate.

The :class:`Trainer` trains by epochs over in-memory data (:meth:`Trainer.fit`: FNO, MgNO,
the neural closures) or by steps over batches a surrogate draws itself
(:meth:`Trainer.run`: collocation points for PINN and PIG, spectral coefficients for NSM),
Adam then optionally L-BFGS. Both share the NaN guard (:mod:`pdeml.training.guard`), the
metrics log with one set of keys (:mod:`pdeml.training.log`), checkpoints with exact
resume, and the progress bar.

:meth:`Trainer.fit` takes a model that maps raw input tensors to raw output tensors (any
normalisation lives inside the model, so it is saved with it), a loss, and training and
validation tensors. It handles the optimiser and schedule, the device, bf16 autocast and
``torch.compile`` on CUDA, per-epoch validation, and DistributedDataParallel when started
under ``torchrun``.

Exact resume: the order of the samples in epoch ``e`` is a permutation drawn from
``(seed, e)`` alone, and checkpoints hold the model, optimiser and scheduler states, so a
run killed and resumed from its last checkpoint computes the same updates as one that was
never interrupted (bitwise on CPU).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from pdeml._threads import idle_cores, limited_threads
from pdeml.training.checkpoint import check_same_run, load_checkpoint, save_checkpoint
from pdeml.training.config import (
    TrainerConfig,
    check_device,
    default_device,
)
from pdeml.training.distributed import DistributedContext
from pdeml.training.guard import TrainingDiverged, check_finite, diverged
from pdeml.training.log import METRICS, MetricsLog, finite_json
from pdeml.training.loop import CHECKPOINT, StepRun
from pdeml.training.optimizers import make_optimizer
from pdeml.training.steps import BatchSource, StepConfig
from pdeml.training.tracking import Tracker, tracking

__all__ = [
    "CHECKPOINT",
    "METRICS",
    "BatchSource",
    "StepConfig",
    "Trainer",
    "TrainerConfig",
    "TrainingDiverged",
    "epoch_permutation",
    "finite_json",
]


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The sample order of ``epoch``: depends only on ``(seed, epoch)`` (exact resume)."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=generator)


class Trainer:
    """The one training engine: epochs over data (:meth:`fit`, with a
    :class:`TrainerConfig`) or steps over a batch source (:meth:`run`, with a
    :class:`~pdeml.training.steps.StepConfig`).

    ``history`` is the metrics log of the last run (keys in :mod:`pdeml.training.log`).
    """

    def __init__(self, config: TrainerConfig | StepConfig | None = None) -> None:
        self.config = config or TrainerConfig()
        self.history: list[dict[str, float]] = []

    # -- building blocks ----------------------------------------------------------------
    def _epoch_config(self) -> TrainerConfig:
        """The settings of :meth:`fit` (a :class:`StepConfig` is for :meth:`run`)."""
        if not isinstance(self.config, TrainerConfig):
            raise TypeError("Trainer.fit needs a TrainerConfig (StepConfig is for run)")
        return self.config

    def _optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        c = self._epoch_config()
        # One fused kernel per step, complex spectral weights included (optimizers.py).
        return make_optimizer(c.optimizer, model.parameters(), c.lr, c.weight_decay)

    def _scheduler(
        self, optimizer: torch.optim.Optimizer, steps_per_epoch: int
    ) -> torch.optim.lr_scheduler.LRScheduler | None:
        c = self._epoch_config()
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
        c = self._epoch_config()
        metric_fn = metric_fn or loss_fn
        out = Path(out_dir) if out_dir is not None else None
        if (resume or c.checkpoint_every) and out is None:
            raise ValueError("out_dir is required for checkpoint_every and resume")
        check_finite(train, "train")
        if valid is not None:
            check_finite(valid, "valid")
        # Threads beside work that keeps a core busy wait for it at every step: train with
        # the cores that are idle now, and give the caller's settings back afterwards.
        settings = {**(run_info or {}), "training": dataclasses.asdict(c)}
        with limited_threads(idle_cores()), tracking(c.track, out, settings) as tracker:
            return self._fit(
                model, loss_fn, train, valid, out, resume, metric_fn, run_info, tracker
            )

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
        tracker: Tracker | None = None,
    ) -> list[dict[str, float]]:
        c = self._epoch_config()
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
        log = MetricsLog(out, write=dist.is_main, tracker=tracker)
        log.records = self.history
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
        if resume and out is not None and (out / CHECKPOINT).exists():
            state = load_checkpoint(out / CHECKPOINT, map_location=device)
            check_same_run(out / CHECKPOINT, state.get("run"), run)
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
            self.history = log.resume("epoch", start_epoch)
            self._own_checkpoint = True
        elif dist.is_main and out is not None:
            # A fresh run: whatever an earlier run left here is not ours to resume from.
            log.fresh()
            (out / CHECKPOINT).unlink(missing_ok=True)

        network = dist.wrap(model)
        if c.compile and (device.type == "cuda" or c.compile_on_cpu):
            network = cast(nn.Module, torch.compile(network))  # a Module, compiled
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
                    own = out / CHECKPOINT if out is not None and self._own_checkpoint else None
                    where = f"epoch {epoch + 1}, step {step + 1}"
                    raise diverged(loss, where, c.lr, model, own, device)
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
                "step": (epoch + 1) * steps_per_epoch,
                "train_loss": train_loss,
                "lr": optimizer.param_groups[0]["lr"],
                "seconds": time.perf_counter() - begin,
            }
            if valid is not None:
                record["valid_metric"] = self.evaluate(model, metric_fn, valid, device)
            log.append(record)
            self.history = log.records
            bar.set_postfix(
                {k: f"{v:.3g}" for k, v in record.items() if k in ("train_loss", "valid_metric")}
            )
            if dist.is_main and out is not None:
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
        config = self._epoch_config()
        c = dataclasses.asdict(config)
        skip = {"device", "progress", "checkpoint_every", "amp", "compile", "compile_on_cpu"}
        skip.add("track")
        if config.scheduler in ("step", "none"):
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
        size = self._epoch_config().batch_size
        total, count = 0.0, 0
        for start in range(0, x.shape[0], size):
            xb = x[start : start + size].to(device)
            yb = y[start : start + size].to(device)
            total += float(metric_fn(model(xb).float(), yb)) * len(xb)
            count += len(xb)
        return total / max(count, 1)

    # -- steps over a batch source ----------------------------------------------------------
    def run(
        self,
        model: nn.Module,
        loss_fn: Callable[[Any], torch.Tensor],
        source: BatchSource,
        *,
        groups: list[dict[str, Any]] | None = None,
        validate: Callable[[], float] | None = None,
        out_dir: str | Path | None = None,
        resume: bool = False,
        run_info: dict[str, Any] | None = None,
    ) -> list[dict[str, float]]:
        """Minimise ``loss_fn(batch)`` over batches of ``source``; return the metrics log.

        Adam for ``config.steps`` steps with the configured schedule, then
        ``config.lbfgs_steps`` L-BFGS iterations (:mod:`pdeml.training.loop`).

        Parameters
        ----------
        model : nn.Module
            Its parameters are trained; it is already on its device and in its dtype, as
            the batches of ``source`` are.
        loss_fn : callable
            ``batch -> scalar tensor``.
        source : BatchSource
            Hands out the batches.
        groups : list of dict, optional
            Adam parameter groups (default: all parameters at ``config.lr``).
        validate : callable, optional
            ``() -> float``, the validation metric, evaluated at every record of the log
            (and once before training), off the training clock.
        out_dir, resume, run_info
            As for :meth:`fit`: checkpoints and ``metrics.jsonl`` go to ``out_dir``; a
            ``resume`` continues from its checkpoint and refuses one of other settings.

        Raises
        ------
        TrainingDiverged
            If the loss or the weights become NaN or infinite.
        """
        c = self.config
        if not isinstance(c, StepConfig):
            raise TypeError("Trainer.run needs a StepConfig (TrainerConfig is for fit)")
        out = Path(out_dir) if out_dir is not None else None
        if (resume or c.checkpoint_every) and out is None:
            raise ValueError("out_dir is required for checkpoint_every and resume")
        settings = {**(run_info or {}), "training": dataclasses.asdict(c)}
        with tracking(c.track, out, settings) as tracker:
            steps = StepRun(c, model, loss_fn, source, groups, validate, out, tracker)
            self.history = steps.run(resume, run_info)
        #: Adam steps and L-BFGS iterations of the last run; its training seconds.
        self.steps, self.lbfgs_iterations = steps.steps, steps.lbfgs_iterations
        self.seconds = steps.clock.elapsed
        return self.history
