"""Triangle meshes: generation (gmsh), connectivity, and file I/O (meshio).

The meshes of :class:`pdeml.problems.DarcyMesh` are pairs ``(nodes [m, 2] float,
triangles [t, 3] int)`` with counter-clockwise triangles; datasets store them padded
(see :mod:`pdeml.mesh.topology`).
"""

from typing import Any

from pdeml.mesh.generate import (
    gmsh_session,
    mesh_disk,
    mesh_rectangle,
    mesh_star_domain,
    random_star_coefficients,
    star_radius,
)
from pdeml.mesh.topology import (
    boundary_edges,
    boundary_loop,
    orient_ccw,
    pad_mesh,
    signed_areas,
    trim_mesh,
)

__all__ = [
    "boundary_edges",
    "boundary_loop",
    "gmsh_session",
    "mesh_disk",
    "mesh_rectangle",
    "mesh_star_domain",
    "orient_ccw",
    "pad_mesh",
    "random_star_coefficients",
    "read_mesh",
    "read_sample",
    "signed_areas",
    "star_radius",
    "trim_mesh",
    "write_sample",
]


def __getattr__(name: str) -> Any:
    # The meshio functions load meshio on first use only.
    if name in ("read_mesh", "read_sample", "write_sample", "write_mesh"):
        from pdeml.mesh import io

        return getattr(io, name)
    raise AttributeError(f"module 'pdeml.mesh' has no attribute {name!r}")
