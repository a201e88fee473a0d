"""Opening datasets: splits, subsets, the torch adapter, and damaged files."""

import h5py
import numpy as np
import pytest
import torch

import pdeml
from pdeml.problems import Burgers1D


@pytest.fixture
def burgers_file(tmp_path, small_burgers):
    path = tmp_path / "b.h5"
    pdeml.generate(small_burgers, n=10, seed=0, path=path, workers=1, progress=False).close()
    return path


def test_split_takes_the_last_samples_for_testing(burgers_file):
    with pdeml.open_dataset(burgers_file) as ds:
        train, test = ds.split(n_test=3)
        assert (len(train), len(test)) == (7, 3)
        np.testing.assert_array_equal(test.xr["sample"].values, [7, 8, 9])
        np.testing.assert_array_equal(test.inputs["u0"], ds.inputs["u0"][7:])
        a, b = ds.split(test_fraction=0.2, shuffle=True, seed=1)
        assert sorted(np.concatenate([a.xr["sample"].values, b.xr["sample"].values])) == list(
            range(10)
        )
        for bad in (0, 10, 2.5):
            with pytest.raises(ValueError, match="n_test"):
                ds.split(n_test=bad)
        with pytest.raises(ValueError, match="exactly one"):
            ds.split()


def test_subset_checks_indices(burgers_file):
    with pdeml.open_dataset(burgers_file) as ds:
        assert len(ds.subset([0, 2])) == 2
        with pytest.raises(ValueError, match="indices"):
            ds.subset([11])


def test_torch_adapter_stacks_channels(burgers_file):
    with pdeml.open_dataset(burgers_file) as ds:
        data = ds.torch()
        x, y = data[0]
        assert len(data) == 10 and x.shape == (1, 32) and y.shape == (1, 32)
        assert x.dtype == torch.float32
        loader = torch.utils.data.DataLoader(data, batch_size=4)
        xb, _ = next(iter(loader))
        assert xb.shape == (4, 1, 32)
        with pytest.raises(ValueError, match="unknown fields"):
            ds.torch(outputs=["v"])


def test_torch_adapter_refuses_mixed_shapes(tmp_path):
    problem = Burgers1D(resolution=32, solver_resolution=64, n_t=4)
    ds = pdeml.generate(problem, n=2, seed=0, path=tmp_path / "t.h5", workers=1, progress=False)
    assert ds.xr["u_traj"].dims == ("sample", "t", "x")
    with pytest.raises(ValueError, match="share one shape"):
        ds.torch()
    assert ds.torch(outputs=["u"])[0][1].shape == (1, 32)
    np.testing.assert_allclose(ds.outputs["u_traj"][:, -1], ds.outputs["u"], rtol=1e-6)


def test_damaged_and_foreign_files_get_clear_errors(tmp_path, burgers_file):
    with pytest.raises(FileNotFoundError, match="no such file"):
        pdeml.open_dataset(tmp_path / "missing.h5")
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(burgers_file.read_bytes()[:2000])
    with pytest.raises(ValueError, match="not a readable"):
        pdeml.open_dataset(truncated)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["data"] = np.zeros(3)
    with pytest.raises(ValueError, match="not a pdeml dataset"):
        pdeml.open_dataset(foreign)


def test_float64_storage_keeps_solver_precision(tmp_path, small_burgers):
    ds = pdeml.generate(
        small_burgers,
        n=2,
        seed=0,
        path=tmp_path / "b.h5",
        workers=1,
        dtype="float64",
        progress=False,
    )
    assert ds.xr["u"].dtype == np.float64
    fine = small_burgers.sample_inputs(2, seed=0, resolution=64)
    expected = small_burgers.reference_solver().solve(fine)["u"][:, ::2]
    np.testing.assert_array_equal(ds.outputs["u"], expected)
