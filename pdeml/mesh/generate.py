"""Random star-shaped domains and their triangle meshes (gmsh).

A star-shaped domain is described by its boundary in polar form,

    r(θ) = r0 (1 + Σ_{m=2..M} a_m cos mθ + b_m sin mθ),

with small coefficients. Modes ``m = 0, 1`` are left out: they would only rescale or
shift the domain. Every call to gmsh initialises and finalises it (quiet, one thread, no
GUI), so meshing is deterministic and runs in worker processes without shared state.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import numpy as np

from pdeml.mesh.topology import orient_ccw

#: Points of r(θ) that the boundary splines interpolate, per half of the boundary.
CONTROL_POINTS_PER_HALF = 48

# gmsh keeps one global state per process; meshing from two threads at once would mix models.
_GMSH_LOCK = threading.Lock()


@contextlib.contextmanager
def gmsh_session(name: str = "pdeml") -> Iterator[object]:
    """A quiet, single-threaded gmsh model, torn down on exit.

    gmsh is initialised here and finalised on exit; if the caller already runs a gmsh
    session, only a new model is added to it and removed on exit.
    """
    import gmsh

    with _GMSH_LOCK:
        owner = not gmsh.isInitialized()
        if owner:
            # interruptible=False: no signal handler, so it works outside the main thread.
            gmsh.initialize(readConfigFiles=False, interruptible=False)
        try:
            gmsh.option.setNumber("General.Terminal", 0)
            gmsh.option.setNumber("General.Verbosity", 0)
            gmsh.option.setNumber("General.NumThreads", 1)
            gmsh.option.setNumber("Mesh.Algorithm", 6)  # Frontal-Delaunay: well-shaped triangles
            gmsh.model.add(name)
            yield gmsh
        finally:
            if owner:
                gmsh.finalize()
            else:
                gmsh.model.remove()


def _extract(gmsh: object) -> tuple[np.ndarray, np.ndarray]:
    """Nodes used by the triangles of the current model, renumbered from 0, and CCW triangles."""
    tags, coords, _ = gmsh.model.mesh.getNodes()
    _, element_nodes = gmsh.model.mesh.getElementsByType(2)
    xyz = np.asarray(coords, dtype=np.float64).reshape(-1, 3)
    tags = np.asarray(tags, dtype=np.int64)
    triangles_by_tag = np.asarray(element_nodes, dtype=np.int64).reshape(-1, 3)
    # Geometry points that are not on the mesh (spline control points) have nodes too:
    # keep only the nodes the triangles use, in gmsh's tag order (boundary nodes first).
    used = np.unique(triangles_by_tag)
    position = np.full(int(max(tags.max(), used.max())) + 1, -1, dtype=np.int64)
    position[tags] = np.arange(len(tags))
    nodes = xyz[position[used], :2]
    index = np.full(len(position), -1, dtype=np.int64)
    index[used] = np.arange(len(used))
    triangles, _ = orient_ccw(nodes, index[triangles_by_tag])
    return np.ascontiguousarray(nodes), triangles


def _check_size(mesh_size: float) -> float:
    ok = isinstance(mesh_size, (int, float, np.integer, np.floating)) and not isinstance(
        mesh_size, bool
    )
    if not ok or not np.isfinite(mesh_size) or mesh_size <= 0:
        raise ValueError(f"mesh_size must be a finite number > 0, got {mesh_size!r}")
    return float(mesh_size)


def mesh_rectangle(
    mesh_size: float, x0: float = 0.0, x1: float = 1.0, y0: float = 0.0, y1: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Unstructured triangle mesh of the rectangle ``[x0, x1] × [y0, y1]``.

    Returns
    -------
    nodes : numpy.ndarray
        float64 ``[m, 2]``.
    triangles : numpy.ndarray
        int64 ``[t, 3]``, counter-clockwise.
    """
    h = _check_size(mesh_size)
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"rectangle: expected x1 > x0 and y1 > y0, got {(x0, x1, y0, y1)}")
    with gmsh_session("rectangle") as gmsh:
        geo = gmsh.model.geo
        corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        points = [geo.addPoint(x, y, 0.0, h) for x, y in corners]
        lines = [geo.addLine(points[k], points[(k + 1) % 4]) for k in range(4)]
        geo.addPlaneSurface([geo.addCurveLoop(lines)])
        geo.synchronize()
        gmsh.model.mesh.generate(2)
        return _extract(gmsh)


