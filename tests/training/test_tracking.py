"""Experiment tracking (``track=``): the metrics log also reaches TensorBoard or MLflow.

The writers are faked (modules put in ``sys.modules``), so these tests need neither
package; one test writes real TensorBoard event files where ``tensorboard`` is installed.
"""

import math
import sys
import types

import pytest
import torch
from torch import nn

import pdeml
from pdeml.cli import main
from pdeml.training import BatchSource, StepConfig, Trainer, TrainerConfig, TrainingDiverged
from pdeml.training.tracking import TENSORBOARD_DIR, check_track


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    monkeypatch.setattr("pdeml.training.trainer.idle_cores", lambda: 1)


@pytest.fixture
def fake_tensorboard(monkeypatch):
    """torch's ``SummaryWriter`` replaced by one that keeps what it is given."""
    writers = []

    class SummaryWriter:
        def __init__(self, log_dir=None, comment=""):
            self.log_dir, self.comment = log_dir, comment
            self.scalars, self.texts, self.closed = [], [], False
            writers.append(self)

        def add_scalar(self, tag, value, step):
            self.scalars.append((tag, value, step))

        def add_text(self, tag, text):
            self.texts.append((tag, text))

        def close(self):
            self.closed = True

    module = types.ModuleType("torch.utils.tensorboard")
    module.SummaryWriter = SummaryWriter
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", module)
    return writers


@pytest.fixture
def fake_mlflow(monkeypatch):
    """An ``mlflow`` module that records its calls."""
    calls = []
    module = types.ModuleType("mlflow")
    module.active_run = lambda: None
    module.start_run = lambda run_name=None, nested=False: calls.append(("start", run_name))
    module.log_params = lambda params: calls.append(("params", params))
    module.log_metrics = lambda metrics, step: calls.append(("metrics", metrics, step))
    module.end_run = lambda: calls.append(("end",))
    monkeypatch.setitem(sys.modules, "mlflow", module)
    return calls


def toy_fit(track, out_dir=None):
    torch.manual_seed(0)
    x = torch.randn(16, 2, 4)
    model = nn.Conv1d(2, 1, 1)
    config = TrainerConfig(epochs=3, batch_size=8, progress=False, track=track)
    return Trainer(config).fit(
        model, nn.functional.mse_loss, (x, x[:, :1]), (x, x[:, :1]), out_dir=out_dir
    )


def scalars_of(history):
    """What the records are as TensorBoard scalars: (key, value, step), step not a tag."""
    return [(k, float(v), r["step"]) for r in history for k, v in r.items() if k != "step"]


def test_every_record_of_a_fit_reaches_tensorboard(fake_tensorboard, tmp_path):
    history = toy_fit("tensorboard", tmp_path)
    (writer,) = fake_tensorboard
    assert writer.log_dir == str(tmp_path / TENSORBOARD_DIR)
    assert writer.scalars == scalars_of(history)
    assert {k for k, _, _ in writer.scalars} == {"epoch", "train_loss", "lr", "seconds",
                                                  "valid_metric"}  # fmt: skip
    assert writer.texts[0][0] == "run" and '"epochs": 3' in writer.texts[0][1]
    assert writer.closed


def test_every_record_of_a_step_run_reaches_mlflow(fake_mlflow):
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    points = torch.randn(8, 2)

    class Fixed(BatchSource):
        def batch(self, step):
            return points

        def current(self):
            return points

    config = StepConfig(steps=4, lr=1e-2, log_every=2, track="mlflow")
    history = Trainer(config).run(
        model, lambda p: model(p).pow(2).mean(), Fixed(), run_info={"surrogate": "toy"}
    )
    assert fake_mlflow[0] == ("start", "toy")
    assert fake_mlflow[1][0] == "params" and fake_mlflow[1][1]["training.steps"] == "4"
    metrics = [(call[1], call[2]) for call in fake_mlflow if call[0] == "metrics"]
    assert metrics == [({k: v for k, v in r.items() if k != "step"}, r["step"]) for r in history]
    assert fake_mlflow[-1] == ("end",)


def test_the_writer_is_closed_when_training_fails(fake_tensorboard):
    x = torch.ones(4, 1, 2)
    config = TrainerConfig(epochs=2, batch_size=4, progress=False, track="tensorboard")
    with pytest.raises(TrainingDiverged):
        Trainer(config).fit(nn.Conv1d(1, 1, 1), lambda p, t: (p - t).sum() * math.nan, (x, x))
    (writer,) = fake_tensorboard
    assert writer.closed


