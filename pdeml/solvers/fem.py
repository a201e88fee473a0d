"""Linear (P1) finite elements on triangle meshes: the kernels of the ``DarcyMesh`` solver.

For −∇·(a∇u) = f with u = g on a Dirichlet part of the boundary and a∇u·n = 0 on the rest,
the Galerkin method with continuous piecewise-linear functions gives K u = F with

    K_ij = Σ_T ā_T |T| ∇φ_i·∇φ_j,        F = M f,        M_ij = ∫ φ_i φ_j,

where ``ā_T`` is the mean of the nodal coefficient on triangle ``T`` (exact for a linear
coefficient, second order otherwise) and ``f`` is taken at the nodes. Dirichlet values are
eliminated: the free unknowns solve ``K_II u_I = F_I − K_ID g_D`` by sparse LU. The error
is O(h²) in L2 and O(h) in the H1 semi-norm for smooth solutions (Ciarlet, *The Finite
Element Method for Elliptic Problems*, 1978, Thm. 3.2.2 and §3.2), which
``tests/solvers/test_fem.py`` observes.

Element matrices are computed in numba into COO triplets; scipy sums them into CSR. The
reference-solver adapter of ``DarcyMesh`` is :mod:`pdeml.problems.darcy_mesh.solver`.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from pdeml.mesh.topology import boundary_edges, signed_areas

#: Degree-4 quadrature on a triangle (Dunavant 1985, 6 points): barycentric points and
#: weights relative to the area. Used for error norms against exact solutions.
QUAD_POINTS = np.array(
    [
        [0.108103018168070, 0.445948490915965, 0.445948490915965],
        [0.445948490915965, 0.108103018168070, 0.445948490915965],
        [0.445948490915965, 0.445948490915965, 0.108103018168070],
        [0.816847572980459, 0.091576213509771, 0.091576213509771],
        [0.091576213509771, 0.816847572980459, 0.091576213509771],
        [0.091576213509771, 0.091576213509771, 0.816847572980459],
    ]
)
QUAD_WEIGHTS = np.array([0.223381589678011] * 3 + [0.109951743655322] * 3)


@numba.njit(cache=True)
def _stiffness_coo(nodes, triangles, coefficient):
    """COO triplets of Σ_T ā_T |T| ∇φ_i·∇φ_j (nine per triangle)."""
    t = triangles.shape[0]
    rows = np.empty(9 * t, dtype=np.int64)
    cols = np.empty(9 * t, dtype=np.int64)
    vals = np.empty(9 * t, dtype=np.float64)
    b = np.empty(3)
    c = np.empty(3)
    for k in range(t):
        i0, i1, i2 = triangles[k, 0], triangles[k, 1], triangles[k, 2]
        x0, y0 = nodes[i0, 0], nodes[i0, 1]
        x1, y1 = nodes[i1, 0], nodes[i1, 1]
        x2, y2 = nodes[i2, 0], nodes[i2, 1]
        twice = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        # ∇φ_j = (b_j, c_j) / (2|T|)
        b[0], b[1], b[2] = y1 - y2, y2 - y0, y0 - y1
        c[0], c[1], c[2] = x2 - x1, x0 - x2, x1 - x0
        mean_a = (coefficient[i0] + coefficient[i1] + coefficient[i2]) / 3.0
        scale = mean_a / (2.0 * twice)
        for p in range(3):
            for q in range(3):
                pos = 9 * k + 3 * p + q
                rows[pos] = triangles[k, p]
                cols[pos] = triangles[k, q]
                vals[pos] = scale * (b[p] * b[q] + c[p] * c[q])
    return rows, cols, vals


@numba.njit(cache=True)
def _mass_coo(nodes, triangles):
    """COO triplets of the consistent mass matrix: |T|/12 (1 + δ_pq)."""
    t = triangles.shape[0]
    rows = np.empty(9 * t, dtype=np.int64)
    cols = np.empty(9 * t, dtype=np.int64)
    vals = np.empty(9 * t, dtype=np.float64)
    for k in range(t):
        i0, i1, i2 = triangles[k, 0], triangles[k, 1], triangles[k, 2]
        twice = (nodes[i1, 0] - nodes[i0, 0]) * (nodes[i2, 1] - nodes[i0, 1]) - (
            nodes[i2, 0] - nodes[i0, 0]
        ) * (nodes[i1, 1] - nodes[i0, 1])
        area = 0.5 * twice
        for p in range(3):
            for q in range(3):
                pos = 9 * k + 3 * p + q
                rows[pos] = triangles[k, p]
                cols[pos] = triangles[k, q]
                vals[pos] = area / 12.0 * (2.0 if p == q else 1.0)
    return rows, cols, vals


def check_mesh(nodes: Any, triangles: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate one trimmed mesh and return it as contiguous float64 / int64 arrays.

    Raises
    ------
    ValueError
        Wrong shapes, indices out of range, non-finite coordinates, or triangles that are
        not counter-clockwise with positive area.
    """
    nodes = np.ascontiguousarray(nodes, dtype=np.float64)
    if nodes.ndim != 2 or nodes.shape[1] != 2 or len(nodes) < 3:
        raise ValueError(f"nodes: expected shape (m, 2) with m >= 3, got {nodes.shape}")
    if not np.all(np.isfinite(nodes)):
        raise ValueError("nodes: contains NaN or infinite coordinates; expected finite")
    raw = np.asarray(triangles)
    if raw.ndim != 2 or raw.shape[1] != 3 or len(raw) < 1:
        raise ValueError(f"triangles: expected shape (t, 3) with t >= 1, got {raw.shape}")
    if raw.dtype.kind not in "iu":
        raise TypeError(f"triangles: expected an integer array, got dtype {raw.dtype}")
    triangles = np.ascontiguousarray(raw, dtype=np.int64)
    if triangles.min() < 0 or triangles.max() >= len(nodes):
        raise ValueError(
            f"triangles: vertex indices must lie in [0, {len(nodes)}), got "
            f"[{triangles.min()}, {triangles.max()}]"
        )
    areas = signed_areas(nodes, triangles)
    if np.any(areas <= 0):
        bad = int(np.flatnonzero(areas <= 0)[0])
        raise ValueError(
            f"triangles: triangle {bad} has signed area {areas[bad]:.3g}; expected "
            "counter-clockwise triangles of positive area"
        )
    return nodes, triangles


