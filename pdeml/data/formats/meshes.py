"""A folder of mesh files, one sample per file, read through meshio (``--format meshes``).

Each file (``.vtu``, ``.xdmf``, ``.msh``, or any other that meshio reads into triangles)
holds one sample of a mesh problem (``darcy_mesh``): the triangle mesh, the solution ``u``
as point data, and the scalar inputs (``source``, ``boundary_value``) as field data or as
constant point arrays (how :func:`pdeml.mesh.io.write_sample` writes them). Files are taken
in sorted name order. Scalar outputs missing from a file (``u_mean``, ``u_neumann_mean``)
are computed from ``u`` with the problem's own definition, and the source record says so.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from pdeml.data.dataset import Dataset
from pdeml.data.formats._common import Imported, opened, sample_count
from pdeml.mesh.io import READ_FORMATS
from pdeml.mesh.topology import pad_mesh
from pdeml.problems.base import Problem

FORMAT = "meshes"
#: What the folder reader picks up: every extension the mesh reader knows (one list).
MESH_EXTENSIONS = tuple(READ_FORMATS)


def _label(path: Path) -> str:
    return f"{FORMAT} file {str(path)!r}"


def mesh_files(folder: str | Path) -> list[Path]:
    """The mesh files of ``folder`` in sorted name order (a one-line error if there are none)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{FORMAT} folder {str(folder)!r}: no such folder")
    files = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in MESH_EXTENSIONS
    )
    if not files:
        raise ValueError(
            f"{FORMAT} folder {str(folder)!r}: holds no mesh files; expected files ending in "
            f"{', '.join(MESH_EXTENSIONS)}"
        )
    return files


def _scalar(label: str, key: str, point_data: dict, field_data: dict) -> float | None:
    if key in field_data:
        value = field_data[key]
    elif key in point_data:
        values = point_data[key]
        if values.ndim != 1 or np.ptp(values) > 1e-12 * max(1.0, float(np.abs(values).max())):
            raise ValueError(
                f"{label}: key {key!r}: expected a scalar (field data or a constant point "
                "array), got a varying point field"
            )
        value = float(values[0])
    else:
        return None
    if not np.isfinite(value):
        raise ValueError(f"{label}: key {key!r}: expected a finite value, got {value}")
    return float(value)


