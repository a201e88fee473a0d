"""Foreign files as their authors ship them (issue 21, item 5).

Each test writes, at test time, a file with exactly the keys, dtypes and shapes of the
shipped one: neuraloperator's ``darcy_*_16.pt`` / ``darcy_test_32.pt`` (``x`` bool
``[N, s, s]``, ``y`` float32 ``[N, s, s]``) and ``burgers_*_16.pt`` (``x`` float64
``[N, 16]``, ``y`` float64 ``[N, 17, 16]`` with ``y[:, 0] = x``, ``visc`` float64 ``[1, 1]``),
and a PDEBench Burgers HDF5 file as its generator and ``Data_Merge.py`` write it
(``tensor`` float32 ``[N, t, x]``, float32 cell-centre ``x-coordinate``, float32
``t-coordinate`` with one entry more than the snapshots, attribute ``Nu``).

With ``PDEML_NEURALOP_FILES`` set to a folder holding neuraloperator's own files (from
``neuralop/data/datasets/data/`` of its repository), the last test imports those too.
"""

import math
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

import pdeml
from pdeml.cli import main
from pdeml.data.formats import import_dataset, read_foreign
from pdeml.problems import Burgers1D, Darcy2D


def one_line_error(call, *fragments, error=ValueError):
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def write_neuralop_darcy(folder, n=6, seed=0):
    """``darcy_train_16.pt`` and ``darcy_test_32.pt`` as shipped: bool masks, nested grids."""
    rng = np.random.default_rng(seed)
    mask = rng.normal(size=(n, 32, 32)) > 0  # the 0/1 coefficient on x_j = j/32
    u = rng.normal(size=(n, 32, 32)).astype(np.float32)
    u[:, 0, :] = u[:, :, 0] = 0.0  # x = 0 is on the grid, x = 1 is not
    fine = {"x": torch.from_numpy(mask), "y": torch.from_numpy(u)}
    coarse = {"x": fine["x"][:, ::2, ::2].clone(), "y": fine["y"][:, ::2, ::2].clone()}
    torch.save(coarse, folder / "darcy_train_16.pt")
    torch.save(fine, folder / "darcy_test_32.pt")
    return coarse, fine


def write_neuralop_burgers(path, problem, n=4, visc=None, seed=0):
    """``burgers_train_16.pt`` as shipped, solved by pdeml: ``y[:, 0] = x``, then n_t snapshots."""
    x = problem.sample_inputs(n, seed=seed)["u0"]
    traj = problem.reference_solver().solve({"u0": x})["u_traj"]
    y = np.concatenate([x[:, None], traj], axis=1)
    visc = torch.tensor([[problem.nu]], dtype=torch.float64) if visc is None else visc
    data = {"x": torch.from_numpy(x), "y": torch.from_numpy(y), "visc": visc}
    torch.save(data, path)
    return data


def write_pdebench_burgers(path, n=3, nx=32, fin_time=0.5, dt_save=0.1, nu=0.01, seed=0):
    """A 1D Burgers file in the layout of PDEBench's generator (JAX, float32) + Data_Merge."""
    rng = np.random.default_rng(seed)
    it_tot = math.ceil(fin_time / dt_save) + 1
    dx = 1.0 / nx
    xc = (np.linspace(0.0, 1.0, nx + 1)[:-1] + 0.5 * dx).astype(np.float32)
    tc = np.arange(it_tot + 1, dtype=np.float32) * np.float32(dt_save)
    tensor = rng.normal(size=(n, it_tot, nx)).astype(np.float32)
    with h5py.File(path, "w") as f:
        f.create_dataset("tensor", data=tensor)
        f.create_dataset("x-coordinate", data=xc)
        f.create_dataset("t-coordinate", data=tc)
        f.attrs["Nu"] = nu
    return tensor, tc


@pytest.fixture
def trajectory_problem():
    return Burgers1D(nu=0.01, T=1.0, resolution=16, solver_resolution=64, n_t=16)


