"""Hardening of datasets and generation: interrupted runs, bad paths, sizes, bad values."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures.process import BrokenProcessPool

import h5py
import numpy as np
import pytest

import pdeml
from pdeml.cli import main as cli_main
from pdeml.data import dataset as dataset_module
from pdeml.data import generation as generation_module
from pdeml.data import pool as pool_module
from pdeml.data import store as store_module
from pdeml.data.formats import import_dataset
from pdeml.data.generation import partial_dir

pytestmark = pytest.mark.filterwarnings("error::numpy.exceptions.ComplexWarning")


def _burgers_arrays(n=4, seed=0):
    rng = np.random.default_rng(seed)
    u0 = rng.normal(size=(n, 32))
    return {"u0": u0}, {"u": 0.5 * u0}


def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


# -- 1. resume when every chunk is done, stale temporary files --------------------------
def test_rerun_with_all_chunks_done_only_assembles(tmp_path, small_burgers, monkeypatch):
    path = tmp_path / "b.h5"
    options = dict(n=6, seed=2, path=path, workers=2, chunk_size=2, progress=False)

    def killed_before_writing(*args, **kwargs):
        raise KeyboardInterrupt  # stands for a SIGKILL after the last chunk

    monkeypatch.setattr(generation_module, "write_dataset", killed_before_writing)
    with pytest.raises(KeyboardInterrupt):
        pdeml.generate(small_burgers, **options)
    monkeypatch.undo()
    assert len(list(partial_dir(path).glob("chunk_*.npz"))) == 3 and not path.exists()
    store_module.temporary_path(path).write_bytes(b"half-written by a killed run")

    def must_not_solve(*args):
        raise AssertionError("every chunk was finished; nothing should be solved again")

    monkeypatch.setattr(generation_module, "solve_chunk", must_not_solve)
    with pdeml.generate(small_burgers, **options) as resumed:
        assert len(resumed) == 6
        values = resumed.xr["u"].values
    monkeypatch.undo()
    with pdeml.generate(
        small_burgers, n=6, seed=2, path=tmp_path / "ref.h5", workers=1, progress=False
    ) as reference:
        np.testing.assert_array_equal(values, reference.xr["u"].values)
    assert _listing(tmp_path) == ["b.h5", "ref.h5"]


def test_folder_without_manifest_is_taken_over(tmp_path, small_burgers):
    """Killed between creating the chunk folder and writing its manifest."""
    path = tmp_path / "b.h5"
    partial_dir(path).mkdir()
    with pdeml.generate(small_burgers, n=2, path=path, workers=1, progress=False) as ds:
        assert len(ds) == 2
    assert not partial_dir(path).exists()


# -- 2. the output path is checked before any work ---------------------------------------
@pytest.mark.parametrize("overwrite", [False, True])
def test_out_naming_a_folder_is_refused_before_work(tmp_path, small_burgers, overwrite):
    target = tmp_path / "existing"
    target.mkdir()
    with pytest.raises(IsADirectoryError, match=r"path \(--out\) .*existing.*folder"):
        pdeml.generate(
            small_burgers, n=4, path=target, workers=1, progress=False, overwrite=overwrite
        )
    assert _listing(tmp_path) == ["existing"] and _listing(target) == []


def test_bad_output_paths_are_named_and_nothing_is_created(tmp_path, small_burgers, monkeypatch):
    (tmp_path / "notes.txt").write_text("a file")
    long_name = "x" * 300 + ".h5"
    cases = [
        (tmp_path / "notes.txt" / "d.h5", ValueError, "notes.txt' is a file"),
        (tmp_path / long_name, ValueError, "has 303 bytes"),
        (tmp_path / ("y" * 300) / "d.h5", ValueError, "has 300 bytes"),
    ]
    for path, error, match in cases:
        with pytest.raises(error, match=match):
            pdeml.generate(small_burgers, n=2, path=path, workers=1, progress=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(IsADirectoryError, match=r"'\.'"):
        pdeml.generate(small_burgers, n=2, path=".", workers=1, progress=False)
    inputs, outputs = _burgers_arrays()
    with pytest.raises(ValueError, match="has 303 bytes"):
        pdeml.from_arrays(small_burgers, inputs, outputs, path=long_name)
    assert _listing(tmp_path) == ["notes.txt"]


def test_cli_out_folder_is_one_line_error(tmp_path, capsys):
    status = cli_main(
        ["generate", "darcy", "--n", "2", "--resolution", "15", "--quiet", "--out", str(tmp_path)]
    )
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("pdeml: error: path (--out)") and "folder" in err
    assert _listing(tmp_path) == []


# -- 3. sizes that cannot fit ---------------------------------------------------------
def test_huge_n_or_resolution_is_refused_before_work(tmp_path, small_burgers, small_darcy):
    with pytest.raises(ValueError, match=r"n=1000000000000 .*resolution=32.*memory"):
        pdeml.generate(small_burgers, n=10**12, path=tmp_path / "b.h5", progress=False)
    fine = small_darcy.replace(resolution=1025, solver_resolution=1025)
    with pytest.raises(ValueError, match=r"n=100000 .*resolution=1025.*needs about .* TiB"):
        pdeml.generate(fine, n=10**5, path=tmp_path / "d.h5", progress=False)
    assert _listing(tmp_path) == []


def test_full_disk_is_refused_before_work(tmp_path, small_burgers, monkeypatch):
    class Usage:
        free = 1000

    monkeypatch.setattr(store_module.shutil, "disk_usage", lambda folder: Usage())
    with pytest.raises(ValueError, match=r"n=64 .*disk.*1000 B free"):
        pdeml.generate(small_burgers, n=64, path=tmp_path / "b.h5", progress=False)
    inputs, outputs = _burgers_arrays(n=8)
    with pytest.raises(ValueError, match=r"8 samples: the file needs about .* of disk"):
        pdeml.from_arrays(small_burgers, inputs, outputs, path=tmp_path / "a.h5")
    assert _listing(tmp_path) == []


# -- 4. Ctrl-C during a multi-worker run -------------------------------------------------
@pytest.mark.slow
def test_ctrl_c_with_workers_prints_one_line_and_keeps_chunks(tmp_path):
    out = tmp_path / "d.h5"
    command = [sys.executable, "-m", "pdeml.cli", "generate", "darcy", "--n", "200"]
    command += ["--workers", "2", "--quiet", "--out", str(out), "--resolution", "15"]
    command += ["--set", "solver_resolution=57"]
    # Its own session, so that the signal goes to its whole process group, as a terminal's
    # Ctrl-C does, and to nothing else.
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, start_new_session=True)
    folder = partial_dir(out)
    deadline = time.time() + 60
    while time.time() < deadline and not list(folder.glob("chunk_*.npz")):
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)
    sent = time.time()
    _, err = process.communicate(timeout=30)
    assert time.time() - sent < 10
    assert process.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.strip().splitlines() == [
        f"pdeml: generation interrupted; finished chunks kept in {folder}; run the same "
        "command again to resume"
    ]
    assert list(folder.glob("chunk_*.npz")) and not out.exists()
    time.sleep(0.5)
    left = subprocess.run(
        ["ps", "-o", "pid=,args=", "-s", str(process.pid)], capture_output=True, text=True
    ).stdout.splitlines()
    # Zombies (already dead, waiting for the init process to reap them) do not count.
    left = [line for line in left if "<defunct>" not in line]
    assert left == [], f"processes of the interrupted run still alive: {left}"


# -- 5. scripts without a __main__ guard ------------------------------------------------
@pytest.mark.slow
def test_script_without_main_guard_generates_once(tmp_path):
    script = tmp_path / "no_guard.py"
    script.write_text(
        textwrap.dedent(
            """
            import pdeml
            from pdeml.data import generation

            print("script body ran", flush=True)
            problem = pdeml.load_problem(
                "darcy", size="quick", resolution=15, solver_resolution=29
            )
            # A small job runs in this process by default ...
            small = pdeml.generate(
                problem, n=4, path="small.h5", workers=2, chunk_size=1, progress=False
            )
            print("processes", small.attrs["workers"], len(small))
            # ... and forcing worker processes must not re-run this script in them.
            generation.IN_PROCESS_SECONDS = 0.0
            pooled = pdeml.generate(
                problem, n=4, path="pooled.h5", workers=2, chunk_size=1, progress=False
            )
            print("processes", pooled.attrs["workers"], len(pooled))
            """
        )
    )
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines.count("script body ran") == 1
    assert "processes 1 4" in lines and "processes 2 4" in lines
    with (
        pdeml.open_dataset(tmp_path / "small.h5") as a,
        pdeml.open_dataset(tmp_path / "pooled.h5") as b,
    ):
        np.testing.assert_array_equal(a.xr["u"].values, b.xr["u"].values)


def test_main_module_is_restored_after_the_pool(small_burgers):
    main = sys.modules["__main__"]
    before = (main.__dict__.get("__file__"), main.__dict__.get("__spec__"))
    with pool_module.main_module_hidden(small_burgers):
        assert "__file__" not in main.__dict__ and main.__spec__ is None
    assert (main.__dict__.get("__file__"), main.__dict__.get("__spec__")) == before


def test_problem_class_from_the_script_keeps_spawn_and_explains(
    tmp_path, small_burgers, monkeypatch
):
    # A problem class defined in the user's script (module __main__) needs the script in
    # the workers: nothing is hidden, and a broken pool says to add the guard.
    script_class = type("ScriptBurgers", (type(small_burgers),), {"__module__": "__main__"})
    problem = script_class(resolution=32, solver_resolution=64)
    main = sys.modules["__main__"]
    before = main.__dict__.get("__file__")
    with pool_module.main_module_hidden(problem):
        assert main.__dict__.get("__file__") == before

    def broken(*args, **kwargs):
        raise BrokenProcessPool("child failed while bootstrapping")

    monkeypatch.setattr(generation_module, "run_pool", broken)
    with pytest.raises(RuntimeError, match=r"ScriptBurgers.*if __name__ == .__main__.:.*workers=1"):
        pdeml.generate(problem, n=40, path=tmp_path / "b.h5", workers=2, progress=False)


# -- 6. thread counts ------------------------------------------------------------------
def test_workers_default_to_idle_cores_and_threads_are_shared(tmp_path, small_burgers, monkeypatch):
    seen = {}

    def fake_run_chunks(*args, **kwargs):
        seen["workers"] = args[8]
        raise KeyboardInterrupt

    monkeypatch.setattr(generation_module, "idle_cores", lambda: 3)
    monkeypatch.setattr(generation_module, "_run_chunks", fake_run_chunks)
    with pytest.raises(KeyboardInterrupt):
        pdeml.generate(small_burgers, n=2, path=tmp_path / "b.h5", progress=False)
    assert seen["workers"] == 3

    limits = []
    monkeypatch.setattr(pool_module, "limit_threads", limits.append)
    previous = signal.getsignal(signal.SIGINT)
    try:
        pool_module.init_worker(pool_module.threads_per_worker(2, cores=6), ())
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
    assert limits == [3]


# -- 7. non-finite, complex and out-of-range values ---------------------------------------
def test_check_finite_names_file_field_and_first_sample(tmp_path, small_burgers, monkeypatch):
    path = tmp_path / "a.h5"
    inputs, outputs = _burgers_arrays(n=6)
    pdeml.from_arrays(small_burgers, inputs, outputs, path=path).close()
    with pdeml.open_dataset(path) as ds:
        ds.check_finite()  # clean data pass
    with h5py.File(path, "r+") as f:
        f["u"][3, 5] = np.nan
        f["u"][4, 0] = np.inf
    monkeypatch.setattr(dataset_module, "CHECK_BLOCK_BYTES", 2 * 32 * 4)  # 2 samples a block
    with pdeml.open_dataset(path) as ds:  # opening stays lazy: no scan
        with pytest.raises(ValueError, match=r"a\.h5'.*field 'u'.*sample 3 \(of 6\)"):
            ds.check_finite()
        train, _ = ds.split(n_test=3)
        train.check_finite()  # samples 0..2 are clean


@pytest.mark.parametrize(
    "change, dtype, error, match",
    [
        (lambda u: u.__setitem__((2, 7), np.nan), "float32", ValueError, r"'u'.*sample 2"),
        (lambda u: u.__setitem__((1, 0), -np.inf), "float64", ValueError, r"'u'.*sample 1"),
        (lambda u: u.__setitem__((3, 1), 1e39), "float32", ValueError, r"'u'.*float32.*sample 3"),
    ],
)
def test_from_arrays_refuses_values_it_cannot_store(
    tmp_path, small_burgers, change, dtype, error, match
):
    inputs, outputs = _burgers_arrays(n=5)
    change(outputs["u"])
    with pytest.raises(error, match=match):
        pdeml.from_arrays(small_burgers, inputs, outputs, path=tmp_path / "a.h5", dtype=dtype)
    assert _listing(tmp_path) == []


def test_from_arrays_refuses_complex_values(tmp_path, small_burgers):
    inputs, outputs = _burgers_arrays(n=3)
    # Without the check, numpy would drop the imaginary part with only a warning.
    with pytest.raises(TypeError, match=r"outputs\['u'\]: complex"):
        pdeml.from_arrays(small_burgers, inputs, {"u": outputs["u"] + 1j}, path=tmp_path / "c.h5")
    assert _listing(tmp_path) == []


# -- 8. damaged or foreign files ----------------------------------------------------------
@pytest.fixture
def stored(tmp_path, small_burgers):
    path = tmp_path / "a.h5"
    inputs, outputs = _burgers_arrays(n=3)
    pdeml.from_arrays(small_burgers, inputs, outputs, path=path).close()
    return path


def _set_problem_attr(path, text):
    with h5py.File(path, "r+") as f:
        f.attrs["pdeml_problem"] = text


def test_resolution_disagreeing_with_arrays_is_named(stored, small_burgers):
    record = small_burgers.replace(resolution=64).to_dict()
    _set_problem_attr(stored, json.dumps(record))
    with pytest.raises(ValueError, match=r"a\.h5'.*field 'u0'.*\(3, 32\).*\(n, 64\)"):
        pdeml.open_dataset(stored)


@pytest.mark.parametrize(
    "text, match",
    [
        ("{not json", "'pdeml_problem' is damaged"),
        ('["burgers"]', "'pdeml_problem' is damaged"),
        ('{"problem": "no_such_problem"}', "'pdeml_problem' does not describe.*no_such_problem"),
        ('{"problem": "burgers", "resolution": "many"}', "'pdeml_problem' does not describe"),
        ('{"problem": "burgers", "colour": 3}', "'pdeml_problem' does not describe.*colour"),
    ],
)
def test_damaged_problem_attribute_is_named(stored, text, match):
    _set_problem_attr(stored, text)
    with pytest.raises(ValueError, match=match) as caught:
        pdeml.open_dataset(stored)
    assert "a.h5" in str(caught.value)


def test_not_a_dataset_file_or_a_folder_is_named(tmp_path):
    text = tmp_path / "notes.h5"
    text.write_text("hello")
    with pytest.raises(ValueError, match=r"notes.h5.*not a readable HDF5"):
        pdeml.open_dataset(text)
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"plain.h5.*not a pdeml dataset"):
        pdeml.open_dataset(plain)
    with pytest.raises(IsADirectoryError, match="is a folder"):
        pdeml.open_dataset(tmp_path)


def test_wrong_argument_types_are_named(tmp_path, small_burgers):
    for value in (5, None):
        with pytest.raises(TypeError, match="path: expected the file name"):
            pdeml.open_dataset(value)
    with pytest.raises(TypeError, match="solver_options: expected a dict"):
        pdeml.generate(small_burgers, n=2, path=tmp_path / "b.h5", solver_options="numba")
    with pytest.raises(ValueError, match=r"meshes folder '.*notes': problem 'burgers'"):
        import_dataset(tmp_path / "notes", "meshes", small_burgers, path=tmp_path / "m.h5")
    assert _listing(tmp_path) == []


# -- 9. splitting a 1-sample dataset ------------------------------------------------------
def test_one_sample_dataset_cannot_be_split(tmp_path, small_burgers):
    inputs, outputs = _burgers_arrays(n=1)
    with pdeml.from_arrays(small_burgers, inputs, outputs, path=tmp_path / "one.h5") as ds:
        for kwargs in ({"n_test": 1}, {"test_fraction": 0.5}):
            with pytest.raises(ValueError, match=r"a dataset of 1 sample cannot be split.*n_test"):
                ds.split(**kwargs)


# -- 10. the wrapper acts like the xarray.Dataset --------------------------------------
def test_dataset_forwards_xarray_attributes(stored):
    with pdeml.open_dataset(stored) as ds:
        assert set(ds.data_vars) == {"u0", "u"}
        assert ds.sizes["sample"] == 3 and "x" in ds.dims
        assert float(ds.isel(sample=0)["u"][0]) == float(ds.xr["u"][0, 0])
        assert "data_vars" in dir(ds)
        assert isinstance(ds.attrs, dict) and "problem" in ds.attrs  # pdeml's own attrs
        assert not hasattr(ds, "no_such_attribute")
        with pytest.raises(AttributeError):
            ds._private_thing  # noqa: B018
