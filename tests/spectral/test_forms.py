"""Spectral forms: residuals exact on manufactured solutions, ansatz conditions exact,
and the minimiser of the spectral loss agrees with the reference solvers."""

import numpy as np
import pytest
import torch

from pdeml.problems import Burgers1D, Darcy2D, Poisson2D
from pdeml.problems.lorenz96 import Lorenz96
from pdeml.problems.navier_stokes import NavierStokes2D


def test_burgers_residual_exact_on_a_polynomial_in_time():
    # u = (1 + t²) sin 2πx lies in the basis; its residual u_t + u u_x − ν u_xx too.
    p = Burgers1D(nu=0.05, T=0.5, resolution=16, solver_resolution=64)
    x = np.arange(16) / 16
    form = p.spectral_form({"u0": np.sin(2 * np.pi * x)}, modes=(6, 6))
    fx, ct = form.solution_bases
    t, X = ct.points()[None], fx.points()[:, None]
    s, s2 = np.sin(2 * np.pi * X), np.sin(4 * np.pi * X)
    u = (1 + t**2) * s
    exact = 2 * t * s + (1 + t**2) ** 2 * np.pi * s2 + p.nu * (2 * np.pi) ** 2 * (1 + t**2) * s
    coefficients = torch.as_tensor(ct.transform(fx.transform(u, -2), -1))[None]
    residual = form.residual(coefficients)[0].numpy()
    # round-off of O(10) values through a few transforms
    assert np.allclose(residual, ct.transform(fx.transform(exact, -2), -1), atol=1e-12)


def test_burgers_ansatz_meets_the_initial_condition():
    p = Burgers1D(resolution=32, solver_resolution=64)
    form = p.spectral_form(p.sample_inputs(3, 0), modes=(8, 8))
    free = torch.randn(3, 8, 8, dtype=torch.complex128)
    u = form.solution(free)
    at_zero = form.solution_bases[1].evaluate(u, [0.0], -1)[..., 0]
    assert torch.allclose(at_zero, form.u0, atol=1e-12)


def test_darcy_residual_spectrally_accurate_on_a_manufactured_solution():
    # a = exp(0.3 cos πx cos πy) (smooth, a cosine-series interpolant converges
    # spectrally), u = x(1−x)y(1−y) (in the basis). Residual truncation error of an
    # entire function decays faster than any power: 1e-9 at 20 modes.
    p = Darcy2D(coefficient="lognormal", resolution=65, solver_resolution=129, forcing=0.0)
    x = np.linspace(0, 1, 65)
    X, Y = np.meshgrid(x, x, indexing="ij")
    a = np.exp(0.3 * np.cos(np.pi * X) * np.cos(np.pi * Y))
    form = p.spectral_form({"a": a}, modes=20)
    bx, by = form.solution_bases
    gx, gy = np.meshgrid(bx.points(40), by.points(40), indexing="ij")
    u = gx * (1 - gx) * gy * (1 - gy)
    coefficients = torch.as_tensor(bx.transform(by.transform(u, -1), -2))[None]
    residual = form.residual(coefficients)[0].numpy()
    g = 0.3 * np.cos(np.pi * gx) * np.cos(np.pi * gy)
    A = np.exp(g)
    ax = -0.3 * np.pi * np.sin(np.pi * gx) * np.cos(np.pi * gy) * A
    ay = -0.3 * np.pi * np.cos(np.pi * gx) * np.sin(np.pi * gy) * A
    ux, uy = (1 - 2 * gx) * gy * (1 - gy), (1 - 2 * gy) * gx * (1 - gx)
    uxx, uyy = -2 * gy * (1 - gy), -2 * gx * (1 - gx)
    exact = -(ax * ux + ay * uy + A * (uxx + uyy))
    values = bx.inverse(by.inverse(residual, 40, -1), 40, -2)
    assert np.abs(values - exact).max() < 1e-9 * np.abs(exact).max()


def test_darcy_ansatz_vanishes_on_the_boundary():
    p = Darcy2D(coefficient="lognormal", resolution=15, solver_resolution=29)
    form = p.spectral_form(p.sample_inputs(2, 0), modes=6)
    u = form.outputs(form.solution(torch.randn(2, 6, 6, dtype=torch.float64)), 15)["u"]
    edges = np.concatenate([u[:, 0], u[:, -1], u[:, :, 0], u[:, :, -1]], axis=1)
    assert np.abs(edges).max() < 1e-13


