"""What PINN and PIG share: PDE parameters as tensors, residual-based resampling,
error-against-time curves, and the parametric mode."""

import numpy as np
import pytest
import torch

import pdeml
from pdeml.problems.burgers_dirichlet import BurgersDirichlet
from pdeml.surrogates.physics_informed import ConstrainedSolution
from pdeml.surrogates.pinn import PINNSurrogate

TINY = dict(width=8, depth=2, n_collocation=64, adam_steps=3, lbfgs_steps=2)


@pytest.fixture
def burgers():
    return BurgersDirichlet(resolution=33, n_t=5)


def test_residual_with_parameter_tensor_matches_the_problem_with_that_value(burgers):
    """A per-point ν reproduces the residual of the problem rebuilt with that ν."""
    inputs = burgers.sample_inputs(1, 0)
    physics = burgers.physics(inputs)
    assert physics.parameters == {"nu": pytest.approx(burgers.nu)}
    points = physics.sample_collocation(50, 1)

    def u_fn(p):
        return (torch.sin(3 * p[:, :1]) * torch.exp(-p[:, 1:]) + p[:, :1] ** 3) ** 2

    nu = torch.full((50,), 0.05, dtype=torch.float64)
    other = burgers.replace(nu=0.05).physics(inputs)
    torch.testing.assert_close(
        physics.residual(u_fn, points, {"nu": nu}), other.residual(u_fn, points), rtol=0, atol=1e-13
    )
    with pytest.raises(ValueError, match="unknown PDE parameter"):
        physics.residual(u_fn, points, {"viscosity": nu})


def test_darcy_forcing_is_a_parameter(small_darcy):
    physics = small_darcy.physics(small_darcy.sample_inputs(1, 0))
    points = physics.sample_collocation(20, 0)

    def u_fn(p):
        return p[:, :1] * 0.0

    # For u = 0 the residual is −f, whatever the coefficient.
    out = physics.residual(u_fn, points, {"forcing": torch.full((20,), 3.0, dtype=torch.float64)})
    torch.testing.assert_close(out, torch.full((20,), -3.0, dtype=torch.float64))


def test_rad_resampling_gathers_points_where_the_residual_is_large(burgers):
    """With N = 0 the hard-constrained candidate is u = −sin(πx) for all t, whose residual
    π sin(πx) cos(πx) − νπ² sin(πx) is, up to the tiny ν term, (π/2) sin(2πx). Drawing with
    density ∝ |r|² makes the mean |r| of the drawn points E|s|³/E s² = (4/3π)/(1/2) = 0.849
    (in units of π/2) against E|s| = 2/π = 0.637 for uniform points: a ratio of 1.33. The
    bound 1.2 leaves room for the sampling noise of 2000 points (standard error ~1 %)."""
    surrogate = PINNSurrogate(
        burgers, **TINY, resampling="rad", resample_power=2.0, resample_floor=0.0
    )
    physics = burgers.physics(burgers.sample_inputs(1, 0))
    network = surrogate._make_network(physics.lower, physics.upper).double()
    for p in network.parameters():
        torch.nn.init.zeros_(p)
    solution = ConstrainedSolution(network, physics, hard=True)
    surrogate.hyperparameters["n_collocation"] = 2000
    drawn = surrogate._resample(solution, physics, seed=0, dtype=torch.float64)
    uniform = physics.sample_collocation(2000, 5).requires_grad_(True)

    def mean_residual(points):
        return physics.residual(solution, points).detach().abs().mean().item()

    assert drawn.shape == (2000, 2)
    assert mean_residual(drawn) / mean_residual(uniform) > 1.2


@pytest.mark.parametrize("resampling", ["uniform", "rad"])
def test_training_with_resampling_runs_and_is_reproducible(burgers, resampling):
    settings = dict(TINY, adam_steps=6, resampling=resampling, resample_every=2)
    inputs = burgers.sample_inputs(1, 0)
    first = PINNSurrogate(burgers, **settings).solve(inputs)["u"]
    second = PINNSurrogate(burgers, **settings).solve(inputs)["u"]
    np.testing.assert_array_equal(first, second)


def test_error_against_time_curve_is_recorded(burgers):
    inputs = burgers.sample_inputs(1, 0)
    reference = burgers.reference_solver().solve(inputs)
    surrogate = PINNSurrogate(burgers, **dict(TINY, adam_steps=4, lbfgs_steps=4))
    with pytest.raises(ValueError, match="reference"):
        surrogate.solve(inputs, record_every=2)
    out = surrogate.solve(inputs, reference=reference, record_every=2)["u"]
    curve = np.array(surrogate.last_solve_stats[0]["curve"])
    assert curve.shape[1] == 3 and curve[0, 1] == 0  # step 0: the untrained network
    assert np.all(np.diff(curve[:, 0]) >= 0) and np.all(np.diff(curve[:, 1]) > 0)
    final = np.linalg.norm(out - reference["u"]) / np.linalg.norm(reference["u"])
    assert curve[-1, 2] == pytest.approx(final, rel=1e-9)


