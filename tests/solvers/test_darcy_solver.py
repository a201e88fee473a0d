"""Numerical checks of the Darcy finite-difference reference solver."""

from __future__ import annotations

import numpy as np
import pytest

from pdeml.problems import Darcy2D
from pdeml.problems.darcy.solver import DarcyFDSolver
from pdeml.solvers.finite_difference import (
    DEFAULT_RTOL,
    assemble_darcy,
    darcy_fd_residual,
    solve_darcy,
)

PI = np.pi


def manufactured(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coefficient, source and exact solution on the ``n × n`` node grid.

    u = sin(πx) e^x sin(πy) vanishes on the boundary and is not symmetric in x, so an
    x/y mix-up in the stencil shows; a = 1 + ½ sin(2πx) cos(πy) ∈ [½, 3/2] varies in both
    directions. f = −(a_x u_x + a_y u_y + a Δu) by hand.
    """
    x = np.linspace(0.0, 1.0, n)
    X, Y = np.meshgrid(x, x, indexing="ij")
    g = np.sin(PI * X) * np.exp(X)
    gx = np.exp(X) * (PI * np.cos(PI * X) + np.sin(PI * X))
    gxx = np.exp(X) * ((1.0 - PI**2) * np.sin(PI * X) + 2.0 * PI * np.cos(PI * X))
    s, sy, syy = np.sin(PI * Y), PI * np.cos(PI * Y), -(PI**2) * np.sin(PI * Y)
    u = g * s
    a = 1.0 + 0.5 * np.sin(2.0 * PI * X) * np.cos(PI * Y)
    ax = PI * np.cos(2.0 * PI * X) * np.cos(PI * Y)
    ay = -0.5 * PI * np.sin(2.0 * PI * X) * np.sin(PI * Y)
    f = -(ax * gx * s + ay * g * sy + a * (gxx * s + g * syy))
    return a, f, u


@pytest.mark.parametrize("face_average", ["arithmetic", "harmonic"])
def test_manufactured_solution_converges_at_second_order(face_average):
    sizes = np.array([17, 33, 65, 129])
    errors = []
    for n in sizes:
        a, f, u = manufactured(n)
        errors.append(np.max(np.abs(solve_darcy(a, f, "direct", face_average=face_average) - u)))
    h = 1.0 / (sizes - 1)
    order = np.polyfit(np.log(h), np.log(errors), 1)[0]
    # Both averages are O(h²) accurate for a smooth a, so the max-norm error is C h² + O(h⁴):
    # the observed pairwise rates are 2.00 ± 0.006 on these grids. A ±0.1 band leaves room
    # for that while any first-order defect (a face value off by O(h), a one-sided
    # boundary row) would pull the slope to about 1.
    assert 1.9 < order < 2.1, (order, errors)
    assert errors[-1] < 2e-4  # C ≈ 1.5 here: a wrong h² scaling would break this


def test_discrete_eigenfunction_is_reproduced_exactly():
    # For a = 1, φ = sin(πx) sin(πy) is an eigenvector of the 5-point Laplacian with
    # eigenvalue λ_h = 8 sin²(πh/2) / h², so f = φ gives u = φ / λ_h to rounding.
    n = 41
    h = 1.0 / (n - 1)
    x = np.linspace(0.0, 1.0, n)
    phi = np.outer(np.sin(PI * x), np.sin(PI * x))
    lam = 8.0 * np.sin(PI * h / 2.0) ** 2 / h**2
    u = solve_darcy(np.ones((n, n)), phi, "direct")
    np.testing.assert_allclose(u, phi / lam, rtol=0, atol=1e-14)


def test_direct_and_amg_agree_through_the_solver():
    problem = Darcy2D(resolution=29, solver_resolution=29)
    inputs = problem.sample_inputs(2, seed=0)
    direct = DarcyFDSolver(problem, method="direct").solve(inputs)["u"]
    amg = DarcyFDSolver(problem, method="amg").solve(inputs)["u"]
    assert direct.shape == amg.shape == (2, 29, 29)
    # CG stops at ‖r‖ ≤ rtol ‖b‖, which bounds the relative error by κ(A) rtol. Gershgorin
    # gives λ_max ≤ 8 a_max and A ≥ a_min × (5-point Laplacian) gives
    # λ_min ≥ 8 a_min sin²(πh/2), so κ ≤ (a_max / a_min) / sin²(πh/2) ≈ 1.3e3 here.
    h = 1.0 / 28
    kappa = (problem.a_plus / problem.a_minus) / np.sin(PI * h / 2.0) ** 2
    for k in range(2):
        error = np.linalg.norm(amg[k] - direct[k]) / np.linalg.norm(direct[k])
        assert error <= kappa * DEFAULT_RTOL, error
        # The residual itself is what the stopping rule promises.
        a = inputs["a"][k]
        rhs = h * h * problem.forcing * np.ones(27 * 27)
        residual = rhs - assemble_darcy(a) @ amg[k, 1:-1, 1:-1].ravel()
        assert np.linalg.norm(residual) <= DEFAULT_RTOL * np.linalg.norm(rhs) * 1.01


@pytest.mark.parametrize("face_average", ["arithmetic", "harmonic"])
def test_constant_coefficient_is_positive_symmetric_and_scales_as_one_over_a(face_average):
    n = 33
    u1 = solve_darcy(np.ones((n, n)), 1.0, "direct", face_average=face_average)
    # Discrete maximum principle: the matrix is an M-matrix, so f > 0 gives u > 0 inside.
    assert np.all(u1[1:-1, 1:-1] > 0.0)
    assert np.all(u1[0] == 0.0) and np.all(u1[-1] == 0.0)
    assert np.all(u1[:, 0] == 0.0) and np.all(u1[:, -1] == 0.0)
    # The square's symmetries: x↔y and x → 1 − x, y → 1 − y.
    np.testing.assert_allclose(u1, u1.T, rtol=0, atol=1e-15)
    np.testing.assert_allclose(u1, u1[::-1, :], rtol=0, atol=1e-15)
    np.testing.assert_allclose(u1, u1[:, ::-1], rtol=0, atol=1e-15)
    # Continuum value u(½, ½) = 0.07367 for −Δu = 1; second order puts N = 33 within 1e-4.
    assert abs(u1[16, 16] - 0.0736713532814) < 1e-4
    for c in (0.25, 7.0):
        uc = solve_darcy(np.full((n, n), c), 1.0, "direct", face_average=face_average)
        np.testing.assert_allclose(uc, u1 / c, rtol=1e-12, atol=0)


@pytest.mark.parametrize("face_average", ["arithmetic", "harmonic"])
def test_random_medium_commutes_with_the_square_symmetries(face_average):
    # The assembly must treat x and y alike: solving the transposed (or mirrored)
    # coefficient gives the transposed (or mirrored) pressure, for a two-phase medium.
    problem = Darcy2D(resolution=29, solver_resolution=29)
    a = problem.sample_inputs(1, seed=3)["a"][0]
    u = solve_darcy(a, 1.0, "direct", face_average=face_average)
    assert np.all(u[1:-1, 1:-1] > 0.0)
    for transform in (np.transpose, lambda v: v[::-1, :], lambda v: v[:, ::-1]):
        moved = solve_darcy(transform(a), 1.0, "direct", face_average=face_average)
        np.testing.assert_allclose(moved, transform(u), rtol=0, atol=1e-14)


def test_face_averages_differ_only_where_the_coefficient_jumps():
    problem = Darcy2D(resolution=29, solver_resolution=29)
    a = problem.sample_inputs(1, seed=1)["a"][0]
    arithmetic = assemble_darcy(a, "arithmetic")
    harmonic = assemble_darcy(a, "harmonic")
    # 2·3·12/15 = 4.8 on a 3|12 face instead of 7.5; equal faces give equal entries.
    difference = np.abs((arithmetic - harmonic).data)
    assert set(np.round(difference[difference > 0], 12)) <= {2.7, 5.4, 8.1, 10.8}
    assert (harmonic - harmonic.T).nnz == 0 and (arithmetic - arithmetic.T).nnz == 0


def layered_flow(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Layers across x, flow along x: coefficient, exact pressure at the nodes, exact flux.

    Each column of nodes gets 3 or 12 at random; the interfaces lie halfway between nodes.
    With f = 0, u = 0 at x = 0 and 1 at x = 1, the exact solution is U(x), linear within
    each layer, with the constant flux q = a U' = 1 / ∫ 1/a dx, and every face segment
    [x_i, x_i+1] is half a_i, half a_i+1. On y = 0 and 1 the data is U itself, so U is the
    solution in the square too.
    """
    h = 1.0 / (n - 1)
    column = np.random.default_rng(seed).choice([3.0, 12.0], size=n)
    segment = 0.5 * h * (1.0 / column[:-1] + 1.0 / column[1:])  # ∫ 1/a over [x_i, x_i+1]
    flux = 1.0 / segment.sum()
    exact = np.concatenate([[0.0], np.cumsum(flux * segment)])
    return np.repeat(column[:, None], n, axis=1), np.repeat(exact[:, None], n, axis=1), flux


@pytest.mark.parametrize("face_average", ["arithmetic", "harmonic"])
def test_harmonic_average_gives_the_exact_flux_across_layers(face_average):
    n = 33
    h = 1.0 / (n - 1)
    a, exact, flux = layered_flow(n, seed=0)
    # Dirichlet data by lifting: L carries the boundary values, the solver the correction
    # w (zero on the boundary) with A w = h² × residual of L.
    lift = exact.copy()
    lift[1:-1, 1:-1] = 0.0
    source = np.zeros((n, n))
    source[1:-1, 1:-1] = darcy_fd_residual(a, lift, 0.0, face_average)
    u = lift + solve_darcy(a, source, "direct", face_average=face_average)
    faces = 2.0 * a[1:] * a[:-1] / (a[1:] + a[:-1])  # the exact face conductance
    discrete_flux = faces * np.diff(u, axis=0) / h
    if face_average == "harmonic":
        # Exact to rounding: the pressure at every node and the flux through every face.
        np.testing.assert_allclose(u, exact, rtol=0, atol=1e-12)
        np.testing.assert_allclose(discrete_flux, flux, rtol=1e-11)
    else:
        # The arithmetic mean overrates a 3|12 face (7.5 instead of 4.8): the pressure
        # profile is off by a few per cent, so this test can tell the two apart.
        assert np.max(np.abs(u - exact)) > 1e-2
        assert np.max(np.abs(discrete_flux / flux - 1.0)) > 0.1


@pytest.mark.parametrize("face_average", ["arithmetic", "harmonic"])
def test_residual_of_the_solution_is_zero_and_of_the_other_average_is_not(face_average):
    problem = Darcy2D(resolution=29, solver_resolution=29)
    a = problem.sample_inputs(2, seed=2)["a"]
    u = np.stack([solve_darcy(x, 1.0, "direct", face_average=face_average) for x in a])
    residual = darcy_fd_residual(a, u, 1.0, face_average)
    assert residual.shape == (2, 27, 27)
    assert np.max(np.abs(residual)) < 1e-10  # the numpy residual matches the numba matrix
    other = "harmonic" if face_average == "arithmetic" else "arithmetic"
    assert np.max(np.abs(darcy_fd_residual(a, u, 1.0, other))) > 0.1
    # Batched and one at a time agree; f broadcasts.
    np.testing.assert_array_equal(
        darcy_fd_residual(a[1], u[1], np.ones((29, 29)), face_average), residual[1]
    )
    with pytest.raises(ValueError, match="same shape"):
        darcy_fd_residual(a, u[:, :-1], 1.0, face_average)
    with pytest.raises(ValueError, match="face_average"):
        darcy_fd_residual(a, u, 1.0, "geometric")


def test_options_are_recorded():
    problem = Darcy2D(resolution=29, solver_resolution=29)
    solver = problem.reference_solver(method="direct", face_average="harmonic")
    assert solver.name == "darcy-fd"
    assert solver.describe() == {
        "name": "darcy-fd",
        "options": {"face_average": "harmonic", "method": "direct", "rtol": DEFAULT_RTOL},
    }


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("face_average", "geometric"),
        ("method", "lu"),
        ("rtol", 0.0),
        ("rtol", 1.5),
        ("rtol", "1e-8"),
        ("rtol", True),
    ],
)
def test_bad_options_raise_value_error_naming_the_option(option, value):
    problem = Darcy2D(resolution=29, solver_resolution=29)
    with pytest.raises(ValueError, match=option):
        DarcyFDSolver(problem, **{option: value})
    with pytest.raises(ValueError, match=option):
        solve_darcy(np.ones((5, 5)), 1.0, **{option: value})


def test_solver_refuses_other_problems():
    with pytest.raises(TypeError, match="Darcy2D"):
        DarcyFDSolver(object())


def test_bad_inputs_raise_value_error():
    problem = Darcy2D(resolution=29, solver_resolution=29)
    solver = problem.reference_solver()
    a = problem.sample_inputs(2, seed=0)["a"]
    with pytest.raises(ValueError, match="NaN"):
        solver.solve({"a": np.where(a == a.max(), np.nan, a)})
    for bad in (0.0, -1.0):
        broken = a.copy()
        broken[1, 4, 5] = bad
        with pytest.raises(ValueError, match=r"inputs\['a'\].*positive"):
            solver.solve({"a": broken})
    for shape in [(2, 29, 30), (29, 29), (2, 29, 29, 1)]:
        with pytest.raises(ValueError, match="shape"):
            solver.solve({"a": np.ones(shape)})
    with pytest.raises(ValueError, match="shape"):
        solve_darcy(np.ones((5, 6)))
    with pytest.raises(ValueError, match="positive"):
        solve_darcy(-np.ones((5, 5)))
    with pytest.raises(ValueError, match="f must be"):
        solve_darcy(np.ones((5, 5)), np.ones((4, 4)))
