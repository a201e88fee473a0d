"""User mistakes, interrupted runs and a busy machine: clear errors, no lost entries, no noise."""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pdeml
from pdeml._json import write_json
from pdeml._signals import children_ignore_sigint
from pdeml.cli import main
from pdeml.problems import Darcy2D
from pdeml.validation import cluster, records, runner
from pdeml.validation.report import write_report
from pdeml.validation.suite import load_suite, parse_suite

LAZY = ("make_surrogate", "load_surrogate", "available_surrogates", "validate")


def small_suite(tmp_path: Path) -> dict:
    """A valid suite that generates a few tiny Darcy samples and never trains."""
    return {
        "name": "small",
        "data_dir": str(tmp_path / "data"),
        "metrics": ["relative_l2"],
        "problems": [
            {
                "id": "darcy",
                "preset": "darcy",
                "n_train": 4,
                "n_test": 2,
                "set": {"resolution": 15, "solver_resolution": 29},
                "reference": {"resolutions": [15, 29], "truth_resolution": 57, "samples": 2},
            }
        ],
        "surrogates": [
            {"id": "a", "problem": "darcy", "name": "fno"},
            {"id": "b", "problem": "darcy", "name": "fno"},
        ],
    }


def write_toml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- 1. workers and scheduler ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("workers", "error"),
    [
        (0, ValueError),
        (-3, ValueError),
        (10**6, ValueError),
        (1.5, TypeError),
        ("2", TypeError),
        (True, TypeError),
    ],
)
def test_bad_workers_are_named_before_anything_runs(tmp_path, workers, error):
    with pytest.raises(error, match="workers"):
        pdeml.validate(small_suite(tmp_path), tmp_path / "out", workers=workers, progress=False)
    assert not (tmp_path / "out").exists() and not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    "scheduler", ["", "foo bar", "tcp://host:notaport", "tcp://:8786", "xyz://a:1", 8786]
)
def test_malformed_scheduler_is_named(tmp_path, scheduler):
    with pytest.raises((ValueError, TypeError), match="scheduler"):
        pdeml.validate(small_suite(tmp_path), tmp_path / "out", scheduler=scheduler)
    assert not (tmp_path / "out").exists()


def test_unreachable_scheduler_fails_fast_and_names_it(tmp_path, monkeypatch):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(cluster, "SCHEDULER_TIMEOUT", 1.0)
    import distributed  # noqa: F401  (the timing below is of the connection only)

    suite = small_suite(tmp_path)
    parse_suite(suite)  # imports what parsing needs, outside the timing
    start = time.monotonic()
    with pytest.raises(ValueError, match=rf"scheduler 'tcp://127.0.0.1:{port}'.*no Dask"):
        pdeml.validate(suite, tmp_path / "out", scheduler=f"tcp://127.0.0.1:{port}")
    assert time.monotonic() - start < 6  # distributed's own default waits 30 s
    assert not (tmp_path / "out").exists()  # found before any data is made


def test_cli_workers_zero_is_one_line(tmp_path, capsys):
    suite = write_toml(tmp_path / "s.toml", 'name = "s"\n')
    assert main(["validate", str(suite), "--out", str(tmp_path / "o"), "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pdeml: error: workers") and err.count("\n") == 1


# -- 1. suite files -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("name = \n", ["not valid TOML"]),
        ("colour = 'red'\n", ["unknown key", "colour"]),
        ("name = 3\n", ["name must be a string"]),
        ("metrics = 'relative_l2'\n", ["metrics must be an array"]),
        ("problems = 'darcy'\n", ["problems must be an array of tables"]),
        ("[[problems]]\nid = 'd'\npreset = 'darcy'\nn_train = 1.5\n", ["problems[0].n_train"]),
        ("[[problems]]\nid = '../x'\npreset = 'darcy'\n", ["problems[0]", "id '../x'"]),
        ("[[problems]]\nid = 'a__b'\npreset = 'darcy'\n", ["id 'a__b'"]),
        ("[[problems]]\nid = 'd'\npreset = 3\n", ["problems[0]", "preset must be a string"]),
        (
            "[[problems]]\nid = 'd'\npreset = 'darcy'\nn_train = 100000000\n",
            ["problems[0]", "n_train + n_test"],
        ),
        (
            "[[problems]]\nid = 'd'\npreset = 'darcy'\n"
            "reference = { resolutions = [29], truth_resolution = 100001 }\n",
            ["problems[0].reference", "100001"],
        ),
        (
            "[[problems]]\nid = 'd'\npreset = 'darcy'\nreference = { resolutions = 29, "
            "truth_resolution = 57 }\n",
            ["problems[0].reference", "resolutions must be an array"],
        ),
        (  # quick Darcy stores 29 points: a ladder grid of 43 cannot be strided onto it
            "[[problems]]\nid = 'd'\npreset = 'darcy'\n"
            "reference = { resolutions = [43], truth_resolution = 57 }\n",
            ["problems[0].reference", "resolution 43 cannot be compared", "29 points"],
        ),
        (
            "[[problems]]\nid = 'd'\npreset = 'darcy'\n"
            "[[surrogates]]\nproblem = 'd'\nname = 'gnn'\n",
            ["surrogates[0]", "name", "gnn"],
        ),
        (
            "[[problems]]\nid = 'd'\npreset = 'darcy'\n"
            "[[surrogates]]\nproblem = 'd'\nname = ['fno']\n",
            ["surrogates[0]", "name must be a string"],
        ),
        (
            "[[problems]]\nid = 'd'\npreset = 'darcy'\n"
            "[[surrogates]]\nproblem = 'd'\nname = 'fno'\nrun = 5\n",
            ["surrogates[0]", "run must be"],
        ),
    ],
)
def test_suite_file_mistakes_name_the_file_and_key(tmp_path, text, words):
    path = write_toml(tmp_path / "bad.toml", text)
    with pytest.raises(ValueError) as info:
        load_suite(path)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word in message