def read_meshes(
    path: str | Path, problem: Problem, *, resolution: int | None = None, n: int | None = None
) -> Imported:
    """Read a folder of mesh files onto a mesh problem.

    Parameters
    ----------
    path : str or Path
        The folder.
    problem : Problem
        A mesh problem (``darcy_mesh``). Its ``max_nodes`` / ``max_triangles`` are kept if
        every mesh fits, else raised to the largest mesh (recorded in ``set_by_file``).
    resolution : None
        Meshes have no resolution; anything but ``None`` is an error.
    n : int, optional
        Read only the first ``n`` files.

    Returns
    -------
    Imported
        The problem, the padded fields, and the provenance record.
    """
    from pdeml.mesh.io import read_sample

    if not hasattr(problem, "sample_mesh"):
        raise ValueError(
            f"{FORMAT} folder {str(path)!r}: problem {problem.name!r} is not on meshes; "
            "expected a mesh problem such as 'darcy_mesh'"
        )
    if resolution is not None:
        raise ValueError(f"{FORMAT}: meshes have no resolution, got resolution={resolution!r}")
    folder = Path(path)
    files = mesh_files(folder)
    files = files[: sample_count(f"{FORMAT} folder {str(folder)!r}", n, len(files))]
    point_names = [k for k in problem.output_names if problem.field_dims(k) == ("node",)]
    scalar_in = [k for k in problem.input_names if k not in ("n_nodes", "n_triangles")]
    scalar_in = [k for k in scalar_in if problem.field_dims(k) == ()]
    scalar_out = [k for k in problem.output_names if problem.field_dims(k) == ()]
    samples, computed = [], 0
    for file in files:
        label = _label(file)
        nodes, triangles, point_data, field_data = read_sample(file)
        record = {"nodes": nodes, "triangles": triangles}
        for key in point_names:
            if key not in point_data or point_data[key].ndim != 1:
                raise ValueError(
                    f"{label}: key {key!r}: expected a point field with one value per node, "
                    f"found point fields {sorted(point_data)}"
                )
            record[key] = point_data[key]
        for key in scalar_in + scalar_out:
            value = _scalar(label, key, point_data, field_data)
            if value is None and key in scalar_in:
                raise ValueError(
                    f"{label}: key {key!r}: expected the scalar input {key!r} as field data "
                    f"or a constant point array; found {sorted(point_data) + sorted(field_data)}"
                )
            record[key] = value
        missing = [k for k in scalar_out if record[k] is None]
        if missing:
            values = dict(zip(scalar_out, problem.quantities(nodes, triangles, record["u"])))
            record.update({k: values[k] for k in missing})
            computed += 1
        samples.append(record)
    changes = {}
    largest_nodes = max(len(s["nodes"]) for s in samples)
    largest_triangles = max(len(s["triangles"]) for s in samples)
    if largest_nodes > problem.max_nodes:
        changes["max_nodes"] = largest_nodes
    if largest_triangles > problem.max_triangles:
        changes["max_triangles"] = largest_triangles
    fitted = problem.replace(**changes) if changes else problem
    count = len(samples)
    fields = {
        "nodes": np.zeros((count, fitted.max_nodes, 2)),
        "triangles": np.zeros((count, fitted.max_triangles, 3), dtype=np.int64),
        "n_nodes": np.array([len(s["nodes"]) for s in samples], dtype=np.int64),
        "n_triangles": np.array([len(s["triangles"]) for s in samples], dtype=np.int64),
    }
    for key in point_names:
        fields[key] = np.zeros((count, fitted.max_nodes))
    for i, s in enumerate(samples):
        fields["nodes"][i], fields["triangles"][i] = pad_mesh(
            s["nodes"], s["triangles"], fitted.max_nodes, fitted.max_triangles
        )
        for key in point_names:
            fields[key][i, : len(s[key])] = s[key]
    for key in scalar_in + scalar_out:
        fields[key] = np.array([s[key] for s in samples], dtype=np.float64)
    notes = ["triangles oriented counter-clockwise; nodes not used by a triangle dropped"]
    if computed:
        notes.append(f"{', '.join(scalar_out)} computed from u where a file lacked them")
    source = {
        "file": folder.name,
        "format": FORMAT,
        "files": [f.name for f in files[:20]] + (["..."] if len(files) > 20 else []),
        "keys": {k: k for k in point_names + scalar_in + scalar_out},
        "set_by_file": changes,
        "notes": notes,
    }
    inputs = {k: fields[k] for k in fitted.input_names}
    return Imported(fitted, inputs, {k: fields[k] for k in fitted.output_names}, source)


def export_meshes(
    dataset: Dataset | str | Path,
    path: str | Path,
    *,
    overwrite: bool = False,
    extension: str = ".vtu",
) -> Path:
    """Write every sample of a mesh dataset as one mesh file in the folder ``path``.

    Files are named ``sample_000000.vtu`` and so on. The folder is filled under a
    temporary name and renamed when complete.

    Parameters
    ----------
    dataset : Dataset or str or Path
        A mesh dataset (or its file).
    path : str or Path
        The folder to create.
    overwrite : bool
        Replace an existing folder.
    extension : {".vtu", ".xdmf", ".msh"}
        Format of the files.
    """
    from pdeml.mesh.io import WRITE_FORMATS, write_sample

    if extension not in WRITE_FORMATS:
        raise ValueError(f"extension: expected one of {list(WRITE_FORMATS)}, got {extension!r}")
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} already exists; pass overwrite=True to replace it")
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        with opened(dataset) as ds:
            if not hasattr(ds.problem, "sample_mesh"):
                raise ValueError(f"{FORMAT}: dataset of {ds.problem.name!r} is not on meshes")
            tmp.mkdir(parents=True)
            for i in range(len(ds)):
                write_sample(ds, i, tmp / f"sample_{i:06d}{extension}")
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return path
