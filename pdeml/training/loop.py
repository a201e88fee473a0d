"""The step loop of :meth:`pdeml.training.Trainer.run`: Adam, then optionally L-BFGS.

One run minimises ``loss(batch)`` over batches from a :class:`~pdeml.training.steps.BatchSource`:
``steps`` first-order steps (Adam, with the configured schedule), then up to
``lbfgs_steps`` L-BFGS iterations (strong-Wolfe line search) on the last batch, restarted
on fresh batches every ``lbfgs_restart`` iterations when asked. It shares with the epoch
loop of :meth:`~pdeml.training.Trainer.fit` the NaN guard, the metrics log
(:mod:`pdeml.training.log`), checkpoints with resume, and the progress bar, and adds a time
budget.

Checkpoints are written every ``checkpoint_every`` Adam steps, at the end of the Adam
phase and at the end of the run; they hold the model, the optimiser and schedule states
and the batch source's state, so a resumed run continues as an uninterrupted one would.
The L-BFGS phase is not checkpointed part way: a run killed during it resumes from the end
of the Adam phase and repeats it (L-BFGS is deterministic given the weights and points).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pdeml.training.checkpoint import check_same_run, load_checkpoint, save_checkpoint
from pdeml.training.guard import Clock, diverged
from pdeml.training.log import MetricsLog
from pdeml.training.optimizers import make_optimizer
from pdeml.training.steps import BatchSource, StepConfig
from pdeml.training.tracking import Tracker

CHECKPOINT = "checkpoint.pt"


class StepRun:
    """One step-based training run; :meth:`run` trains and returns the metrics log."""

    def __init__(
        self,
        config: StepConfig,
        model: nn.Module,
        loss_fn: Callable[[Any], torch.Tensor],
        source: BatchSource,
        groups: list[dict[str, Any]] | None = None,
        validate: Callable[[], float] | None = None,
        out: Path | None = None,
        tracker: Tracker | None = None,
    ) -> None:
        self.c, self.model, self.loss_fn, self.source = config, model, loss_fn, source
        self.validate = validate
        self.out = out
        self.params = list(model.parameters())
        self.device = self.params[0].device
        # Fused into one kernel per step, complex weights included (optimizers.py).
        self.optimizer = make_optimizer("adam", groups or [{"params": self.params}], config.lr)
        self.base_lrs = [g["lr"] for g in self.optimizer.param_groups]
        self.scheduler = self._scheduler()
        self.log = MetricsLog(out, tracker=tracker)
        self.clock = Clock(self.device)
        self.logged_at = 0.0  # training seconds at the last record
        self.own_checkpoint = False
        #: Adam steps and L-BFGS iterations done; whether the time budget ended the run.
        self.steps = 0
        self.lbfgs_iterations = 0
        self.out_of_time = False

    # -- pieces ---------------------------------------------------------------------------
    def _scheduler(self) -> Any:
        c = self.c
        if c.steps == 0:
            return None
        if c.schedule == "exponential":
            # Decay to ``lr_decay`` times each group's rate at the last step.
            gamma = c.lr_decay ** (1.0 / max(c.steps - 1, 1))
            return torch.optim.lr_scheduler.ExponentialLR(self.optimizer, gamma=gamma)
        if c.schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, c.steps)
        return None

    def _schedule(self) -> None:
        c = self.c
        if c.schedule == "cosine" and c.time_limit is not None:
            # Anneal over the time budget, so a time-limited run also ends at lr ~ 0.
            fraction = min(self.clock.elapsed / c.time_limit, 1.0)
            for group, base in zip(self.optimizer.param_groups, self.base_lrs):
                group["lr"] = 0.5 * base * (1.0 + math.cos(math.pi * fraction))
        elif self.scheduler is not None:
            self.scheduler.step()

    def _time_up(self) -> bool:
        limit = self.c.time_limit
        self.out_of_time = limit is not None and self.clock.elapsed >= limit
        return self.out_of_time

    def record(self, train_loss: float, lr: float) -> None:
        """Append a record for the steps done so far (validation off the clock)."""
        step = self.steps + self.lbfgs_iterations
        now = self.clock.elapsed
        record = {
            "epoch": step // max(self.source.steps_per_epoch, 1),
            "step": step,
            "train_loss": train_loss,
            "lr": lr,
            "seconds": now - self.logged_at,
        }
        self.logged_at = now
        if self.validate is not None:
            self.clock.pause()
            record["valid_metric"] = float(self.validate())
            self.clock.resume()
        self.log.append(record)

    def _checkpoint(self, done: bool) -> None:
        if self.out is None:
            return
        save_checkpoint(
            self.out / CHECKPOINT,
            {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler else None,
                "step": self.steps,
                "lbfgs_iterations": self.lbfgs_iterations,
                "done": done,
                "source": self.source.state_dict(),
                "run": self.run_info,
            },
        )
        self.own_checkpoint = True

    def _diverged(self, loss: torch.Tensor) -> Exception:
        own = self.out / CHECKPOINT if (self.out is not None and self.own_checkpoint) else None
        where = f"step {self.steps + self.lbfgs_iterations + 1}"
        return diverged(loss, where, self.c.lr, self.model, own, self.device)

    def _resume(self) -> bool:
        """Continue from ``out/checkpoint.pt``; True if that run had finished."""
        assert self.out is not None  # run() resumes only with a run folder
        path = self.out / CHECKPOINT
        state = load_checkpoint(path, map_location=self.device)
        check_same_run(path, state.get("run"), self.run_info)
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.source.load_state_dict(state.get("source") or {})
        except (RuntimeError, ValueError, KeyError) as error:
            raise ValueError(
                f"resume: {path} holds a model of other hyperparameters or data "
                f"({str(error).splitlines()[0]}); train afresh instead"
            ) from None
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.steps = int(state["step"])
        done = bool(state.get("done"))
        # A finished run keeps its L-BFGS records; an unfinished one re-does that phase.
        self.lbfgs_iterations = int(state.get("lbfgs_iterations", 0)) if done else 0
        self.log.resume("step", self.steps + self.lbfgs_iterations)
        self.own_checkpoint = True
        return done

    # -- the run --------------------------------------------------------------------------
    def run(self, resume: bool = False, run_info: dict[str, Any] | None = None) -> list[dict]:
        """Train; return the metrics log (see :mod:`pdeml.training.log`)."""
        c = self.c
        self.run_info = {**(run_info or {}), "training": c.resume_settings()}
        if self.out is not None:
            self.out.mkdir(parents=True, exist_ok=True)
        if resume and self.out is not None and (self.out / CHECKPOINT).exists():
            if self._resume():
                return self.log.records
            # A resumed run re-does the L-BFGS phase (see the module docstring).
        else:
            self.log.fresh()
            if self.out is not None:
                (self.out / CHECKPOINT).unlink(missing_ok=True)
            if self.validate is not None:
                self.record(math.nan, self.optimizer.param_groups[0]["lr"])

        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=c.steps + c.lbfgs_steps,
            initial=self.steps,
            desc="train",
            unit="step",
            disable=not c.progress,
        )
        self.clock = Clock(self.device)
        self.logged_at = 0.0
        self._adam()
        if not self.out_of_time:
            self._lbfgs()
        self._checkpoint(done=True)
        self.bar.close()
        return self.log.records

    def _adam(self) -> None:
        c = self.c
        total, count = 0.0, 0
        while self.steps < c.steps:
            batch = self.source.batch(self.steps + 1)
            loss = self.loss_fn(batch)
            value = float(loss.detach())
            if not math.isfinite(value):
                raise self._diverged(loss)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self._schedule()
            self.steps += 1
            total, count = total + value, count + 1
            last = self.steps == c.steps or self._time_up()
            if self.steps % c.log_every == 0 or last:
                self.record(total / count, self.optimizer.param_groups[0]["lr"])
                total, count = 0.0, 0
                self.bar.set_postfix(self._postfix())
            if last or (c.checkpoint_every and self.steps % c.checkpoint_every == 0):
                self._checkpoint(done=False)
            self.bar.update(1)
            if self.out_of_time:
                break

    def _postfix(self) -> dict[str, str]:
        last = self.log.records[-1]
        return {k: f"{v:.3g}" for k, v in last.items() if k in ("train_loss", "valid_metric")}

    def _lbfgs(self) -> None:
        c = self.c
        budget, restart = c.lbfgs_steps, c.lbfgs_restart
        lbfgs: torch.optim.LBFGS | None = None
        batch = self.source.current() if budget else None
        last_loss = [math.nan]
        started_at = 0
        while self.lbfgs_iterations < budget:
            if lbfgs is None:
                lbfgs = torch.optim.LBFGS(
                    self.params,
                    lr=1.0,
                    max_iter=budget,
                    history_size=50,
                    tolerance_grad=1e-12,
                    tolerance_change=1e-15,
                    line_search_fn="strong_wolfe",
                )
                started_at = self.lbfgs_iterations

                def closure(optimizer: torch.optim.LBFGS = lbfgs, batch: Any = batch) -> Any:
                    optimizer.zero_grad(set_to_none=True)
                    loss = self.loss_fn(batch)
                    loss.backward()
                    last_loss[0] = float(loss.detach())
                    return loss

            done = self.lbfgs_iterations
            ask = min(c.log_every, budget - done)
            if restart:
                ask = min(ask, restart - (done - started_at))
            lbfgs.param_groups[0]["max_iter"] = ask
            # torch caps function evaluations per step() at 1.25 × max_iter by default; the
            # strong-Wolfe search can need more, which would end a long run early (and make
            # one long call differ from the same run in logged chunks). The iteration
            # budget is the limit; 25 evaluations is the line search's own cap.
            lbfgs.param_groups[0]["max_eval"] = 25 * ask
            lbfgs.step(closure)
            self.lbfgs_iterations = started_at + int(lbfgs.state[self.params[0]].get("n_iter", 0))
            if not all(bool(torch.isfinite(p).all()) for p in self.params):
                raise self._diverged(torch.tensor(last_loss[0]))
            self.record(last_loss[0], 1.0)
            self.bar.update(self.lbfgs_iterations - done)
            if self._time_up():
                break
            stopped = self.lbfgs_iterations - done < ask  # converged or stalled on this batch
            if (
                restart
                and self.lbfgs_iterations < budget
                and (stopped or self.lbfgs_iterations - started_at >= restart)
            ):
                if self.lbfgs_iterations == done:
                    break  # no progress even on a fresh batch
                batch = self.source.refresh(c.steps + self.lbfgs_iterations)
                lbfgs = None
            elif stopped:
                break