def test_surrogates_trained_by_the_trainer_take_the_option(fake_tensorboard, fake_mlflow,
                                                           small_burgers):  # fmt: skip
    from pdeml.surrogates.base import surrogate_class

    for name in ("fno", "mgno", "nsm", "pinn", "pig"):
        assert "track" in surrogate_class(name).fit_option_names(), name
    nsm = pdeml.make_surrogate("nsm", small_burgers, modes=4, kept=2, width=4, layers=1)
    nsm.fit(n_train=4, steps=2, log_every=1, track="tensorboard")
    (writer,) = fake_tensorboard
    assert writer.scalars == scalars_of(nsm.history) and writer.closed
    assert writer.comment == "_nsm_seed0"  # no out_dir: TensorBoard's runs/ folder
    pinn = pdeml.make_surrogate("pinn", small_burgers, width=6, depth=1)
    tiny = {"n_collocation": 32, "n_boundary": 8, "n_initial": 8, "lbfgs_steps": 0}
    pinn.fit(adam_steps=2, log_every=1, track="mlflow", **tiny)
    pinn.solve(small_burgers.sample_inputs(1, 0))  # a PINN trains per query
    assert [c[0] for c in fake_mlflow].count("metrics") == len(pinn.history) == 2


def test_track_is_not_a_setting_a_resume_compares():
    assert "track" not in StepConfig(track=None).resume_settings()
    assert "track" not in Trainer(TrainerConfig())._run_settings()


@pytest.mark.parametrize("track", ["tensorboard", "mlflow"])
def test_a_missing_package_names_the_extra(monkeypatch, track):
    module = "torch.utils.tensorboard" if track == "tensorboard" else "mlflow"
    monkeypatch.setitem(sys.modules, module, None)  # import fails as when not installed
    with pytest.raises(ValueError, match=rf'pip install "pdeml\[{track}\]"'):
        TrainerConfig(track=track)
    with pytest.raises(ValueError, match=rf'pip install "pdeml\[{track}\]"'):
        StepConfig(track=track)


@pytest.mark.parametrize("value", ["wandb", "TensorBoard", 1, True])
def test_an_unknown_tracker_is_named(value):
    with pytest.raises(ValueError, match="track must be one of"):
        check_track(value)


@pytest.fixture(scope="module")
def darcy_data(tmp_path_factory):
    problem = pdeml.load_problem("darcy", size="quick", resolution=15, solver_resolution=29)
    path = tmp_path_factory.mktemp("data") / "d.h5"
    pdeml.generate(problem, n=8, seed=0, path=path, workers=1, progress=False).close()
    return path


def test_pdeml_train_track(fake_tensorboard, darcy_data, tmp_path, capsys):
    run = tmp_path / "fno"
    tiny = ["--set", "modes=3", "--set", "width=4", "--set", "layers=1", "--set", "epochs=2"]
    args = ["train", "--data", str(darcy_data), "--surrogate", "fno", "--out", str(run), *tiny]
    assert main([*args, "--quiet", "--track", "tensorboard"]) == 0
    (writer,) = fake_tensorboard
    assert writer.log_dir == str(run / TENSORBOARD_DIR) and len(writer.scalars) > 0
    # The event folder belongs to the run: --overwrite clears it, --resume keeps it.
    (run / TENSORBOARD_DIR).mkdir()
    (run / TENSORBOARD_DIR / "events.out").write_text("old")
    assert main([*args, "--quiet", "--resume"]) == 0
    assert (run / TENSORBOARD_DIR / "events.out").exists()
    assert main([*args, "--quiet", "--overwrite"]) == 0
    assert not (run / TENSORBOARD_DIR).exists()
    capsys.readouterr()
    gp = ["train", "--data", str(darcy_data), "--surrogate", "pca-gp", "--out", str(tmp_path / "g")]
    assert main([*gp, "--track", "mlflow"]) == 2
    assert "--track: surrogate 'pca-gp' is not trained by the Trainer" in capsys.readouterr().err


def test_real_tensorboard_event_files(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    history = toy_fit("tensorboard", tmp_path)
    folder = tmp_path / TENSORBOARD_DIR
    assert any(p.name.startswith("events.out.tfevents") for p in folder.iterdir())
    events = EventAccumulator(str(folder))
    events.Reload()
    losses = events.Scalars("train_loss")  # stored as float32
    assert [e.step for e in losses] == [r["step"] for r in history]
    assert [e.value for e in losses] == pytest.approx([r["train_loss"] for r in history], 1e-6)