def _nodal(name: str, value: Any, n: int) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        array = np.full(n, float(array))
    if array.shape != (n,):
        raise ValueError(
            f"{name}: expected a number or one value per node ({n}), got {array.shape}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: contains NaN or infinite values; expected finite")
    return np.ascontiguousarray(array)


def _csr(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n: int) -> scipy.sparse.csr_matrix:
    # coo -> csr sums the duplicate (row, col) entries of neighbouring triangles.
    return scipy.sparse.coo_matrix((vals, (rows, cols)), shape=(n, n)).tocsr()


def stiffness_matrix(
    nodes: np.ndarray, triangles: np.ndarray, coefficient: float | np.ndarray = 1.0
) -> scipy.sparse.csr_matrix:
    """P1 stiffness matrix ``K_ij = ∫ a ∇φ_i·∇φ_j``, ``a`` averaged per triangle from its nodes.

    Parameters
    ----------
    nodes : numpy.ndarray
        float ``[m, 2]``.
    triangles : numpy.ndarray
        integer ``[t, 3]``, counter-clockwise.
    coefficient : float or numpy.ndarray
        ``a``: a constant or one positive value per node.

    Returns
    -------
    scipy.sparse.csr_matrix
        Symmetric ``[m, m]``, positive semi-definite (constants in its kernel).
    """
    nodes, triangles = check_mesh(nodes, triangles)
    a = _nodal("coefficient", coefficient, len(nodes))
    if np.any(a <= 0):
        raise ValueError(f"coefficient: must be positive, got minimum {a.min():.3g}")
    return _csr(*_stiffness_coo(nodes, triangles, a), len(nodes))


def mass_matrix(nodes: np.ndarray, triangles: np.ndarray) -> scipy.sparse.csr_matrix:
    """Consistent P1 mass matrix ``M_ij = ∫ φ_i φ_j``: ``uᵀ M v`` is the L2 inner product.

    Returns
    -------
    scipy.sparse.csr_matrix
        Symmetric positive definite ``[m, m]`` (for a mesh whose every node is used).
    """
    nodes, triangles = check_mesh(nodes, triangles)
    return _csr(*_mass_coo(nodes, triangles), len(nodes))


