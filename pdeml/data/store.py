"""The on-disk layout of a pdeml dataset, and writing one atomically.

A dataset is one HDF5 file laid out as netCDF-4 (written through h5py by ``h5netcdf``), so
plain ``xarray.open_dataset(path, engine="h5netcdf")`` reads it lazily:

* one variable per field, named by the problem's field name, dimensions
  ``("sample", *problem.field_dims(name))``, with an attribute ``role`` = ``"input"`` or
  ``"output"``;
* one coordinate variable per dimension (``x``, ``y``, ``t``, ...) and ``sample``, the
  index of each sample in its seeded stream;
* global attributes prefixed ``pdeml_``: the problem dict and solver (JSON), the seed, the
  pdeml version, the creation time and the time the generation took.

The file is first written under a temporary name in the same folder and renamed when it is
complete, so a file at the final path is always whole.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pdeml._version import __version__
from pdeml.problems.base import Problem

ATTR_PREFIX = "pdeml_"
SAMPLE_DIM = "sample"


def temporary_path(path: Path) -> Path:
    """Name used while ``path`` is being written (same folder, so the rename is atomic)."""
    return path.with_name(path.name + ".tmp")


def write_dataset(
    path: str | Path,
    problem: Problem,
    inputs: Mapping[str, np.ndarray],
    outputs: Mapping[str, np.ndarray],
    *,
    sample_index: np.ndarray | None = None,
    attrs: Mapping[str, Any] | None = None,
    dtype: str = "float32",
) -> Path:
    """Write one dataset file atomically and return its path.

    Parameters
    ----------
    path : str or Path
        Destination ``.h5`` file. Its folder is created if needed.
    problem : Problem
        Declares the fields' dimensions and coordinates.
    inputs, outputs : dict of str to ndarray
        Fields with the sample axis first, at ``problem.resolution``.
    sample_index : ndarray, optional
        Index of each sample in its seeded stream (default ``0 .. n - 1``).
    attrs : dict, optional
        Extra provenance (solver, seed, timings); stored JSON-encoded under ``pdeml_``.
    dtype : {"float32", "float64"}
        Storage type of the float fields (coordinates are always float64); fields the
        problem's checks return as integers (mesh triangles, counts) are stored as int64.
    """
    import h5netcdf

    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    path = Path(path)
    inputs = problem.check_inputs(inputs, problem.resolution)
    outputs = problem.check_outputs(outputs, problem.resolution)
    n = len(next(iter(inputs.values())))
    index = np.arange(n) if sample_index is None else np.asarray(sample_index, dtype=np.int64)
    if index.shape != (n,):
        raise ValueError(f"sample_index: expected shape ({n},), got {index.shape}")

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    coords = problem.coords()
    try:
        with h5netcdf.File(tmp, "w") as f:
            f.dimensions[SAMPLE_DIM] = n
            for dim, values in coords.items():
                f.dimensions[dim] = len(values)
            f.create_variable(SAMPLE_DIM, (SAMPLE_DIM,), data=index)
            for dim, values in coords.items():
                f.create_variable(dim, (dim,), data=np.asarray(values, dtype=np.float64))
            for role, fields in (("input", inputs), ("output", outputs)):
                for key, value in fields.items():
                    dims = (SAMPLE_DIM, *problem.field_dims(key))
                    chunks = (1, *value.shape[1:])  # one sample per chunk: fast random access
                    # Integer fields (mesh connectivity, counts) stay integers.
                    data = value if value.dtype.kind in "iu" else value.astype(dtype)
                    var = f.create_variable(key, dims, data=data, chunks=chunks)
                    var.attrs["role"] = role
            # pdeml's own keys come last so that extra attributes cannot replace them.
            meta = {
                **(attrs or {}),
                "problem": problem.to_dict(),
                "inputs": list(problem.input_names),
                "outputs": list(problem.output_names),
                "version": __version__,
                "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            }
            for key, value in meta.items():
                f.attrs[ATTR_PREFIX + key] = json.dumps(value)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_attrs(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Decode the ``pdeml_`` attributes of a file (JSON values) into a plain dict."""
    out = {}
    for key, value in raw.items():
        if not key.startswith(ATTR_PREFIX):
            continue
        if isinstance(value, bytes):
            value = value.decode()
        try:
            out[key[len(ATTR_PREFIX) :]] = json.loads(value)
        except (TypeError, json.JSONDecodeError):
            out[key[len(ATTR_PREFIX) :]] = value
    return out
