"""The CLI under user mistakes and interruptions: no data lost, no traceback, honest output."""

import errno
import json
import shutil

import numpy as np
import pytest

import pdeml
import pdeml.cli
import pdeml.cli.app
from pdeml.cli import main

TINY = [
    "--set",
    "modes=3",
    "--set",
    "width=4",
    "--set",
    "layers=1",
    "--set",
    "projection=4",
    "--set",
    "epochs=2",
    "--set",
    "batch_size=4",
]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    problem = pdeml.load_problem("darcy", size="quick", resolution=15, solver_resolution=29)
    path = folder / "d.h5"
    pdeml.generate(problem, n=10, seed=0, path=path, workers=1, progress=False).close()
    return path


@pytest.fixture(scope="module")
def run(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "fno"
    args = ["train", "--data", str(data), "--surrogate", "fno", "--out", str(out)]
    assert main([*args, "--n-valid", "2", "--quiet", *TINY]) == 0
    return out


def one_error_line(capsys, *needles):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pdeml: error:"), err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# -- 1. --out never destroys the input ----------------------------------------------------
def test_predict_refuses_out_that_is_the_input_data(run, data, capsys):
    before = data.read_bytes()
    assert main(["predict", str(run), str(data), "--out", str(data), "--overwrite"]) == 2
    one_error_line(capsys, "--out", "input data")
    assert data.read_bytes() == before


def test_predict_refuses_existing_out_without_overwrite(run, data, tmp_path, capsys):
    out = tmp_path / "p.h5"
    out.write_bytes(b"keep me")
    assert main(["predict", str(run), str(data), "--out", str(out)]) == 2
    one_error_line(capsys, "--out", "--overwrite")
    assert out.read_bytes() == b"keep me"
    assert main(["predict", str(run), str(data), "--out", str(out), "--overwrite"]) == 0
    with pdeml.open_dataset(out) as ds:
        assert len(ds) == 2


# -- 2. honest scoring on the training file ------------------------------------------------
def test_predict_on_the_training_file_scores_only_held_out_samples(run, data, tmp_path, capsys):
    assert (run / "training_data.json").is_file()
    assert main(["predict", str(run), str(data)]) == 0
    out = capsys.readouterr().out
    assert "held-out samples of the training file" in out and "positions 8-9" in out
    assert "--all" in out and "(2 samples)" in out
    assert main(["predict", str(run), str(data), "--all"]) == 0
    out = capsys.readouterr().out
    assert "all 10 samples of the training file" in out and "(10 samples)" in out
    copy = tmp_path / "copy.h5"
    shutil.copy(data, copy)  # a copy is the same data: still held-out only
    assert main(["predict", str(run), str(copy)]) == 0
    assert "held-out" in capsys.readouterr().out


def test_predict_on_other_data_scores_all_and_says_so(run, tmp_path, capsys):
    problem = pdeml.load_problem("darcy", size="quick", resolution=15, solver_resolution=29)
    other = tmp_path / "other.h5"
    pdeml.generate(problem, n=3, seed=7, path=other, workers=1, progress=False).close()
    assert main(["predict", str(run), str(other)]) == 0
    out = capsys.readouterr().out
    assert "all 3 samples" in out and "positions 0-2" in out and "held-out" not in out


# -- 3. values of --set --------------------------------------------------------------------
@pytest.mark.parametrize(
    "setting, needles",
    [
        ("modes=4.5", ["modes", "4.5"]),
        ('amp="yes"', ["amp", "true or false"]),
        ("epochs=-1", ["epochs", ">= 1"]),
        ("modes=1000", ["modes", "15 x 15", "[7, 8]"]),
        ("width=100000", ["width", "parameters"]),
        ('loss="l3"', ["loss"]),
        ("positional=1", ["positional"]),
    ],
)
def test_bad_set_values_are_named(data, tmp_path, capsys, setting, needles):
    out = tmp_path / "r"
    args = ["train", "--data", str(data), "--surrogate", "fno", "--out", str(out), "--quiet"]
    assert main([*args, *TINY, "--set", setting]) == 2
    one_error_line(capsys, *needles)
    assert not out.exists()


def test_cuda_device_on_a_machine_without_cuda_is_one_line(data, tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    args = ["train", "--data", str(data), "--surrogate", "fno", "--out", str(tmp_path / "r")]
    assert main([*args, "--quiet", *TINY, "--set", 'device="cuda"']) == 2
    one_error_line(capsys, "device", "no CUDA")


def test_mgno_levels_are_bounded_by_the_grid():
    problem = pdeml.load_problem("darcy", size="quick", resolution=15, solver_resolution=29)
    with pytest.raises(ValueError, match="levels must be at most 5"):
        pdeml.make_surrogate("mgno", problem, levels=40)
    with pytest.raises(ValueError, match=r"channels.*parameters"):
        pdeml.make_surrogate("mgno", problem, channels=100_000)


# -- 4. and 5. resume and stale state -------------------------------------------------------
def test_resume_with_other_settings_names_them(run, data, tmp_path, capsys):
    folder = tmp_path / "fno"
    shutil.copytree(run, folder)
    args = ["train", "--data", str(data), "--surrogate", "fno", "--out", str(folder), "--quiet"]
    other = [a if a != "width=4" else "width=6" for a in TINY]
    assert main([*args, "--n-valid", "2", *other, "--resume"]) == 2
    one_error_line(capsys, "resume", "hyperparameters.width", "4 then, 6 now")
    assert main([*args, "--n-valid", "3", *TINY, "--resume"]) == 2
    one_error_line(capsys, "resume", "data.")
    # Same settings: resuming a finished run is fine.
    assert main([*args, "--n-valid", "2", *TINY, "--resume"]) == 0


def test_fresh_train_into_a_previous_run_needs_overwrite(run, data, tmp_path, capsys):
    folder = tmp_path / "fno"
    shutil.copytree(run, folder)
    args = ["train", "--data", str(data), "--surrogate", "fno", "--out", str(folder), "--quiet"]
    assert main([*args, *TINY]) == 2
    one_error_line(capsys, "--out", "--resume", "--overwrite")
    # A bad value with --overwrite deletes nothing.
    assert main([*args, *TINY, "--set", "epochs=0", "--overwrite"]) == 2
    assert (folder / "checkpoint.pt").is_file()
    (folder / "metrics.jsonl").write_text('{"epoch": 1, "stale": true}\n')
    assert main([*args, *TINY, "--overwrite"]) == 0
    assert "stale" not in (folder / "metrics.jsonl").read_text()


# -- 6. divergence and Ctrl-C ---------------------------------------------------------------
def test_divergence_is_one_line_naming_the_epoch_and_lr(data, tmp_path, capsys, monkeypatch):
    from pdeml.training import trainer

    def diverge(self, *args, **kwargs):
        raise trainer.TrainingDiverged("training loss became nan at epoch 3, step 1; try lr")

    monkeypatch.setattr(trainer.Trainer, "fit", diverge)
    args = ["train", "--data", str(data), "--surrogate", "fno", "--out", str(tmp_path / "r")]
    assert main([*args, "--quiet", *TINY]) == 1
    one_error_line(capsys, "diverged", "epoch 3", "lr=0.0001")


def test_ctrl_c_during_train_says_how_to_resume(run, data, tmp_path, capsys, monkeypatch):
    from pdeml.training import trainer

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    folder = tmp_path / "fno"
    shutil.copytree(run, folder)
    monkeypatch.setattr(trainer.Trainer, "fit", interrupted)
    args = ["train", "--data", str(data), "--surrogate", "fno", "--out", str(folder), "--quiet"]
    assert main([*args, "--n-valid", "2", *TINY, "--resume"]) == 130
    err = capsys.readouterr().err.strip()
    assert err == (
        f"pdeml: training interrupted; last checkpoint in {folder}; run again with --resume "
        "to continue"
    )


def test_ctrl_c_during_predict_leaves_no_out_file(run, data, tmp_path, capsys, monkeypatch):
    import h5netcdf

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(h5netcdf.File, "create_variable", interrupted)
    out = tmp_path / "p.h5"
    assert main(["predict", str(run), str(data), "--out", str(out)]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "interrupted" in err[0]
    assert list(tmp_path.iterdir()) == []


# -- 7. paths and OS errors -----------------------------------------------------------------
def test_train_out_that_is_not_a_run_folder(data, tmp_path, capsys, monkeypatch):
    base = ["train", "--data", str(data), "--surrogate", "fno", "--quiet", *TINY]
    monkeypatch.chdir(data.parent)
    assert main([*base, "--out", "."]) == 2
    one_error_line(capsys, "--out", "training data")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    assert main([*base, "--out", ".", "--overwrite"]) == 2
    one_error_line(capsys, "--out", "notes.txt")
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert main([*base, "--out", "notes.txt/run"]) == 2
    one_error_line(capsys, "--out", "is a file, not a folder")
    assert main([*base, "--out", "x" * 300]) == 2
    one_error_line(capsys, "--out", "bytes long")


def test_predict_out_that_is_a_folder(run, data, tmp_path, capsys):
    assert main(["predict", str(run), str(data), "--out", str(tmp_path)]) == 2
    one_error_line(capsys, "--out", "is a folder")


def test_os_errors_of_the_users_disk_are_one_line_but_bugs_keep_the_traceback(monkeypatch, capsys):
    def full_disk(args):
        raise OSError(errno.ENOSPC, "No space left on device", "big.h5")

    monkeypatch.setattr(pdeml.cli.app, "cmd_problems", full_disk)
    assert main(["problems"]) == 2
    one_error_line(capsys, "big.h5", "No space left")

    def bug(args):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(pdeml.cli.app, "cmd_problems", bug)
    with pytest.raises(OSError):
        main(["problems"])

    def too_big(args):
        raise MemoryError

    monkeypatch.setattr(pdeml.cli.app, "cmd_problems", too_big)
    assert main(["problems"]) == 1
    one_error_line(capsys, "not enough memory for problems")


# -- 8. non-finite data ---------------------------------------------------------------------
def test_nan_in_validation_data_is_refused_before_training(data, tmp_path, capsys):
    import h5py

    bad = tmp_path / "bad.h5"
    shutil.copy(data, bad)
    with h5py.File(bad, "r+") as f:
        values = f["u"][9]
        values[3, 3] = np.nan
        f["u"][9] = values
    out = tmp_path / "r"
    args = ["train", "--data", str(bad), "--surrogate", "fno", "--out", str(out), "--quiet"]
    assert main([*args, "--n-valid", "2", *TINY]) == 2
    line = one_error_line(capsys, "valid", "'u'", "NaN")
    assert "position 1" in line or "sample 9" in line
    assert not (out / "metrics.jsonl").exists()


# -- 9. tampered run folders ----------------------------------------------------------------
@pytest.mark.parametrize(
    "key, value, needles",
    [
        ("width", -5, ["hyperparameters", "width"]),
        ("width", 10**7, ["hyperparameters", "parameters"]),
        ("modes", "many", ["hyperparameters", "modes"]),
        ("data_shapes", {"x": [1, 10**6, 10**6], "y": [1, 15, 15]}, ["data_shapes"]),
        ("data_shapes", {"x": [1, -15, 15], "y": [1, 15, 15]}, ["data_shapes"]),
    ],
)
def test_tampered_config_is_one_line_naming_file_and_key(
    run, data, tmp_path, capsys, key, value, needles
):
    folder = tmp_path / "fno"
    shutil.copytree(run, folder)
    config = json.loads((folder / "config.json").read_text())
    if key == "data_shapes":
        config[key] = value
    else:
        config["hyperparameters"][key] = value
    (folder / "config.json").write_text(json.dumps(config))
    assert main(["predict", str(folder), str(data)]) == 2
    one_error_line(capsys, "config.json", *needles)


# -- train --from: a warm start from a saved run ---------------------------------------------
TRAINING_ONLY = ["--set", "epochs=2", "--set", "batch_size=4", "--set", "lr=1e-12"]


def test_train_from_a_saved_run_starts_from_its_weights(run, data, tmp_path, capsys):
    """With a vanishing rate the new run's model is the saved one (Adam moves each weight
    by about lr per step); the saved run is left untouched."""
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    out = tmp_path / "more"
    args = ["train", "--data", str(data), "--surrogate", "fno", "--out", str(out), "--quiet"]
    assert main([*args, "--n-valid", "2", "--from", str(run), *TRAINING_ONLY]) == 0
    old, new = pdeml.load_surrogate(run), pdeml.load_surrogate(out)
    assert new.training["warm_start"] is True and new.hyperparameters == old.hyperparameters
    inputs = {"a": pdeml.open_dataset(data).inputs["a"][:3]}
    np.testing.assert_allclose(new.solve(inputs)["u"], old.solve(inputs)["u"], atol=1e-6)
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


def test_train_from_refuses_mistakes_before_writing(run, data, tmp_path, capsys):
    args = ["train", "--data", str(data), "--quiet", "--n-valid", "2"]
    out = tmp_path / "more"
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    same = ["--surrogate", "fno", "--out", str(run), "--from", str(run), "--overwrite"]
    assert main([*args, *same]) == 2  # --overwrite would clear the run it reads
    one_error_line(capsys, "--from", "is also --out")
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
    with_width = ["--set", "width=6", *TRAINING_ONLY]
    assert (
        main([*args, "--surrogate", "fno", "--out", str(out), "--from", str(run), *with_width]) == 2
    )
    one_error_line(capsys, "--from", "['width']", "hyperparameters")
    assert main([*args, "--surrogate", "mgno", "--out", str(out), "--from", str(run)]) == 2
    one_error_line(capsys, "--from", "'fno' surrogate", "'mgno'")
    assert (
        main([*args, "--surrogate", "fno", "--out", str(out), "--from", str(tmp_path / "no")]) == 2
    )
    one_error_line(capsys, "config.json")
    assert not out.exists()


def test_train_from_refuses_another_grid_before_overwrite_clears(run, data, tmp_path, capsys):
    finer = pdeml.load_problem("darcy", size="quick", resolution=29, solver_resolution=29)
    other = tmp_path / "fine.h5"
    pdeml.generate(finer, n=6, seed=1, path=other, workers=1, progress=False).close()
    out = tmp_path / "previous"
    shutil.copytree(run, out)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    argv = ["train", "--data", str(other), "--surrogate", "fno", "--out", str(out), "--quiet"]
    assert main([*argv, "--from", str(run), "--overwrite", *TRAINING_ONLY]) == 2
    one_error_line(capsys, "--from", "shapes", "(29, 29)")
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
