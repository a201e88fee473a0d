"""Closed-form jets against nested autograd: same values, same parameter gradients.

The jets are an optimisation only, so every check compares against the plain autograd
computation in float64; the tolerance (1e-11 relative) is a few hundred ulps, the rounding
of sums over hundreds of Gaussians taken in another order.
"""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from pdeml.problems import Burgers1D, Darcy2D
from pdeml.problems.burgers_dirichlet import BurgersDirichlet
from pdeml.surrogates.jets import FrozenJets, Jet, autograd_jet, check_pairs, mlp_jet, taylor
from pdeml.surrogates.physics_informed import ConstrainedSolution
from pdeml.surrogates.pig import GaussianEmbedding, PIGNetwork
from pdeml.surrogates.pinn import MLP

TOL = 1e-11
PAIRS = ((0, 0), (0, 1), (1, 1))


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    a, b = a.detach(), b.detach()
    return bool((a - b).abs().max() <= TOL * max(1.0, float(b.abs().max())))


def pig_network(covariance: str, dim: int = 2, seed: int = 0) -> PIGNetwork:
    torch.manual_seed(seed)
    embedding = GaussianEmbedding((-1.0,) * dim, (1.0,) * dim, 40, 3, covariance, 0.3)
    network = PIGNetwork(embedding, 8, 2).double()
    with torch.no_grad():  # shapes away from the initial isotropic ones
        for p in embedding.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return network


