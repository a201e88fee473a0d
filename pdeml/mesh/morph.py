"""Morphing of simply connected triangle meshes onto the unit disk, and a reference disk mesh.

The map used by MMGP (Casenave et al., *MMGP: a Mesh Morphing Gaussian Process-based machine
learning method for regression of physical problems under non-parameterized geometrical
variability*, NeurIPS 2023) to put meshes of different shapes on one support:

1. the boundary loop goes to the unit circle by arc length, starting where the ray from the
   domain's centroid in the ``+x`` direction leaves the domain (a point that moves
   continuously with the shape, so similar shapes get similar maps);
2. every interior node becomes a convex combination of its neighbours, a sparse linear
   solve (Tutte's barycentric embedding with Floater's mean-value weights, M. S. Floater,
   *Mean value coordinates*, CAGD 20, 2003). Positive weights and a convex boundary give a
   one-to-one map: every triangle stays positively oriented (Floater, *One-to-one piecewise
   linear mappings over triangulations*, Math. Comp. 72, 2003).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
from scipy.spatial import Delaunay

from pdeml.mesh.topology import boundary_loop, orient_ccw, signed_areas

WEIGHTS = ("mean-value", "uniform")


def _check_mesh(nodes: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    nodes = np.asarray(nodes, dtype=np.float64)
    triangles = np.asarray(triangles)
    if nodes.ndim != 2 or nodes.shape[1] != 2:
        raise ValueError(f"nodes: expected shape (m, 2), got {nodes.shape}")
    if triangles.ndim != 2 or triangles.shape[1] != 3:
        raise ValueError(f"triangles: expected shape (t, 3), got {triangles.shape}")
    if triangles.dtype.kind not in "iu":
        raise TypeError(f"triangles: expected integer vertex indices, got {triangles.dtype}")
    triangles = triangles.astype(np.int64)
    if triangles.min() < 0 or triangles.max() >= len(nodes):
        raise ValueError(f"triangles: indices must lie in [0, {len(nodes)})")
    return nodes, triangles


def boundary_start(nodes: np.ndarray, triangles: np.ndarray, loop: np.ndarray) -> tuple[int, float]:
    """Where the boundary parametrisation starts: edge ``loop[k] -> loop[k+1]`` at fraction ``t``.

    The start is the farthest crossing of the ray from the area centroid in the ``+x``
    direction with the boundary (the only one for a domain star-shaped about its centroid).
    Without a crossing (a centroid outside the domain) it is the boundary node of largest x.
    """
    p = nodes[triangles]
    areas = signed_areas(nodes, triangles)
    centroid = (areas[:, None] * p.mean(1)).sum(0) / areas.sum()
    a = nodes[loop] - centroid
    b = np.roll(a, -1, axis=0)
    dy = b[:, 1] - a[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -a[:, 1] / dy
        x = a[:, 0] + t * (b[:, 0] - a[:, 0])
    # Half-open edges [a, b) so a crossing through a node is counted once.
    crossing = (dy != 0) & (t >= 0) & (t < 1) & (x > 0)
    if not crossing.any():
        return int(np.argmax(nodes[loop, 0])), 0.0
    k = int(np.flatnonzero(crossing)[np.argmax(x[crossing])])
    return k, float(t[k])


def boundary_to_circle(nodes: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boundary nodes (counter-clockwise loop) and their images on the unit circle.

    Returns
    -------
    loop : numpy.ndarray, int [b]
    points : numpy.ndarray, float [b, 2]
        ``(cos θ, sin θ)`` with ``θ = 2π s / L``, ``s`` the arc length from the start
        point (:func:`boundary_start`) and ``L`` the perimeter.
    """
    nodes, triangles = _check_mesh(nodes, triangles)
    loop = boundary_loop(triangles)
    k, t = boundary_start(nodes, triangles, loop)
    lengths = np.linalg.norm(np.roll(nodes[loop], -1, axis=0) - nodes[loop], axis=1)
    perimeter = lengths.sum()
    # Arc length of node loop[j] from the start, measured counter-clockwise.
    cumulative = np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    s = np.mod(cumulative - (cumulative[k] + t * lengths[k]), perimeter)
    theta = 2.0 * np.pi * s / perimeter
    return loop, np.column_stack([np.cos(theta), np.sin(theta)])


