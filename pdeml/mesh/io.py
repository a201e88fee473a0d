"""Reading and writing meshes with fields through meshio (.vtu, .xdmf, .msh).

One file holds one sample: the nodes, the triangles, the fields at the nodes as point data,
and the scalar inputs and outputs. meshio's VTU writer and its gmsh reader drop field data,
so scalars are written as constant point-data arrays, which every format keeps; reading
takes a scalar from field data when the file has it, else from a constant point array.

Formats by extension: ``.vtu`` (VTK XML, binary), ``.xdmf`` (XDMF with the data inline as
XML, so one self-contained file), ``.msh`` (gmsh 4.1, binary). Files are written under a
temporary name and renamed when complete.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pdeml.mesh.topology import orient_ccw, trim_mesh

if TYPE_CHECKING:
    from pdeml.data.dataset import Dataset

#: Extensions and the meshio writer settings used for them.
WRITE_FORMATS: dict[str, tuple[str, dict[str, Any]]] = {
    ".vtu": ("vtu", {}),
    ".xdmf": ("xdmf", {"data_format": "XML"}),
    ".msh": ("gmsh", {"binary": True}),
}
#: meshio reader for each extension we know (others are left to meshio to recognise).
READ_FORMATS = {
    ".vtu": "vtu",
    ".xdmf": "xdmf",
    ".xdmf3": "xdmf",
    ".xmf": "xdmf",
    ".msh": "gmsh",
    ".vtk": "vtk",
}
#: Cell types that may accompany the triangles (boundary markers) and are ignored.
IGNORED_CELLS = ("vertex", "line", "line3")
#: Fields of a padded dataset that describe the mesh itself rather than live on it.
MESH_FIELDS = ("nodes", "triangles", "n_nodes", "n_triangles")


def _extension(path: Path) -> str:
    ext = path.suffix.lower()
    if ext not in WRITE_FORMATS:
        raise ValueError(
            f"path {str(path)!r}: unknown mesh extension {ext!r}; expected one of "
            f"{', '.join(WRITE_FORMATS)}"
        )
    return ext


def write_mesh(
    path: str | Path,
    nodes: np.ndarray,
    triangles: np.ndarray,
    point_data: Mapping[str, np.ndarray] | None = None,
    scalars: Mapping[str, float] | None = None,
) -> Path:
    """Write one triangle mesh with point fields and scalars, atomically.

    Parameters
    ----------
    path : str or Path
        Destination; the extension picks the format (``.vtu``, ``.xdmf``, ``.msh``).
    nodes : numpy.ndarray
        float ``[m, 2]``.
    triangles : numpy.ndarray
        integer ``[t, 3]``.
    point_data : dict of str to ndarray, optional
        Fields at the nodes, each ``[m]`` or ``[m, k]``.
    scalars : dict of str to float, optional
        Written as constant point arrays (see the module notes).
    """
    import meshio

    path = Path(path)
    fmt, options = WRITE_FORMATS[_extension(path)]
    nodes = np.asarray(nodes, dtype=np.float64)
    data = {k: np.asarray(v, dtype=np.float64) for k, v in (point_data or {}).items()}
    for key, value in (scalars or {}).items():
        if key in data:
            raise ValueError(f"scalars[{key!r}]: the name is also a point field")
        data[key] = np.full(len(nodes), float(value))
    for key, value in data.items():
        if value.shape[:1] != (len(nodes),):
            raise ValueError(
                f"point_data[{key!r}]: expected {len(nodes)} values (one per node), "
                f"got shape {value.shape}"
            )
    # Points in 3D (z = 0): the VTU writer would pad them anyway, with a printed warning.
    points = np.column_stack([nodes, np.zeros(len(nodes))])
    cells = [("triangle", np.asarray(triangles, dtype=np.int64))]
    mesh = meshio.Mesh(points, cells, point_data=data)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        meshio.write(tmp, mesh, file_format=fmt, **options)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _sample_arrays(
    data: Dataset | Mapping[str, np.ndarray], i: int
) -> tuple[dict[str, np.ndarray], list[str]]:
    """One sample's fields (``name -> array without the sample axis``) and the scalar names."""
    from pdeml.data.dataset import Dataset

    if isinstance(data, Dataset):
        n = len(data)
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not -n <= i < n:
            raise ValueError(f"i: expected a sample index in [0, {n}), got {i!r}")
        names = data.input_names + data.output_names
        row = data.xr.isel(sample=int(i))
        fields = {k: np.asarray(row[k].values) for k in names}
    elif isinstance(data, Mapping):
        missing = [k for k in MESH_FIELDS if k not in data]
        if missing:
            raise ValueError(f"data: missing mesh fields {missing}; expected {list(MESH_FIELDS)}")
        n = len(np.asarray(data["n_nodes"]))
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not -n <= i < n:
            raise ValueError(f"i: expected a sample index in [0, {n}), got {i!r}")
        fields = {k: np.asarray(v)[i] for k, v in data.items()}
    else:
        raise TypeError(
            f"data: expected a pdeml Dataset or a dict of arrays, got {type(data).__name__}"
        )
    scalars = [k for k, v in fields.items() if np.ndim(v) == 0 and k not in MESH_FIELDS]
    return fields, scalars