def load_vector(nodes: np.ndarray, triangles: np.ndarray, source: float | np.ndarray) -> np.ndarray:
    """``F_i = ∫ f_h φ_i`` with ``f_h`` the P1 interpolant of the nodal ``source`` (``M f``)."""
    nodes, triangles = check_mesh(nodes, triangles)
    return mass_matrix(nodes, triangles) @ _nodal("source", source, len(nodes))


def solve_p1(
    nodes: np.ndarray,
    triangles: np.ndarray,
    dirichlet: np.ndarray,
    *,
    dirichlet_values: float | np.ndarray = 0.0,
    source: float | np.ndarray = 0.0,
    coefficient: float | np.ndarray = 1.0,
) -> np.ndarray:
    """Solve −∇·(a∇u) = f, u = g on the Dirichlet nodes, a∇u·n = 0 on the rest of the boundary.

    Parameters
    ----------
    nodes, triangles : numpy.ndarray
        One mesh (``[m, 2]`` float, ``[t, 3]`` integer, counter-clockwise).
    dirichlet : numpy.ndarray
        Boolean mask ``[m]`` of the nodes where ``u`` is prescribed (at least one).
    dirichlet_values : float or numpy.ndarray
        ``g``: a constant, or values at all nodes (only the Dirichlet ones are used).
    source, coefficient : float or numpy.ndarray
        ``f`` and ``a``: constants or nodal values.

    Returns
    -------
    numpy.ndarray
        ``u`` at the nodes, float64 ``[m]``.
    """
    nodes, triangles = check_mesh(nodes, triangles)
    n = len(nodes)
    fixed = np.asarray(dirichlet)
    if fixed.shape != (n,) or fixed.dtype != bool:
        raise ValueError(f"dirichlet: expected a boolean mask of shape ({n},), got {fixed.shape}")
    if not fixed.any():
        raise ValueError("dirichlet: no Dirichlet node; the pure Neumann problem is singular")
    g = _nodal("dirichlet_values", dirichlet_values, n)
    stiffness = stiffness_matrix(nodes, triangles, coefficient)
    rhs = load_vector(nodes, triangles, source)
    u = np.where(fixed, g, 0.0)
    free = ~fixed
    if free.any():
        rhs = rhs - stiffness @ u
        matrix = stiffness[free][:, free].tocsc()
        # The reduced matrix is symmetric positive definite; a fill-reducing ordering of
        # A + Aᵀ suits it (as for the finite-difference Darcy solver).
        u[free] = scipy.sparse.linalg.splu(matrix, permc_spec="MMD_AT_PLUS_A").solve(rhs[free])
    return u


# -- integrals of P1 fields --------------------------------------------------------------
def integrate(nodes: np.ndarray, triangles: np.ndarray, values: np.ndarray) -> float:
    """``∫ u_h`` of the P1 field with nodal ``values`` (exact: area × vertex mean per triangle)."""
    areas = signed_areas(nodes, triangles)
    return float(np.sum(areas * np.asarray(values, dtype=np.float64)[triangles].mean(axis=1)))


def domain_mean(nodes: np.ndarray, triangles: np.ndarray, values: np.ndarray) -> float:
    """Area mean ``∫ u_h / |Ω|`` of a P1 field."""
    return integrate(nodes, triangles, values) / float(np.sum(signed_areas(nodes, triangles)))


def boundary_mean(
    nodes: np.ndarray,
    triangles: np.ndarray,
    values: np.ndarray,
    edge_mask: np.ndarray | None = None,
) -> float:
    """Length mean of a P1 field over boundary edges (all, or those selected by ``edge_mask``).

    ``edge_mask`` selects rows of :func:`pdeml.mesh.topology.boundary_edges`.
    """
    edges = boundary_edges(triangles)
    if edge_mask is not None:
        edges = edges[edge_mask]
    if len(edges) == 0:
        raise ValueError("edge_mask: selects no boundary edge")
    values = np.asarray(values, dtype=np.float64)
    lengths = np.linalg.norm(nodes[edges[:, 1]] - nodes[edges[:, 0]], axis=1)
    return float(np.sum(lengths * values[edges].mean(axis=1)) / np.sum(lengths))