def test_missing_folder_and_binary_suite_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.toml"):
        load_suite(tmp_path / "nope.toml")
    with pytest.raises(IsADirectoryError, match="folder"):
        load_suite(tmp_path)
    binary = tmp_path / "model.toml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x01")
    with pytest.raises(ValueError, match=r"model\.toml.*UTF-8"):
        load_suite(binary)


# Leaf keys of a valid suite, each replaced by a random value: the suite parses, or the
# error names the suite ("fuzz") and the key that was changed.
PATHS = [
    ("name",),
    ("data_dir",),
    ("metrics",),
    ("problems",),
    ("surrogates",),
    ("problems", 0, "preset"),
    ("problems", 0, "size"),
    ("problems", 0, "n_train"),
    ("problems", 0, "n_test"),
    ("problems", 0, "seed"),
    ("problems", 0, "set"),
    ("problems", 0, "reference"),
    ("problems", 0, "reference", "resolutions"),
    ("problems", 0, "reference", "truth_resolution"),
    ("problems", 0, "reference", "samples"),
    ("surrogates", 0, "id"),
    ("surrogates", 0, "name"),
    ("surrogates", 0, "problem"),
    ("surrogates", 0, "hyperparameters"),
    ("surrogates", 0, "training"),
    ("surrogates", 0, "run"),
    ("surrogates", 0, "goal"),
]
toml_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), value=toml_values)
def test_fuzzed_suite_key_is_named(path, value):
    suite = small_suite(Path("/nonexistent"))
    node = suite
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    try:
        parse_suite(suite, "fuzz.toml")
    except (ValueError, TypeError) as error:
        message = str(error)
        assert "fuzz.toml" in message
        named = [k for k in path if isinstance(k, str)]
        # the key itself, or the entry that it belongs to or that refers to it
        entries = ("problems[0]", "surrogates[0]")
        assert any(k in message for k in named + list(entries)), message