def _affine(form, n, project=lambda r: r):
    """``project(residual(solution(V)))`` is affine in V for Darcy: its matrix and offset."""
    zero = form.solution(torch.zeros(1, n, n, dtype=torch.float64))
    r0 = project(form.residual(zero)).reshape(-1)
    basis = torch.eye(n * n, dtype=torch.float64).reshape(-1, n, n)
    many = form.take(torch.zeros(n * n, dtype=torch.long))
    return (project(many.residual(many.solution(basis))).reshape(n * n, -1) - r0).T, r0


def _least_squares(form, n):
    """Minimise the spectral loss exactly: the Darcy residual is affine in V."""
    A, r0 = _affine(form, n)
    return form.solution(torch.linalg.lstsq(A, -r0[:, None]).solution.reshape(1, n, n))


def _darcy_reference(**settings):
    """A Darcy problem on 129², one input (seed 0) and its finite-difference solution."""
    p = Darcy2D(resolution=129, solver_resolution=129, **settings)
    a = p.sample_inputs(1, 0)
    return p, a, p.reference_solver().solve(a)["u"]


def test_darcy_spectral_loss_minimiser_converges_to_the_reference():
    # Smooth log-normal coefficient (6 cosine modes). Measured relative L2 against the
    # 129² finite-difference solution: 1.5e-2 (8 modes), 5.4e-3 (12), 3.2e-3 (16); the
    # slow algebraic rate is the corner singularity of −∇·(a∇u) = 1 with u = 0 (the same
    # rate for a = 1 against the exact series), not the coefficient.
    p, a, ref = _darcy_reference(coefficient="lognormal", n_modes=6)
    errors = []
    for n in (8, 16):
        form = p.spectral_form(a, modes=n)
        out = form.outputs(_least_squares(form, n), 129)["u"]
        errors.append(np.linalg.norm(out - ref) / np.linalg.norm(ref))
    assert errors[1] < 0.5 * errors[0]
    assert errors[1] < 6e-3


def _exact_unit_darcy(n: int, terms: int = 399) -> np.ndarray:
    """−Δu = 1 on (0, 1)², u = 0 on the boundary: the double sine series on an n × n grid."""
    x = np.linspace(0.0, 1.0, n)
    odd = np.arange(1, terms + 1, 2)
    sines = np.sin(np.pi * odd[:, None] * x[None])
    c = 16 / (np.pi**4 * odd[:, None] * odd[None] * (odd[:, None] ** 2 + odd[None] ** 2))
    return sines.T @ c @ sines


def _solve_with(form, inverse, n):
    """The zero of ``inverse(residual(solution(V)))`` (affine in V: a = const)."""
    zero = form.solution(torch.zeros(1, n, n, dtype=torch.float64))
    return form.solution(-inverse(form.residual(zero)))


def test_darcy_galerkin_solution_converges_at_the_best_approximation_rate():
    # a = 1 against the exact series. Measured relative L2 on 65²: Galerkin 9.9e-5, 1.2e-5,
    # 2.2e-6, 1.5e-7 at 8, 12, 16, 24 modes (fitted slope −5.9: the corner singularity
    # r² log r of the solution limits polynomial approximation to about N^-6); the
    # least-squares minimiser of the strong-form residual 1.1e-2, 5.5e-3, 3.3e-3, 1.6e-3
    # (slope −1.75: the residual cannot vanish at the corners, where u = 0 on both edges
    # forces Δu = 0 ≠ −1). Bounds: Galerkin slope below −5, least-squares slope in
    # (−2, −1.4), each on the side of its fit away from the other.
    n = 65
    p = Darcy2D(coefficient="lognormal", resolution=n, solver_resolution=n)
    exact = _exact_unit_darcy(n)
    modes = (8, 12, 16, 24)
    errors = {"galerkin": [], "least squares": []}
    for m in modes:
        form = p.spectral_form({"a": np.ones((1, n, n))}, modes=m)
        for name, inverse in (
            ("galerkin", form.galerkin_inverse),
            ("least squares", form.linear_inverse),
        ):
            u = form.outputs(_solve_with(form, inverse, m), n)["u"][0]
            errors[name].append(np.linalg.norm(u - exact) / np.linalg.norm(exact))
    galerkin = np.polyfit(np.log(modes), np.log(errors["galerkin"]), 1)[0]
    least_squares = np.polyfit(np.log(modes), np.log(errors["least squares"]), 1)[0]
    assert galerkin < -5.0, errors
    assert -2.0 < least_squares < -1.4, errors
    assert errors["galerkin"][2] < 1e-5


def _galerkin(form, n):
    """The Galerkin solution of the (affine in V) Darcy residual, by a direct solve."""
    M, z0 = _affine(form, n, form.galerkin_inverse)
    return form.solution(torch.linalg.solve(M, -z0).reshape(1, n, n))