# -- neuraloperator Darcy: bool masks on x_j = j/s ---------------------------------------------
def test_neuralop_darcy_bool_mask_is_cast_and_its_grid_recorded(tmp_path):
    coarse, _ = write_neuralop_darcy(tmp_path)
    ds = import_dataset(
        tmp_path / "darcy_train_16.pt", "neuralop-pt", "darcy", path=tmp_path / "d16.h5"
    )
    assert ds.problem.resolution == 16 and ds.xr["a"].dtype == np.float32
    np.testing.assert_array_equal(ds.xr["a"].values, coarse["x"].numpy().astype(np.float32))
    np.testing.assert_array_equal(ds.xr["u"].values, coarse["y"].numpy())
    assert set(np.unique(ds.xr["a"].values)) == {0.0, 1.0}
    source = ds.attrs["source"]
    assert source["casts"] == {"x": "bool -> float32 (False -> 0.0, True -> 1.0)"}
    assert source["grid"] == "x_j = j/16, j = 0..15"
    assert source["grid_mapping"] == "x_file = x_stored * 15/16"
    assert any("linspace(0, 1, 16)" in note for note in source["notes"])
    assert any("'x' stored as bool" in note for note in source["notes"])
    ds.close()
    # The 32-point file of the same samples: every second point is the 16-point file.
    test32 = read_foreign(tmp_path / "darcy_test_32.pt", "neuralop-pt", "darcy")
    assert test32.problem.resolution == 32 and test32.source["grid_mapping"].endswith("31/32")
    np.testing.assert_array_equal(test32.inputs["a"][:, ::2, ::2], coarse["x"].numpy())
    # Darcy2D's grid holds both ends, so 32 -> 16 is not a stride of it: refused, one line.
    one_line_error(
        lambda: read_foreign(tmp_path / "darcy_test_32.pt", "neuralop-pt", "darcy", resolution=16),
        "darcy_test_32.pt",
        "resolution 16 cannot be strided from the file's 32 points",
    )


def test_neuralop_periodic_grid_maps_exactly(tmp_path):
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.normal(size=(3, 32)) > 0)  # a bool input on a periodic grid
    torch.save({"x": x, "y": torch.zeros(3, 32), "visc": torch.tensor([[0.5]])}, tmp_path / "b.pt")
    imported = read_foreign(tmp_path / "b.pt", "neuralop-pt", "burgers", resolution=16)
    assert imported.source["grid_mapping"] == "exact" and imported.source["stride"] == 2
    np.testing.assert_array_equal(imported.inputs["u0"], x[:, ::2].numpy().astype(float))
    assert imported.problem.nu == 0.5 and imported.problem.n_t == 0  # no trajectory
    # A problem without a viscosity leaves `visc` unused, and says so.
    darcy_like = tmp_path / "d.pt"
    torch.save({"x": torch.zeros(2, 16, 16), "y": torch.zeros(2, 16, 16), "visc": 1.0}, darcy_like)
    darcy = read_foreign(darcy_like, "neuralop-pt", "darcy")
    assert darcy.source["unused_keys"] == ["visc"] and "nu" not in darcy.source["set_by_file"]
    assert any("no viscosity parameter" in note for note in darcy.source["notes"])


