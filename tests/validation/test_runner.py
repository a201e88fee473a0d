"""The validation runner: suites, entries in parallel, failures, re-runs, results.nc."""

import json
import shutil

import numpy as np
import pytest
import xarray as xr

import pdeml
from pdeml.cli import main
from pdeml.validation import cluster
from pdeml.validation.speedup import speedup_at_equal_accuracy
from pdeml.validation.suite import load_suite


def tiny_suite(tmp_path, **surrogate_overrides):
    fno = {
        "id": "fno",
        "problem": "darcy",
        "name": "fno",
        "hyperparameters": {"modes": 4, "width": 8},
        "training": {"epochs": 2},
        # one goal that a 2-epoch FNO meets and one it cannot
        "goal": {"relative_l2": 2.0, "max_error": 1e-9},
        **surrogate_overrides,
    }
    return {
        "name": "tiny",
        "data_dir": str(tmp_path / "data"),
        "metrics": ["relative_l2", "relative_h1", "max_error", "boundary_error"],
        "problems": [
            {
                "id": "darcy",
                "preset": "darcy",
                "n_train": 12,
                "n_test": 6,
                "set": {"resolution": 15, "solver_resolution": 29, "coefficient": "lognormal"},
                "reference": {"resolutions": [15, 29], "truth_resolution": 57, "samples": 3},
            }
        ],
        "surrogates": [
            fno,
            {
                "id": "broken",
                "problem": "darcy",
                "name": "fno",
                "hyperparameters": {"modes": 4, "width": 8, "activation": "nope"},
            },
        ],
    }


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("suite")
    out = tmp_path / "out"
    written = pdeml.validate(tiny_suite(tmp_path), out, workers=1, progress=False)
    return tmp_path, out, written


def entry(out, entry_id):
    return json.loads((out / "entries" / f"{entry_id}.json").read_text())


@pytest.mark.slow
def test_report_files_and_numbers(finished):
    _, out, written = finished
    for key in ("results", "report_md", "report_html"):
        assert written[key].exists()
    fno = entry(out, "darcy__fno")
    assert fno["status"] == "ok"
    with np.load(out / "entries" / "darcy__fno.npz") as arrays:
        errors = arrays["errors__u"]
    assert fno["metrics"]["relative_l2"]["u"]["mean"] == pytest.approx(errors.mean())
    assert 0 < errors.mean() < 2
    assert fno["metrics"]["boundary_error"]["u"]["mean"] >= 0
    assert fno["time_per_sample"] > 0 and fno["train_seconds"] > 0
    # Timed several times: the median is the time per sample, the spread is kept.
    timing = fno["time_per_sample_spread"]
    assert timing["repeats"] == 5 and len(timing["all"]) == 5
    assert timing["min"] <= fno["time_per_sample"] == timing["median"] <= timing["max"]
    assert {"torch", "numba", "blas"} <= set(fno["timing_threads"])
    assert "break_even" in fno and fno["needs_data"] is True
    suite = json.loads((out / "suite.json").read_text())
    assert {"load_start", "load_end", "threads"} <= set(suite["environment"])
    assert suite["problems"]["darcy"]["data_seconds_per_sample"] > 0
    results = xr.open_dataset(out / "results.nc", engine="h5netcdf")
    rows = (results["row_entry"] == "darcy__fno") & (results["row_metric"] == "relative_l2")
    assert float(results["mean"][rows.values][0]) == pytest.approx(errors.mean())
    results.close()
    assert f"{errors.mean():.4g}" in (out / "report.md").read_text()


@pytest.mark.slow
def test_goals_are_checked_and_reported(finished):
    _, out, _ = finished
    goals = entry(out, "darcy__fno")["goals"]
    l2 = entry(out, "darcy__fno")["metrics"]["relative_l2"]["u"]["mean"]
    assert goals["relative_l2"] == {"bound": 2.0, "value": pytest.approx(l2), "met": True}
    assert goals["max_error"]["met"] is False and goals["max_error"]["value"] > 1e-9
    text = (out / "report.md").read_text()
    assert "met: rel. L2 < 2" in text and "MISSED" in text


@pytest.mark.slow
def test_reference_ladder_converges(finished):
    _, out, _ = finished
    ladder = entry(out, "darcy__reference")["ladder"]
    coarse, fine = ladder
    # Smooth (lognormal) coefficient, second-order scheme: e(h) ≈ C h². Measured against
    # the truth at h/4 (57 points), the 15-point error is e15 − e57 ≈ (1 − 1/16) e15 and the
    # 29-point one e29 − e57 ≈ (1 − 1/4) e29 = 0.75 e15 / 4, so the ratio is about
    # 4 × 0.94 / 0.75 ≈ 5. A first-order defect would give about 2 × 0.75 / 0.5 = 3.
    assert 4.0 < coarse["relative_l2"] / fine["relative_l2"] < 6.5


