"""Morphing meshes onto the unit disk: orientation kept, boundary by arc length, linear
precision of mean-value weights, and clear errors."""

import numpy as np
import pytest
from scipy.spatial import Delaunay

from pdeml.mesh import mesh_star_domain, orient_ccw, random_star_coefficients, signed_areas
from pdeml.mesh.morph import boundary_to_circle, disk_mesh, morph_to_disk


def delaunay_mesh(points, inside):
    """Delaunay triangles of ``points`` whose centroid satisfies ``inside``, CCW, with the
    nodes left unused by them removed."""
    tri = Delaunay(points).simplices
    tri = tri[inside(points[tri].mean(1))]
    used = np.unique(tri)
    remap = np.full(len(points), -1)
    remap[used] = np.arange(len(used))
    return points[used], orient_ccw(points[used], remap[tri])[0]


def star_delaunay_mesh(seed, amplitude=0.3, n=600):
    """A non-convex star domain r(θ) = 1 + a cos 3θ + ..., meshed by Delaunay of random
    interior points and boundary points (triangles outside the star dropped)."""
    rng = np.random.default_rng(seed)
    coef = amplitude * rng.uniform(-1, 1, 4) / np.arange(2, 6)
    phase = rng.uniform(0, 2 * np.pi, 4)

    def radius(theta):
        return 1 + sum(c * np.cos(k * theta + p) for c, k, p in zip(coef, range(2, 6), phase))

    theta = np.linspace(0, 2 * np.pi, 120, endpoint=False)
    boundary = radius(theta)[:, None] * np.column_stack([np.cos(theta), np.sin(theta)])
    t, r = rng.uniform(0, 2 * np.pi, n), np.sqrt(rng.uniform(0, 0.9**2, n))
    interior = (r * radius(t))[:, None] * np.column_stack([np.cos(t), np.sin(t)])
    points = np.concatenate([boundary, interior])

    def inside(c):
        return np.hypot(c[:, 0], c[:, 1]) < radius(np.arctan2(c[:, 1], c[:, 0]))

    nodes, triangles = delaunay_mesh(points, inside)
    return nodes + rng.uniform(-2, 2, 2), triangles


MESHES = {
    "gmsh-star-0": lambda: mesh_star_domain(
        *random_star_coefficients(np.random.default_rng(0), 5, 0.25), 1.0, 0.08
    ),
    "gmsh-star-1": lambda: mesh_star_domain(
        *random_star_coefficients(np.random.default_rng(1), 6, 0.3), 2.0, 0.15
    ),
    "delaunay-star-0": lambda: star_delaunay_mesh(0),
    "delaunay-star-1": lambda: star_delaunay_mesh(1, amplitude=0.5),
}


@pytest.mark.parametrize("weights", ["mean-value", "uniform"])
@pytest.mark.parametrize("name", sorted(MESHES))
def test_morph_keeps_every_triangle_positively_oriented(name, weights):
    nodes, triangles = MESHES[name]()
    assert signed_areas(nodes, triangles).min() > 0
    morphed = morph_to_disk(nodes, triangles, weights)
    assert signed_areas(morphed, triangles).min() > 0
    loop, circle = boundary_to_circle(nodes, triangles)
    np.testing.assert_allclose(morphed[loop], circle)
    np.testing.assert_allclose(np.hypot(*morphed[loop].T), 1.0, rtol=1e-14)
    interior = np.setdiff1d(np.arange(len(nodes)), loop)
    assert np.hypot(*morphed[interior].T).max() < 1.0
    # The morphed triangles tile the inscribed polygon of the boundary images: areas add up.
    x, y = circle.T
    polygon = 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)
    assert signed_areas(morphed, triangles).sum() == pytest.approx(polygon, rel=1e-12)


def test_boundary_goes_to_the_circle_by_arc_length_from_the_x_ray():
    nodes, triangles = MESHES["delaunay-star-0"]()
    loop, circle = boundary_to_circle(nodes, triangles)
    theta = np.unwrap(np.arctan2(circle[:, 1], circle[:, 0]))
    steps = np.diff(np.append(theta, theta[0] + 2 * np.pi))
    lengths = np.linalg.norm(np.roll(nodes[loop], -1, axis=0) - nodes[loop], axis=1)
    # Counter-clockwise and angle steps proportional to the edge lengths.
    assert steps.min() > 0
    np.testing.assert_allclose(steps, 2 * np.pi * lengths / lengths.sum(), rtol=1e-10)


def test_a_shifted_disk_maps_to_itself_up_to_scale():
    """On a disk (centre c, radius R) meshed by gmsh the boundary nodes are nearly evenly
    spaced on the circle; the arc-length parameter from the +x ray then matches the polar
    angle to the polygon's discretisation error (spacing 0.1 / R = 0.05 rad)."""
    from pdeml.mesh import mesh_disk

    nodes, triangles = mesh_disk(radius=2.0, mesh_size=0.1)
    nodes = nodes + np.array([1.0, -3.0])
    loop, circle = boundary_to_circle(nodes, triangles)
    np.testing.assert_allclose(circle, (nodes[loop] - [1.0, -3.0]) / 2.0, atol=5e-3)


def test_mean_value_weights_reproduce_a_disk_mesh_exactly():
    """Mean-value coordinates have linear precision: on a mesh of the unit disk whose
    boundary nodes are evenly spaced with one at angle 0, the boundary map is the identity
    and so is the interior solve (to round-off)."""
    nodes, triangles = disk_mesh(8)
    morphed = morph_to_disk(nodes, triangles, "mean-value")
    np.testing.assert_allclose(morphed, nodes, atol=1e-12)
    uniform = morph_to_disk(nodes, triangles, "uniform")
    assert np.abs(uniform - nodes).max() > 1e-4  # Tutte's uniform weights lack it


def test_disk_mesh_is_a_valid_quasi_uniform_mesh():
    nodes, triangles = disk_mesh(10)
    assert len(nodes) == 3 * 10 * 11 + 1
    areas = signed_areas(nodes, triangles)
    assert areas.min() > 0
    # The triangles tile the inscribed 60-gon of the unit circle.
    assert areas.sum() == pytest.approx(0.5 * 60 * np.sin(2 * np.pi / 60), rel=1e-12)
    # Quasi-uniform: no triangle much smaller than the typical one.
    assert areas.min() > 0.2 * np.median(areas)


def test_errors_are_clear():
    nodes, triangles = disk_mesh(4)
    with pytest.raises(ValueError, match="weights"):
        morph_to_disk(nodes, triangles, "harmonic")
    with pytest.raises(ValueError, match="nodes"):
        morph_to_disk(nodes[:, :1], triangles)
    with pytest.raises(TypeError, match="integer"):
        morph_to_disk(nodes, triangles.astype(float))
    with pytest.raises(ValueError, match="rings"):
        disk_mesh(0)
    # An annulus (a hole) has two boundary loops: no map onto the disk.
    theta = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    ring = np.column_stack([np.cos(theta), np.sin(theta)])
    points = np.concatenate([ring, 0.5 * ring, 0.75 * ring + 0.01])
    annulus = delaunay_mesh(points, lambda c: np.hypot(c[:, 0], c[:, 1]) > 0.5)
    with pytest.raises(ValueError, match="loop"):
        morph_to_disk(*annulus)
