"""Numerical checks of the torch PDE residuals (``Problem.physics``), float64 throughout."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pdeml.problems import Burgers1D, BurgersDirichlet, Darcy2D, Lorenz96, problem_class
from pdeml.problems.burgers_dirichlet import cole_hopf_dirichlet
from pdeml.problems.residual import BilinearInterpolant, PeriodicInterpolant

# Cole–Hopf data as in tests/solvers/test_burgers_solver.py: φ = A0 + Σ b_m e^{−ν(2πm)²t}
# cos(2πmx) > 0, and u = −2ν φ_x/φ solves u_t + u u_x = ν u_xx on the periodic unit interval.
A0 = 2.0
MODES = {1: 1.0, 2: 0.5}
NU = 0.1
T = 0.5
N = 128


def cole_hopf_torch(points: torch.Tensor) -> torch.Tensor:
    x, t = points[:, 0], points[:, 1]
    phi = torch.full_like(x, A0)
    phi_x = torch.zeros_like(x)
    for m, b in MODES.items():
        amplitude = b * torch.exp(-NU * (2 * math.pi * m) ** 2 * t)
        phi = phi + amplitude * torch.cos(2 * math.pi * m * x)
        phi_x = phi_x - amplitude * 2 * math.pi * m * torch.sin(2 * math.pi * m * x)
    return (-2.0 * NU * phi_x / phi)[:, None]


def burgers_physics():
    problem = Burgers1D(nu=NU, T=T, resolution=N, solver_resolution=N)
    x = torch.from_numpy(problem.coords()["x"])
    u0 = cole_hopf_torch(torch.stack([x, torch.zeros_like(x)], 1))[:, 0].numpy()
    return problem.physics({"u0": u0})


def test_burgers_residual_of_cole_hopf_solution_is_round_off():
    # The exact solution makes every term cancel; what is left is float64 round-off in
    # terms of size max|u_t| ≈ 1, amplified a little by the quotient φ_x/φ.
    physics = burgers_physics()
    points = physics.sample_collocation(2000, seed=1)
    residual = physics.residual(cole_hopf_torch, points)
    assert residual.shape == (2000,) and residual.dtype == torch.float64
    assert residual.abs().max().item() < 1e-12
    # A wrong viscosity is seen: the check is not vacuous.
    wrong = Burgers1D(nu=2 * NU, T=T, resolution=N, solver_resolution=N)
    u0 = np.zeros(N)
    assert wrong.physics({"u0": u0}).residual(cole_hopf_torch, points).abs().max() > 1e-2


def test_burgers_boundary_and_initial_mismatch_of_exact_solution():
    # Boundary: u and u_x are 1-periodic in x, so both jumps are round-off. Initial: the
    # trigonometric interpolant of the grid values; the Fourier coefficients of u0 decay
    # like e^{-m} (φ > 0 in a strip) and are below 1e-17 well before N/2 = 64.
    physics = burgers_physics()
    boundary_points = physics.sample_boundary(300, seed=2)
    assert torch.all(boundary_points[:, 0] == 0.0)
    jumps = physics.boundary_residual(cole_hopf_torch, boundary_points)
    assert jumps.shape == (300, 2)
    assert jumps.abs().max().item() < 1e-12
    initial_points = physics.sample_initial(500, seed=3)
    assert torch.all(initial_points[:, 1] == 0.0)
    assert physics.initial_residual(cole_hopf_torch, initial_points).abs().max() < 1e-13
    # A candidate that is not periodic is caught.
    jumps = physics.boundary_residual(lambda p: p[:, :1] ** 2, boundary_points)
    np.testing.assert_allclose(jumps.detach().numpy(), [[-1.0, -2.0]] * 300)


def test_residual_backpropagates_into_the_candidate_parameters():
    physics = burgers_physics()
    weight = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)

    def u_fn(points):
        return weight * torch.sin(2 * math.pi * points[:, :1]) * torch.exp(-points[:, 1:])

    loss = physics.residual(u_fn, physics.sample_collocation(50, seed=0)).pow(2).mean()
    loss.backward()
    assert weight.grad is not None and torch.isfinite(weight.grad)


def test_periodic_interpolant_is_exact_on_the_grid_and_spectral_between():
    # exp(sin 2πx) is entire: its Fourier coefficients are Bessel values I_m(1) ~ 1/(2^m m!),
    # so the interpolation error (about twice the first aliased coefficient) falls faster
    # than any power of N. Measured: 1.1e-3, 2.2e-8, 1.3e-15 at N = 8, 16, 32. Halving h
    # gains a factor > 1e4 (an algebraic method would need order > 13 for that), and N = 32
    # is at round-off, where a cubic spline (O(N^-4)) would still sit near 1e-6.
    x_fine = torch.linspace(0.0, 1.0, 1001, dtype=torch.float64)
    exact = torch.exp(torch.sin(2 * math.pi * x_fine))
    errors = {}
    for n in (8, 16, 32):
        grid = np.arange(n) / n
        values = np.exp(np.sin(2 * np.pi * grid))
        interpolant = PeriodicInterpolant(values)
        on_grid = interpolant(torch.from_numpy(grid)).numpy()
        np.testing.assert_allclose(on_grid, values, rtol=0, atol=1e-14)
        errors[n] = (interpolant(x_fine) - exact).abs().max().item()
    assert errors[8] < 2e-3
    assert errors[16] < 1e-7 and errors[8] / errors[16] > 1e4
    assert errors[32] < 1e-14
    # Odd N and a shifted period work the same way.
    grid = -1.0 + 2.0 * np.arange(15) / 15
    interpolant = PeriodicInterpolant(np.cos(np.pi * grid) ** 3, -1.0, 2.0)
    xs = torch.linspace(-1.0, 1.0, 101, dtype=torch.float64)
    assert (interpolant(xs) - torch.cos(math.pi * xs) ** 3).abs().max() < 1e-14


# -- Darcy ------------------------------------------------------------------------------
def darcy_exact(points: torch.Tensor) -> torch.Tensor:
    x, y = points[:, 0], points[:, 1]
    return (torch.sin(math.pi * x) * torch.sin(math.pi * y))[:, None]


def darcy_g(x, y, lib=np):
    return 0.5 * lib.sin(2 * math.pi * x) * lib.cos(math.pi * y)


def darcy_expected_residual(points: torch.Tensor, forcing: float) -> torch.Tensor:
    """−∇·(a∇u) − f for a = exp(g): −a (Δu + ∇g·∇u) − f, by hand."""
    x, y = points[:, 0], points[:, 1]
    a = torch.exp(darcy_g(x, y, torch))
    g_x = math.pi * torch.cos(2 * math.pi * x) * torch.cos(math.pi * y)
    g_y = -0.5 * math.pi * torch.sin(2 * math.pi * x) * torch.sin(math.pi * y)
    u_x = math.pi * torch.cos(math.pi * x) * torch.sin(math.pi * y)
    u_y = math.pi * torch.sin(math.pi * x) * torch.cos(math.pi * y)
    laplacian = -2 * math.pi**2 * torch.sin(math.pi * x) * torch.sin(math.pi * y)
    return -a * (laplacian + g_x * u_x + g_y * u_y) - forcing


def darcy_error(resolution: int, points: torch.Tensor) -> float:
    problem = Darcy2D(coefficient="lognormal", resolution=resolution, solver_resolution=resolution)
    x = problem.coords()["x"]
    a = np.exp(darcy_g(x[:, None], x[None, :]))
    physics = problem.physics({"a": a[None]})  # a leading sample axis of 1 is accepted
    residual = physics.residual(darcy_exact, points)
    expected = darcy_expected_residual(points, problem.forcing)
    return ((residual - expected).abs().max() / expected.abs().max()).item()


def test_darcy_residual_converges_under_coefficient_refinement():
    # With the exact u, the only error is the bilinear interpolant a_h of the coefficient:
    # a_h − a = O(h²), but ∇a_h − ∇a = O(h) at general points (a_h is piecewise bilinear),
    # so the residual error is first order at random points; at cell centres ∇a_h is a
    # central difference, O(h²), and so is the residual error. Measured slopes: 0.91, 2.02;
    # the bands reject the neighbouring orders.
    resolutions = np.array([17, 33, 65, 129])
    h = 1.0 / (resolutions - 1)
    random_points = Darcy2D().physics({"a": np.ones((5, 5))}).sample_collocation(400, seed=5)
    random_errors = [darcy_error(r, random_points) for r in resolutions]
    rng = np.random.default_rng(6)
    centre_errors = []
    for r in resolutions:
        cells = rng.integers(0, r - 1, size=(400, 2))
        centres = torch.from_numpy((cells + 0.5) / (r - 1))
        centre_errors.append(darcy_error(r, centres))
    random_slope = np.polyfit(np.log(h), np.log(random_errors), 1)[0]
    centre_slope = np.polyfit(np.log(h), np.log(centre_errors), 1)[0]
    assert 0.8 < random_slope < 1.3, random_errors
    assert 1.8 < centre_slope < 2.3, centre_errors
    assert random_errors[-1] < 0.05 and centre_errors[-1] < 1e-3


def test_darcy_boundary_residual_and_steady_problem_has_no_initial_condition():
    physics = Darcy2D(resolution=5, solver_resolution=5).physics({"a": np.ones((5, 5))})
    points = physics.sample_boundary(200, seed=0)
    on_edge = (points == 0.0) | (points == 1.0)
    assert torch.all(on_edge.any(dim=1))
    assert physics.boundary_residual(darcy_exact, points).abs().max() < 1e-15
    with pytest.raises(ValueError, match="steady"):
        physics.initial_residual(darcy_exact, points)
    # Constant a = 1, u = x(1 − x)/2 solves −Δu = 1 exactly (bilinear a is exact here).
    residual = physics.residual(lambda p: p[:, :1] * (1 - p[:, :1]) / 2, points)
    assert residual.abs().max() < 1e-14


def test_bilinear_interpolant_reproduces_bilinear_functions():
    x = np.linspace(0.0, 1.0, 7)
    values = 1 + 2 * x[:, None] - x[None, :] + 3 * x[:, None] * x[None, :]
    points = torch.rand(100, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    px, py = points[:, 0], points[:, 1]
    exact = 1 + 2 * px - py + 3 * px * py
    assert (BilinearInterpolant(values)(points) - exact).abs().max() < 1e-14


# -- the Dirichlet benchmark ----------------------------------------------------------------
def test_burgers_dirichlet_problem_fields_and_registration():
    problem = BurgersDirichlet(resolution=33, n_t=4)
    assert problem_class("burgers_dirichlet") is BurgersDirichlet
    assert problem.nu == pytest.approx(0.01 / math.pi)
    inputs = problem.sample_inputs(2, seed=0)
    np.testing.assert_allclose(inputs["u0"][1], -np.sin(np.pi * np.linspace(-1, 1, 33)))
    assert problem.field_shape("u") == (4, 33)
    assert BurgersDirichlet.from_dict(problem.to_dict()) == problem


def test_burgers_dirichlet_reference_solver_matches_cole_hopf_quadrature():
    # Cole–Hopf by Gauss–Hermite: at 150 nodes the quadrature is converged to round-off
    # (at t = 1, 80 nodes already agree to 1e-13). The solver is second order in space on a
    # 2049-point grid: measured max errors at these times 3e-5, 1.1e-5, 1.3e-5, 2.0e-5,
    # each 4× smaller than at 1025 points (second order, so the fine grid, not the BDF
    # tolerance, sets them). The bound 1e-4 leaves a factor ~3 while a grid twice as coarse
    # (error 1.2e-4) fails it.
    problem = BurgersDirichlet(resolution=65, n_t=4)
    solver = problem.reference_solver()
    assert solver.fine_points(65) == 2049
    out = solver.solve(problem.sample_inputs(1, seed=0))
    assert out["u"].shape == (1, 4, 65)
    x = problem.coords()["x"]
    for i, t in enumerate(problem.output_times()):
        exact = cole_hopf_dirichlet(x, t)
        assert np.abs(out["u"][0, i] - exact).max() < 1e-4
    # The steep layer at x = 0 is resolved: u drops by more than 1 across two grid cells.
    assert out["u"][0, -1, 31] > 0.5 and out["u"][0, -1, 33] < -0.5


def test_burgers_dirichlet_physics_initial_and_boundary():
    problem = BurgersDirichlet(resolution=32, n_t=2)
    physics = problem.physics(problem.sample_inputs(1, seed=0))
    assert physics.domain() == ((-1.0, 0.0), (1.0, 1.0))

    def u_fn(points):  # satisfies the initial and the boundary conditions, not the PDE
        return -torch.sin(math.pi * points[:, :1]) * torch.exp(-points[:, 1:])

    # −sin(πx) is a single Fourier mode of period 2: the interpolant is exact everywhere.
    assert physics.initial_residual(u_fn, physics.sample_initial(300, seed=0)).abs().max() < 1e-14
    boundary = physics.sample_boundary(100, seed=0)
    assert set(boundary[:, 0].tolist()) == {-1.0, 1.0}
    assert physics.boundary_residual(u_fn, boundary).abs().max() < 1e-15
    # Its PDE residual is the analytic one: u_t + u u_x − ν u_xx with u = −sin(πx)e^{−t}.
    points = physics.sample_collocation(200, seed=1, method="latin")
    x, t = points[:, 0], points[:, 1]
    s, c, e = torch.sin(math.pi * x), torch.cos(math.pi * x), torch.exp(-t)
    expected = s * e + (s * e) * (math.pi * c * e) - problem.nu * math.pi**2 * s * e
    assert (physics.residual(u_fn, points) - expected).abs().max() < 1e-13


# -- errors and sampling ------------------------------------------------------------------
def test_problem_without_residual_says_so():
    with pytest.raises(NotImplementedError, match="problem 'lorenz96' has no PDE residual"):
        Lorenz96().physics({})


def test_physics_input_errors_name_the_field():
    problem = Burgers1D(resolution=16, solver_resolution=16)
    with pytest.raises(ValueError, match="u0"):
        problem.physics({"a": np.zeros(16)})
    with pytest.raises(ValueError, match="u0"):
        problem.physics({"u0": np.zeros((2, 16))})


@pytest.mark.parametrize("method", ["uniform", "latin"])
def test_collocation_is_seeded_and_inside_the_domain(method):
    physics = burgers_physics()
    a = physics.sample_collocation(256, seed=7, method=method)
    b = physics.sample_collocation(256, seed=7, method=method)
    c = physics.sample_collocation(256, seed=8, method=method)
    assert a.shape == (256, 2) and a.dtype == torch.float64
    assert torch.equal(a, b) and not torch.equal(a, c)
    lower, upper = (torch.tensor(v, dtype=torch.float64) for v in physics.domain())
    assert torch.all(a >= lower) and torch.all(a < upper)  # x < 1: periodic end excluded
    if method == "latin":  # one point per stratum of each coordinate
        strata = torch.floor((a - lower) / (upper - lower) * 256).long()
        for column in strata.T:
            assert sorted(column.tolist()) == list(range(256))
    with pytest.raises(ValueError, match="method"):
        physics.sample_collocation(4, seed=0, method="sobol")
    with pytest.raises(ValueError, match="seed"):
        physics.sample_collocation(4, seed=-1)


# -- Navier–Stokes ---------------------------------------------------------------------------
def _ns_problem(**changes):
    from pdeml.problems import NavierStokes2D

    settings = dict(resolution=16, solver_resolution=32, T=3, t_in=1, dt=1e-2)
    return NavierStokes2D(**{**settings, **changes})


def test_navier_stokes_residual_vanishes_for_exact_flows():
    """Two exact solutions of w_t + u·∇w = νΔw + f: the decaying Taylor–Green cell
    ψ = e^{−8π²νt} sin 2πx sin 2πy without forcing (w = 8π²ψ, so u·∇w = 0 and
    w_t = νΔw), and the steady forced flow w = f / (8π²ν), ψ = w / (8π²), for which
    νΔw = −f and again u·∇w = 0. Fourth derivatives by autograd in float64: round-off."""
    nu = 0.01
    free = _ns_problem(nu=nu, forcing_amplitude=0.0)
    physics = free.physics({"w_in": np.zeros((1, 16, 16))})
    points = physics.sample_collocation(200, 0)

    def taylor_green(p):
        x, y, t = p[:, 0], p[:, 1], p[:, 2]
        decay = torch.exp(-8 * math.pi**2 * nu * t)
        return (decay * torch.sin(2 * math.pi * x) * torch.sin(2 * math.pi * y))[:, None]

    scale = 8 * math.pi**2  # |w| ~ 79 here; round-off is relative to it
    assert physics.residual(taylor_green, points).abs().max().item() < 1e-10 * scale

    forced = _ns_problem(nu=nu, forcing_amplitude=0.1)
    physics = forced.physics({"w_in": np.zeros((1, 16, 16))})

    def steady(p):
        phase = 2 * math.pi * (p[:, 0] + p[:, 1])
        w = 0.1 * (torch.sin(phase) + torch.cos(phase)) / (scale * nu)
        return (w / scale)[:, None]

    assert physics.residual(steady, points).abs().max().item() < 1e-12
    # …and a wrong viscosity is seen (the parameter reaches the residual)
    wrong = physics.residual(steady, points, {"nu": 2 * nu}).abs().max().item()
    assert wrong > 0.05


def test_navier_stokes_output_initial_and_periodic_conditions():
    problem = _ns_problem()
    grid = np.arange(16) / 16
    w_last = np.cos(2 * np.pi * (grid[:, None] + 2 * grid[None, :]))
    physics = problem.physics({"w_in": w_last[None]})

    # ψ = cos(2π(x + 2y)) / (4π² · 5) has w = −Δψ = cos(2π(x + 2y)): zero initial mismatch.
    def psi(p):
        return (torch.cos(2 * math.pi * (p[:, 0] + 2 * p[:, 1])) / (20 * math.pi**2))[:, None]

    initial = physics.initial_residual(psi, physics.sample_initial(50, 0))
    assert initial.abs().max().item() < 1e-12
    points = physics.sample_collocation(30, 1)
    expected = torch.cos(2 * math.pi * (points[:, 0] + 2 * points[:, 1]))
    torch.testing.assert_close(physics.output(psi, points), expected, rtol=0, atol=1e-12)
    # periodic ψ: no jump; a ψ with a linear part in x: a jump in ψ across x = 0 ~ 1
    boundary = physics.sample_boundary(40, 2)
    assert physics.boundary_residual(psi, boundary).abs().max().item() < 1e-12

    def tilted(p):
        return psi(p) + p[:, :1]

    assert physics.boundary_residual(tilted, boundary).abs().max().item() > 0.5


def test_pinn_serves_navier_stokes():
    import pdeml

    problem = _ns_problem(T=2)
    tiny = dict(n_collocation=64, n_boundary=16, n_initial=16)
    pinn = pdeml.make_surrogate("pinn", problem, width=8, depth=2)
    pinn.fit(adam_steps=2, lbfgs_steps=0, **tiny)
    assert not pinn.uses_hard_constraints  # periodic: soft conditions
    out = pinn.solve(problem.sample_inputs(1, 0))
    problem.check_outputs(out)
    assert out["w_out"].shape == (1, 1, 16, 16)
