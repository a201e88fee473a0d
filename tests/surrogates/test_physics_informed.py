"""What PINN and PIG share: PDE parameters as tensors, residual-based resampling,
error-against-time curves, and the parametric mode."""

import numpy as np
import pytest
import torch

import pdeml
from pdeml.problems.burgers_dirichlet import BurgersDirichlet
from pdeml.surrogates.physics_informed import ConstrainedSolution
from pdeml.surrogates.pinn import PINNSurrogate

NET = dict(width=8, depth=2)
TINY = dict(n_collocation=64, adam_steps=3, lbfgs_steps=2)


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
    surrogate = PINNSurrogate(burgers, **NET).fit(
        **TINY, resampling="rad", resample_power=2.0, resample_floor=0.0
    )
    physics = burgers.physics(burgers.sample_inputs(1, 0))
    network = surrogate._make_network(physics.lower, physics.upper).double()
    for p in network.parameters():
        torch.nn.init.zeros_(p)
    solution = ConstrainedSolution(network, physics, hard=True)
    surrogate.settings["n_collocation"] = 2000
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
    first = PINNSurrogate(burgers, **NET).fit(**settings).solve(inputs)["u"]
    second = PINNSurrogate(burgers, **NET).fit(**settings).solve(inputs)["u"]
    np.testing.assert_array_equal(first, second)


def test_error_against_time_curve_is_recorded(burgers):
    inputs = burgers.sample_inputs(1, 0)
    reference = burgers.reference_solver().solve(inputs)
    surrogate = PINNSurrogate(burgers, **NET).fit(**dict(TINY, adam_steps=4, lbfgs_steps=4))
    with pytest.raises(ValueError, match="reference"):
        surrogate.solve(inputs, record_every=2)
    out = surrogate.solve(inputs, reference=reference, record_every=2)["u"]
    curve = np.array(surrogate.last_solve_stats[0]["curve"])
    assert curve.shape[1] == 3 and curve[0, 1] == 0  # step 0: the untrained network
    assert np.all(np.diff(curve[:, 0]) >= 0) and np.all(np.diff(curve[:, 1]) > 0)
    final = np.linalg.norm(out - reference["u"]) / np.linalg.norm(reference["u"])
    assert curve[-1, 2] == pytest.approx(final, rel=1e-9)


def test_parametric_mode_trains_once_and_evaluates_other_values(burgers, tmp_path):
    surrogate = PINNSurrogate(burgers, **NET, parametric={"nu": (0.002, 0.01)})
    inputs = burgers.sample_inputs(1, 0)
    with pytest.raises(ValueError, match="not fitted"):
        surrogate.solve(inputs)
    surrogate.fit(inputs=inputs, **TINY)
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
        PINNSurrogate(burgers, **NET).solve_parameters(nu=[0.01])


def test_every_physics_informed_surrogate_takes_the_common_hyperparameters(burgers):
    from pdeml.surrogates.physics_informed import COMMON_HYPERPARAMETERS, FIT_DEFAULTS
    from pdeml.surrogates.pig import PIGSurrogate

    for cls in (PINNSurrogate, PIGSurrogate):
        assert set(COMMON_HYPERPARAMETERS) <= set(cls.hyperparameter_names())
        stored = cls(burgers, **{k: v for k, v in TINY.items() if k in COMMON_HYPERPARAMETERS})
        assert set(COMMON_HYPERPARAMETERS) <= set(stored.hyperparameters)
        # Every optimisation setting is a fit option, shared by both.
        assert set(FIT_DEFAULTS) <= set(cls.fit_option_names())
        assert not set(FIT_DEFAULTS) & set(cls.hyperparameter_names())


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
    pinn = PINNSurrogate(burgers, **NET).fit(
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
    pinn = PINNSurrogate(burgers, **NET).fit(
        **{**TINY, "adam_steps": 5, "lbfgs_steps": 0}, lr=1e-2, lr_decay=1e-2
    )
    pinn.solve(burgers.sample_inputs(1, 0))
    np.testing.assert_allclose(rates, 1e-2 * np.logspace(0, -2, 5), rtol=1e-12)


@pytest.mark.parametrize("value", [0, 1.5, -0.1])
def test_lr_decay_outside_0_1_is_refused(burgers, value):
    with pytest.raises(ValueError, match="lr_decay"):
        PINNSurrogate(burgers, **NET).fit(**TINY, lr_decay=value)


class _Data:
    def __init__(self, inputs, outputs):
        self.inputs, self.outputs = inputs, outputs


def test_a_validation_dataset_gives_the_curve_of_the_first_query(burgers):
    """fit(valid=...) per instance: the first solved sample that is one of valid's inputs
    logs its error (off the clock) in the common metrics log; the numbers do not change."""
    from pdeml.training.log import RECORD_KEYS

    inputs = burgers.sample_inputs(2, 0)
    reference = burgers.reference_solver().solve(inputs)
    settings = dict(TINY, adam_steps=4, lbfgs_steps=4, log_every=2)
    plain = PINNSurrogate(burgers, **NET).fit(**settings)
    watched = PINNSurrogate(burgers, **NET).fit(None, _Data(inputs, reference), **settings)
    np.testing.assert_array_equal(watched.solve(inputs)["u"], plain.solve(inputs)["u"])
    history = watched.history
    assert [r["step"] for r in history] == [0, 2, 4, 6, 8]
    assert all(set(r) == {*RECORD_KEYS, "valid_metric"} for r in history)
    out = watched.solve(inputs)["u"][0]
    final = np.linalg.norm(out - reference["u"][0]) / np.linalg.norm(reference["u"][0])
    assert history[-1]["valid_metric"] == pytest.approx(final, rel=1e-9)
    assert "valid_metric" not in plain.history[-1]


def test_capabilities_follow_the_mode(burgers):
    from pdeml.surrogates.pig import PIGSurrogate

    for cls in (PINNSurrogate, PIGSurrogate):
        assert cls.capabilities.needs_data is False
        assert cls.capabilities.trains_per_query
    per_query = PINNSurrogate(burgers, **NET)
    assert per_query.capabilities.trains_per_query and not per_query.capabilities.checkpoints
    parametric = PINNSurrogate(burgers, **NET, parametric={"nu": (0.002, 0.01)})
    assert parametric.capabilities.checkpoints and not parametric.capabilities.trains_per_query
    assert per_query.parameter_count() == sum(
        p.numel() for p in per_query._make_network(*per_query._box_of_problem).parameters()
    )
    with pytest.raises(ValueError, match="parametric fit"):
        per_query.fit(out_dir="somewhere")
    with pytest.raises(TypeError, match=r"\['width'\] are hyperparameters"):
        per_query.fit(width=3)


def test_parametric_fit_resumes_from_its_checkpoint(burgers, tmp_path):
    settings = dict(TINY, adam_steps=6, lbfgs_steps=3, checkpoint_every=2, log_every=2)
    hyper = dict(NET, parametric={"nu": (0.002, 0.01)})
    whole = PINNSurrogate(burgers, **hyper).fit(**settings, out_dir=tmp_path / "whole")
    again = PINNSurrogate(burgers, **hyper)
    again.fit(**settings, out_dir=tmp_path / "whole", resume=True)  # finished: no training
    points = torch.rand(10, 3, dtype=torch.float64)
    torch.testing.assert_close(again.networks[0](points), whole.networks[0](points))
    assert (tmp_path / "whole" / "metrics.jsonl").read_text().count("\n") == len(whole.history)
