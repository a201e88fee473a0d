"""Trainer.run: steps over a batch source, Adam then L-BFGS, one metrics log, resume, NaN
guard and time budget."""

import math

import pytest
import torch
from torch import nn

from pdeml.training import BatchSource, StepConfig, Trainer, TrainerConfig, TrainingDiverged
from pdeml.training.checkpoint import load_checkpoint
from pdeml.training.log import RECORD_KEYS


class Draws(BatchSource):
    """Fresh random inputs each step from a generator seeded once (its state checkpointed)."""

    steps_per_epoch = 2

    def __init__(self, seed=0):
        self.generator = torch.Generator().manual_seed(seed)
        self.last = None

    def batch(self, step):
        self.last = torch.randn(32, 2, generator=self.generator)
        return self.last

    def current(self):
        return self.last

    def refresh(self, step):
        return self.batch(step)

    def state_dict(self):
        return {"generator": self.generator.get_state(), "last": self.last}

    def load_state_dict(self, state):
        self.generator.set_state(state["generator"])
        self.last = state["last"]


def model_and_loss(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1)).double()

    def loss(x):
        x = x.double()
        target = torch.sin(x[:, :1]) * x[:, 1:]
        return (model(x) - target).pow(2).mean()

    return model, loss


def weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_adam_then_lbfgs_logs_one_set_of_keys():
    model, loss = model_and_loss()
    trainer = Trainer(StepConfig(steps=20, lr=1e-2, lbfgs_steps=10, log_every=5))
    history = trainer.run(model, loss, Draws(), validate=lambda: 0.5)
    assert all(set(r) == {*RECORD_KEYS, "valid_metric"} for r in history)
    assert [r["step"] for r in history] == [0, 5, 10, 15, 20, 25, 30]
    assert history[0]["epoch"] == 0 and history[4]["epoch"] == 10  # 2 steps per pass
    assert math.isnan(history[0]["train_loss"])  # before training: nothing measured
    assert history[-1]["lr"] == 1.0  # the L-BFGS phase
    assert history[-1]["train_loss"] < history[1]["train_loss"]
    assert trainer.steps == 20 and trainer.lbfgs_iterations == 10


def test_the_data_path_logs_the_same_keys():
    x = torch.randn(16, 1, 4)
    history = Trainer(TrainerConfig(epochs=2, batch_size=8, progress=False)).fit(
        nn.Conv1d(1, 1, 1), torch.nn.functional.mse_loss, (x, 2 * x), (x, 2 * x)
    )
    assert all(set(r) == {*RECORD_KEYS, "valid_metric"} for r in history)
    assert [r["step"] for r in history] == [2, 4]


def test_lbfgs_in_logged_chunks_equals_one_long_run():
    """The log interval cuts L-BFGS into chunks that continue one run: same weights."""
    finals = []
    for every in (3, 1000):
        model, loss = model_and_loss()
        Trainer(StepConfig(steps=0, lbfgs_steps=25, log_every=every)).run(model, loss, Fixed())
        finals.append(weights(model))
    assert torch.equal(*finals)


class Fixed(Draws):
    def batch(self, step):
        return self.current()

    def current(self):
        if self.last is None:
            self.last = torch.randn(32, 2, generator=self.generator)
        return self.last


def test_schedules_reach_their_end_rates():
    model, loss = model_and_loss()
    exponential = StepConfig(steps=5, lr=1e-2, schedule="exponential", lr_decay=1e-2, log_every=1)
    history = Trainer(exponential).run(model, loss, Draws())
    assert history[-1]["lr"] == pytest.approx(1e-2 * 1e-2 ** (5 / 4))  # after the last step
    cosine = Trainer(StepConfig(steps=4, schedule="cosine", log_every=4))
    assert cosine.run(model, loss, Draws())[-1]["lr"] == pytest.approx(0.0, abs=1e-12)


def test_resume_after_a_kill_gives_the_same_weights(tmp_path):
    config = StepConfig(steps=12, lr=1e-2, lbfgs_steps=5, checkpoint_every=4, log_every=2)
    whole, loss = model_and_loss()
    Trainer(config).run(whole, loss, Draws(), out_dir=tmp_path / "whole")

    killed, loss = model_and_loss()
    calls = {"n": 0}

    def dies(batch):
        calls["n"] += 1
        if calls["n"] == 10:
            raise KeyboardInterrupt
        return loss(batch)

    with pytest.raises(KeyboardInterrupt):
        Trainer(config).run(killed, dies, Draws(), out_dir=tmp_path / "run")
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["step"] == 8
    resumed, loss = model_and_loss(seed=5)  # other initial weights: the checkpoint decides
    history = Trainer(config).run(resumed, loss, Draws(), out_dir=tmp_path / "run", resume=True)
    assert torch.equal(weights(resumed), weights(whole))
    assert [r["step"] for r in history] == [2, 4, 6, 8, 10, 12, 14, 16, 17]
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == len(history)
    with pytest.raises(ValueError, match=r"other settings.*lr"):
        other = StepConfig(steps=12, lr=1e-3, lbfgs_steps=5, checkpoint_every=4)
        Trainer(other).run(resumed, loss, Draws(), out_dir=tmp_path / "run", resume=True)


def test_nan_loss_is_named_with_its_step_and_restores_the_checkpoint(tmp_path):
    model, loss = model_and_loss()

    def poisoned(batch):
        value = loss(batch)
        return value * float("nan") if poisoned.calls > 6 else value

    def counting(batch):
        poisoned.calls += 1
        return poisoned(batch)

    poisoned.calls = 0
    config = StepConfig(steps=10, checkpoint_every=3)
    with pytest.raises(TrainingDiverged, match=r"became nan at step 7;.*\(step 6\)"):
        Trainer(config).run(model, counting, Draws(), out_dir=tmp_path)
    assert torch.isfinite(weights(model)).all()
    assert issubclass(TrainingDiverged, FloatingPointError)  # what the loops raised before


def test_time_limit_stops_the_run_and_skips_lbfgs():
    model, loss = model_and_loss()

    def slow(batch):
        import time

        time.sleep(0.02)
        return loss(batch)

    trainer = Trainer(StepConfig(steps=1000, lbfgs_steps=50, time_limit=0.1))
    history = trainer.run(model, slow, Draws())
    assert 1 <= trainer.steps < 1000 and trainer.lbfgs_iterations == 0
    assert history[-1]["step"] == trainer.steps


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"steps": -1}, "steps"),
        ({"lr": 0}, "lr"),
        ({"schedule": "linear"}, "schedule"),
        ({"lr_decay": 2.0}, "lr_decay"),
        ({"time_limit": -1}, "time_limit"),
        ({"log_every": 0}, "log_every"),
    ],
)
def test_bad_step_settings_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        StepConfig(**kwargs)


def test_run_needs_a_step_config():
    model, loss = model_and_loss()
    with pytest.raises(TypeError, match="StepConfig"):
        Trainer(TrainerConfig()).run(model, loss, Draws())