def test_darcy_galerkin_loss_minimiser_matches_the_reference_on_a_lognormal_coefficient():
    # Smooth log-normal coefficient (8 cosine modes). Measured relative L2 against the
    # 129² finite-difference solution (whose own error is ~6e-5): Galerkin 1.9e-3 (8 modes),
    # 2.0e-4 (12); least squares 3.3e-2 and 6.7e-3. The loss vanishes at the solution
    # (measured 7e-36).
    p, a, ref = _darcy_reference(coefficient="lognormal", n_modes=8)
    errors = []
    for n in (8, 12):
        form = p.spectral_form(a, modes=n)
        best = _galerkin(form, n)
        assert form.galerkin_loss(best).item() < 1e-24
        galerkin = np.linalg.norm(form.outputs(best, 129)["u"] - ref) / np.linalg.norm(ref)
        least = form.outputs(_least_squares(form, n), 129)["u"]
        errors.append(galerkin)
        assert galerkin < 0.2 * np.linalg.norm(least - ref) / np.linalg.norm(ref)
    assert errors[1] < 5e-4, errors
    assert errors[1] < 0.25 * errors[0], errors


def test_darcy_galerkin_solution_approaches_the_weak_solution_for_piecewise_constant_a():
    # a = 12 or 3 (the FNO benchmark): the strong form is undefined across the jumps and the
    # least-squares minimiser stays far off (measured 0.68 at 12 and 0.67 at 24 modes here);
    # the Galerkin projection tests the flux against ∇φ and approaches the weak solution:
    # measured 5.5e-2 (8 modes) and 7.7e-3 (24) against the 129² finite-difference solution
    # (5.6e-3 at 32, where the reference's own first-order error at the jumps starts to show).
    p, a, ref = _darcy_reference()
    errors = []
    for n in (8, 24):
        form = p.spectral_form(a, modes=n)
        u = form.outputs(_galerkin(form, n), 129)["u"]
        errors.append(np.linalg.norm(u - ref) / np.linalg.norm(ref))
    assert errors[1] < 1.5e-2, errors
    assert errors[1] < 0.25 * errors[0], errors
    least = form.outputs(_least_squares(form, 24), 129)["u"]
    assert np.linalg.norm(least - ref) / np.linalg.norm(ref) > 0.3


def test_galerkin_inverse_is_the_linear_inverse_for_poisson_and_absent_for_burgers():
    # Fourier modes are orthogonal and −Δ is diagonal in them: both projections agree.
    p = Poisson2D(resolution=32, solver_resolution=32)
    form, coefficients, _, _ = _poisson_exact(p, 2, 8)
    r = form.residual(coefficients + 0.1)
    assert torch.equal(form.galerkin_inverse(r), form.linear_inverse(r))
    b = Burgers1D(resolution=32, solver_resolution=64)
    burgers = b.spectral_form(b.sample_inputs(1, 0), modes=(8, 8))
    with pytest.raises(NotImplementedError, match="Galerkin"):
        burgers.galerkin_loss(burgers.solution(torch.zeros(1, 8, 8, dtype=torch.complex128)))


