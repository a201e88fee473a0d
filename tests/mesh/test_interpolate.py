"""P1 transfer between meshes: exact for linear fields, second order for smooth ones,
nearest-boundary values outside, and the search for points in thin triangles."""

import numpy as np
import pytest

from pdeml.mesh import mesh_rectangle, mesh_star_domain, random_star_coefficients
from pdeml.mesh.interpolate import interpolate, interpolation_matrix, locate
from pdeml.mesh.morph import disk_mesh, morph_to_disk


def linear(p):
    return 0.7 - 2.0 * p[:, 0] + 3.5 * p[:, 1]


def test_exact_for_linear_fields_on_a_morphed_mesh():
    nodes, triangles = mesh_star_domain(
        *random_star_coefficients(np.random.default_rng(3), 5, 0.25), 1.0, 0.08
    )
    morphed = morph_to_disk(nodes, triangles)
    rng = np.random.default_rng(0)
    points = np.sqrt(rng.uniform(0, 0.95**2, 500))[:, None] * np.column_stack(
        [np.cos(t := rng.uniform(0, 2 * np.pi, 500)), np.sin(t)]
    )
    vertices, weights, inside = locate(points, morphed, triangles)
    assert inside.all()
    assert weights.min() >= 0 and np.allclose(weights.sum(1), 1.0)
    # Barycentric weights reproduce the point itself, hence any linear field (round-off).
    np.testing.assert_allclose((weights[..., None] * morphed[vertices]).sum(1), points, atol=1e-13)
    np.testing.assert_allclose(
        interpolate(linear(morphed), points, morphed, triangles), linear(points), atol=1e-12
    )
    # Both coordinates at once (a field with a trailing axis), and the physical positions.
    both = interpolate(nodes, points, morphed, triangles)
    assert both.shape == (500, 2)


def test_values_at_nodes_are_reproduced_for_any_field():
    nodes, triangles = disk_mesh(6)
    values = np.random.default_rng(1).standard_normal(len(nodes))
    np.testing.assert_allclose(interpolate(values, nodes, nodes, triangles), values, atol=1e-12)


def test_second_order_for_a_smooth_field():
    """The P1 interpolation error of a smooth field is O(h²); fit the slope of log error vs
    log h over four refinements of the disk mesh (h = 1 / rings)."""
    rng = np.random.default_rng(2)
    points = np.sqrt(rng.uniform(0, 0.9**2, 400))[:, None] * np.column_stack(
        [np.cos(t := rng.uniform(0, 2 * np.pi, 400)), np.sin(t)]
    )

    def smooth(p):
        return np.sin(3 * p[:, 0]) * np.cos(2 * p[:, 1])

    rings = np.array([4, 8, 16, 32])
    errors = []
    for r in rings:
        nodes, triangles = disk_mesh(int(r))
        errors.append(
            np.abs(interpolate(smooth(nodes), points, nodes, triangles) - smooth(points)).max()
        )
    slope = np.polyfit(np.log(1.0 / rings), np.log(errors), 1)[0]
    assert 1.8 <= slope <= 2.3


def test_points_outside_take_the_nearest_boundary_value():
    nodes, triangles = mesh_rectangle(0.25)
    points = np.array([[1.5, 0.3], [-0.2, 1.4], [0.5, 0.5]])
    _, _, inside = locate(points, nodes, triangles)
    assert inside.tolist() == [False, False, True]
    nearest = np.array([[1.0, 0.3], [0.0, 1.0], [0.5, 0.5]])
    np.testing.assert_allclose(
        interpolate(linear(nodes), points, nodes, triangles), linear(nearest), atol=1e-12
    )


def test_thin_triangles_are_found_by_the_full_search():
    """With one candidate triangle per point the nearest centroid is often not the
    containing triangle; the full search must still find it."""
    x = np.linspace(0, 100, 41)
    nodes = np.concatenate(
        [np.column_stack([x, np.zeros_like(x)]), np.column_stack([x, np.ones_like(x)])]
    )
    n = len(x)
    lower = [[i, i + 1, n + i + 1] for i in range(n - 1)]
    upper = [[i, n + i + 1, n + i] for i in range(n - 1)]
    triangles = np.array(lower + upper)
    points = np.random.default_rng(3).uniform([0, 0], [100, 1], (200, 2))
    v1, w1, in1 = locate(points, nodes, triangles, candidates=1)
    assert in1.all()
    np.testing.assert_allclose((w1[..., None] * nodes[v1]).sum(1), points, atol=1e-11)


def test_interpolation_matrix_rows_sum_to_one_and_errors():
    nodes, triangles = disk_mesh(5)
    other, _ = disk_mesh(7)
    matrix = interpolation_matrix(other, nodes, triangles)
    assert matrix.shape == (len(other), len(nodes))
    np.testing.assert_allclose(np.asarray(matrix.sum(1)).ravel(), 1.0)
    with pytest.raises(ValueError, match="points"):
        locate(np.zeros(3), nodes, triangles)
    with pytest.raises(ValueError, match="values"):
        interpolate(np.zeros(3), other, nodes, triangles)
