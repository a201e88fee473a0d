"""The NSM surrogate: contract (refusal, save/load, any-resolution solve) and quick fits
on Burgers and Darcy trained with the spectral loss only, scored against the reference."""

import numpy as np
import pytest
import torch

import pdeml
from pdeml.problems import Burgers1D, Darcy2D, Poisson2D
from pdeml.surrogates.nsm import NSMSurrogate


class _Data:
    def __init__(self, inputs, outputs):
        self.inputs, self.outputs = inputs, outputs


def _reference(problem, n, seed):
    inputs = problem.sample_inputs(n, seed, resolution=problem.solver_resolution)
    outputs = problem.reference_solver().solve(inputs)
    r, s = problem.solver_resolution, problem.resolution
    return problem.restrict(inputs, r, s), problem.restrict(outputs, r, s)


def _error(pred, ref):
    d = (pred - ref).reshape(len(ref), -1)
    return float(
        np.mean(np.linalg.norm(d, axis=1) / np.linalg.norm(ref.reshape(len(ref), -1), axis=1))
    )


@pytest.fixture
def burgers():
    # T = 0.2: at the default T = 1 the solution decays to ~2 % of u0 and the stiff
    # initial layer needs many Chebyshev modes (see docs/surrogates/nsm.md).
    return Burgers1D(T=0.2, resolution=64, solver_resolution=256)


@pytest.fixture
def darcy():
    return Darcy2D(coefficient="lognormal", resolution=33, solver_resolution=129, n_modes=8)


SMALL = dict(kept=8, width=16, layers=3)


def test_refuses_problems_without_a_spectral_form():
    with pytest.raises(ValueError, match="no spectral form"):
        pdeml.make_surrogate("nsm", pdeml.problems.problem_class("lorenz96")())


def test_bad_hyperparameters_are_named(burgers):
    with pytest.raises(ValueError, match="activation"):
        NSMSurrogate(burgers, activation="relu6")
    with pytest.raises(ValueError, match="loss"):
        NSMSurrogate(burgers, loss="mse")
    with pytest.raises(ValueError, match="modes"):
        NSMSurrogate(burgers, modes=(2, 8))
    with pytest.raises(ValueError, match="width"):
        NSMSurrogate(burgers, width=0)
    for bad in (0.0, -1.0, float("nan"), "big", True):
        with pytest.raises(ValueError, match="output_scale"):
            NSMSurrogate(burgers, output_scale=bad)
    assert NSMSurrogate.needs_data is False


@pytest.mark.slow
def test_quick_fit_burgers_spectral_loss(burgers, tmp_path):
    # Measured (2 shared CPU cores): relative L2 0.25 after 150 steps (~10 s), 1.8 untrained.
    inputs, ref = _reference(burgers, 4, 123)
    nsm = NSMSurrogate(burgers, modes=(12, 12), **SMALL)
    nsm.fit(n_train=64, steps=150, batch_size=16, lr=3e-3, device="cpu")
    error = _error(nsm.solve(inputs)["u"], ref["u"])
    assert error < 0.4
    # The series evaluates on any grid: a finer grid holds the coarse one.
    fine = nsm.solve(inputs, resolution=128)["u"]
    assert np.allclose(fine[:, ::2], nsm.solve(inputs)["u"], atol=1e-5)
    # save / load round trip gives the same predictions
    loaded = pdeml.surrogates.load_surrogate(nsm.save(tmp_path / "run"))
    assert np.allclose(loaded.solve(inputs)["u"], nsm.solve(inputs)["u"], atol=1e-6)


@pytest.mark.slow
def test_quick_fit_darcy_spectral_loss(darcy):
    # Measured: relative L2 0.12 after 150 steps (~5 s); an untrained network gives 4.4.
    inputs, ref = _reference(darcy, 4, 123)
    nsm = NSMSurrogate(darcy, modes=12, **SMALL)
    nsm.fit(None, _Data(inputs, ref), n_train=64, steps=150, batch_size=16, lr=3e-3, device="cpu")
    pred = nsm.solve(inputs)["u"]
    assert _error(pred, ref["u"]) < 0.25
    assert np.abs(pred[:, 0]).max() < 1e-6  # Dirichlet condition by construction
    assert "valid_metric" in nsm.history[-1]


@pytest.mark.slow
def test_quick_fit_darcy_preconditioned_loss(darcy):
    # Measured, 150 steps, seeds 0/1/2: preconditioned 0.038/0.042/0.078, plain spectral
    # loss 0.133/0.103/0.136 (same settings). The bound 0.08 is twice seed 0's error and
    # below every plain-loss run, so an inverse that did nothing useful would fail it.
    inputs, ref = _reference(darcy, 4, 123)
    nsm = NSMSurrogate(darcy, modes=12, loss="preconditioned", **SMALL)
    nsm.fit(n_train=64, steps=150, batch_size=16, lr=3e-3, device="cpu", seed=0)
    assert _error(nsm.solve(inputs)["u"], ref["u"]) < 0.08


