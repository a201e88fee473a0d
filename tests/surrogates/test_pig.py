"""Physics-Informed Gaussians: the embedding against a direct formula, exact constraints,
a quick Burgers run, and save/load."""

import numpy as np
import pytest
import torch

import pdeml
from pdeml.problems.burgers_dirichlet import BurgersDirichlet
from pdeml.surrogates.physics_informed import ConstrainedSolution
from pdeml.surrogates.pig import GaussianEmbedding, PIGSurrogate

# Measured on 2 shared CPU cores (float64, seed 0, the default RAD resampling every 50
# steps, one learning rate 1e-2): relative L2 0.250 against the reference solver in ~35 s
# with other jobs running; the untrained network (hard constraints only) gives 0.68. The
# bound leaves ~60 % margin.
QUICK = dict(n_collocation=2000, adam_steps=200, lbfgs_steps=100)
QUICK_BOUND = 0.4


@pytest.fixture
def burgers():
    return BurgersDirichlet(resolution=33, n_t=5)


def direct(embedding: GaussianEmbedding, points: torch.Tensor) -> torch.Tensor:
    """Σ_i f_i exp(−½ (x − μ_i)ᵀ A_i (x − μ_i)) by broadcasting, no expansion."""
    x = (points - embedding.center) / embedding.half_width
    diff = x[:, None, :] - embedding.means[None]  # [m, N, d]
    a = embedding.precision()
    quadratic = torch.einsum("mni,nij,mnj->mn", diff, a, diff)
    return torch.exp(-0.5 * quadratic) @ embedding.features


@pytest.mark.parametrize("covariance", ["diagonal", "full"])
def test_embedding_matches_the_direct_formula(covariance):
    torch.manual_seed(0)
    embedding = GaussianEmbedding((-1.0, 0.0), (1.0, 2.0), 30, 3, covariance, 0.4).double()
    if covariance == "full":
        with torch.no_grad():
            embedding.off_diagonal.normal_(0.0, 1.0)
    a = embedding.precision()
    torch.testing.assert_close(a, a.transpose(1, 2))
    assert torch.linalg.eigvalsh(a).min() > 0
    points = torch.rand(40, 2, dtype=torch.float64) * torch.tensor([2.0, 2.0]) - torch.tensor(
        [1.0, 0.0]
    )
    # Expansion and direct form differ by rounding only: |x|, |μ| ≤ 1 and A ~ 1/σ² = 6.
    torch.testing.assert_close(embedding(points), direct(embedding, points), rtol=0, atol=1e-12)


def test_full_with_zero_off_diagonal_equals_diagonal():
    torch.manual_seed(1)
    diagonal = GaussianEmbedding((0.0, 0.0), (1.0, 1.0), 10, 2, "diagonal", 0.2).double()
    full = GaussianEmbedding((0.0, 0.0), (1.0, 1.0), 10, 2, "full", 0.2).double()
    with torch.no_grad():
        full.means.copy_(diagonal.means)
        full.features.copy_(diagonal.features)
    points = torch.rand(25, 2, dtype=torch.float64)
    torch.testing.assert_close(full(points), diagonal(points), rtol=0, atol=1e-13)


def test_hard_constraints_hold_for_an_untrained_pig(burgers):
    surrogate = PIGSurrogate(burgers, n_gaussians=20)
    physics = burgers.physics(burgers.sample_inputs(1, 0))
    torch.manual_seed(0)
    network = surrogate._make_network(physics.lower, physics.upper).double()
    solution = ConstrainedSolution(network, physics, hard=True)
    initial = physics.initial_residual(solution, physics.sample_initial(100, 1))
    boundary = physics.boundary_residual(solution, physics.sample_boundary(100, 2))
    assert initial.abs().max().item() < 1e-12 and boundary.abs().max().item() < 1e-12


def test_invalid_hyperparameters_are_named(burgers):
    with pytest.raises(ValueError, match="covariance"):
        PIGSurrogate(burgers, covariance="spherical")
    with pytest.raises(ValueError, match="sigma"):
        PIGSurrogate(burgers, sigma=0)
    with pytest.raises(ValueError, match="n_gaussians"):
        PIGSurrogate(burgers, n_gaussians=0)


def test_refuses_problems_without_a_residual():
    with pytest.raises(ValueError, match="no PDE residual"):
        pdeml.make_surrogate("pig", pdeml.problems.problem_class("lorenz96")())


@pytest.mark.slow
def test_quick_run_on_the_burgers_benchmark(burgers):
    inputs = burgers.sample_inputs(1, 0)
    reference = burgers.reference_solver().solve(inputs)["u"]
    pig = pdeml.make_surrogate("pig", burgers, n_gaussians=100).fit(**QUICK)
    prediction = pig.solve(inputs)["u"]
    error = np.linalg.norm(prediction - reference) / np.linalg.norm(reference)
    assert error < QUICK_BOUND


def test_save_load_round_trip(burgers, tmp_path):
    settings = dict(n_collocation=32, adam_steps=2, lbfgs_steps=0)
    pig = PIGSurrogate(burgers, n_gaussians=12, covariance="full").fit(**settings)
    pig.solve(burgers.sample_inputs(1, 0))
    pig.save(tmp_path / "run")
    restored = pdeml.surrogates.load_surrogate(tmp_path / "run")
    assert isinstance(restored, PIGSurrogate)
    points = torch.rand(10, 2, dtype=torch.float64)
    torch.testing.assert_close(restored.networks[0](points), pig.networks[0](points))


def test_gaussians_and_mlp_train_at_their_own_rates(burgers):
    pig = PIGSurrogate(burgers, n_gaussians=10).fit(lr=0.05, lr_network=0.002)
    physics = burgers.physics(burgers.sample_inputs(1, 0))
    network = pig._make_network(physics.lower, physics.upper)
    groups = pig._adam_groups(network)
    optimizer = torch.optim.Adam(groups, lr=pig.settings["lr"])
    rates = [g["lr"] for g in optimizer.param_groups]
    assert rates == [0.05, 0.002]
    default = PIGSurrogate(burgers, n_gaussians=10).fit(lr=0.05)._adam_groups(network)
    # Gaussians: no own rate (the optimiser's lr applies); the MLP: lr as well.
    assert "lr" not in default[0] and default[1]["lr"] == 0.05
    counted = sum(p.numel() for g in groups for p in g["params"])
    assert counted == sum(p.numel() for p in network.parameters())
