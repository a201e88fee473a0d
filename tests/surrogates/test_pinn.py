"""The PINN surrogate: refusal of problems without a residual, exact hard constraints,
a quick run on the classic Burgers benchmark, and save/load."""

import numpy as np
import pytest
import torch

import pdeml
from pdeml.problems import Burgers1D
from pdeml.problems.burgers_dirichlet import BurgersDirichlet
from pdeml.surrogates.pinn import MLP, ConstrainedSolution, PINNSurrogate

# Measured on 2 CPU cores (float64, seed 0): relative L2 0.232 against the reference
# solver in ~7 s; an untrained network (hard constraints only, so u = u0 + t(1−x²)N)
# gives 0.68. The bound leaves a margin of ~50 % above the measured value.
NET = dict(width=20, depth=4)
QUICK = dict(n_collocation=2000, adam_steps=300, lbfgs_steps=100)
QUICK_BOUND = 0.35


@pytest.fixture
def burgers():
    return BurgersDirichlet(resolution=33, n_t=5)


@pytest.mark.parametrize("name", ["lorenz96"])
def test_problems_without_a_residual_are_refused_at_construction(name):
    problem = pdeml.problems.problem_class(name)()
    with pytest.raises(ValueError, match="no PDE residual"):
        pdeml.make_surrogate("pinn", problem)


def test_invalid_hyperparameters_are_named(burgers):
    with pytest.raises(ValueError, match="activation"):
        PINNSurrogate(burgers, activation="relu")
    with pytest.raises(ValueError, match="sampling"):
        PINNSurrogate(burgers).fit(sampling="sobol")
    with pytest.raises(ValueError, match="width"):
        PINNSurrogate(burgers, width=0)


def test_registered_and_needs_no_data(burgers):
    assert "pinn" in pdeml.surrogates.available_surrogates()
    surrogate = pdeml.make_surrogate("pinn", burgers)
    assert PINNSurrogate.needs_data is False
    assert surrogate.fit(None, adam_steps=3) is surrogate
    assert surrogate.fit_options == {"adam_steps": 3}
    with pytest.raises(TypeError, match="epochs"):
        surrogate.fit(None, epochs=3)


def test_hard_constraints_only_where_the_physics_allows(burgers):
    assert PINNSurrogate(burgers).uses_hard_constraints
    assert not PINNSurrogate(burgers, hard_constraints=False).uses_hard_constraints
    periodic = Burgers1D(resolution=32, solver_resolution=64)
    assert not PINNSurrogate(periodic).uses_hard_constraints


@pytest.mark.parametrize("activation", ["tanh", "sin"])
def test_hard_constraints_hold_exactly_for_an_untrained_network(burgers, activation):
    physics = burgers.physics(burgers.sample_inputs(1, 0))
    torch.manual_seed(0)
    net = MLP(physics.lower, physics.upper, 20, 4, activation).double()
    solution = ConstrainedSolution(net, physics, hard=True)
    initial = physics.initial_residual(solution, physics.sample_initial(200, 1))
    boundary = physics.boundary_residual(solution, physics.sample_boundary(200, 2))
    assert initial.abs().max().item() < 1e-12
    assert boundary.abs().max().item() < 1e-12
    # the network does matter inside the domain
    inside = torch.tensor([[0.3, 0.5]], dtype=torch.float64)
    assert abs(solution(inside).item() + np.sin(np.pi * 0.3)) > 1e-6


@pytest.mark.slow
def test_quick_run_on_the_burgers_benchmark(burgers):
    inputs = burgers.sample_inputs(1, 0)
    reference = burgers.reference_solver().solve(inputs)["u"]

    def error(prediction):
        return np.linalg.norm(prediction - reference) / np.linalg.norm(reference)

    surrogate = pdeml.make_surrogate("pinn", burgers, **NET).fit(**QUICK)
    prediction = surrogate.solve(inputs)["u"]
    assert prediction.shape == reference.shape == (1, 5, 33)
    assert error(prediction) < QUICK_BOUND
    (stats,) = surrogate.last_solve_stats
    assert stats["time_s"] > 0 and np.isfinite(stats["loss"])

    untrained = pdeml.make_surrogate("pinn", burgers, **NET)
    untrained.fit(**{**QUICK, "adam_steps": 0, "lbfgs_steps": 0})
    assert error(untrained.solve(inputs)["u"]) > QUICK_BOUND


def test_soft_constraints_train_and_report_every_term(burgers):
    surrogate = PINNSurrogate(burgers, width=8, depth=2, hard_constraints=False).fit(
        n_collocation=64,
        n_boundary=16,
        n_initial=16,
        adam_steps=5,
        lbfgs_steps=3,
        sampling="latin",
    )
    out = surrogate.solve(burgers.sample_inputs(1, 0))["u"]
    assert out.shape == (1, 5, 33) and np.all(np.isfinite(out))
    assert {"loss_residual", "loss_boundary", "loss_initial"} <= set(surrogate.last_solve_stats[0])


def test_save_load_round_trip(burgers, tmp_path):
    hyper = dict(width=6, depth=2, activation="sin")
    settings = dict(n_collocation=32, adam_steps=2, lbfgs_steps=0, seed=3)
    surrogate = PINNSurrogate(burgers, **hyper).fit(**settings)
    surrogate.save(tmp_path / "empty")
    restored = pdeml.surrogates.load_surrogate(tmp_path / "empty")
    assert isinstance(restored, PINNSurrogate) and restored.networks == []
    for key, value in hyper.items():
        assert restored.hyperparameters[key] == value
    for key, value in settings.items():
        assert restored.settings[key] == value

    surrogate.solve(burgers.sample_inputs(1, 0))
    surrogate.save(tmp_path / "run")
    assert (tmp_path / "run" / "model.pt").is_file()
    restored = PINNSurrogate.load(tmp_path / "run")
    assert restored.hyperparameters == surrogate.hyperparameters
    assert restored.last_solve_stats == surrogate.last_solve_stats
    points = torch.rand(10, 2, dtype=torch.float64)
    torch.testing.assert_close(restored.networks[0](points), surrogate.networks[0](points))


def test_other_problems_get_their_output_shapes(small_darcy):
    periodic = Burgers1D(resolution=32, solver_resolution=64, n_t=3)
    tiny = dict(n_collocation=64, adam_steps=3, lbfgs_steps=2)
    out = PINNSurrogate(periodic, width=8, depth=2).fit(**tiny).solve(periodic.sample_inputs(2, 0))
    periodic.check_outputs(out)
    assert out["u"].shape == (2, 32) and out["u_traj"].shape == (2, 3, 32)
    # u is the final-time snapshot, the last of the trajectory
    np.testing.assert_allclose(out["u"], out["u_traj"][:, -1], atol=1e-12)

    darcy = PINNSurrogate(small_darcy, width=8, depth=2).fit(**tiny)
    assert darcy.uses_hard_constraints  # steady: u = b(x, y) N(x, y)
    u = darcy.solve(small_darcy.sample_inputs(1, 0))["u"][0]
    for edge in (u[0], u[-1], u[:, 0], u[:, -1]):
        assert np.abs(edge).max() < 1e-12