@pytest.mark.slow
def test_burgers_spectral_loss_minimiser_matches_the_reference():
    # Minimise the loss over the coefficients directly (L-BFGS, float64) for T = 0.2:
    # measured relative L2 2.0e-3 against the ETDRK4 reference at 12 x 12 modes (1.9e-3
    # at 16 x 16); an error in any term of the residual gives O(1) errors.
    p = Burgers1D(T=0.2, resolution=64, solver_resolution=256)
    a = p.sample_inputs(1, 5, resolution=256)
    ref = p.restrict(p.reference_solver().solve(a), 256, 64)["u"]
    form = p.spectral_form(p.restrict(a, 256, 64), modes=(12, 12))
    free = torch.zeros(1, 12, 12, dtype=torch.complex128, requires_grad=True)
    opt = torch.optim.LBFGS([free], max_iter=600, history_size=50, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = form.spectral_loss(form.solution(free)).sum()
        loss.backward()
        return loss

    opt.step(closure)
    out = form.outputs(form.solution(free).detach(), 64)["u"]
    assert np.linalg.norm(out - ref) / np.linalg.norm(ref) < 1e-2


def test_bad_modes_and_problems_without_a_form():
    p = Burgers1D(resolution=32, solver_resolution=64)
    with pytest.raises(ValueError, match="modes"):
        p.spectral_form(p.sample_inputs(1, 0), modes=(2, 8))
    assert not hasattr(Lorenz96(), "spectral_form")


@pytest.fixture
def small_ns():
    return NavierStokes2D(
        nu=1e-2, T=2, t_in=1, resolution=16, solver_resolution=32, dt=1e-3, sigma=7.0**1.5 / 4
    )


def test_navier_stokes_residual_exact_on_a_steady_manufactured_field():
    # w = sin 2πx + cos 4πy: ψ = sin 2πx/(4π²) + cos 4πy/(16π²), so by hand
    # u·∇w = 1.5 cos 2πx sin 4πy and −νΔw = ν(4π² sin 2πx + 16π² cos 4πy); w_t = 0.
    p = NavierStokes2D(nu=1e-2, T=3, t_in=1, forcing_amplitude=0.0, resolution=16)
    x = np.arange(16) / 16
    X, Y = np.meshgrid(x, x, indexing="ij")
    w = np.sin(2 * np.pi * X) + np.cos(4 * np.pi * Y)
    form = p.spectral_form({"w_in": w[None, None]}, modes=(5, 5, 4))
    fx, fy, _ = form.solution_bases
    u = torch.zeros(1, fx.size, fy.size, 4, dtype=torch.complex128)
    u[..., 0] = form.w0
    residual = form.residual(u)[0].numpy()
    gx, gy = np.meshgrid(fx.points(), fy.points(), indexing="ij")
    exact = 1.5 * np.cos(2 * np.pi * gx) * np.sin(4 * np.pi * gy) + p.nu * (
        4 * np.pi**2 * np.sin(2 * np.pi * gx) + 16 * np.pi**2 * np.cos(4 * np.pi * gy)
    )
    assert np.allclose(residual[..., 0], fx.transform(fy.transform(exact, -1), -2), atol=1e-13)
    assert np.abs(residual[..., 1:]).max() < 1e-13
    assert np.allclose(form.outputs(u, 16)["w_out"][0, 0], w, atol=1e-13)


def test_navier_stokes_spectral_loss_minimiser_matches_the_reference(small_ns):
    # Measured relative L2 4.0e-4 against the reference solver at 16² (6 x 6 x 6 modes).
    a = small_ns.sample_inputs(1, 0)
    ref = small_ns.reference_solver().solve(a)["w_out"]
    form = small_ns.spectral_form(a, modes=(6, 6, 6))
    fx, fy, ct = form.network_bases
    free = torch.zeros(1, fx.size, fy.size, ct.modes, dtype=torch.complex128, requires_grad=True)
    opt = torch.optim.LBFGS([free], max_iter=300, history_size=50, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = form.spectral_loss(form.solution(free)).sum()
        loss.backward()
        return loss

    opt.step(closure)
    out = form.outputs(form.solution(free).detach(), 16)["w_out"]
    assert np.linalg.norm(out - ref) / np.linalg.norm(ref) < 5e-3


def _forms():
    """One small form per problem, float64."""
    burgers = Burgers1D(T=0.2, resolution=64)
    darcy = Darcy2D(coefficient="lognormal", resolution=33, solver_resolution=129, n_modes=8)
    ns = NavierStokes2D(nu=1e-3, T=3, t_in=1, forcing_amplitude=0.0, resolution=16)
    w_in = np.random.default_rng(0).standard_normal((2, 1, 16, 16))
    poisson = Poisson2D(resolution=32, solver_resolution=32)
    return {
        "poisson": poisson.spectral_form(poisson.sample_inputs(2, 0), (9, 7)),
        "burgers": burgers.spectral_form(burgers.sample_inputs(2, 0), (12, 10)),
        "darcy": darcy.spectral_form(darcy.sample_inputs(2, 0), (10, 9)),
        "navier_stokes": ns.spectral_form({"w_in": w_in}, (5, 5, 6)),
    }


@pytest.mark.parametrize("name", ["burgers", "darcy", "navier_stokes", "poisson"])
def test_linear_inverse_undoes_the_linear_part_on_the_free_coefficients(name):
    # A⁺ A = I for the affine map V ↦ linear(solution(V)); the slot the initial-value
    # ansatz ignores (V_0 in time) comes back as zero.
    form = _forms()[name]
    shape = (form.n_samples, *form.free_shape)
    generator = torch.Generator().manual_seed(1)
    free = torch.randn(shape, dtype=torch.float64, generator=generator)
    if form.complex:
        free = torch.complex(free, torch.randn(shape, dtype=torch.float64, generator=generator))
    zero = form.linear(form.solution(torch.zeros_like(free)))
    back = form.linear_inverse(form.linear(form.solution(free)) - zero)
    if name == "darcy":
        assert torch.allclose(back, free, rtol=0, atol=1e-11)
    elif name == "poisson":  # the gauge ignores the mean mode
        free[:, 0, 0] = 0
        assert torch.allclose(back, free, rtol=0, atol=1e-11)
    else:
        assert torch.allclose(back[..., 1:], free[..., 1:], rtol=0, atol=1e-11)
        assert back[..., 0].abs().max() == 0


def test_preconditioned_loss_is_the_coefficient_error_on_a_linear_problem():
    # Constant coefficient: the residual is affine, A V + c, so |A⁺(A V + c)|² = |V − V*|²
    # with V* the minimiser of the plain spectral loss (least squares).
    p = Darcy2D(coefficient="lognormal", resolution=33, solver_resolution=129, n_modes=8)
    form = p.spectral_form({"a": np.full((1, 33, 33), 2.5)}, modes=10)
    best = _least_squares(form, 10)
    # U = Φx V Φyᵀ with Φ of full column rank: recover V* from the minimiser's U.
    v_star = torch.linalg.lstsq(form.phi[0], best[0] @ torch.linalg.pinv(form.phi[1].T)).solution
    generator = torch.Generator().manual_seed(0)
    free = v_star[None] + 0.01 * torch.randn(1, 10, 10, dtype=torch.float64, generator=generator)
    loss = form.preconditioned_loss(form.solution(free))
    assert torch.allclose(loss, ((free - v_star) ** 2).sum(), rtol=1e-9, atol=1e-20)
    assert form.preconditioned_loss(best).item() < 1e-20


# -- periodic Poisson ----------------------------------------------------------------------
def _poisson_exact(problem, n_samples, modes):
    s = problem.sample_inputs(n_samples, 3)
    u = problem.reference_solver().solve(s)["u"]
    form = problem.spectral_form(s, modes)
    fx, fy = form.network_bases
    return form, torch.as_tensor(fx.transform(fy.transform(u, -1), -2)), s["s"], u


def test_poisson_residual_vanishes_on_the_reference_solution():
    # The source is band-limited (|k| < 8) and the form holds |k| < 10: the Fourier
    # solver's solution is in the basis and the spectral residual is round-off.
    p = Poisson2D(resolution=32, solver_resolution=32)
    form, coefficients, _, u = _poisson_exact(p, 3, 10)
    scale = form.source(coefficients).abs().max()
    assert form.residual(coefficients).abs().max() < 1e-13 * scale
    np.testing.assert_allclose(form.outputs(coefficients)["u"], u, atol=1e-15)
    np.testing.assert_allclose(
        form.outputs(coefficients, 48)["u"][:, ::3, ::3], u[:, ::2, ::2], atol=1e-15
    )


def test_poisson_spectral_loss_is_the_l2_norm_of_the_residual_by_parseval():
    # For a random (real) field U, the weighted sum of squared residual coefficients equals
    # the mean square of the residual −Δu − s on a grid fine enough to hold it exactly.
    p = Poisson2D(resolution=32, solver_resolution=32)
    form, coefficients, s, _ = _poisson_exact(p, 2, 10)
    field = p.field_values(p.source_coefficients(2, 7), 32)  # a real band-limited field
    fx, fy = form.network_bases
    u = coefficients + torch.as_tensor(fx.transform(fy.transform(field, -1), -2))
    u = form.solution(u)
    values = form.grid_values(u, 32).numpy()
    k = np.fft.fftfreq(32, 1 / 32) * 2 * np.pi
    lap = np.fft.ifft2(-(k[:, None] ** 2 + k[None, :] ** 2) * np.fft.fft2(values)).real
    residual = -lap - s
    expected = (residual**2).mean(axis=(1, 2))
    np.testing.assert_allclose(form.spectral_loss(u).numpy(), expected, rtol=1e-10)


def test_poisson_collocation_residual_of_the_exact_solution_is_second_order():
    # The five-point residual of the exact solution is the truncation error, O(h²).
    p = Poisson2D(resolution=64, solver_resolution=64)
    errors = []
    for n in (32, 64, 128):
        q = p.replace(resolution=n, solver_resolution=n)
        form, coefficients, _, _ = _poisson_exact(q, 2, 8)
        errors.append(form.collocation_loss(coefficients).sqrt().mean().item())
    slope = np.polyfit(np.log([1 / 32, 1 / 64, 1 / 128]), np.log(errors), 1)[0]
    assert 1.9 < slope < 2.1, slope


def test_poisson_form_refuses_more_modes_than_the_grid_holds():
    p = Poisson2D(resolution=32, solver_resolution=32)
    with pytest.raises(ValueError, match="modes"):
        p.spectral_form(p.sample_inputs(1, 0), 17)