# -- neuraloperator Burgers: a trajectory from t = 0 and `visc` ---------------------------------
def test_neuralop_burgers_trajectory_and_viscosity(tmp_path, trajectory_problem):
    path = tmp_path / "burgers_train_16.pt"
    data = write_neuralop_burgers(path, trajectory_problem)
    assert data["y"].shape == (4, 17, 16) and data["visc"].shape == (1, 1)
    base = Burgers1D(nu=0.1, T=1.0, resolution=16, solver_resolution=64)  # n_t = 0, wrong nu
    ds = import_dataset(path, "neuralop-pt", base, path=tmp_path / "b.h5", dtype="float64")
    assert ds.problem == trajectory_problem  # nu from visc, n_t from y, T the problem's
    y = data["y"].numpy()
    np.testing.assert_array_equal(ds.xr["u0"].values, data["x"].numpy())
    np.testing.assert_array_equal(ds.xr["u_traj"].values, y[:, 1:])
    np.testing.assert_array_equal(ds.xr["u"].values, y[:, -1])
    source = ds.attrs["source"]
    assert source["keys"] == {"u0": "x", "u": "y[:, -1]", "u_traj": "y[:, 1:]"}
    assert source["set_by_file"] == {"n_t": 16, "nu": 0.01}
    assert source["grid_mapping"] == "exact" and source["unused_keys"] == []
    assert any("nu = visc = 0.01" in note for note in source["notes"])
    assert any("trajectory from t = 0" in note for note in source["notes"])
    # The imported problem is the one that made the file: its solver gives the file back.
    again = ds.problem.reference_solver().solve({"u0": ds.xr["u0"].values})
    np.testing.assert_allclose(again["u_traj"], y[:, 1:], rtol=0, atol=1e-12)
    ds.close()


def test_neuralop_burgers_float32_visc_strides_and_overrides(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 32))
    y = np.concatenate([x[:, None], rng.normal(size=(2, 4, 32))], axis=1)
    path = tmp_path / "burgers_32.pt"
    # torch.tensor(0.01) is float32 (0.009999999776...): read back as the 0.01 it was written from.
    torch.save({"x": torch.tensor(x), "y": torch.tensor(y), "visc": torch.tensor(0.01)}, path)
    imported = read_foreign(path, "neuralop-pt", "burgers", resolution=16)
    assert imported.problem.nu == 0.01 and imported.problem.n_t == 4
    assert any("float32 precision" in note for note in imported.source["notes"])
    np.testing.assert_array_equal(imported.outputs["u_traj"], y[:, 1:, ::2])
    agreed = read_foreign(path, "neuralop-pt", "burgers", overrides={"nu": 0.01, "T": 2.0})
    assert (agreed.problem.nu, agreed.problem.T) == (0.01, 2.0)
    one_line_error(
        lambda: read_foreign(path, "neuralop-pt", "burgers", overrides={"nu": 0.1}),
        "nu=0.1 was asked for",
        "the file sets nu=0.01",
    )


def test_neuralop_shapes_still_refused(tmp_path):
    x = np.linspace(-1, 1, 16)[None].repeat(2, axis=0)
    y = np.stack([x, 0.5 * x, 0.25 * x], axis=1)
    cases = {
        "shifted.pt": ({"x": x, "y": y[:, 1:]}, "y[:, 0] equal to x", "differing from x by"),
        "grid.pt": ({"x": x, "y": y[..., ::2]}, "key 'y'", "trajectory [N, t, ...]"),
        "channel.pt": ({"x": x, "y": y[:, None]}, "key 'y'", "or a trajectory [N, t, x]"),
        "visc_many.pt": ({"x": x, "y": y, "visc": [0.1, 0.2]}, "key 'visc'", "one positive"),
        "visc_negative.pt": ({"x": x, "y": y, "visc": -0.1}, "key 'visc'", "one positive"),
        "visc_nan.pt": ({"x": x, "y": y, "visc": float("nan")}, "key 'visc'", "NaN"),
    }
    for name, (data, *fragments) in cases.items():
        tensors = {
            k: torch.tensor(v) if isinstance(v, (np.ndarray, list)) else v for k, v in data.items()
        }
        torch.save(tensors, tmp_path / name)
        one_line_error(
            lambda n=name: read_foreign(tmp_path / n, "neuralop-pt", "burgers"), name, *fragments
        )
    # A Darcy file read as Burgers: the rank does not fit, said on one line.
    write_neuralop_darcy(tmp_path)
    one_line_error(
        lambda: read_foreign(tmp_path / "darcy_train_16.pt", "neuralop-pt", "burgers"),
        "key 'x'",
        "[N, x]",
    )


