"""Dataset generation: file contents, reproducibility, crash safety and resume."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr

import pdeml
from pdeml.data import generation as generate_module
from pdeml.data.generation import partial_dir


def test_generated_file_holds_fields_coords_and_provenance(tmp_path, small_darcy):
    ds = pdeml.generate(small_darcy, n=6, seed=3, path=tmp_path / "d.h5", workers=1, progress=False)
    assert len(ds) == 6
    assert ds.xr["a"].dims == ("sample", "x", "y") and ds.xr["a"].shape == (6, 15, 15)
    np.testing.assert_allclose(ds.xr["x"].values, np.linspace(0, 1, 15))
    assert ds.attrs["seed"] == 3 and ds.attrs["version"] == pdeml.__version__
    assert ds.attrs["solver"]["name"] == small_darcy.reference_solver().name
    assert ds.attrs["solve_seconds_per_sample"] > 0
    # Drawing is timed apart from the solve (for Navier–Stokes it is a solver run too).
    assert ds.attrs["draw_seconds_per_sample"] > 0
    assert ds.problem == small_darcy
    # The stored data are the fine solution strided, not a coarse solve.
    fine = small_darcy.sample_inputs(6, seed=3, resolution=29)
    expected = small_darcy.reference_solver().solve(fine)["u"][:, ::2, ::2]
    np.testing.assert_allclose(ds.outputs["u"], expected, rtol=1e-6, atol=1e-9)
    ds.close()


def test_plain_xarray_reads_the_file_lazily(tmp_path, small_burgers):
    path = tmp_path / "b.h5"
    pdeml.generate(small_burgers, n=3, seed=0, path=path, workers=1, progress=False).close()
    with xr.open_dataset(path, engine="h5netcdf") as view:
        assert view["u"].variable._in_memory is False  # lazy until asked
        assert view["u0"].attrs["role"] == "input" and view["u"].attrs["role"] == "output"
        assert view["u"].shape == (3, 32)


def test_same_seed_same_file_whatever_the_workers_and_chunks(tmp_path, small_burgers):
    one = pdeml.generate(
        small_burgers, n=8, seed=42, path=tmp_path / "1.h5", workers=1, chunk_size=3, progress=False
    )
    two = pdeml.generate(
        small_burgers, n=8, seed=42, path=tmp_path / "2.h5", workers=2, chunk_size=2, progress=False
    )
    for name in small_burgers.field_names:
        np.testing.assert_array_equal(one.xr[name].values, two.xr[name].values)
    other = pdeml.generate(
        small_burgers, n=8, seed=43, path=tmp_path / "3.h5", workers=1, progress=False
    )
    assert not np.array_equal(one.xr["u0"].values, other.xr["u0"].values)


def test_interrupted_run_leaves_no_file_and_resumes(tmp_path, small_burgers, monkeypatch):
    path = tmp_path / "b.h5"
    reference = pdeml.generate(
        small_burgers,
        n=10,
        seed=1,
        path=tmp_path / "ref.h5",
        workers=1,
        chunk_size=2,
        progress=False,
    )
    real = generate_module.solve_chunk
    calls = []

    def failing(*args):
        calls.append(args[3])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(generate_module, "solve_chunk", failing)
    with pytest.raises(KeyboardInterrupt, match="resume"):
        pdeml.generate(
            small_burgers, n=10, seed=1, path=path, workers=1, chunk_size=2, progress=False
        )
    assert not path.exists()
    assert len(list(partial_dir(path).glob("chunk_*.npz"))) == 2

    calls.clear()
    monkeypatch.setattr(
        generate_module, "solve_chunk", lambda *args: (calls.append(args[3]), real(*args))[1]
    )
    resumed = pdeml.generate(
        small_burgers, n=10, seed=1, path=path, workers=1, chunk_size=2, progress=False
    )
    assert calls == [4, 6, 8]  # only the missing chunks
    assert not partial_dir(path).exists()
    for name in small_burgers.field_names:
        np.testing.assert_array_equal(resumed.xr[name].values, reference.xr[name].values)


@pytest.mark.slow
def test_killed_process_resumes_to_the_same_file(tmp_path):
    """SIGKILL the CLI mid-run: no file at --out, and the next run completes it."""
    out = tmp_path / "d.h5"
    command = [
        sys.executable,
        "-m",
        "pdeml.cli",
        "generate",
        "darcy",
        "--size",
        "quick",
        "--n",
        "24",
        "--workers",
        "1",
        "--quiet",
        "--out",
        str(out),
        "--set",
        "solver_resolution=113",
        "--resolution",
        "15",
    ]
    process = subprocess.Popen(command)
    folder = partial_dir(out)
    deadline = time.time() + 60
    while time.time() < deadline and len(list(folder.glob("chunk_*.npz"))) < 3:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = len(list(folder.glob("chunk_*.npz")))
    assert 3 <= finished < 24, "the run ended before it could be interrupted"
    assert not out.exists()
    assert subprocess.run(command, check=False).returncode == 0
    problem = pdeml.load_problem("darcy", solver_resolution=113, resolution=15)
    fresh = pdeml.generate(
        problem, n=24, seed=0, path=tmp_path / "fresh.h5", workers=1, progress=False
    )
    with pdeml.open_dataset(out) as resumed:
        np.testing.assert_array_equal(resumed.xr["u"].values, fresh.xr["u"].values)
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


def test_resume_with_other_settings_is_refused(tmp_path, small_burgers, monkeypatch):
    path = tmp_path / "b.h5"
    monkeypatch.setattr(
        generate_module, "solve_chunk", lambda *args: (_ for _ in ()).throw(KeyboardInterrupt())
    )
    with pytest.raises(KeyboardInterrupt):
        pdeml.generate(small_burgers, n=4, seed=1, path=path, workers=1, progress=False)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="other settings"):
        pdeml.generate(small_burgers, n=4, seed=2, path=path, workers=1, progress=False)
    ds = pdeml.generate(
        small_burgers, n=4, seed=2, path=path, workers=1, progress=False, overwrite=True
    )
    assert ds.attrs["seed"] == 2


def test_existing_file_is_not_replaced_without_overwrite(tmp_path, small_burgers):
    path = tmp_path / "b.h5"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="overwrite"):
        pdeml.generate(small_burgers, n=2, seed=0, path=path, workers=1, progress=False)
    assert path.read_bytes() == b"precious"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n": 0}, "n must"),
        ({"seed": -2}, "seed"),
        ({"workers": 0}, "workers"),
        ({"dtype": "int8"}, "dtype"),
        ({"chunk_size": 0}, "chunk_size"),
    ],
)
def test_bad_arguments_are_named(tmp_path, small_burgers, kwargs, match):
    args = {"n": 2, "seed": 0, "path": tmp_path / "x.h5", **kwargs}
    with pytest.raises(ValueError, match=match):
        pdeml.generate(small_burgers, progress=False, **args)
    assert not (tmp_path / "x.h5").exists()


def test_problem_must_be_a_problem(tmp_path):
    with pytest.raises(TypeError, match="problem"):
        pdeml.generate("darcy", n=2, path=tmp_path / "x.h5")


def test_process_pool_is_not_left_running(tmp_path, small_burgers):
    pdeml.generate(
        small_burgers, n=4, seed=0, path=tmp_path / "b.h5", workers=2, chunk_size=1, progress=False
    )
    children = subprocess.run(
        ["pgrep", "-a", "-P", str(os.getpid())], capture_output=True, text=True
    ).stdout.splitlines()
    # multiprocessing's resource tracker lives as long as this interpreter, by design.
    workers = [line for line in children if "resource_tracker" not in line]
    assert workers == []