def test_parametric_mode_trains_once_and_evaluates_other_values(burgers, tmp_path):
    surrogate = PINNSurrogate(burgers, **TINY, parametric={"nu": (0.002, 0.01)})
    inputs = burgers.sample_inputs(1, 0)
    with pytest.raises(ValueError, match="not fitted"):
        surrogate.solve(inputs)
    surrogate.fit(inputs=inputs)
    own = surrogate.solve(inputs)["u"]
    assert own.shape == (1, 5, 33)
    many = surrogate.solve_parameters(nu=[0.002, burgers.nu, 0.01])["u"]
    assert many.shape == (3, 5, 33)
    np.testing.assert_allclose(many[1], own[0], rtol=0, atol=1e-12)
    assert np.abs(many[0] - many[2]).max() > 0  # the parameter reaches the network
    with pytest.raises(ValueError, match="trained range"):
        surrogate.solve_parameters(nu=[0.5])
    with pytest.raises(ValueError, match="fitted for one input"):
        surrogate.solve({"u0": inputs["u0"] * 2})

    surrogate.save(tmp_path / "run")
    restored = pdeml.surrogates.load_surrogate(tmp_path / "run")
    np.testing.assert_allclose(restored.solve(inputs)["u"], own, rtol=0, atol=1e-12)


def test_parametric_names_must_be_pde_parameters(burgers):
    with pytest.raises(ValueError, match="no PDE parameter"):
        PINNSurrogate(burgers, parametric={"T": (0.5, 1.0)})
    with pytest.raises(ValueError, match="low < high"):
        PINNSurrogate(burgers, parametric={"nu": (0.01, 0.001)})
    with pytest.raises(ValueError, match="not parametric"):
        PINNSurrogate(burgers, **TINY).solve_parameters(nu=[0.01])


def test_every_physics_informed_surrogate_takes_the_common_hyperparameters(burgers):
    from pdeml.surrogates.physics_informed import COMMON_HYPERPARAMETERS
    from pdeml.surrogates.pig import PIGSurrogate

    for cls in (PINNSurrogate, PIGSurrogate):
        assert set(COMMON_HYPERPARAMETERS) <= set(cls.hyperparameter_names())
        stored = cls(burgers, **{k: v for k, v in TINY.items() if k in COMMON_HYPERPARAMETERS})
        assert set(COMMON_HYPERPARAMETERS) <= set(stored.hyperparameters)


@pytest.mark.parametrize("every, expected", [(0, 0), (4, 2)])
def test_lbfgs_restarts_on_fresh_points_when_asked(burgers, monkeypatch, every, expected):
    """``lbfgs_resample_every=4`` over 12 iterations redraws the points twice (after 4 and
    8) and restarts L-BFGS; 0 keeps them fixed. The iteration count spans the restarts."""
    calls = []
    original = PINNSurrogate._resample

    def counting(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(PINNSurrogate, "_resample", counting)
    pinn = PINNSurrogate(
        burgers,
        **{**TINY, "adam_steps": 0, "lbfgs_steps": 12},
        resampling="rad",
        lbfgs_resample_every=every,
    )
    pinn.solve(burgers.sample_inputs(1, 0))
    assert len(calls) == expected
    assert pinn.last_solve_stats[0]["lbfgs_iterations"] == 12


def test_lr_decay_reaches_its_factor_at_the_last_adam_step(burgers, monkeypatch):
    """The rate of every Adam step is recorded: the first is ``lr``, the last ``lr * lr_decay``
    and they fall geometrically in between."""
    rates = []
    original = torch.optim.Adam.step

    def recording(self, *args, **kwargs):
        rates.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", recording)
    pinn = PINNSurrogate(
        burgers, **{**TINY, "adam_steps": 5, "lbfgs_steps": 0}, lr=1e-2, lr_decay=1e-2
    )
    pinn.solve(burgers.sample_inputs(1, 0))
    np.testing.assert_allclose(rates, 1e-2 * np.logspace(0, -2, 5), rtol=1e-12)


@pytest.mark.parametrize("value", [0, 1.5, -0.1])
def test_lr_decay_outside_0_1_is_refused(burgers, value):
    with pytest.raises(ValueError, match="lr_decay"):
        PINNSurrogate(burgers, **TINY, lr_decay=value)