def _edge_weights(nodes: np.ndarray, triangles: np.ndarray, kind: str) -> scipy.sparse.csr_matrix:
    """Weights ``w_ij > 0`` of the neighbours j of every node i (one entry per triangle
    corner, summed), mean-value: ``(tan(α/2) + tan(β/2)) / |x_i - x_j|`` with α, β the angles
    at i of the two triangles on edge ij."""
    m = len(nodes)
    rows, cols, vals = [], [], []
    for c in range(3):
        i, j, k = triangles[:, c], triangles[:, (c + 1) % 3], triangles[:, (c + 2) % 3]
        if kind == "uniform":
            w_j = w_k = np.ones(len(triangles))
        else:
            eij, eik = nodes[j] - nodes[i], nodes[k] - nodes[i]
            lij, lik = np.linalg.norm(eij, axis=1), np.linalg.norm(eik, axis=1)
            cos = np.clip((eij * eik).sum(1) / (lij * lik), -1.0, 1.0)
            half_tan = np.tan(0.5 * np.arccos(cos))
            w_j, w_k = half_tan / lij, half_tan / lik
        rows += [i, i]
        cols += [j, k]
        vals += [w_j, w_k]
    return scipy.sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(m, m)
    )


def morph_to_disk(
    nodes: np.ndarray, triangles: np.ndarray, weights: str = "mean-value"
) -> np.ndarray:
    """Map a simply connected mesh onto the unit disk (module docstring): new node positions.

    Parameters
    ----------
    nodes : numpy.ndarray, float [m, 2]
    triangles : numpy.ndarray, int [t, 3]
        Counter-clockwise triangles using every node.
    weights : {"mean-value", "uniform"}
        Floater's mean-value weights (default; they follow the geometry, so a fine region
        stays fine) or uniform weights (Tutte's embedding).

    Returns
    -------
    numpy.ndarray, float [m, 2]
        Node positions in the unit disk, boundary nodes on the circle; the triangles keep
        their orientation.

    Raises
    ------
    ValueError
        Bad shapes, a mesh whose boundary is not one loop (holes), or (never expected) a
        morph that inverts a triangle.
    """
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, got {weights!r}")
    nodes, triangles = _check_mesh(nodes, triangles)
    loop, circle = boundary_to_circle(nodes, triangles)
    m = len(nodes)
    interior = np.setdiff1d(np.arange(m), loop)
    out = np.zeros((m, 2))
    out[loop] = circle
    if len(interior):
        w = _edge_weights(nodes, triangles, weights)
        laplacian = (scipy.sparse.diags(np.asarray(w.sum(1)).ravel()) - w).tocsr()
        a_ii = laplacian[interior][:, interior].tocsc()
        rhs = -(laplacian[interior][:, loop] @ circle)
        out[interior] = scipy.sparse.linalg.splu(a_ii).solve(np.ascontiguousarray(rhs))
    if np.any(signed_areas(out, triangles) <= 0):
        raise ValueError(
            "triangles: the morph inverted a triangle; expected a valid counter-clockwise "
            "mesh of a simply connected domain"
        )
    return out


def disk_mesh(rings: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """A quasi-uniform triangle mesh of the unit disk (the common support of MMGP).

    Nodes on ``rings`` concentric circles of radii ``k / rings`` with ``6k`` nodes each
    (plus the centre), triangulated by Delaunay; about ``3 rings²`` nodes, spacing
    ``1 / rings``. Deterministic.

    Returns
    -------
    nodes : numpy.ndarray, float [3 rings (rings + 1) + 1, 2]
    triangles : numpy.ndarray, int [t, 3], counter-clockwise
    """
    if isinstance(rings, bool) or not isinstance(rings, (int, np.integer)) or rings < 1:
        raise ValueError(f"rings must be a positive integer, got {rings!r}")
    points = [np.zeros((1, 2))]
    for k in range(1, rings + 1):
        # Alternate offsets of half a step break the symmetric configurations that make
        # Delaunay ties (four points on one circle).
        theta = 2 * np.pi * (np.arange(6 * k) + 0.5 * (k % 2)) / (6 * k)
        points.append(k / rings * np.column_stack([np.cos(theta), np.sin(theta)]))
    nodes = np.concatenate(points)
    triangles, _ = orient_ccw(nodes, Delaunay(nodes).simplices)
    return nodes, triangles
