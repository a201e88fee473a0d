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
import re
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pdeml.training.checkpoint import load_checkpoint, save_checkpoint
from pdeml.training.distributed import DistributedContext

OPTIMIZERS = ("adam", "adamw")
SCHEDULERS = ("step", "cosine", "onecycle", "none")
LOSSES = ("l2", "l1", "h1")
CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message says where and what was kept."""


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
        # Starting numba's thread pool (inside limit_threads) resets the OpenMP count
        # torch reads, so torch is set again after it.
        if torch.get_num_threads() > cores:
            torch.set_num_threads(cores)


def finite_json(record: dict[str, Any]) -> str:
    """One strict-JSON line: NaN and infinities (not JSON) are written as ``null``."""

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(record), allow_nan=False)


def default_device() -> str:
    """``"cuda"`` when a GPU is visible, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


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
        cap_threads()
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