# -- 2. clean Dask shutdown, Ctrl-C ------------------------------------------------------------
def test_interrupt_keeps_finished_entries_and_resumes(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    ran: list[str] = []
    interrupt = [True]

    def fake(spec):  # stands in for the real entries: fast, and the second one is Ctrl-C
        if len(ran) == 1 and interrupt.pop():
            raise KeyboardInterrupt
        ran.append(spec["id"])
        record = {"id": spec["id"], "spec": records.spec_fingerprint(spec), "kind": spec["kind"]}
        record |= {"problem_id": spec["problem_id"], "status": "ok", "metrics": {}}
        write_json(out / "entries" / f"{spec['id']}.json", record)
        return record

    monkeypatch.setattr(cluster, "run_entry", fake)
    suite = write_toml(tmp_path / "s.toml", "")
    monkeypatch.setattr(runner, "load_suite", lambda _: parse_suite(small_suite(tmp_path)))
    assert main(["validate", str(suite), "--out", str(out), "--workers", "1", "--quiet"]) == 130
    err = capsys.readouterr().err.strip()
    assert err == (
        f"pdeml: validation interrupted; finished entries kept in {out / 'entries'}; "
        "run the same command again to resume"
    )
    assert ran == ["darcy__reference"]
    ran.clear()
    interrupt.append(False)
    pdeml.validate(small_suite(tmp_path), out, workers=1, progress=False)
    assert ran == ["darcy__a", "darcy__b"]  # the finished entry is not run again


def test_local_workers_leave_ctrl_c_to_the_runner():
    # Ctrl-C reaches the whole process group: workers that took it died with tracebacks.
    import signal

    before = signal.getsignal(signal.SIGINT)
    with children_ignore_sigint():
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(20)"])
    assert signal.getsignal(signal.SIGINT) is before
    try:
        time.sleep(0.5)  # let it start
        child.send_signal(signal.SIGINT)
        with pytest.raises(subprocess.TimeoutExpired):
            child.wait(timeout=1.5)
    finally:
        child.kill()
        child.wait()


def test_local_workers_start_with_their_thread_counts():
    env = cluster.worker_environ(3)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        assert env[name] == 3
    assert env["OMP_WAIT_POLICY"] == "PASSIVE"
    assert "MALLOC_TRIM_THRESHOLD_" not in env


def test_quiet_distributed_restores_levels():
    import logging

    logger = logging.getLogger("distributed.client")
    before = logger.level
    with cluster._quiet_distributed():
        assert not logger.isEnabledFor(logging.CRITICAL)
    assert logger.level == before


# -- 4. NaN never makes invalid JSON ---------------------------------------------------------
def strict(text: str):
    def refuse(word):
        raise AssertionError(f"not JSON: {word}")

    return json.loads(text, parse_constant=refuse)


def test_write_json_turns_nan_and_inf_into_null(tmp_path):
    path = tmp_path / "x.json"
    data = {
        "a": float("nan"),
        "b": [float("inf"), -math.inf, 1.5],
        "c": np.float32("nan"),
        "d": np.array([1.0, np.nan]),
        "e": {"f": np.int64(3), "g": np.bool_(True)},
    }
    write_json(path, data)
    assert strict(path.read_text()) == {
        "a": None,
        "b": [None, None, 1.5],
        "c": None,
        "d": [1.0, None],
        "e": {"f": 3, "g": True},
    }


def test_nan_metrics_make_strict_json_and_na_in_the_report(tmp_path):
    out = tmp_path / "out"
    (out / "entries").mkdir(parents=True)
    darcy = Darcy2D(resolution=15, solver_resolution=29)
    write_json(
        out / "suite.json",
        {
            "name": "nan",
            "environment": {},
            "metrics": ["relative_l2", "max_error"],
            "problems": {"darcy": {"problem": darcy.to_dict(), "n_train": 4, "n_test": 2}},
        },
    )
    nan = float("nan")
    stats = {"mean": nan, "std": nan, "median": nan, "max": nan}
    ladder = [
        {"resolution": 15, "seconds_per_sample": 0.01, "relative_l2": 0.03},
        {"resolution": 29, "seconds_per_sample": 0.04, "relative_l2": nan},
    ]
    common = {"problem_id": "darcy", "status": "ok", "n_train": 4, "n_test": 2}
    write_json(
        out / "entries" / "darcy__reference.json",
        {"id": "darcy__reference", "kind": "reference", "ladder": ladder, **common}
        | {"metrics": {"relative_l2": {"all": stats}}, "time_per_sample": nan},
    )
    write_json(
        out / "entries" / "darcy__fno.json",
        {"id": "darcy__fno", "kind": "surrogate", "surrogate": "fno", **common}
        | {"metrics": {"relative_l2": {"u": stats}, "max_error": {"u": stats}}}
        | {"time_per_sample": 1e-3, "history": [{"epoch": 1, "train_loss": nan}]},
    )
    runner.assemble(out)
    write_report(out)
    for path in (out / "entries").glob("*.json"):
        strict(path.read_text())
    strict((out / "suite.json").read_text())
    row = next(
        line for line in (out / "report.md").read_text().splitlines() if "darcy__fno" in line
    )
    assert "n/a" in row and "NaN" not in row


# -- 6. the top-level package ----------------------------------------------------------------
def test_dir_and_help_list_the_lazy_names():
    code = (
        "import pdeml, pydoc, sys\n"
        "assert 'torch' not in sys.modules\n"
        f"assert set({LAZY!r}) <= set(dir(pdeml))\n"
        "assert 'torch' not in sys.modules, 'dir() imported torch'\n"
        "text = pydoc.render_doc(pdeml, renderer=pydoc.plaintext)\n"
        f"assert all(name + '(' in text for name in {LAZY!r}), text\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_mesh_panels_of_nan_predictions_keep_finite_colour_limits():
    from pdeml.validation.plots import mesh_panels

    nodes = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    arrays = {
        "best__input__nodes": nodes,
        "best__input__triangles": np.array([[0, 1, 2], [1, 3, 2]]),
        "best__reference__u": np.arange(4.0),
        "best__prediction__u": np.full(4, np.nan),
    }
    fig, _ = mesh_panels(arrays, "u", renderer="matplotlib")
    limits = [
        art.get_clim() for ax in fig.axes for art in ax.collections if art.get_array() is not None
    ]
    assert limits and np.isfinite(np.array(limits, dtype=float)).all(), limits
