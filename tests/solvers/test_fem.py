"""Numerical checks of the P1 finite-element solver (pdeml/solvers/fem.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from pdeml.mesh import boundary_loop, mesh_disk, mesh_rectangle, signed_areas
from pdeml.problems import DarcyMesh
from pdeml.solvers.fem import (
    P1,
    QUAD_POINTS,
    QUAD_WEIGHTS,
    domain_mean,
    h1_seminorm_error,
    l2_error,
    mass_matrix,
    solve_p1,
    stiffness_matrix,
)

X, Y = sp.symbols("x y")


def manufactured(u_expr, a_expr):
    """Callables for u, ∇u, a and f = −∇·(a∇u), derived symbolically (no hand algebra)."""
    ux, uy = sp.diff(u_expr, X), sp.diff(u_expr, Y)
    f_expr = -(sp.diff(a_expr * ux, X) + sp.diff(a_expr * uy, Y))
    lam = lambda e: sp.lambdify((X, Y), e, "numpy")  # noqa: E731
    u, gx, gy, a, f = (lam(e) for e in (u_expr, ux, uy, a_expr, f_expr))

    def broadcast(fn):
        return lambda x, y: np.broadcast_to(fn(x, y), np.shape(x)).astype(np.float64)

    return (
        broadcast(u),
        lambda x, y: (broadcast(gx)(x, y), broadcast(gy)(x, y)),
        broadcast(a),
        broadcast(f),
    )


def slope(h: list[float], errors: list[float]) -> float:
    """Least-squares slope of log(error) against log(h)."""
    return float(np.polyfit(np.log(h), np.log(errors), 1)[0])


def mesh_h(nodes: np.ndarray, triangles: np.ndarray) -> float:
    """Mesh size as sqrt(mean triangle area): robust for unstructured meshes."""
    return float(np.sqrt(np.mean(signed_areas(nodes, triangles))))


def boundary_mask(triangles: np.ndarray, n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[boundary_loop(triangles)] = True
    return mask


def test_quadrature_is_exact_for_degree_4():
    # ∫_T x^a y^b over the reference triangle = a! b! / (a + b + 2)!.
    nodes = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    points = QUAD_POINTS @ nodes
    for a in range(5):
        for b in range(5 - a):
            quad = 0.5 * np.sum(QUAD_WEIGHTS * points[:, 0] ** a * points[:, 1] ** b)
            exact = math.factorial(a) * math.factorial(b) / math.factorial(a + b + 2)
            assert quad == pytest.approx(exact, rel=1e-12)


def test_matrices_integrate_linear_fields_exactly():
    nodes, triangles = mesh_rectangle(0.25)
    x, y = nodes[:, 0], nodes[:, 1]
    one = np.ones(len(nodes))
    mass = mass_matrix(nodes, triangles)
    # Products of linear functions are integrated exactly: ∫1 = 1, ∫xy = 1/4, ∫x² = 1/3.
    assert one @ mass @ one == pytest.approx(1.0, rel=1e-13)
    assert x @ mass @ y == pytest.approx(0.25, rel=1e-13)
    assert x @ mass @ x == pytest.approx(1.0 / 3.0, rel=1e-13)
    stiff = stiffness_matrix(nodes, triangles, 1.0 + 0.5 * y)
    assert abs(stiff - stiff.T).max() < 1e-14
    assert np.abs(stiff @ one).max() < 1e-12  # constants are in the kernel
    u = 2.0 * x - 3.0 * y
    # ∫ (1 + y/2) |∇u|² = 13 (1 + 1/4); the element mean of a linear a is exact.
    assert u @ stiff @ u == pytest.approx(13.0 * 1.25, rel=1e-12)
    space = P1(nodes, triangles)
    assert space.inner(x, y) == pytest.approx(0.25, rel=1e-13)
    assert space.integrate(x) == pytest.approx(0.5, rel=1e-13)


@pytest.mark.parametrize(
    ("u", "a"),
    [
        (lambda x, y: 1.0 + 2.0 * x - 3.0 * y, lambda x, y: np.full_like(x, 2.5)),
        # ∇a ⊥ ∇u, so f = 0 with a varying coefficient.
        (lambda x, y: 3.0 + 2.0 * x, lambda x, y: 1.0 + 0.5 * y),
    ],
)
def test_linear_solution_is_reproduced_to_round_off(u, a):
    nodes, triangles = mesh_rectangle(0.2)
    exact = u(nodes[:, 0], nodes[:, 1])
    uh = solve_p1(
        nodes,
        triangles,
        boundary_mask(triangles, len(nodes)),
        dirichlet_values=exact,
        coefficient=a(nodes[:, 0], nodes[:, 1]),
    )
    assert np.abs(uh - exact).max() < 1e-12


def test_square_manufactured_solution_converges_at_order_2_in_l2_and_1_in_h1():
    # Full Dirichlet, variable coefficient, a solution with no symmetry.
    u, grad, a, f = manufactured(
        sp.exp(X) * sp.sin(sp.pi * Y) + X**2 * Y, 1 + X * Y / 2 + sp.sin(sp.pi * X) / 4
    )
    hs, l2, h1 = [], [], []
    for size in (0.2, 0.1, 0.05, 0.025):
        nodes, triangles = mesh_rectangle(size)
        x, y = nodes[:, 0], nodes[:, 1]
        uh = solve_p1(
            nodes,
            triangles,
            boundary_mask(triangles, len(nodes)),
            dirichlet_values=u(x, y),
            source=f(x, y),
            coefficient=a(x, y),
        )
        hs.append(mesh_h(nodes, triangles))
        l2.append(l2_error(nodes, triangles, uh, u))
        h1.append(h1_seminorm_error(nodes, triangles, uh, grad))
    # Theory: exactly 2 and 1 asymptotically; ±0.2 / ±0.15 allow for the unstructured
    # meshes not being uniform refinements of one another.
    assert 1.8 <= slope(hs, l2) <= 2.2, (hs, l2)
    assert 0.85 <= slope(hs, h1) <= 1.15, (hs, h1)


def test_disk_mixed_boundary_conditions_converge_and_qoi_match_exact_values():
    # u = g0 + (1 − r²)² φ is g0 on the unit circle with zero normal derivative, so it
    # solves the DarcyMesh boundary conditions (Dirichlet for x ≤ 0, zero flux elsewhere).
    g0 = 0.7
    r2 = X**2 + Y**2
    u, _, a, f = manufactured(g0 + (1 - r2) ** 2 * (1 + X / 2 + 3 * Y / 10), sp.exp(Y / 2))
    problem = DarcyMesh()
    hs, l2, mean_err, neumann_err = [], [], [], []
    for size in (0.2, 0.1, 0.05, 0.025):
        nodes, triangles = mesh_disk(size)
        x, y = nodes[:, 0], nodes[:, 1]
        uh = solve_p1(
            nodes,
            triangles,
            problem.dirichlet_mask(nodes, triangles),
            dirichlet_values=g0,
            source=f(x, y),
            coefficient=a(x, y),
        )
        u_mean, u_neumann = problem.quantities(nodes, triangles, uh)
        hs.append(mesh_h(nodes, triangles))
        l2.append(l2_error(nodes, triangles, uh, u))
        # Exact: ∫(1 − r²)² = π/3 and the linear part of φ integrates to 0, so the mean is
        # g0 + 1/3; u = g0 on the whole circle.
        mean_err.append(abs(u_mean - (g0 + 1.0 / 3.0)))
        neumann_err.append(abs(u_neumann - g0))
    assert 1.8 <= slope(hs, l2) <= 2.2, (hs, l2)
    # The QoIs converge at the rate of the L2 error (the inscribed polygon differs from the
    # disk by O(h²) too); 1.6 leaves room for error cancellation making them irregular.
    assert slope(hs, mean_err) >= 1.6, (hs, mean_err)
    assert slope(hs, neumann_err) >= 1.6, (hs, neumann_err)


def test_qoi_of_interpolated_field_against_independent_integrals():
    # u = x² + x e^y: area mean over the unit disk 1/4 (x e^y is odd in x), mean over the
    # right half circle 1/2 + (e − 1/e)/π (∫ cos θ e^{sin θ} dθ = [e^{sin θ}]).
    boundary_exact = 0.5 + (math.e - 1.0 / math.e) / math.pi
    problem = DarcyMesh()
    hs, mean_err, neumann_err = [], [], []
    for size in (0.2, 0.1, 0.05):
        nodes, triangles = mesh_disk(size)
        u = nodes[:, 0] ** 2 + nodes[:, 0] * np.exp(nodes[:, 1])
        u_mean, u_neumann = problem.quantities(nodes, triangles, u)
        # Independent paths: the numba mass matrix for the area integral, and the trapezoid
        # rule along the ordered boundary loop for the boundary mean.
        one = np.ones(len(nodes))
        mass = mass_matrix(nodes, triangles)
        assert u_mean == pytest.approx((one @ mass @ u) / (one @ mass @ one), rel=1e-12)
        loop = boundary_loop(triangles)
        closed = np.append(loop, loop[0])
        start, end = nodes[closed[:-1]], nodes[closed[1:]]
        right = (start[:, 0] > 0) | (end[:, 0] > 0)
        lengths = np.linalg.norm(end - start, axis=1)[right]
        trapezoid = np.sum(lengths * 0.5 * (u[closed[:-1]] + u[closed[1:]])[right])
        assert u_neumann == pytest.approx(trapezoid / lengths.sum(), rel=1e-12)
        hs.append(mesh_h(nodes, triangles))
        mean_err.append(abs(u_mean - 0.25))
        neumann_err.append(abs(u_neumann - boundary_exact))
    assert slope(hs, mean_err) >= 1.8 and slope(hs, neumann_err) >= 1.8, (mean_err, neumann_err)
    assert domain_mean(nodes, triangles, np.ones(len(nodes))) == pytest.approx(1.0)


def test_reference_solver_is_affine_in_the_scalar_inputs():
    # u = g + s w with w independent of (g, s): two solves on one mesh determine a third.
    problem = DarcyMesh(mesh_size=0.25, max_nodes=128, max_triangles=256)
    inputs = problem.sample_inputs(1, seed=3)
    batch = {k: np.repeat(v, 3, axis=0) for k, v in inputs.items()}
    batch["source"] = np.array([1.0, 2.0, 0.5])
    batch["boundary_value"] = np.array([0.0, 0.3, -1.0])
    out = problem.reference_solver().solve(batch)
    m = int(inputs["n_nodes"][0])
    w = out["u"][0, :m]
    assert w.max() > 0.1  # a non-trivial response
    for k in (1, 2):
        expected = batch["boundary_value"][k] + batch["source"][k] * w
        assert np.abs(out["u"][k, :m] - expected).max() < 1e-12
        assert out["u_mean"][k] == pytest.approx(
            batch["boundary_value"][k] + batch["source"][k] * out["u_mean"][0], abs=1e-12
        )
    assert np.all(out["u"][:, m:] == 0.0)  # padding


def test_bad_meshes_and_conditions_are_refused():
    nodes, triangles = mesh_rectangle(0.5)
    mask = boundary_mask(triangles, len(nodes))
    with pytest.raises(ValueError, match="counter-clockwise"):
        solve_p1(nodes, triangles[:, ::-1], mask)
    with pytest.raises(ValueError, match="no Dirichlet node"):
        solve_p1(nodes, triangles, np.zeros(len(nodes), dtype=bool))
    with pytest.raises(ValueError, match="coefficient"):
        stiffness_matrix(nodes, triangles, -1.0)
    with pytest.raises(ValueError, match="vertex indices"):
        mass_matrix(nodes, triangles + len(nodes))
    with pytest.raises(TypeError, match="integer"):
        mass_matrix(nodes, triangles.astype(float))