@pytest.mark.slow
def test_failed_entry_is_recorded_and_the_suite_goes_on(finished):
    _, out, _ = finished
    broken = entry(out, "darcy__broken")
    assert broken["status"] == "failed" and "activation" in broken["error"]
    assert "darcy__broken" in (out / "report.md").read_text()


@pytest.mark.slow
def test_second_run_skips_finished_entries(finished, monkeypatch):
    tmp_path, out, _ = finished
    ran = []
    real = cluster.run_entry
    monkeypatch.setattr(cluster, "run_entry", lambda spec: (ran.append(spec["id"]), real(spec))[1])
    pdeml.validate(tiny_suite(tmp_path), out, workers=1, progress=False)
    assert ran == ["darcy__broken"]  # failed entries are retried, finished ones are not


def test_a_rerun_reports_where_each_entry_was_measured(finished, tmp_path):
    # The suite's environment is the last invocation's; a re-render that measured nothing
    # must still say when and where each entry was measured.
    from pdeml.validation.report import write_report

    _, out, _ = finished
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    measured = entry(copy, "darcy__fno")["measured"]
    assert {"commit", "machine", "device", "date", "load_start", "load_end"} <= set(measured)
    suite = json.loads((copy / "suite.json").read_text())
    suite["environment"]["date"] = "2099-01-01 00:00 UTC"  # a later re-render
    (copy / "suite.json").write_text(json.dumps(suite))
    text = write_report(copy)["markdown"].read_text()
    assert "2099-01-01 00:00 UTC" in text  # the invocation's table
    row = next(line for line in text.splitlines() if line.startswith("| darcy__fno | 20"))
    assert measured["date"] in row and measured["commit"] in row


@pytest.mark.slow
def test_an_edited_entry_runs_again(finished, monkeypatch, tmp_path):
    # Same id, other hyperparameters: the stored result is not the one asked for.
    suite_path, out, _ = finished
    copy = tmp_path / "out"
    shutil.copytree(out, copy)  # the fixture's folder is shared with other tests
    before = entry(copy, "darcy__fno")
    ran = []
    real = cluster.run_entry
    monkeypatch.setattr(cluster, "run_entry", lambda spec: (ran.append(spec["id"]), real(spec))[1])
    edited = tiny_suite(suite_path, hyperparameters={"modes": 4, "width": 6})
    pdeml.validate(edited, copy, workers=1, progress=False)
    assert "darcy__fno" in ran and "darcy__reference" not in ran
    after = entry(copy, "darcy__fno")
    assert after["spec"] != before["spec"]
    assert after["parameters"] < before["parameters"]  # width 6 instead of 8


@pytest.mark.slow
def test_dask_workers_give_the_same_entries(tmp_path, capfd):
    from pdeml._threads import threads_per_worker

    suite = tiny_suite(tmp_path)
    suite["surrogates"] = suite["surrogates"][:1]
    out = tmp_path / "dask"
    capfd.readouterr()
    pdeml.validate(suite, out, workers=2, progress=False)
    assert {p.stem for p in (out / "entries").glob("*.json")} == {"darcy__fno", "darcy__reference"}
    assert entry(out, "darcy__fno")["status"] == "ok"
    assert entry(out, "darcy__fno")["threads"] == threads_per_worker(2)
    # A successful run closes its cluster quietly: no heartbeat tracebacks, no nanny warnings.
    err = capfd.readouterr().err
    assert "Traceback" not in err and "distributed." not in err, err


