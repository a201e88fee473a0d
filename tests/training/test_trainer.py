"""The Trainer: learning, repeatability, exact resume, NaN guard, DDP on CPU."""

import json
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

from pdeml.training.checkpoint import load_checkpoint
from pdeml.training.losses import relative_lp
from pdeml.training.trainer import Trainer, TrainerConfig, TrainingDiverged


@pytest.fixture(autouse=True)
def _steady_threads(monkeypatch):
    # Bitwise comparisons of two fits need the same thread count in both: on a loaded
    # machine idle_cores() gave the two fits different counts, and float sums differed.
    monkeypatch.setattr("pdeml.training.trainer.idle_cores", lambda: 1)


def toy_data(n=64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 8, generator=generator)
    weight = torch.tensor([[1.0, -2.0, 0.5]])
    y = torch.einsum("oi,nix->nox", weight, x) + 0.3
    return x, y


def toy_model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv1d(3, 16, 1), nn.Tanh(), nn.Conv1d(16, 1, 1))


def config(**kwargs):
    base = {"epochs": 6, "batch_size": 8, "lr": 1e-2, "step_size": 2, "progress": False}
    return TrainerConfig(**{**base, **kwargs})


def weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_training_reduces_the_loss_and_logs_every_epoch(tmp_path):
    model = toy_model()
    history = Trainer(config(epochs=20, step_size=10)).fit(
        model, relative_lp, toy_data(), toy_data(16, 1), out_dir=tmp_path
    )
    assert len(history) == 20
    assert history[-1]["train_loss"] < 0.25 * history[0]["train_loss"]
    assert history[-1]["valid_metric"] < 0.1
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == list(range(1, 21))
    assert history[9]["lr"] == pytest.approx(1e-2 * 0.5)  # halved after step_size epochs
    assert history[8]["lr"] == pytest.approx(1e-2)


def test_same_seed_same_weights():
    a, b = toy_model(), toy_model()
    Trainer(config()).fit(a, relative_lp, toy_data())
    Trainer(config()).fit(b, relative_lp, toy_data())
    assert torch.equal(weights(a), weights(b))
    c = toy_model()
    Trainer(config(seed=1)).fit(c, relative_lp, toy_data())
    assert not torch.equal(weights(a), weights(c))


@pytest.mark.parametrize("scheduler", ["step", "onecycle"])
def test_resume_after_a_kill_gives_the_same_final_weights(tmp_path, scheduler):
    reference = toy_model()
    Trainer(config(scheduler=scheduler, checkpoint_every=2)).fit(
        reference, relative_lp, toy_data(), out_dir=tmp_path / "ref"
    )

    calls = {"n": 0}

    def killed_in_epoch_four(pred, target):
        calls["n"] += 1
        if calls["n"] > 3 * 8 + 2:  # 8 steps per epoch: dies during epoch 4
            raise KeyboardInterrupt
        return relative_lp(pred, target)

    interrupted = toy_model()
    with pytest.raises(KeyboardInterrupt):
        Trainer(config(scheduler=scheduler, checkpoint_every=2)).fit(
            interrupted, killed_in_epoch_four, toy_data(), out_dir=tmp_path / "run"
        )
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["epoch"] == 2

    resumed = toy_model(seed=123)  # different init: everything must come from the checkpoint
    history = Trainer(config(scheduler=scheduler, checkpoint_every=2)).fit(
        resumed, relative_lp, toy_data(), out_dir=tmp_path / "run", resume=True
    )
    assert torch.equal(weights(resumed), weights(reference))
    assert [h["epoch"] for h in history] == [1, 2, 3, 4, 5, 6]
    log = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in log] == [1, 2, 3, 4, 5, 6]


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(tmp_path):
    calls = {"n": 0}

    def poisoned(pred, target):
        calls["n"] += 1
        loss = relative_lp(pred, target)
        return loss * float("nan") if calls["n"] > 3 * 8 else loss

    model = toy_model()
    with pytest.raises(TrainingDiverged, match=r"became nan at epoch 4, step 1.*epoch 2"):
        Trainer(config(checkpoint_every=2)).fit(model, poisoned, toy_data(), out_dir=tmp_path)
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["epoch"] == 2
    restored = torch.cat([v.flatten() for k, v in state["model"].items()])
    assert torch.equal(weights(model), restored)
    assert torch.isfinite(weights(model)).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"epochs": 0}, "epochs"),
        ({"lr": -1.0}, "lr"),
        ({"optimizer": "sgd"}, "optimizer"),
        ({"scheduler": "linear"}, "scheduler"),
        ({"device": "tpu"}, "device"),
        ({"gamma": 2.0}, "gamma"),
    ],
)
def test_bad_settings_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainerConfig(**kwargs)
    with pytest.raises(ValueError, match="unknown training option"):
        TrainerConfig.from_options({"epoch": 3})


def test_resume_needs_an_output_directory():
    with pytest.raises(ValueError, match="out_dir"):
        Trainer(config()).fit(toy_model(), relative_lp, toy_data(), resume=True)


DDP_SCRIPT = textwrap.dedent("""
    import sys, torch
    from torch import nn
    sys.path.insert(0, {tests!r})
    from test_trainer import toy_data, toy_model, config
    from pdeml.training.losses import relative_lp
    from pdeml.training.trainer import Trainer
    model = toy_model()
    Trainer(config(batch_size=4)).fit(model, relative_lp, toy_data())
    if torch.distributed.get_rank() == 0:
        torch.save([p.detach() for p in model.parameters()], {out!r})
    # Leave the group together: a rank exiting while its peer still holds the gloo
    # connection made the peer abort (SIGABRT) in one CI run.
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()
""")