@pytest.mark.parametrize("covariance", ["diagonal", "full"])
def test_pig_jet_matches_autograd(covariance):
    # Three input columns (the last one a parameter in parametric mode): derivatives in
    # the first two only, including the mixed one.
    network = pig_network(covariance, dim=3)
    points = torch.rand(50, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    jet = network.jet(points, 2, PAIRS)
    reference = autograd_jet(lambda p: network(p)[:, 0], points, 2, PAIRS)
    for got, want in zip(jet, reference, strict=True):
        assert got.shape == want.shape
        assert close(got, want)


def test_mlp_jet_matches_autograd():
    torch.manual_seed(0)
    mlp = MLP((0.0, 0.0), (1.0, 2.0), 12, 3, "tanh").double()
    points = torch.rand(40, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    scaled = (points - mlp.center) / mlp.half_width
    # The input jet of the scaling: identity / half-width, no curvature.
    first = torch.diag_embed(1.0 / mlp.half_width).expand(40, 2, 2)
    start = Jet(scaled, first, torch.zeros(40, len(PAIRS), 2, dtype=torch.float64))
    jet = mlp_jet(mlp.net, start, PAIRS)
    reference = autograd_jet(lambda p: mlp(p)[:, 0], points, 2, PAIRS)
    for got, want in zip(jet, reference, strict=True):
        assert close(got, want)


def test_mlp_jet_refuses_unknown_layers():
    with pytest.raises(TypeError, match="ReLU"):
        z = torch.zeros(3, 2)
        mlp_jet(nn.Sequential(nn.ReLU()), Jet(z, z[:, None], z[:, None]), ((0, 0),))


def test_taylor_polynomial_carries_the_jet_to_autograd():
    # T(p) equals the value, and autograd reads back the gradient and declared seconds.
    m = 7
    gen = torch.Generator().manual_seed(3)
    shapes = ((m,), (m, 2), (m, 3))
    jet = Jet(*(torch.randn(*s, 1, dtype=torch.float64, generator=gen) for s in shapes))
    points = torch.rand(m, 2, dtype=torch.float64, generator=gen).requires_grad_(True)
    value = taylor(jet, points, PAIRS)[:, 0]
    assert torch.equal(value, jet[0][:, 0])
    (g,) = torch.autograd.grad(value.sum(), points, create_graph=True)
    assert torch.equal(g, jet[1][..., 0])
    for p, (i, j) in enumerate(PAIRS):
        (h,) = torch.autograd.grad(g[:, i].sum(), points, retain_graph=True)
        assert torch.allclose(h[:, j], jet[2][:, p, 0], rtol=0, atol=1e-15)


def test_check_pairs_names_the_bad_pair():
    assert check_pairs([(1, 0)], 2) == ((0, 1),)
    with pytest.raises(ValueError, match=r"\(0, 2\)"):
        check_pairs([(0, 2)], 2)
    with pytest.raises(ValueError, match="twice"):
        check_pairs([(0, 0), (0, 0)], 2)


def burgers_dirichlet():
    problem = BurgersDirichlet(resolution=33, n_t=5)
    return problem.physics(problem.sample_inputs(1, 0))


def burgers_periodic():
    problem = Burgers1D(resolution=32)
    return problem.physics(problem.sample_inputs(1, 0))


def darcy_lognormal():
    problem = Darcy2D(resolution=16, coefficient="lognormal")
    return problem.physics(problem.sample_inputs(1, 0))


CASES = {
    "burgers_dirichlet": (burgers_dirichlet, True),
    "burgers_periodic": (burgers_periodic, False),
    "darcy": (darcy_lognormal, True),
}


@pytest.mark.parametrize("network_kind", ["mlp", "pig"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_constrained_solution_with_jets_equals_autograd(case, network_kind):
    make_physics, hard = CASES[case]
    physics = make_physics()
    if network_kind == "mlp":
        torch.manual_seed(0)
        network = MLP(physics.lower, physics.upper, 10, 3, "tanh").double()
    else:
        torch.manual_seed(0)
        network = PIGNetwork(
            GaussianEmbedding(physics.lower, physics.upper, 30, 3, "diagonal", 0.3), 8, 1
        ).double()
    params = list(network.parameters())
    collocation = physics.sample_collocation(64, 0, "uniform").requires_grad_(True)
    boundary = physics.sample_boundary(16, 0)
    results = []
    for jets in (False, True):
        solution = ConstrainedSolution(network, physics, hard, jets=jets)
        residual = physics.residual(solution, collocation)
        loss = residual.pow(2).mean()
        if not hard:  # periodic: the boundary jumps use first derivatives too
            loss = loss + physics.boundary_residual(solution, boundary).pow(2).mean()
        results.append((residual.detach(), torch.autograd.grad(loss, params)))
    (r0, g0), (r1, g1) = results
    assert close(r1, r0)
    for a, b in zip(g1, g0, strict=True):
        assert close(a, b)


def test_jets_are_off_for_residuals_that_declare_nothing():
    physics = burgers_dirichlet()
    undeclared = dataclasses.replace(physics, second_derivatives=None)
    network = pig_network("diagonal")
    assert ConstrainedSolution(network, undeclared, True).pairs is None
    assert ConstrainedSolution(network, physics, True).pairs == ((0, 0),)
    assert ConstrainedSolution(network, physics, True, jets=False).pairs is None


def test_frozen_jets_recompute_for_new_or_changed_points():
    calls = []

    def fn(points):
        calls.append(1)
        return torch.sin(points[:, 0]) * points[:, 1] ** 2

    frozen = FrozenJets(fn, 2, ((0, 0), (1, 1)))
    points = torch.rand(20, 2, dtype=torch.float64).requires_grad_(True)

    def second_x(p):
        (g,) = torch.autograd.grad(frozen(p).sum(), p, create_graph=True)
        return torch.autograd.grad(g[:, 0].sum(), p)[0][:, 0]

    expected = -torch.sin(points[:, 0]) * points[:, 1] ** 2
    assert torch.allclose(second_x(points), expected.detach(), atol=1e-13)
    n = len(calls)
    second_x(points)
    assert len(calls) == n  # cached: the same tensor, unchanged
    with torch.no_grad():
        points[:, 0] += 0.5  # in place: the version counter moves
    again = second_x(points)
    assert len(calls) > n
    assert torch.allclose(
        again, (-torch.sin(points[:, 0]) * points[:, 1] ** 2).detach(), atol=1e-13
    )
    other = points.detach().clone().requires_grad_(True)
    n = len(calls)
    second_x(other)
    assert len(calls) > n
    with torch.no_grad():  # no derivatives wanted: the plain function
        np.testing.assert_array_equal(frozen(points).numpy(), fn(points).numpy())


@pytest.mark.parametrize("dim", [2, 3])
def test_fused_gaussian_kernel_matches_the_torch_expression(dim):
    # Values, derivatives and the gradients of an arbitrary loss of them with respect to
    # means, precisions and features: the numba kernel against autograd of torch's.
    network = pig_network("diagonal", dim=dim, seed=4)
    embedding = network.embedding
    points = (
        2 * torch.rand(60, dim, dtype=torch.float64, generator=torch.Generator().manual_seed(5)) - 1
    )
    params = list(embedding.parameters())
    results = []
    for fused in (False, True):
        embedding.fused = fused
        jet = embedding.jet(points, 2, PAIRS)
        loss = sum((t.sin() * (1 + i)).sum() for i, t in enumerate(jet))
        results.append((jet, torch.autograd.grad(loss, params)))
    (jet0, grads0), (jet1, grads1) = results
    for a, b in zip(jet1, jet0, strict=True):
        assert close(a, b)
    for a, b in zip(grads1, grads0, strict=True):
        assert close(a, b)


def test_fused_gaussian_kernel_runs_in_float32():
    # The kernel compiles per dtype; float32 agrees with float64 to float32 rounding.
    network = pig_network("diagonal", seed=6)
    points = torch.rand(30, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    want = network.embedding.jet(points, 2, PAIRS)
    got = network.float().embedding.jet(points.float(), 2, PAIRS)
    for a, b in zip(got, want, strict=True):
        a, b = a.detach(), b.detach()
        assert a.dtype == torch.float32
        assert (a.double() - b).abs().max() <= 1e-4 * max(1.0, float(b.abs().max()))
