"""Resolution invariance of the FNO: no kept mode is left untrained at the training grid.

A mode the training grid does not hold (beyond it, or its Nyquist frequency) keeps weights
that get no gradient there and act at a finer grid: on the FNO authors' Darcy files, modes
12 trained at 16² gave a zero-shot error of 0.37 at 32² against 0.10 at 16²
(validation/reports/resolution_invariance.md). The check below is that mechanism: every
spectral weight with a gradient at twice the grid has one at the grid.
"""

from dataclasses import dataclass

import numpy as np
import pytest
import torch

import pdeml
from pdeml.nn.fourier import FNO, supported_modes
from pdeml.problems import Burgers1D


def untrained_weights(net: torch.nn.Module, n: int, dims: int) -> int:
    """Spectral weight entries (real and imaginary parts) with no gradient at ``n`` points
    per direction but a gradient at ``2 n`` (the same inputs, spectrally interpolated)."""
    torch.manual_seed(1)
    axes = tuple(range(2, 2 + dims))
    coarse = torch.randn(3, 1, *[n] * dims)
    fine = torch.fft.irfftn(torch.fft.rfftn(coarse, dim=axes), s=[2 * n] * dims, dim=axes)
    grads = []
    for x in (coarse, fine * 2**dims):
        net.zero_grad()
        net(x).square().sum().backward()
        grads.append(torch.stack([torch.view_as_real(s.weight.grad).abs() for s in net.spectral]))
    return int(((grads[0] < 1e-12) & (grads[1] > 1e-9)).sum())


CASES = [(1, True, 0, [9]), (2, False, 0.1, [9, 10]), (2, True, 0, [8, 9])]


@pytest.mark.parametrize("dims, periodic, padding, nyquist", CASES)
def test_supported_modes_all_train(dims, periodic, padding, nyquist):
    n = 16
    held = supported_modes([n] * dims, [padding] * dims)
    for modes, expected_zero in ((held, True), (nyquist, False)):
        torch.manual_seed(0)
        net = FNO(1, 1, modes, width=4, layers=2, padding=[padding] * dims,
                  periodic=[periodic] * dims, projection=8)  # fmt: skip
        count = untrained_weights(net, n, dims)
        # The Nyquist case shows the check can fail: its weights switch on at 2n.
        assert (count == 0) == expected_zero, (modes, count)


def test_supported_modes_values():
    assert supported_modes([16, 16], [0.1, 0.1]) == [8, 9]  # padded to 18
    assert supported_modes([16, 16]) == [7, 8]
    assert supported_modes([256]) == [128]
    assert supported_modes([43, 43], [0.1, 0.1]) == [23, 24]  # padded to 48


@dataclass
class Fields:
    """A dataset in memory (what ``fit`` reads): random fields, no solver to compile."""

    problem: Burgers1D
    inputs: dict
    outputs: dict

    def __len__(self) -> int:
        return 6


@pytest.mark.slow  # 1-14 s: run first in a session it pays the trainer's lazy imports
def test_fit_clips_modes_the_training_grid_does_not_train(tmp_path):
    problem = Burgers1D(resolution=16, solver_resolution=32)
    rng = np.random.default_rng(0)
    fields = [
        {k: rng.standard_normal((6, 16)) for k in names}
        for names in (problem.input_names, problem.output_names)
    ]
    ds = Fields(problem, *fields)
    # 9 = 16 // 2 + 1 is the Nyquist frequency: allowed by the constructor, not trained.
    fno = pdeml.make_surrogate("fno", problem, modes=9, width=4, layers=2, projection=8)
    with pytest.warns(UserWarning, match=r"modes \[9\].*16 points.*clipped to \[8\]"):
        fno.fit(ds, epochs=1, batch_size=3, progress=False)
    assert fno.hyperparameters["modes"] == [8]
    assert untrained_weights(fno._fitted_model().network, 16, 1) == 0
    fno.save(tmp_path / "run")
    loaded = pdeml.load_surrogate(tmp_path / "run")
    assert loaded.hyperparameters["modes"] == [8]


@pytest.mark.parametrize("grid", ["burgers", "darcy"])
def test_default_networks_train_every_mode_on_a_coarse_grid(grid, small_darcy):
    """The surrogate's defaults (modes 16 in 1D, 12 in 2D, the padding) on grids too coarse
    for them: every spectral weight that acts at twice the grid trains at the grid."""
    if grid == "burgers":
        problem, n, held = Burgers1D(resolution=16, solver_resolution=32), 16, [5]
    else:
        problem, n, held = small_darcy, 15, [6, 6]  # 15 + 2 padded to 18, a third
    fno = pdeml.make_surrogate("fno", problem, width=4, layers=2, projection=8)
    torch.manual_seed(0)
    net = fno.build_network(1, 1)
    assert untrained_weights(net, n, len(held)) == 0
    assert fno.hyperparameters["modes"] == held