@pytest.mark.slow
def test_ddp_on_cpu_with_two_processes_matches_one_process_with_twice_the_batch(tmp_path):
    """Two gloo ranks with batch b see, step by step, the samples one process sees with
    batch 2b, and DDP averages their gradients: the same updates up to float round-off."""
    script = tmp_path / "ddp.py"
    out = tmp_path / "ddp_weights.pt"
    script.write_text(
        DDP_SCRIPT.format(tests=str(__import__("pathlib").Path(__file__).parent), out=str(out))
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            "29533",
            str(script),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[:3000]
    ddp = torch.cat([p.flatten() for p in torch.load(out, weights_only=True)])
    single = toy_model()
    Trainer(config(batch_size=8)).fit(single, relative_lp, toy_data())
    torch.testing.assert_close(ddp, weights(single), rtol=1e-4, atol=1e-5)


def test_a_fresh_fit_never_restores_a_checkpoint_it_did_not_write(tmp_path):
    """A checkpoint another run left in out_dir is not "the last good checkpoint"."""
    Trainer(config(epochs=2)).fit(toy_model(seed=5), relative_lp, toy_data(), out_dir=tmp_path)
    assert (tmp_path / "checkpoint.pt").is_file()

    def poisoned(pred, target):
        return relative_lp(pred, target) * float("nan")

    model = toy_model()
    before = weights(model).clone()
    with pytest.raises(TrainingDiverged, match="no checkpoint was kept"):
        Trainer(config()).fit(model, poisoned, toy_data(), out_dir=tmp_path)
    assert not torch.equal(weights(model), weights(toy_model(seed=5)))
    assert torch.equal(weights(model), before)  # diverged at the first step: untouched
    assert not (tmp_path / "checkpoint.pt").exists()  # the stale one is gone


def test_resume_refuses_other_settings_and_names_them(tmp_path):
    Trainer(config(epochs=2)).fit(toy_model(), relative_lp, toy_data(), out_dir=tmp_path)
    with pytest.raises(ValueError, match=r"training\.lr: 0\.01 then, 0\.02 now"):
        Trainer(config(epochs=4, lr=2e-2)).fit(
            toy_model(), relative_lp, toy_data(), out_dir=tmp_path, resume=True
        )
    wider = nn.Sequential(nn.Conv1d(3, 32, 1), nn.Tanh(), nn.Conv1d(32, 1, 1))
    with pytest.raises(ValueError, match="other hyperparameters or data"):
        Trainer(config(epochs=4)).fit(wider, relative_lp, toy_data(), out_dir=tmp_path, resume=True)
    with pytest.raises(ValueError, match="data"):
        Trainer(config(epochs=4)).fit(
            toy_model(),
            relative_lp,
            toy_data(),
            out_dir=tmp_path,
            resume=True,
            run_info={"data": "other"},
        )


def test_metrics_log_is_strict_json_and_non_finite_data_is_refused(tmp_path):
    def nan_metric(pred, target):
        return torch.tensor(float("nan"))

    Trainer(config(epochs=2)).fit(
        toy_model(), relative_lp, toy_data(), toy_data(8, 1), out_dir=tmp_path, metric_fn=nan_metric
    )

    def strict(text):
        raise ValueError(f"not JSON: {text}")

    for line in (tmp_path / "metrics.jsonl").read_text().splitlines():
        assert json.loads(line, parse_constant=strict)["valid_metric"] is None
    x, y = toy_data(8, 1)
    y[5, 0, 2] = float("inf")
    with pytest.raises(ValueError, match=r"valid outputs.*sample 5"):
        Trainer(config()).fit(toy_model(), relative_lp, toy_data(), (x, y))


@pytest.mark.parametrize("device", ["cuda", "cuda:7"])
def test_a_device_this_machine_lacks_is_named(device):
    if torch.cuda.is_available() and torch.cuda.device_count() > 7:
        pytest.skip("this machine has the device")
    with pytest.raises(ValueError, match="device"):
        Trainer(config(device=device)).fit(toy_model(), relative_lp, toy_data())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"amp": "yes"}, "amp"),
        ({"progress": 1}, "progress"),
        ({"loss": "l3"}, "loss"),
        ({"lr": True}, "lr"),
        ({"epochs": 2.0}, "epochs"),
    ],
)
def test_option_types_are_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainerConfig(**kwargs)


def test_fit_trains_within_the_idle_cores_and_gives_the_threads_back(monkeypatch):
    seen = []

    class Recording(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, x):
            seen.append(torch.get_num_threads())
            return self.model(x)

    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("PDEML_NUM_THREADS", "1")
        torch.set_num_threads(2)
        Trainer(config(epochs=1)).fit(Recording(toy_model()), relative_lp, toy_data())
        assert set(seen) == {1}  # trained within the cores it was given
        assert torch.get_num_threads() == 2  # the caller's setting is back
        seen.clear()
        torch.set_num_threads(1)
        monkeypatch.setenv("PDEML_NUM_THREADS", "2")
        Trainer(config(epochs=1)).fit(Recording(toy_model()), relative_lp, toy_data())
        assert set(seen) == {1}  # a smaller count the user set is kept
    finally:
        torch.set_num_threads(before)