@pytest.mark.slow
def test_quick_fit_darcy_galerkin_loss(darcy):
    # Galerkin loss, ReLU, output in units of the solution's size, lr 1e-2, 150 steps:
    # measured 0.025/0.024/0.021 for seeds 0/1/2 (a one-off run of these settings); the
    # bound is twice the worst. The loss's own floor at 12 modes is 2e-4
    # (tests/spectral/test_forms.py), so the network's training is what this checks.
    inputs, ref = _reference(darcy, 4, 123)
    nsm = NSMSurrogate(
        darcy, modes=12, loss="galerkin", activation="relu", output_scale="auto", **SMALL
    )
    nsm.fit(n_train=64, steps=150, batch_size=16, lr=1e-2, device="cpu", seed=0)
    assert _error(nsm.solve(inputs)["u"], ref["u"]) < 0.05


def test_galerkin_loss_needs_a_galerkin_projection(burgers):
    with pytest.raises(ValueError, match=r"loss='galerkin'.*'burgers'"):
        NSMSurrogate(burgers, loss="galerkin")


@pytest.mark.slow
def test_quick_fit_periodic_poisson_spectral_loss(tmp_path):
    # The NSM paper's periodic Poisson case at CPU size, with the paper's ReLU and the
    # output in units of the solution's size. 150 steps gave 8.1e-3, 2.0e-2, 1.3e-2 (seeds
    # 0–2; 0.34, 2.3e-2, 0.13 with output_scale = 1); 0.05 is 2.5x the worst seen.
    p = Poisson2D(resolution=32, solver_resolution=32)
    inputs, ref = _reference(p, 8, 100)
    nsm = NSMSurrogate(
        p, modes=8, kept=8, width=16, layers=3, activation="relu", output_scale="auto"
    )
    nsm.fit(n_train=64, steps=150, batch_size=16, lr=1e-2, device="cpu", seed=0)
    assert _error(nsm.solve(inputs)["u"], ref["u"]) < 0.05
    # the scale is part of the saved model
    loaded = pdeml.surrogates.load_surrogate(nsm.save(tmp_path / "run"))
    assert loaded.model.output_scale.item() == nsm.model.output_scale.item() != 1.0
    assert np.allclose(loaded.solve(inputs)["u"], nsm.solve(inputs)["u"], atol=1e-7)


def test_auto_output_scale_is_the_solution_norm_on_a_linear_problem():
    # For −Δu = s the linearised solution is the solution: the scale is the RMS over the
    # samples of ‖u‖_L², which the grid mean of u² gives exactly for band-limited u.
    from pdeml.surrogates.nsm import _free_scale

    p = Poisson2D(resolution=32, solver_resolution=32)
    inputs = p.sample_inputs(6, 2)
    u = p.reference_solver().solve(inputs)["u"]
    expected = np.sqrt(np.mean(np.mean(u**2, axis=(1, 2))))
    assert abs(_free_scale(p.spectral_form(inputs, 8)) / expected - 1) < 1e-10


def test_collocation_loss_baseline_runs(darcy):
    nsm = NSMSurrogate(darcy, modes=8, loss="collocation", **SMALL)
    nsm.fit(n_train=8, steps=3, batch_size=4, device="cpu")
    assert np.isfinite(nsm.history[-1]["train_loss"])


def test_trajectory_output_ends_at_the_final_snapshot():
    problem = Burgers1D(T=0.2, resolution=32, solver_resolution=64, n_t=4)
    nsm = NSMSurrogate(problem, modes=(8, 8), **SMALL)
    nsm.fit(n_train=8, steps=2, batch_size=4, device="cpu")
    out = nsm.solve(problem.sample_inputs(2, 1))
    assert out["u_traj"].shape == (2, 4, 32)
    # T_j(1) = 1: the series at t = T evaluated two ways
    assert np.allclose(out["u_traj"][:, -1], out["u"], atol=1e-5)


def test_navier_stokes_smoke():
    from pdeml.problems.navier_stokes import NavierStokes2D

    problem = NavierStokes2D(nu=1e-2, T=3, t_in=1, resolution=16, solver_resolution=32, dt=1e-3)
    nsm = NSMSurrogate(problem, modes=(6, 6, 6), **SMALL)
    nsm.fit(n_train=4, steps=2, batch_size=2, device="cpu")
    inputs = problem.sample_inputs(2, 1)
    out = nsm.solve(inputs)["w_out"]
    assert out.shape == (2, 2, 16, 16) and np.all(np.isfinite(out))


