"""Mesh connectivity helpers: orientation, boundary edges and loops, padding and trimming.

A mesh here is a pair ``(nodes, triangles)``: ``nodes`` float ``[m, 2]`` and ``triangles``
integer ``[t, 3]`` indexing into ``nodes``. Datasets hold meshes of different sizes as
padded arrays (``nodes`` padded with ``0.0``, ``triangles`` with ``-1``) next to the true
counts ``n_nodes`` and ``n_triangles``; :func:`pad_mesh` and :func:`trim_mesh` convert.
"""

from __future__ import annotations

import numpy as np

#: Value of the padding rows of a padded ``triangles`` array.
TRIANGLE_PAD = -1


def signed_areas(nodes: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Signed area of each triangle: positive for counter-clockwise vertex order.

    Parameters
    ----------
    nodes : numpy.ndarray
        Node coordinates ``[m, 2]``.
    triangles : numpy.ndarray
        Vertex indices ``[t, 3]``.

    Returns
    -------
    numpy.ndarray
        ``[t]`` float64 areas.
    """
    p = np.asarray(nodes, dtype=np.float64)[np.asarray(triangles)]
    e1 = p[:, 1] - p[:, 0]
    e2 = p[:, 2] - p[:, 0]
    return 0.5 * (e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])


def orient_ccw(nodes: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, int]:
    """Triangles reordered to counter-clockwise orientation, and how many were flipped.

    Raises
    ------
    ValueError
        If a triangle has zero area (its orientation is undefined).
    """
    triangles = np.array(triangles, dtype=np.int64, copy=True)
    areas = signed_areas(nodes, triangles)
    if np.any(areas == 0.0):
        bad = int(np.flatnonzero(areas == 0.0)[0])
        raise ValueError(f"triangles: triangle {bad} has zero area; expected a valid mesh")
    flip = areas < 0.0
    triangles[flip] = triangles[flip][:, [0, 2, 1]]
    return triangles, int(np.count_nonzero(flip))


def _edge_keys(triangles: np.ndarray, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    directed = triangles[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    keys = np.minimum(directed[:, 0], directed[:, 1]) * n_nodes + np.maximum(
        directed[:, 0], directed[:, 1]
    )
    return directed, keys


def boundary_edges(triangles: np.ndarray) -> np.ndarray:
    """Directed boundary edges ``[b, 2]``: edges that belong to exactly one triangle.

    For counter-clockwise triangles each edge ``(i, j)`` runs with the domain on its left,
    so the outer boundary is traversed counter-clockwise.

    Raises
    ------
    ValueError
        If an edge is shared by more than two triangles (not a 2D manifold mesh).
    """
    triangles = _valid_rows(triangles)
    n = int(triangles.max()) + 1 if triangles.size else 0
    directed, keys = _edge_keys(triangles, n)
    unique, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    if np.any(counts > 2):
        key = int(unique[np.argmax(counts)])
        raise ValueError(
            f"triangles: edge ({key // n}, {key % n}) is shared by {counts.max()} triangles; "
            "expected at most 2 (a manifold mesh)"
        )
    return directed[counts[inverse] == 1]


def boundary_loop(triangles: np.ndarray) -> np.ndarray:
    """Boundary nodes of a simply connected mesh in counter-clockwise order.

    Parameters
    ----------
    triangles : numpy.ndarray
        Integer ``[t, 3]`` counter-clockwise triangles. Padding rows (``-1``) are ignored,
        so a padded dataset row can be passed directly.

    Returns
    -------
    numpy.ndarray
        int64 ``[b]`` node indices, each boundary node once, starting at the smallest
        boundary node index and following the boundary with the domain on the left (the
        last node is joined back to the first).

    Raises
    ------
    ValueError
        If the boundary is not one closed loop (a mesh with holes or several pieces, or
        clockwise triangles mixed with counter-clockwise ones).
    """
    edges = boundary_edges(triangles)
    if len(edges) < 3:
        raise ValueError(f"triangles: expected a boundary of >= 3 edges, found {len(edges)}")
    starts, ends = edges[:, 0], edges[:, 1]
    if len(np.unique(starts)) != len(starts) or len(np.unique(ends)) != len(ends):
        raise ValueError(
            "triangles: a boundary node has more than one outgoing boundary edge; expected "
            "consistently oriented triangles on a domain whose boundary is one simple loop"
        )
    following = dict(zip(starts.tolist(), ends.tolist()))
    first = int(starts.min())
    loop = [first]
    node = following.get(first)
    while node is not None and node != first and len(loop) <= len(edges):
        loop.append(node)
        node = following.get(node)
    if node != first or len(loop) != len(edges):
        raise ValueError(
            f"triangles: the boundary is not one closed loop (a loop of {len(loop)} of "
            f"{len(edges)} boundary edges); expected a simply connected mesh without holes"
        )
    return np.asarray(loop, dtype=np.int64)


def _valid_rows(triangles: np.ndarray) -> np.ndarray:
    triangles = np.asarray(triangles)
    if triangles.ndim != 2 or triangles.shape[1] != 3:
        raise ValueError(f"triangles: expected shape (t, 3), got {triangles.shape}")
    if triangles.dtype.kind not in "iu":
        if not np.all(np.isfinite(triangles)) or np.any(triangles != np.round(triangles)):
            raise TypeError("triangles: expected integer vertex indices")
    triangles = triangles.astype(np.int64)
    return triangles[np.all(triangles >= 0, axis=1)]


def pad_mesh(
    nodes: np.ndarray, triangles: np.ndarray, max_nodes: int, max_triangles: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pad one mesh to fixed sizes: nodes with ``0.0`` rows, triangles with ``-1`` rows.

    Raises
    ------
    ValueError
        If the mesh has more nodes or triangles than the padded size.
    """
    nodes = np.asarray(nodes, dtype=np.float64)
    triangles = np.asarray(triangles, dtype=np.int64)
    if len(nodes) > max_nodes:
        raise ValueError(f"nodes: the mesh has {len(nodes)} nodes, more than max_nodes={max_nodes}")
    if len(triangles) > max_triangles:
        raise ValueError(
            f"triangles: the mesh has {len(triangles)} triangles, more than "
            f"max_triangles={max_triangles}"
        )
    padded_nodes = np.zeros((max_nodes, 2))
    padded_nodes[: len(nodes)] = nodes
    padded_triangles = np.full((max_triangles, 3), TRIANGLE_PAD, dtype=np.int64)
    padded_triangles[: len(triangles)] = triangles
    return padded_nodes, padded_triangles


def trim_mesh(
    nodes: np.ndarray, triangles: np.ndarray, n_nodes: int, n_triangles: int
) -> tuple[np.ndarray, np.ndarray]:
    """One padded mesh cut to its true size: ``(nodes [n_nodes, 2], triangles [n_triangles, 3])``.

    The inverse of :func:`pad_mesh`.
    """
    return (
        np.asarray(nodes, dtype=np.float64)[: int(n_nodes)],
        np.asarray(triangles)[: int(n_triangles)].astype(np.int64),
    )