def _quadrature(nodes: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature points ``[t, q, 2]`` and weights ``[t, q]`` (weights include the area)."""
    corners = nodes[triangles]  # [t, 3, 2]
    points = np.einsum("qk,tkd->tqd", QUAD_POINTS, corners)
    weights = signed_areas(nodes, triangles)[:, None] * QUAD_WEIGHTS[None, :]
    return points, weights


def l2_error(nodes: np.ndarray, triangles: np.ndarray, values: np.ndarray, exact: Any) -> float:
    """``‖u_h − u‖_{L2}`` for the P1 field ``values`` and a callable ``exact(x, y)``.

    Degree-4 quadrature per triangle, so the quadrature error is far below the O(h²)
    discretisation error being measured.
    """
    points, weights = _quadrature(nodes, triangles)
    uh = np.einsum("qk,tk->tq", QUAD_POINTS, np.asarray(values, dtype=np.float64)[triangles])
    diff = uh - exact(points[..., 0], points[..., 1])
    return float(np.sqrt(np.sum(weights * diff**2)))


def h1_seminorm_error(
    nodes: np.ndarray, triangles: np.ndarray, values: np.ndarray, exact_gradient: Any
) -> float:
    """``|u_h − u|_{H1} = ‖∇u_h − ∇u‖_{L2}``; ``exact_gradient(x, y)`` returns ``(u_x, u_y)``."""
    nodes, triangles = check_mesh(nodes, triangles)
    corners = nodes[triangles]
    twice = 2.0 * signed_areas(nodes, triangles)
    x, y = corners[..., 0], corners[..., 1]
    b = np.stack([y[:, 1] - y[:, 2], y[:, 2] - y[:, 0], y[:, 0] - y[:, 1]], axis=1)
    c = np.stack([x[:, 2] - x[:, 1], x[:, 0] - x[:, 2], x[:, 1] - x[:, 0]], axis=1)
    u = np.asarray(values, dtype=np.float64)[triangles]
    gx = np.sum(b * u, axis=1) / twice
    gy = np.sum(c * u, axis=1) / twice
    points, weights = _quadrature(nodes, triangles)
    ex, ey = exact_gradient(points[..., 0], points[..., 1])
    return float(np.sqrt(np.sum(weights * ((gx[:, None] - ex) ** 2 + (gy[:, None] - ey) ** 2))))


class P1:
    """The P1 space of one mesh: its matrices and integrals, built once and cached.

    Parameters
    ----------
    nodes, triangles : numpy.ndarray
        The mesh, as for :func:`stiffness_matrix` (``[m, 2]`` float, ``[t, 3]`` integer
        counter-clockwise).

    Examples
    --------
    >>> from pdeml.mesh import mesh_disk
    >>> space = P1(*mesh_disk(0.2))
    >>> round(space.integrate(space.nodes[:, 0] ** 2), 2)  # ∫ x² over the unit disk = π/4
    0.78
    """

    def __init__(self, nodes: np.ndarray, triangles: np.ndarray) -> None:
        self.nodes, self.triangles = check_mesh(nodes, triangles)
        self._mass: scipy.sparse.csr_matrix | None = None

    @property
    def mass(self) -> scipy.sparse.csr_matrix:
        """The consistent mass matrix (:func:`mass_matrix`)."""
        if self._mass is None:
            self._mass = _csr(*_mass_coo(self.nodes, self.triangles), len(self.nodes))
        return self._mass

    def stiffness(self, coefficient: float | np.ndarray = 1.0) -> scipy.sparse.csr_matrix:
        """The stiffness matrix for coefficient ``a`` (:func:`stiffness_matrix`)."""
        return stiffness_matrix(self.nodes, self.triangles, coefficient)

    @property
    def areas(self) -> np.ndarray:
        """Triangle areas ``[t]``."""
        return signed_areas(self.nodes, self.triangles)

    def integrate(self, values: np.ndarray) -> float:
        """``∫ u_h`` (:func:`integrate`)."""
        return integrate(self.nodes, self.triangles, values)

    def inner(self, u: np.ndarray, v: np.ndarray) -> float:
        """L2 inner product ``uᵀ M v`` of two P1 fields."""
        return float(np.asarray(u) @ (self.mass @ np.asarray(v)))
