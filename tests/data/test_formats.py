"""Bring your own data: from_arrays, the foreign-format readers and writers, pdeml import.

Every test builds its small files itself (scipy.io.savemat, h5py, torch.save, np.savez).
"""

import fractions
import math
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import torch

import pdeml
from pdeml.cli import main
from pdeml.data.formats import (
    export_dataset,
    export_fno_mat,
    export_pdebench,
    import_dataset,
    read_foreign,
)
from pdeml.problems import Burgers1D, Darcy2D, NavierStokes2D

DOCS = Path(__file__).resolve().parents[2] / "docs" / "own_data.md"


# -- helpers -------------------------------------------------------------------------------
@pytest.fixture
def burgers():
    return Burgers1D(resolution=32, solver_resolution=64)


@pytest.fixture
def darcy():
    return Darcy2D(resolution=15, solver_resolution=29)


@pytest.fixture
def navier_stokes():
    return NavierStokes2D(T=5, t_in=2, resolution=8, solver_resolution=8)


def random_fields(problem, n=3, seed=0):
    """Random inputs and outputs shaped as ``problem`` declares."""
    rng = np.random.default_rng(seed)
    inputs = {k: rng.normal(size=(n, *problem.field_shape(k))) for k in problem.input_names}
    outputs = {k: rng.normal(size=(n, *problem.field_shape(k))) for k in problem.output_names}
    return inputs, outputs


def make_dataset(tmp_path, problem, name="orig.h5", n=3):
    inputs, outputs = random_fields(problem, n)
    return pdeml.from_arrays(problem, inputs, outputs, path=tmp_path / name)