def test_speedup_at_equal_accuracy_by_hand():
    ladder = [
        {"resolution": 15, "seconds_per_sample": 0.01, "relative_l2": 0.03},
        {"resolution": 29, "seconds_per_sample": 0.04, "relative_l2": 0.008},
        {"resolution": 57, "seconds_per_sample": 0.2, "relative_l2": 0.002},
    ]
    # Error 0.01 lies between 15 (0.03, 0.01 s) and 29 (0.008, 0.04 s): interpolated in
    # log-log, 0.01 * 4**(log 3 / log 3.75) = 0.03165 s.
    assert speedup_at_equal_accuracy(0.01, 0.001, ladder) == (pytest.approx(31.65, rel=1e-3), "")
    ratio, note = speedup_at_equal_accuracy(0.001, 0.001, ladder)
    assert ratio == pytest.approx(200.0) and note.startswith("≥")
    ratio, note = speedup_at_equal_accuracy(0.5, 0.001, ladder)
    assert ratio == pytest.approx(10.0) and note.startswith("≤")
    assert speedup_at_equal_accuracy(0.01, 0.001, []) == (None, "")


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda s: s.update(metrics=["l7"]), "unknown metric"),
        (lambda s: s["surrogates"][0].update(problem="heat"), "not one of"),
        (lambda s: s["surrogates"][0].update(name="gnn"), "unknown surrogate"),
        (lambda s: s["problems"][0]["reference"].update(truth_resolution=29), "finer"),
        (lambda s: s["problems"][0].update(n_train=0), "n_train"),
        (lambda s: s["problems"][0]["set"].update(resolution=16), "resolution 16"),
        (lambda s: s.update(colour="red"), "unknown key"),
        (lambda s: s["surrogates"][0].update(goal={"l7": 1.0}), "goal"),
        (lambda s: s["surrogates"][0].update(goal={"relative_l2": -1}), "positive number"),
    ],
)
def test_suite_mistakes_are_named(tmp_path, change, match):
    suite = tiny_suite(tmp_path)
    change(suite)
    with pytest.raises(ValueError, match=match):
        load_suite(suite)


def test_committed_suites_parse():
    from pathlib import Path

    files = sorted(Path("validation/suites").glob("*.toml"))
    assert len(files) >= 5
    for file in files:
        assert load_suite(file).name == file.stem


def test_cli_validate_reports_suite_mistakes(tmp_path, capsys):
    suite_file = tmp_path / "suite.toml"
    suite_file.write_text('name = "x"\n[[problems]]\nid = "a"\n')
    assert main(["validate", str(suite_file), "--out", str(tmp_path / "o")]) == 2
    assert "needs 'id' and 'preset'" in capsys.readouterr().err


def test_local_workers_do_not_trim_malloc_on_every_free():
    # distributed's default MALLOC_TRIM_THRESHOLD_ made torch training 2.2x slower in a
    # worker (see worker_environ); the thread counts are those the worker may use.
    from pdeml.validation.cluster import worker_environ

    env = worker_environ()
    assert "MALLOC_TRIM_THRESHOLD_" not in env
    assert env.get("OMP_NUM_THREADS") == 1
    assert worker_environ(2).get("OMP_NUM_THREADS") == 2


def test_an_interrupted_training_resumes_where_it_stopped(tmp_path, monkeypatch):
    # A long suite training cut short (Ctrl-C, a GPU lease's time limit) continues from its
    # last checkpoint on the next run instead of starting over.
    from pdeml.training import trainer as trainer_module

    suite = tiny_suite(tmp_path, training={"epochs": 4, "checkpoint_every": 1})
    suite["surrogates"] = suite["surrogates"][:1]
    suite["problems"][0].pop("reference")
    out = tmp_path / "out"
    appended = []
    original = trainer_module.MetricsLog.append

    def append(self, record):
        appended.append(record["epoch"])
        if record["epoch"] == 3 and len(appended) == 3:
            raise KeyboardInterrupt  # after epoch 2's checkpoint, before epoch 3's
        return original(self, record)

    monkeypatch.setattr(trainer_module.MetricsLog, "append", append)
    with pytest.raises(KeyboardInterrupt):
        pdeml.validate(suite, out, workers=1, progress=False)
    assert list((out / "training").iterdir()), "no checkpoint kept"
    pdeml.validate(suite, out, workers=1, progress=False)
    assert appended == [1, 2, 3, 3, 4]  # the second run trained epochs 3 and 4 only
    record = json.loads((out / "entries" / "darcy__fno.json").read_text())
    assert record["status"] == "ok"
    assert [h["epoch"] for h in record["history"]] == [1, 2, 3, 4]
    assert not list((out / "training").iterdir()), "a finished training's checkpoint is kept"


def test_stale_checkpoints_of_an_edited_entry_go_but_not_another_entrys(tmp_path):
    from pdeml.validation.entry import resumable

    training = tmp_path / "training"
    mine = training / "ns__fno-aaaaaaaaaaaa"
    edited = training / "ns__fno-bbbbbbbbbbbb"  # the same entry, an older suite line
    other = training / "ns__fno-3d-cccccccccccc"  # another entry whose id starts alike
    for folder in (edited, other):
        folder.mkdir(parents=True)
    options = resumable({"epochs": 500}, mine)
    assert not edited.exists() and other.exists()
    assert options == {"out_dir": mine, "resume": True, "checkpoint_every": 10}
