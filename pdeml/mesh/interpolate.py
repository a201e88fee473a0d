"""P1 (piecewise linear) transfer of nodal fields from a triangle mesh to arbitrary points.

A point inside the mesh takes the barycentric combination of the three nodes of the
triangle containing it, which reproduces linear fields exactly. A point outside (the
unit-circle points between the boundary nodes of a morphed mesh, whose boundary is the
inscribed polygon) takes the value at its nearest point on the boundary: the transfer then
stays P1 along the boundary edge and the distance involved is at most the sagitta
``h² / 8`` of the mesh spacing ``h``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
from scipy.spatial import cKDTree

from pdeml.mesh.topology import boundary_edges

#: Barycentric coordinates down to -1e-10 count as inside (points on an edge or a node).
_INSIDE = -1e-10


def _barycentric(points: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Barycentric coordinates ``[..., 3]`` of ``points [..., 2]`` in triangles
    ``corners [..., 3, 2]``."""
    a, b, c = corners[..., 0, :], corners[..., 1, :], corners[..., 2, :]
    v0, v1, v2 = b - a, c - a, points - a
    det = v0[..., 0] * v1[..., 1] - v0[..., 1] * v1[..., 0]
    l1 = (v2[..., 0] * v1[..., 1] - v2[..., 1] * v1[..., 0]) / det
    l2 = (v0[..., 0] * v2[..., 1] - v0[..., 1] * v2[..., 0]) / det
    return np.stack([1.0 - l1 - l2, l1, l2], axis=-1)


def locate(
    points: np.ndarray, nodes: np.ndarray, triangles: np.ndarray, candidates: int = 12
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nodes and P1 weights that interpolate a nodal field at ``points``.

    Parameters
    ----------
    points : numpy.ndarray, float [q, 2]
    nodes : numpy.ndarray, float [m, 2]
    triangles : numpy.ndarray, int [t, 3]
    candidates : int
        Triangles (nearest centroids) tried per point before a search over all triangles.

    Returns
    -------
    vertices : numpy.ndarray, int [q, 3]
        Node indices (for a point outside: the two ends of the nearest boundary edge and a
        repeated one with weight 0).
    weights : numpy.ndarray, float [q, 3]
        Non-negative, summing to 1.
    inside : numpy.ndarray, bool [q]
        Whether the point lies in the mesh (else it was projected onto the boundary).
    """
    points = np.asarray(points, dtype=np.float64)
    nodes = np.asarray(nodes, dtype=np.float64)
    triangles = np.asarray(triangles, dtype=np.int64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points: expected shape (q, 2), got {points.shape}")
    if nodes.ndim != 2 or nodes.shape[1] != 2:
        raise ValueError(f"nodes: expected shape (m, 2), got {nodes.shape}")
    if triangles.ndim != 2 or triangles.shape[1] != 3 or len(triangles) == 0:
        raise ValueError(f"triangles: expected shape (t, 3) with t >= 1, got {triangles.shape}")
    q = len(points)
    corners = nodes[triangles]
    found = np.full(q, -1, dtype=np.int64)
    weights = np.zeros((q, 3))
    k = min(candidates, len(triangles))
    _, near = cKDTree(corners.mean(1)).query(points, k=k)
    near = near.reshape(q, k)
    bary = _barycentric(points[:, None, :], corners[near])
    ok = bary.min(-1) >= _INSIDE
    hit = ok.any(1)
    first = ok.argmax(1)
    found[hit] = near[hit, first[hit]]
    weights[hit] = bary[hit, first[hit]]
    # Long thin triangles can contain a point without having one of its nearest centroids.
    for start in np.flatnonzero(~hit):
        bary_all = _barycentric(points[start], corners)
        best = int(np.argmax(bary_all.min(-1)))
        if bary_all[best].min() >= _INSIDE:
            found[start], weights[start] = best, bary_all[best]
    vertices = np.zeros((q, 3), dtype=np.int64)
    inside = found >= 0
    vertices[inside] = triangles[found[inside]]
    if not inside.all():
        vertices[~inside], weights[~inside] = _project_to_boundary(
            points[~inside], nodes, boundary_edges(triangles)
        )
    weights = np.clip(weights, 0.0, None)
    return vertices, weights / weights.sum(1, keepdims=True), inside


def _project_to_boundary(
    points: np.ndarray, nodes: np.ndarray, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest point on the boundary edges, as P1 weights on the edge's two nodes."""
    a, b = nodes[edges[:, 0]], nodes[edges[:, 1]]
    d = b - a
    t = ((points[:, None, :] - a) * d).sum(-1) / (d * d).sum(-1)
    t = np.clip(t, 0.0, 1.0)
    nearest = a + t[..., None] * d
    best = np.argmin(((points[:, None, :] - nearest) ** 2).sum(-1), axis=1)
    tb = t[np.arange(len(points)), best]
    e = edges[best]
    return np.column_stack([e[:, 0], e[:, 1], e[:, 1]]), np.column_stack(
        [1.0 - tb, tb, np.zeros_like(tb)]
    )


def interpolation_matrix(
    points: np.ndarray, nodes: np.ndarray, triangles: np.ndarray
) -> scipy.sparse.csr_matrix:
    """Sparse ``[q, m]`` matrix ``P`` with ``P @ values`` the P1 interpolant at ``points``
    (see :func:`locate`); rows sum to 1."""
    vertices, weights, _ = locate(points, nodes, triangles)
    q = len(vertices)
    rows = np.repeat(np.arange(q), 3)
    return scipy.sparse.csr_matrix(
        (weights.ravel(), (rows, vertices.ravel())), shape=(q, len(nodes))
    )


def interpolate(
    values: np.ndarray, points: np.ndarray, nodes: np.ndarray, triangles: np.ndarray
) -> np.ndarray:
    """P1 interpolant of nodal ``values [m, ...]`` at ``points [q, 2]``: ``[q, ...]``."""
    values = np.asarray(values, dtype=np.float64)
    if values.shape[0] != len(nodes):
        raise ValueError(f"values: expected {len(nodes)} rows (one per node), got {values.shape}")
    return interpolation_matrix(points, nodes, triangles) @ values