FORMAT = ("--format", "neuralop-pt")


def test_cli_imports_neuralop_files_as_shipped(tmp_path, capsys, trajectory_problem):
    write_neuralop_darcy(tmp_path)
    write_neuralop_burgers(tmp_path / "burgers_test_16.pt", trajectory_problem)
    for name, problem in (("darcy_train_16", "darcy"), ("burgers_test_16", "burgers")):
        out = tmp_path / f"{name}.h5"
        source = str(tmp_path / f"{name}.pt")
        status = main(["import", source, *FORMAT, "--problem", problem, "--out", str(out)])
        assert status == 0 and "wrote" in capsys.readouterr().out
    with pdeml.open_dataset(tmp_path / "burgers_test_16.h5") as ds:
        assert ds.problem.n_t == 16 and ds.problem.nu == 0.01 and len(ds) == 4
    with pdeml.open_dataset(tmp_path / "darcy_train_16.h5") as ds:
        assert ds.attrs["source"]["casts"]["x"].startswith("bool")
    out = tmp_path / "refused.h5"
    source = str(tmp_path / "burgers_test_16.pt")
    args = ["--problem", "burgers", "--set", "nu=0.5", "--out", str(out)]
    status = main(["import", source, *FORMAT, *args])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("pdeml: error: ") and len(err.strip().splitlines()) == 1
    assert "the file sets nu=0.01" in err and not out.exists()


# -- PDEBench Burgers: the target snapshot --------------------------------------------------
def test_pdebench_burgers_target_snapshot(tmp_path):
    path = tmp_path / "1D_Burgers_Sols_Nu0.01.hdf5"
    tensor, tc = write_pdebench_burgers(path)
    assert tensor.shape == (3, 6, 32) and tc.shape == (7,) and tc.dtype == np.float32
    default = read_foreign(path, "pdebench", "burgers")  # unchanged: the last snapshot
    np.testing.assert_array_equal(default.outputs["u"], tensor[:, 5])
    assert default.problem.T == pytest.approx(0.5, rel=1e-6)
    assert default.source["keys"]["u"] == "tensor[:, 5]"
    assert default.source["target"] == {
        "index": 5,
        "time": float(tc[5]),
        "chosen_by": "the last snapshot (default)",
    }
    for options, index in (({"target_index": 2}, 2), ({"target_index": -2}, 4)):
        chosen = read_foreign(path, "pdebench", "burgers", **options)
        np.testing.assert_array_equal(chosen.outputs["u"], tensor[:, index])
        np.testing.assert_array_equal(chosen.inputs["u0"], tensor[:, 0])
        assert chosen.problem.T == pytest.approx(float(tc[index]), rel=1e-12)
        assert chosen.source["target"]["index"] == index
        assert chosen.source["keys"]["u"] == f"tensor[:, {index}]"
        assert any(f"T = t[{index}] - t[0]" in note for note in chosen.source["notes"])
    by_time = read_foreign(path, "pdebench", "burgers", target_time=0.3, resolution=16)
    np.testing.assert_array_equal(by_time.outputs["u"], tensor[:, 3, ::2])
    assert by_time.problem.T == pytest.approx(0.3, rel=1e-6)
    assert by_time.problem.nu == pytest.approx(0.01 / math.pi)
    assert by_time.source["target"]["chosen_by"] == "target_time=0.3"
    ds = import_dataset(path, "pdebench", "burgers", path=tmp_path / "b.h5", target_index=1)
    assert ds.attrs["source"]["target"]["index"] == 1
    assert ds.problem.T == pytest.approx(0.1, rel=1e-6)
    ds.close()