def mesh_disk(
    mesh_size: float, radius: float = 1.0, center: tuple[float, float] = (0.0, 0.0)
) -> tuple[np.ndarray, np.ndarray]:
    """Triangle mesh of a disk; boundary nodes lie on the circle (gmsh circle arcs).

    The arcs meet at the four points at angles 0, π/2, π and 3π/2, so those are nodes.
    """
    h = _check_size(mesh_size)
    if not radius > 0:
        raise ValueError(f"radius must be > 0, got {radius!r}")
    cx, cy = center
    with gmsh_session("disk") as gmsh:
        geo = gmsh.model.geo
        middle = geo.addPoint(cx, cy, 0.0, h)
        rim = [
            geo.addPoint(cx + radius * c, cy + radius * s, 0.0, h)
            for c, s in ((1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0))
        ]
        arcs = [geo.addCircleArc(rim[k], middle, rim[(k + 1) % 4]) for k in range(4)]
        geo.addPlaneSurface([geo.addCurveLoop(arcs)])
        geo.synchronize()
        gmsh.model.mesh.generate(2)
        return _extract(gmsh)


def star_radius(theta: np.ndarray, cosines: np.ndarray, sines: np.ndarray, r0: float) -> np.ndarray:
    """``r(θ) = r0 (1 + Σ_{m≥2} a_m cos mθ + b_m sin mθ)``; ``cosines[k]`` is ``a_{k+2}``."""
    theta = np.asarray(theta, dtype=np.float64)
    m = np.arange(2, 2 + len(cosines))
    wave = np.cos(np.multiply.outer(theta, m)) @ np.asarray(cosines, dtype=np.float64)
    wave += np.sin(np.multiply.outer(theta, m)) @ np.asarray(sines, dtype=np.float64)
    return r0 * (1.0 + wave)


def random_star_coefficients(
    rng: np.random.Generator, n_harmonics: int, amplitude: float
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``a_m, b_m ~ U(−amplitude / m², amplitude / m²)`` for ``m = 2 .. n_harmonics``.

    The 1/m² decay keeps the boundary smooth; ``|r/r0 − 1| ≤ 2 amplitude Σ 1/m²`` bounds the
    deviation from the circle, so the domain stays star-shaped when that bound is < 1.
    """
    m = np.arange(2, n_harmonics + 1, dtype=np.float64)
    scale = amplitude / m**2
    cosines = rng.uniform(-1.0, 1.0, size=len(m)) * scale
    sines = rng.uniform(-1.0, 1.0, size=len(m)) * scale
    return cosines, sines


def max_deviation(n_harmonics: int, amplitude: float) -> float:
    """Bound on ``|r(θ)/r0 − 1|`` for coefficients from :func:`random_star_coefficients`."""
    m = np.arange(2, n_harmonics + 1, dtype=np.float64)
    return float(2.0 * amplitude * np.sum(1.0 / m**2))


def mesh_star_domain(
    cosines: np.ndarray, sines: np.ndarray, r0: float, mesh_size: float
) -> tuple[np.ndarray, np.ndarray]:
    """Triangle mesh of the star-shaped domain ``r < r(θ)`` (see :func:`star_radius`).

    The boundary is two splines through ``CONTROL_POINTS_PER_HALF + 1`` points of r(θ) each,
    one for the right half (−π/2 ≤ θ ≤ π/2) and one for the left; they meet at the points
    θ = ±π/2, whose x is set to exactly 0, so the split of the boundary at x = 0 falls on
    mesh nodes.

    Returns
    -------
    nodes : numpy.ndarray
        float64 ``[m, 2]``.
    triangles : numpy.ndarray
        int64 ``[t, 3]``, counter-clockwise.
    """
    h = _check_size(mesh_size)
    k = CONTROL_POINTS_PER_HALF
    theta = -0.5 * np.pi + np.pi * np.arange(2 * k) / k  # from −π/2, counter-clockwise
    r = star_radius(theta, cosines, sines, r0)
    if np.any(r <= 0):
        raise ValueError("star domain: r(θ) must stay > 0; the coefficients are too large")
    x, y = r * np.cos(theta), r * np.sin(theta)
    x[[0, k]] = 0.0  # θ = −π/2 and π/2 exactly on the line x = 0
    with gmsh_session("star") as gmsh:
        geo = gmsh.model.geo
        points = [geo.addPoint(float(x[j]), float(y[j]), 0.0, h) for j in range(2 * k)]
        right = geo.addSpline(points[: k + 1])
        left = geo.addSpline([*points[k:], points[0]])
        geo.addPlaneSurface([geo.addCurveLoop([right, left])])
        geo.synchronize()
        gmsh.option.setNumber("Mesh.MeshSizeMax", h)
        gmsh.model.mesh.generate(2)
        return _extract(gmsh)