def write_mat73(path, arrays):
    """A MATLAB v7.3 file as MATLAB writes it: HDF5, arrays column-major (axes reversed)."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for key, value in arrays.items():
            data = f.create_dataset(key, data=np.ascontiguousarray(np.asarray(value).T))
            data.attrs["MATLAB_class"] = np.bytes_("double")


def write_pdebench_burgers(path, tensor, x, t, nu=None):
    with h5py.File(path, "w") as f:
        f.create_dataset("tensor", data=tensor)
        f.create_dataset("x-coordinate", data=x)
        f.create_dataset("t-coordinate", data=t)
        if nu is not None:
            f.attrs["Nu"] = nu


def write_pdebench_darcy(path, u, a, x, beta=1.0):
    with h5py.File(path, "w") as f:
        f.create_dataset("tensor", data=u[:, None])
        f.create_dataset("nu", data=a)
        f.create_dataset("x-coordinate", data=x)
        f.create_dataset("y-coordinate", data=x)
        if beta is not None:
            f.attrs["beta"] = beta


def assert_nothing_written(out):
    assert not out.exists()
    assert not list(out.parent.glob(out.name + "*"))


def one_line_error(call, *fragments, error=ValueError):
    """Run ``call``; its error is one line holding every fragment."""
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


# -- from_arrays -----------------------------------------------------------------------------
def test_from_arrays_writes_a_regular_dataset(tmp_path, darcy):
    inputs, outputs = random_fields(darcy, n=4)
    coords = darcy.coords()
    ds = pdeml.from_arrays(
        darcy,
        inputs,
        outputs,
        coords=coords,
        attrs={"source": {"lab": "my solver", "version": 3}, "note": "hand-made"},
        path=tmp_path / "d.h5",
        dtype="float64",
    )
    assert isinstance(ds, pdeml.Dataset) and len(ds) == 4 and ds.problem == darcy
    np.testing.assert_array_equal(ds.inputs["a"], inputs["a"])
    np.testing.assert_array_equal(ds.outputs["u"], outputs["u"])
    assert ds.attrs["source"] == {"lab": "my solver", "version": 3}
    assert ds.attrs["note"] == "hand-made"
    ds.close()
    with pdeml.open_dataset(tmp_path / "d.h5") as again:
        assert again.xr["a"].dims == ("sample", "x", "y")
    # The default provenance says where the data came from; float32 is the default storage.
    other = pdeml.from_arrays(darcy, inputs, outputs, path=tmp_path / "e.h5")
    assert other.attrs["source"]["format"] == "arrays" and other.xr["a"].dtype == np.float32
    other.close()


@pytest.mark.parametrize(
    "change, fragments",
    [
        (lambda i, o: ({}, o), ["inputs", "missing ['u0']"]),
        (lambda i, o: ({**i, "v": i["u0"]}, o), ["inputs", "unexpected ['v']"]),
        (lambda i, o: ({"u0": i["u0"][:, :16]}, o), ["16 points", "problem.resolution is 32"]),
        (lambda i, o: (i, {"u": o["u"][:, :, None]}), ["outputs['u']", "expected shape"]),
        (lambda i, o: (i, {"u": np.where(o["u"] > 1, np.nan, o["u"])}), ["NaN", "'u'"]),
        (lambda i, o: (i, {"u": o["u"][:2]}), ["2 samples", "3"]),
    ],
)
def test_from_arrays_rejects_wrong_fields(tmp_path, burgers, change, fragments):
    inputs, outputs = change(*random_fields(burgers))
    out = tmp_path / "b.h5"
    one_line_error(lambda: pdeml.from_arrays(burgers, inputs, outputs, path=out), *fragments)
    assert_nothing_written(out)


def test_from_arrays_checks_coords_attrs_problem_and_existing_files(tmp_path, burgers):
    inputs, outputs = random_fields(burgers)
    out = tmp_path / "b.h5"

    def write(**kw):
        return pdeml.from_arrays(burgers, inputs, outputs, path=out, **kw)

    cell_centred = (np.arange(32) + 0.5) / 32
    one_line_error(lambda: write(coords={"x": cell_centred}), "coords['x']", "0.015625")
    one_line_error(lambda: write(coords={"x": 2 * np.pi * np.arange(32) / 32}), "unit interval")
    one_line_error(lambda: write(coords={"z": np.arange(3)}), "coords['z']", "unknown dimension")
    one_line_error(lambda: write(attrs={"problem": "x"}), "written by pdeml")
    one_line_error(lambda: write(attrs={"when": object()}), "attrs['when']", error=TypeError)
    with pytest.raises(TypeError, match="problem: expected a pdeml Problem"):
        pdeml.from_arrays("burgers", inputs, outputs, path=out)
    assert_nothing_written(out)
    write().close()
    one_line_error(write, "already exists", error=FileExistsError)
    write(overwrite=True).close()


# -- FNO .mat ----------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["5", "7.3"])
def test_fno_mat_burgers_both_versions_strided(tmp_path, burgers, version):
    rng = np.random.default_rng(1)
    a, u = rng.normal(size=(3, 64)), rng.normal(size=(3, 64))
    path = tmp_path / "burgers_data.mat"
    if version == "5":
        scipy.io.savemat(path, {"a": a, "u": u, "a_smooth": a})
    else:
        write_mat73(path, {"a": a, "u": u, "a_smooth": a})
        assert h5py.File(path)["a"].shape == (64, 3)  # what h5py sees: axes reversed
    ds = import_dataset(path, "fno-mat", burgers, path=tmp_path / "b.h5", resolution=16)
    assert ds.problem.resolution == 16 and ds.problem.solver_resolution == 64
    np.testing.assert_allclose(ds.inputs["u0"], a[:, ::4], rtol=1e-6)
    np.testing.assert_allclose(ds.outputs["u"], u[:, ::4], rtol=1e-6)
    source = ds.attrs["source"]
    assert source["file"] == "burgers_data.mat" and source["format"] == "fno-mat"
    assert source["variant"] == f"MATLAB v{version}" and source["keys"] == {"u0": "a", "u": "u"}
    assert source["stride"] == 4 and source["unused_keys"] == ["a_smooth"]
    ds.close()
    # By default every point of the file is kept; n takes the first samples.
    full = read_foreign(path, "fno-mat", "burgers", n=2)
    assert full.problem.resolution == 64 and full.inputs["u0"].shape == (2, 64)
    assert full.problem.solver_resolution == 1024  # the preset's grid strides onto the file's


def test_fno_mat_darcy_keeps_both_ends_when_striding(tmp_path, darcy):
    rng = np.random.default_rng(2)
    coeff = np.where(rng.normal(size=(2, 29, 29)) > 0, 12.0, 3.0)
    sol = rng.normal(size=(2, 29, 29))
    path = tmp_path / "piececonst_r29.mat"
    write_mat73(path, {"coeff": coeff, "sol": sol, "Kcoeff": coeff})
    imported = read_foreign(path, "fno-mat", darcy, resolution=8)
    assert imported.problem.resolution == 8 and imported.source["stride"] == 4
    np.testing.assert_array_equal(imported.inputs["a"], coeff[:, ::4, ::4])
    np.testing.assert_array_equal(imported.outputs["u"], sol[:, ::4, ::4])
    assert imported.outputs["u"][0, -1, -1] == sol[0, 28, 28]  # the right end is a node
    message = one_line_error(
        lambda: read_foreign(path, "fno-mat", darcy, resolution=10), "piececonst_r29.mat"
    )
    assert "cannot be strided" in message and "(29 - 1) divisible by (resolution - 1)" in message


def test_fno_mat_navier_stokes_moves_time_and_splits(tmp_path, navier_stokes):
    rng = np.random.default_rng(3)
    u = rng.normal(size=(2, 16, 16, 6))  # [N, x, y, T]
    path = tmp_path / "ns_V1e-3_N2_T6.mat"
    write_mat73(path, {"a": u[..., 0], "u": u, "t": np.arange(1.0, 7.0)[None, :]})
    imported = read_foreign(path, "fno-mat", navier_stokes, resolution=8)
    problem = imported.problem
    assert (problem.T, problem.t_in, problem.resolution) == (6, 2, 8)
    w_in, w_out = imported.inputs["w_in"], imported.outputs["w_out"]
    assert w_in.shape == (2, 2, 8, 8) and w_out.shape == (2, 4, 8, 8)
    np.testing.assert_array_equal(w_in[:, 1], u[:, ::2, ::2, 1])
    np.testing.assert_array_equal(w_out[:, 0], u[:, ::2, ::2, 2])
    assert imported.source["set_by_file"] == {"T": 6}
    assert imported.source["unused_keys"] == ["a"]


def test_fno_mat_errors_name_file_key_and_expectation(tmp_path, burgers, navier_stokes):
    rng = np.random.default_rng(4)
    a = rng.normal(size=(2, 32))
    missing = tmp_path / "missing_u.mat"
    scipy.io.savemat(missing, {"a": a})
    one_line_error(
        lambda: read_foreign(missing, "fno-mat", burgers), "missing_u.mat", "key 'u'", "expected"
    )
    rank = tmp_path / "rank.mat"
    scipy.io.savemat(rank, {"a": rng.normal(size=(2, 4, 4)), "u": rng.normal(size=(2, 4, 4))})
    one_line_error(lambda: read_foreign(rank, "fno-mat", burgers), "rank.mat", "key 'a'", "rank-2")
    nan = tmp_path / "nan.mat"
    b = a.copy()
    b[1, 3] = np.nan
    write_mat73(nan, {"a": b, "u": a})
    one_line_error(lambda: read_foreign(nan, "fno-mat", burgers), "nan.mat", "key 'a'", "1 NaN")
    text = tmp_path / "text.mat"
    scipy.io.savemat(text, {"a": "a string", "u": a})
    one_line_error(lambda: read_foreign(text, "fno-mat", burgers), "key 'a'", "class 'char'")
    garbage = tmp_path / "garbage.mat"
    garbage.write_bytes(b"not a mat file at all" * 10)
    one_line_error(lambda: read_foreign(garbage, "fno-mat", burgers), "garbage.mat", "not a MATLAB")
    one_line_error(
        lambda: read_foreign(tmp_path / "none.mat", "fno-mat", burgers),
        "none.mat",
        "no such file",
        error=FileNotFoundError,
    )
    one_line_error(
        lambda: read_foreign(missing, "fno-mat", "lorenz96"), "no mapping for problem 'lorenz96'"
    )
    ns = tmp_path / "ns.mat"
    u = rng.normal(size=(1, 8, 8, 4))
    write_mat73(ns, {"u": u, "t": np.arange(4)[None, :] * 0.25})
    one_line_error(lambda: read_foreign(ns, "fno-mat", navier_stokes), "key 't'", "spacing 0.25")
    short = tmp_path / "short.mat"
    write_mat73(short, {"u": u[..., :2]})
    one_line_error(
        lambda: read_foreign(short, "fno-mat", navier_stokes), "key 'u'", "more than t_in=2"
    )


# -- PDEBench ----------------------------------------------------------------------------------
def test_pdebench_burgers_maps_viscosity_time_and_grid(tmp_path, burgers):
    rng = np.random.default_rng(5)
    tensor = rng.normal(size=(3, 5, 64)).astype(np.float32)
    x = (np.arange(64) + 0.5) / 64  # PDEBench's cell centres on [0, 1]
    t = np.arange(6) * 0.5  # one entry more than the stored snapshots, as PDEBench's
    path = tmp_path / "1D_Burgers_Sols_Nu0.01.hdf5"
    write_pdebench_burgers(path, tensor, x, t, nu=0.01)
    imported = read_foreign(path, "pdebench", burgers, resolution=32)
    problem = imported.problem
    assert problem.nu == pytest.approx(0.01 / math.pi) and problem.T == 2.0
    np.testing.assert_array_equal(imported.inputs["u0"], tensor[:, 0, ::2])
    np.testing.assert_array_equal(imported.outputs["u"], tensor[:, 4, ::2])
    source = imported.source
    assert source["keys"] == {"u0": "tensor[:, 0]", "u": "tensor[:, 4]"}
    assert any("Nu/π" in note for note in source["notes"])
    # A periodic domain of length 2 is rescaled exactly: nu and T are divided by 2.
    long = tmp_path / "long_Nu0.01.hdf5"
    write_pdebench_burgers(long, tensor, 2 * x, t, nu=0.01)
    rescaled = read_foreign(long, "pdebench", burgers).problem
    assert rescaled.nu == pytest.approx(0.01 / math.pi / 2) and rescaled.T == pytest.approx(1.0)
    # Without the attribute, the value in PDEBench's file name is used ...
    named = tmp_path / "1D_Burgers_Sols_Nu0.5.hdf5"
    write_pdebench_burgers(named, tensor, x, t)
    assert read_foreign(named, "pdebench", burgers).problem.nu == pytest.approx(0.5 / math.pi)
    # ... and without either, the error says what is missing.
    bare = tmp_path / "burgers.hdf5"
    write_pdebench_burgers(bare, tensor, x, t)
    one_line_error(lambda: read_foreign(bare, "pdebench", burgers), "burgers.hdf5", "'Nu'")
    # A parameter the file decides cannot be overridden to something else.
    one_line_error(
        lambda: read_foreign(path, "pdebench", "burgers", overrides={"nu": 0.5}),
        "nu=0.5",
        "the file sets",
    )
    same = read_foreign(path, "pdebench", "burgers", overrides={"nu": 0.01 / math.pi})
    assert same.problem.nu == pytest.approx(0.01 / math.pi)


def test_pdebench_darcy_cell_centred_grid_is_recorded(tmp_path, darcy):
    rng = np.random.default_rng(6)
    u, a = rng.normal(size=(2, 16, 16)), rng.uniform(0.1, 1, size=(2, 16, 16))
    path = tmp_path / "2D_DarcyFlow_beta2.0_Train.hdf5"
    write_pdebench_darcy(path, u, a, (np.arange(16) + 0.5) / 16, beta=2.0)
    imported = read_foreign(path, "pdebench", darcy)
    assert imported.problem.forcing == 2.0 and imported.problem.resolution == 16
    np.testing.assert_array_equal(imported.inputs["a"], a)
    np.testing.assert_array_equal(imported.outputs["u"], u)
    assert imported.source["grid"] == "cell-centred"
    assert any("half a cell" in note for note in imported.source["notes"])
    assert imported.source["keys"] == {"a": "nu", "u": "tensor[:, 0]"}
    # Nodes from 0 to 1 (as export_pdebench writes) map exactly, and stride like Darcy2D's.
    nodes = tmp_path / "nodes_beta1.hdf5"
    u17, a17 = rng.normal(size=(2, 17, 17)), rng.uniform(0.1, 1, size=(2, 17, 17))
    write_pdebench_darcy(nodes, u17, a17, np.linspace(0, 1, 17), beta=None)
    strided = read_foreign(nodes, "pdebench", darcy, resolution=9)
    assert strided.source["grid"] == "nodes" and strided.problem.forcing == 1.0
    np.testing.assert_array_equal(strided.outputs["u"], u17[:, ::2, ::2])
    np.testing.assert_array_equal(strided.inputs["a"], a17[:, ::2, ::2])
    other = tmp_path / "other_domain.hdf5"
    write_pdebench_darcy(other, u, a, 2 * np.arange(16) / 15)
    one_line_error(
        lambda: read_foreign(other, "pdebench", darcy),
        "other_domain.hdf5",
        "key 'x-coordinate'",
        "unit interval",
    )


def test_pdebench_errors_name_file_key_and_expectation(tmp_path, darcy, burgers):
    rng = np.random.default_rng(7)
    u, a = rng.normal(size=(2, 16, 16)), rng.uniform(size=(2, 16, 16))
    x = (np.arange(16) + 0.5) / 16
    nan = tmp_path / "nan.hdf5"
    bad = a.copy()
    bad[0, 0, 0] = np.inf
    write_pdebench_darcy(nan, u, bad, x)
    one_line_error(lambda: read_foreign(nan, "pdebench", darcy), "nan.hdf5", "key 'nu'", "1 NaN")
    rank = tmp_path / "rank.hdf5"
    with h5py.File(rank, "w") as f:
        f.create_dataset("tensor", data=u)
    one_line_error(lambda: read_foreign(rank, "pdebench", darcy), "key 'tensor'", "rank-4")
    missing = tmp_path / "missing.hdf5"
    with h5py.File(missing, "w") as f:
        f.create_dataset("tensor", data=u[:, None])
    one_line_error(lambda: read_foreign(missing, "pdebench", darcy), "missing.hdf5", "key 'nu'")
    no_x = tmp_path / "no_x.hdf5"
    write_pdebench_burgers(no_x, rng.normal(size=(2, 3, 32)), np.arange(32) / 32, [0, 1], 0.1)
    with h5py.File(no_x, "a") as f:
        del f["x-coordinate"]
    one_line_error(lambda: read_foreign(no_x, "pdebench", burgers), "key 'x-coordinate'")
    not_h5 = tmp_path / "not.hdf5"
    not_h5.write_text("hello")
    one_line_error(lambda: read_foreign(not_h5, "pdebench", darcy), "not.hdf5", "not an HDF5")
    one_line_error(
        lambda: read_foreign(missing, "pdebench", "navier_stokes"), "no mapping", "navier_stokes"
    )


# -- neuraloperator .pt ------------------------------------------------------------------------
def test_neuralop_pt_squeezes_channels_and_sets_the_grid(tmp_path):
    rng = np.random.default_rng(8)
    x = torch.from_numpy(rng.normal(size=(3, 1, 16, 16)).astype(np.float32))
    y = torch.from_numpy(rng.normal(size=(3, 1, 16, 16)).astype(np.float32))
    path = tmp_path / "darcy_train_16.pt"
    torch.save({"x": x, "y": y, "meta": torch.zeros(1)}, path)
    imported = read_foreign(path, "neuralop-pt", "darcy")
    assert imported.problem.resolution == 16 and imported.problem.solver_resolution == 16
    np.testing.assert_array_equal(imported.inputs["a"], x[:, 0].numpy())
    np.testing.assert_array_equal(imported.outputs["u"], y[:, 0].numpy())
    assert imported.source["keys"] == {"a": "x", "u": "y"}
    assert imported.source["unused_keys"] == ["meta"]
    # Navier-Stokes pairs [N, s, s] -> [N, s, s] are one input and one output snapshot.
    ns = tmp_path / "nsforcing_8.pt"
    torch.save({"x": x[:, 0, ::2, ::2], "y": y[:, 0, ::2, ::2]}, ns)
    pair = read_foreign(ns, "neuralop-pt", "navier_stokes")
    assert (pair.problem.t_in, pair.problem.T, pair.problem.resolution) == (1, 2, 8)
    assert pair.inputs["w_in"].shape == (3, 1, 8, 8)


def test_neuralop_pt_errors(tmp_path, darcy):
    x = torch.zeros(2, 1, 16, 16)
    cases = {
        "tensor.pt": (x, "expected a dict of tensors"),
        "no_y.pt": ({"x": x}, "key 'y'"),
        "rank.pt": ({"x": torch.zeros(2, 3, 16, 16), "y": x}, "key 'x'"),
        "nan.pt": ({"x": x, "y": torch.full((2, 16, 16), float("nan"))}, "key 'y'"),
        "pickled.pt": ({"x": x, "y": fractions.Fraction(1, 3)}, "weights_only=True"),
        "samples.pt": ({"x": x, "y": torch.zeros(3, 16, 16)}, "2 samples"),
    }
    for name, (data, fragment) in cases.items():
        torch.save(data, tmp_path / name)
        one_line_error(
            lambda n=name: read_foreign(tmp_path / n, "neuralop-pt", darcy), name, fragment
        )
    two_outputs = Burgers1D(resolution=16, solver_resolution=16, n_t=2)
    one_line_error(
        lambda: read_foreign(tmp_path / "no_y.pt", "neuralop-pt", two_outputs),
        "one input and one output",
    )


# -- .npz arrays -------------------------------------------------------------------------------
def test_npz_arrays_fix_time_axes_from_shapes(tmp_path, navier_stokes):
    rng = np.random.default_rng(9)
    w_in, w_out = rng.normal(size=(2, 3, 16, 16)), rng.normal(size=(2, 4, 16, 16))
    path = tmp_path / "ns.npz"
    np.savez(path, w_in=w_in, w_out=w_out)
    imported = read_foreign(path, "arrays", navier_stokes, resolution=8)
    assert (imported.problem.t_in, imported.problem.T, imported.problem.resolution) == (3, 7, 8)
    np.testing.assert_array_equal(imported.inputs["w_in"], w_in[:, :, ::2, ::2])
    traj = tmp_path / "burgers.npz"
    u0 = rng.normal(size=(2, 32))
    np.savez(traj, u0=u0, u=u0, u_traj=rng.normal(size=(2, 4, 32)))
    assert read_foreign(traj, "arrays", "burgers").problem.n_t == 4


def test_npz_errors(tmp_path, burgers):
    u0 = np.ones((2, 32))
    cases = {
        "missing.npz": ({"u0": u0}, "key 'u'"),
        "extra.npz": ({"u0": u0, "u": u0, "x": u0[0]}, "unexpected keys ['x']"),
        "rank.npz": ({"u0": u0[:, :, None], "u": u0}, "rank-2"),
        "nan.npz": ({"u0": u0, "u": u0 * np.nan}, "64 NaN"),
        "object.npz": ({"u0": np.array([{"a": 1}], dtype=object), "u": u0}, "object array"),
        "grid.npz": ({"u0": u0, "u": np.ones((2, 16))}, "32 points"),
    }
    for name, (arrays, fragment) in cases.items():
        np.savez(tmp_path / name, **arrays)
        message = one_line_error(
            lambda n=name: read_foreign(tmp_path / n, "arrays", burgers), name, fragment
        )
        assert "key" in message or "keys" in message
    np.save(tmp_path / "single.npy", u0)
    one_line_error(lambda: read_foreign(tmp_path / "single.npy", "arrays", burgers), "single")
    one_line_error(
        lambda: read_foreign(tmp_path / "single.npy", "hdf6", burgers),
        "single.npy",
        "unknown format 'hdf6'",
    )


# -- round trips through every layout ----------------------------------------------------------
ROUND_TRIPS = [
    ("fno-mat", "burgers", {"version": "5"}),
    ("fno-mat", "burgers", {"version": "7.3"}),
    ("fno-mat", "darcy", {"version": "5"}),
    ("fno-mat", "darcy", {"version": "7.3"}),
    ("fno-mat", "navier_stokes", {"version": "7.3"}),
    ("fno-mat", "navier_stokes", {"version": "5"}),
    ("pdebench", "burgers", {}),
    ("pdebench", "darcy", {}),
    ("neuralop-pt", "burgers", {}),
    ("neuralop-pt", "darcy", {}),
    ("neuralop-pt", "navier_stokes", {}),
    ("arrays", "burgers", {}),
    ("arrays", "darcy", {}),
    ("arrays", "navier_stokes", {}),
]


@pytest.mark.parametrize("fmt, kind, options", ROUND_TRIPS)
def test_export_then_import_is_unchanged(tmp_path, request, fmt, kind, options):
    problem = request.getfixturevalue(kind)
    original = make_dataset(tmp_path, problem)
    foreign = tmp_path / "foreign.file"
    export_dataset(original, fmt, foreign, **options)
    back = import_dataset(foreign, fmt, problem, path=tmp_path / "back.h5")
    for key, value in problem.to_dict().items():
        if isinstance(value, float):
            assert back.problem.to_dict()[key] == pytest.approx(value, rel=1e-12), key
        else:
            assert back.problem.to_dict()[key] == value, key
    for name in problem.field_names:
        np.testing.assert_array_equal(back.xr[name].values, original.xr[name].values)
    assert back.attrs["source"]["format"] == fmt and back.attrs["source"]["file"] == "foreign.file"
    original.close()
    back.close()


def test_burgers_trajectories_round_trip_as_arrays(tmp_path):
    problem = Burgers1D(resolution=16, solver_resolution=32, n_t=3)
    original = make_dataset(tmp_path, problem)
    export_dataset(original, "arrays", tmp_path / "t.npz")
    back = import_dataset(tmp_path / "t.npz", "arrays", "burgers", path=tmp_path / "back.h5")
    assert back.problem.n_t == 3
    np.testing.assert_array_equal(back.xr["u_traj"].values, original.xr["u_traj"].values)
    back.close()


def test_exporters_refuse_what_a_layout_cannot_hold(tmp_path, navier_stokes):
    ns = make_dataset(tmp_path, navier_stokes, "ns.h5")
    one_line_error(lambda: export_pdebench(ns, tmp_path / "x.hdf5"), "no mapping", "navier_stokes")
    one_line_error(lambda: export_fno_mat(ns, tmp_path / "x.mat", version="7"), "version")
    one_line_error(lambda: export_dataset(ns, "csv", tmp_path / "x.csv"), "unknown format 'csv'")
    traj = make_dataset(tmp_path, Burgers1D(resolution=16, solver_resolution=16, n_t=2), "t.h5")
    for fmt in ("fno-mat", "pdebench", "neuralop-pt"):
        with pytest.raises(ValueError, match=r"u_traj|one input and one output"):
            export_dataset(traj, fmt, tmp_path / f"x.{fmt}")
    assert not list(tmp_path.glob("x.*"))
    existing = tmp_path / "exists.npz"
    existing.write_text("keep me")
    one_line_error(lambda: export_dataset(ns, "arrays", existing), "exists", error=FileExistsError)
    assert existing.read_text() == "keep me"
    export_dataset(ns.path, "arrays", existing, overwrite=True)  # a dataset path works too
    assert set(np.load(existing).files) == {"w_in", "w_out"}
    ns.close()
    traj.close()


def test_written_v73_file_is_a_matlab_file(tmp_path, burgers):
    ds = make_dataset(tmp_path, burgers)
    export_fno_mat(ds, tmp_path / "b.mat", version="7.3")
    header = (tmp_path / "b.mat").read_bytes()[:128]
    assert header.startswith(b"MATLAB 7.3 MAT-file") and header[-2:] == b"IM"
    with h5py.File(tmp_path / "b.mat") as f:
        assert f["a"].shape == (32, 3) and f["a"].attrs["MATLAB_class"] == b"single"
    ds.close()


# -- training on imported data -----------------------------------------------------------------
def test_fno_trains_on_an_imported_set(tmp_path):
    rng = np.random.default_rng(10)
    a = rng.normal(size=(8, 64))
    u = np.roll(a, 3, axis=1)
    scipy.io.savemat(tmp_path / "burgers.mat", {"a": a, "u": u})
    ds = import_dataset(
        tmp_path / "burgers.mat", "fno-mat", "burgers", path=tmp_path / "b.h5", resolution=32
    )
    fno = pdeml.make_surrogate("fno", ds.problem, modes=4, width=8).fit(
        ds, epochs=2, progress=False
    )
    prediction = fno.solve(ds.inputs)
    assert prediction["u"].shape == (8, 32) and np.all(np.isfinite(prediction["u"]))
    ds.close()


# -- command line ------------------------------------------------------------------------------
def test_cli_import_then_info(tmp_path, capsys):
    rng = np.random.default_rng(11)
    source = tmp_path / "1D_Burgers_Sols_Nu0.1.hdf5"
    tensor = rng.normal(size=(4, 3, 64)).astype(np.float32)
    write_pdebench_burgers(source, tensor, (np.arange(64) + 0.5) / 64, [0.0, 0.5, 1.0], 0.1)
    out = tmp_path / "data" / "x.h5"
    status = main(
        [
            *("import", str(source), "--format", "pdebench", "--problem", "burgers"),
            *("--resolution", "32", "--n", "3", "--set", "sigma=10", "--out", str(out)),
        ]
    )
    assert status == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "problem 'burgers', 3 samples" in text and "1D_Burgers_Sols_Nu0.1.hdf5" in text
    with pdeml.open_dataset(out) as ds:
        assert ds.problem.sigma == 10 and ds.problem.resolution == 32
        assert ds.problem.nu == pytest.approx(0.1 / math.pi)


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--format", "fno-mat"], "key 'u'"),
        (["--format", "fno-mat", "--resolution", "7"], "cannot be strided"),
        (["--format", "pdebench", "--set", "nu=1"], "not an HDF5 file"),
        (["--format", "arrays"], "not a NumPy .npz"),
    ],
)
def test_cli_import_errors_are_one_line(tmp_path, capsys, extra, fragment):
    source = tmp_path / "a_only.mat"
    scipy.io.savemat(source, {"a": np.ones((2, 64)), "u": np.ones((2, 64))})
    if "--resolution" not in extra:
        scipy.io.savemat(source, {"a": np.ones((2, 64))})
    out = tmp_path / "x.h5"
    status = main(["import", str(source), "--problem", "burgers", "--out", str(out), *extra])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("pdeml: error: ") and fragment in err
    assert len(err.strip().splitlines()) == 1 and "a_only.mat" in err
    assert_nothing_written(out)


def test_a_failed_write_leaves_nothing(tmp_path, burgers, monkeypatch):
    import pdeml.data.store as store

    path = tmp_path / "b.npz"
    inputs, outputs = random_fields(burgers)
    np.savez(path, **inputs, **outputs)

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(store.os, "replace", crash)
    out = tmp_path / "b.h5"
    with pytest.raises(OSError, match="disk full"):
        import_dataset(path, "arrays", burgers, path=out)
    assert_nothing_written(out)


def test_cli_import_rejects_unknown_format(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["import", "x.mat", "--format", "csv", "--problem", "burgers", "--out", "x.h5"])
    assert info.value.code == 2 and "invalid choice: 'csv'" in capsys.readouterr().err


# -- the documentation's examples run ----------------------------------------------------------
def test_own_data_page_examples_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(DOCS), "exec"), namespace)  # our own docs