def test_navier_stokes_collocation_residual_second_order():
    # The finite-difference residual of the collocation baseline, on the steady field
    # w = sin 2πx + cos 4πy (exact residual by hand: 1.5 cos 2πx sin 4πy + ν(4π² sin 2πx
    # + 16π² cos 4πy)), must converge at order 2 in h: the observed order from h = 1/16 to
    # 1/32 is checked to lie in [1.8, 2.2] (the error is dominated by the h² term).
    from pdeml.problems.navier_stokes import NavierStokes2D

    p = NavierStokes2D(nu=1e-2, T=3, t_in=1, forcing_amplitude=0.0, resolution=16)
    x = np.arange(16) / 16
    X, Y = np.meshgrid(x, x, indexing="ij")
    w = np.sin(2 * np.pi * X) + np.cos(4 * np.pi * Y)
    form = p.spectral_form({"w_in": w[None, None]}, modes=(5, 5, 4))
    fx, fy, _ = form.solution_bases
    u = torch.zeros(1, fx.size, fy.size, 4, dtype=torch.complex128)
    u[..., 0] = form.w0
    errors = []
    for n in (16, 32):
        r = form.fd_residual(form.grid_values(u, n, 8))[0].numpy()
        g = np.arange(n) / n
        gx, gy = np.meshgrid(g, g, indexing="ij")
        exact = 1.5 * np.cos(2 * np.pi * gx) * np.sin(4 * np.pi * gy) + p.nu * (
            4 * np.pi**2 * np.sin(2 * np.pi * gx) + 16 * np.pi**2 * np.cos(4 * np.pi * gy)
        )
        errors.append(np.abs(r - exact[..., None]).max())
    order = np.log2(errors[0] / errors[1])
    assert 1.8 < order < 2.2, (errors, order)
    loss = form.collocation_loss(u)
    assert loss.shape == (1,) and torch.isfinite(loss).all()


@pytest.mark.parametrize(
    "dtype, complex_dtype", [("float32", "complex64"), ("float64", "complex128")]
)
def test_complex_fourier_weights_keep_their_imaginary_part(burgers, dtype, complex_dtype, tmp_path):
    # Module.to(float64) would cast complex weights to real, dropping the phase shifts.
    nsm = NSMSurrogate(burgers, modes=(8, 8), kept=4, width=4, layers=1, dtype=dtype)
    nsm.fit(n_train=4, steps=1, batch_size=4, device="cpu")
    complex_weights = [p for p in nsm.model.parameters() if p.is_complex()]
    assert complex_weights and all(
        str(p.dtype) == f"torch.{complex_dtype}" for p in complex_weights
    )
    assert any(p.imag.abs().max() > 0 for p in complex_weights)
    loaded = pdeml.surrogates.load_surrogate(nsm.save(tmp_path / dtype))
    assert [p.dtype for p in loaded.model.parameters()] == [p.dtype for p in nsm.model.parameters()]


def test_training_goes_through_the_engine_log_and_resume(tmp_path, monkeypatch):
    from pdeml.training.log import RECORD_KEYS

    problem = Burgers1D(T=0.2, resolution=32, solver_resolution=64)
    inputs, ref = _reference(problem, 2, 3)
    settings = dict(n_train=8, steps=6, batch_size=3, device="cpu", log_every=2)
    whole = NSMSurrogate(problem, modes=(8, 8), **SMALL)
    whole.fit(None, _Data(inputs, ref), **settings, out_dir=tmp_path / "whole")
    assert [r["step"] for r in whole.history] == [0, 2, 4, 6]
    assert all(set(r) == {*RECORD_KEYS, "valid_metric"} for r in whole.history)
    assert whole.history[2]["epoch"] == 2  # 8 inputs in batches of 3: 2 steps per pass
    assert NSMSurrogate.capabilities.checkpoints and not NSMSurrogate.capabilities.needs_data
    # Killed during step 5 (after the checkpoint of step 4), resumed: the same weights as
    # one whole run.
    killed = NSMSurrogate(problem, modes=(8, 8), **SMALL)
    original, calls = NSMSurrogate._loss, []

    def dies(self, form, u):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return original(self, form, u)

    monkeypatch.setattr(NSMSurrogate, "_loss", dies)
    with pytest.raises(KeyboardInterrupt):
        killed.fit(**settings, checkpoint_every=2, out_dir=tmp_path / "run")
    monkeypatch.setattr(NSMSurrogate, "_loss", original)
    resumed = NSMSurrogate(problem, modes=(8, 8), **SMALL)
    resumed.fit(**settings, checkpoint_every=2, out_dir=tmp_path / "run", resume=True)
    for a, b in zip(resumed.model.parameters(), whole.model.parameters()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="other settings"):
        resumed.fit(**{**settings, "lr": 1e-2}, out_dir=tmp_path / "run", resume=True)
    with pytest.raises(TypeError, match="epochs"):
        resumed.fit(epochs=3)