def write_sample(data: Dataset | Mapping[str, np.ndarray], i: int, path: str | Path) -> Path:
    """Write sample ``i`` of a mesh dataset (or of padded arrays) to one mesh file.

    Parameters
    ----------
    data : Dataset or dict of str to ndarray
        A ``darcy_mesh`` dataset, or a dict holding at least ``nodes``, ``triangles``,
        ``n_nodes``, ``n_triangles`` (padded, sample axis first) and any fields on the
        nodes (``[n, max_nodes]`` or ``[n, max_nodes, k]``) and scalars (``[n]``).
    i : int
        The sample.
    path : str or Path
        ``.vtu``, ``.xdmf`` or ``.msh``.

    Returns
    -------
    Path
        ``path``.
    """
    fields, scalar_names = _sample_arrays(data, i)
    m, t = int(fields["n_nodes"]), int(fields["n_triangles"])
    nodes, triangles = trim_mesh(fields["nodes"], fields["triangles"], m, t)
    max_nodes = np.shape(fields["nodes"])[0]
    point_data = {
        k: np.asarray(v, dtype=np.float64)[:m]
        for k, v in fields.items()
        if k not in MESH_FIELDS and np.ndim(v) >= 1 and np.shape(v)[0] == max_nodes
    }
    scalars = {k: float(fields[k]) for k in scalar_names}
    return write_mesh(path, nodes, triangles, point_data, scalars)


def read_mesh(path: str | Path) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Read a triangle mesh and its point fields.

    Returns
    -------
    nodes : numpy.ndarray
        float64 ``[m, 2]`` (only the nodes the triangles use, renumbered in file order).
    triangles : numpy.ndarray
        int64 ``[t, 3]``, counter-clockwise (clockwise triangles are flipped).
    point_data : dict of str to ndarray
        Every point field, constant scalar arrays included; gmsh bookkeeping arrays
        (``gmsh:*``) are left out.

    Raises
    ------
    ValueError
        One line naming the file and what was expected: an unreadable file, cells other
        than triangles (vertices and lines are ignored), no triangles, nodes off the plane
        z = 0, or NaN/infinite coordinates or fields.
    """
    nodes, triangles, point_data, _ = read_sample(path)
    return nodes, triangles, point_data


def read_sample(
    path: str | Path,
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], dict[str, float]]:
    """Like :func:`read_mesh`, also returning the file's field data as scalars.

    Returns
    -------
    nodes, triangles, point_data
        As :func:`read_mesh`.
    field_data : dict of str to float
        Single-valued field data arrays of the file (formats that keep them).
    """
    import meshio

    path = Path(path)
    label = f"mesh file {str(path)!r}"
    if not path.is_file():
        raise FileNotFoundError(f"{label}: no such file")
    # An explicit format makes meshio raise on a damaged file; left to guess, it calls
    # sys.exit when no reader fits.
    fmt = READ_FORMATS.get(path.suffix.lower())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mesh = meshio.read(path, file_format=fmt)
    except (Exception, SystemExit) as error:  # meshio raises many types for foreign files
        raise ValueError(
            f"{label}: not readable by meshio as {fmt or 'any mesh format'} "
            f"({type(error).__name__}: {error})"
        ) from None
    blocks = []
    for block in mesh.cells:
        if block.type == "triangle":
            blocks.append(np.asarray(block.data, dtype=np.int64))
        elif block.type not in IGNORED_CELLS:
            raise ValueError(
                f"{label}: cells of type {block.type!r}; expected triangles only "
                "(linear P1 meshes; vertices and lines are ignored)"
            )
    if not blocks:
        raise ValueError(f"{label}: no triangle cells; expected a 2D triangle mesh")
    points = np.asarray(mesh.points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] not in (2, 3):
        raise ValueError(f"{label}: points of shape {points.shape}; expected (m, 2) or (m, 3)")
    if points.shape[1] == 3 and np.any(points[:, 2] != 0.0):
        raise ValueError(f"{label}: nodes with z != 0; expected a planar mesh in the xy plane")
    if not np.all(np.isfinite(points)):
        raise ValueError(f"{label}: NaN or infinite node coordinates; expected finite")
    raw = np.concatenate(blocks)
    used = np.unique(raw)
    index = np.full(len(points), -1, dtype=np.int64)
    index[used] = np.arange(len(used))
    nodes = np.ascontiguousarray(points[used, :2])
    try:
        triangles, _ = orient_ccw(nodes, index[raw])
    except ValueError as error:
        raise ValueError(f"{label}: {error}") from None
    point_data = {}
    for key, value in mesh.point_data.items():
        if key.startswith("gmsh:"):
            continue
        value = np.asarray(value)
        if value.dtype.kind not in "iuf":
            raise ValueError(f"{label}: point field {key!r}: expected numbers, got {value.dtype}")
        value = value.astype(np.float64)[used]
        if not np.all(np.isfinite(value)):
            raise ValueError(
                f"{label}: point field {key!r}: NaN or infinite values; expected finite"
            )
        point_data[key] = value
    field_data = {}
    for key, value in mesh.field_data.items():
        value = np.asarray(value)
        if value.size == 1 and value.dtype.kind in "iuf":
            field_data[key] = float(value.ravel()[0])
    return nodes, triangles, point_data, field_data