def test_pdebench_target_errors(tmp_path):
    path = tmp_path / "1D_Burgers_Sols_Nu0.01.hdf5"
    write_pdebench_burgers(path)
    for options, fragment in (
        ({"target_index": 0}, "target_index=0: expected a snapshot after the first, 1..5"),
        ({"target_index": 6}, "target_index=6"),
        ({"target_index": -6}, "(or -5..-1)"),
        ({"target_time": 0.25}, "target_time=0.25: expected one of the snapshot times"),
        ({"target_time": 0.0}, "target_time=0"),
        ({"target_time": float("inf")}, "target_time=inf"),
        ({"target_index": 2, "target_time": 0.2}, "both given"),
    ):
        one_line_error(
            lambda o=options: read_foreign(path, "pdebench", "burgers", **o),
            "1D_Burgers_Sols_Nu0.01.hdf5",
            fragment,
        )
    one_line_error(
        lambda: read_foreign(path, "pdebench", "burgers", target_index=1.5),
        "target_index: expected an int",
        error=TypeError,
    )
    darcy = tmp_path / "2D_DarcyFlow_beta1.0_Train.hdf5"
    with h5py.File(darcy, "w") as f:
        f.create_dataset("tensor", data=np.zeros((2, 1, 9, 9)))
        f.create_dataset("nu", data=np.ones((2, 9, 9)))
        f.create_dataset("x-coordinate", data=np.linspace(0, 1, 9))
        f.create_dataset("y-coordinate", data=np.linspace(0, 1, 9))
    one_line_error(
        lambda: read_foreign(
            darcy, "pdebench", Darcy2D(resolution=9, solver_resolution=9), target_index=1
        ),
        "target_index: the Darcy layout holds one steady solution",
    )
    torch.save({"x": torch.zeros(2, 16), "y": torch.zeros(2, 16)}, tmp_path / "b.pt")
    one_line_error(
        lambda: read_foreign(tmp_path / "b.pt", "neuralop-pt", "burgers", target_time=0.5),
        "target_time: the neuralop-pt format has no snapshots",
        "only with format pdebench",
    )


def test_cli_pdebench_target(tmp_path, capsys):
    path = tmp_path / "1D_Burgers_Sols_Nu0.01.hdf5"
    tensor, _ = write_pdebench_burgers(path)
    base = ["import", str(path), "--format", "pdebench", "--problem", "burgers"]
    out = tmp_path / "b.h5"
    assert main([*base, "--target-time", "0.2", "--out", str(out)]) == 0
    with pdeml.open_dataset(out) as ds:
        np.testing.assert_array_equal(ds.xr["u"].values, tensor[:, 2])
        assert ds.attrs["source"]["target"]["chosen_by"] == "target_time=0.2"
    capsys.readouterr()
    status = main([*base, "--target-index", "9", "--out", str(tmp_path / "x.h5")])
    err = capsys.readouterr().err
    assert status == 2 and len(err.strip().splitlines()) == 1 and "target_index=9" in err
    assert not (tmp_path / "x.h5").exists()
    with pytest.raises(SystemExit) as info:
        main([*base, "--target-index", "2", "--target-time", "0.2", "--out", str(out)])
    assert info.value.code == 2 and "not allowed with" in capsys.readouterr().err


# -- neuraloperator's own files, when they are at hand --------------------------------------
SHIPPED = os.environ.get("PDEML_NEURALOP_FILES")


@pytest.mark.skipif(not SHIPPED, reason="set PDEML_NEURALOP_FILES to neuralop's data folder")
def test_neuraloperator_shipped_files(tmp_path):
    folder = Path(SHIPPED)
    for name, problem in (
        ("darcy_train_16", "darcy"),
        ("darcy_test_16", "darcy"),
        ("darcy_test_32", "darcy"),
        ("burgers_train_16", "burgers"),
        ("burgers_test_16", "burgers"),
    ):
        imported = read_foreign(folder / f"{name}.pt", "neuralop-pt", problem)
        if problem == "burgers":
            assert (imported.problem.n_t, imported.problem.nu) == (16, 0.01)
        else:
            assert imported.source["casts"] == {"x": "bool -> float32 (False -> 0.0, True -> 1.0)"}
