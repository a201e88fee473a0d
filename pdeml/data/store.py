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
import math
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pdeml._checks import format_bytes
from pdeml._version import __version__
from pdeml.problems.base import Problem

ATTR_PREFIX = "pdeml_"
SAMPLE_DIM = "sample"


#: Longest suffix pdeml appends to an output name (``<out>.partial`` for generation).
_LONGEST_SUFFIX = ".partial"
#: Longest path pdeml writes below an output (a chunk file inside ``<out>.partial/``).
_LONGEST_BELOW = ".partial/chunk_000000000.tmp.npz"


def temporary_path(path: Path) -> Path:
    """Name used while ``path`` is being written (same folder, so the rename is atomic)."""
    return path.with_name(path.name + ".tmp")


def _exists(path: Path) -> bool:
    # Path.exists raises for some errors (a name too long); any of them means "not there".
    try:
        return path.exists()
    except OSError:
        return False


def existing_ancestor(path: Path) -> Path:
    """The nearest folder above ``path`` that exists (the one whose limits apply)."""
    parent = path.absolute().parent
    while not _exists(parent) and parent != parent.parent:
        parent = parent.parent
    return parent


def name_max(folder: Path) -> int:
    """Longest file name (bytes) the file system of ``folder`` allows (255 if unknown)."""
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows) or no such limit
        return 255


def _path_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_PATH_MAX"))
    except (OSError, ValueError, AttributeError):
        return 4096


def check_output_path(path: Any, argument: str = "path") -> Path:
    """Check that ``path`` can become a file before any work is done; return it as a Path.

    Nothing is created. The checks are the ones that otherwise fail only at the very end
    of a long run: ``path`` is a folder (or ``.``), a folder above it is a file, a name is
    longer than the file system allows (including the ``.partial``/``.tmp`` names written
    beside it), or the folder it would go in is not writable.

    Parameters
    ----------
    path : str or Path
        The file to be written.
    argument : str
        How messages name the argument (e.g. ``"path (--out)"``).

    Raises
    ------
    TypeError
        ``path`` is not a string or path.
    IsADirectoryError
        ``path`` is an existing folder, ``.`` or ``..``.
    ValueError
        A folder above ``path`` is a file, or a name or the whole path is too long.
    PermissionError
        The existing folder that would hold ``path`` is not writable.
    """
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise TypeError(f"{argument}: expected a file name (str or Path), got {path!r}")
    text = os.fspath(path)
    if not text.strip():
        raise ValueError(f"{argument}: expected a file name such as 'data/dataset.h5', got ''")
    path = Path(text)
    if path.name in ("", ".", "..") or text.endswith(("/", os.sep)):
        raise IsADirectoryError(
            f"{argument} {text!r}: names a folder; expected a file name such as "
            f"{str(path / 'dataset.h5')!r}"
        )
    # A file where a folder is needed ("results.txt/data.h5").
    folder = existing_ancestor(path)
    if not folder.is_dir():
        raise ValueError(
            f"{argument} {_short(text)}: {str(folder)!r} is a file, not a folder; choose a "
            "path inside a folder"
        )
    longest = name_max(folder)
    for part in path.absolute().parts[1:]:
        # pdeml also writes "<name>.partial" and "<name>.tmp" beside the file.
        allowed = longest - (len(_LONGEST_SUFFIX) if part == path.name else 0)
        size = len(os.fsencode(part))
        if size > allowed:
            raise ValueError(
                f"{argument} {_short(text)}: the name {_short(part)} has {size} bytes; "
                f"at most {allowed} are allowed here (the file system allows {longest}, "
                "and pdeml adds suffixes such as '.partial' for temporary names)"
            )
    if path.is_dir():
        raise IsADirectoryError(
            f"{argument} {text!r}: is a folder; expected a file name such as "
            f"{str(path / 'dataset.h5')!r}"
        )
    path_max = _path_max(folder)
    if len(os.fsencode(str(path.absolute()))) + len(_LONGEST_BELOW) >= path_max:
        raise ValueError(
            f"{argument} {_short(text)}: the path is too long for the file system "
            f"({len(os.fsencode(str(path.absolute())))} bytes, at most "
            f"{path_max - len(_LONGEST_BELOW) - 1})"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"{argument} {text!r}: the folder {str(folder)!r} is not writable")
    return path


def _short(text: str) -> str:
    return repr(text) if len(text) <= 80 else repr(text[:60] + "...")


def field_values_per_sample(problem: Problem, resolution: int | None = None) -> int:
    """Numbers stored per sample, all fields together, at ``resolution``."""
    return sum(math.prod(problem.field_shape(k, resolution)) for k in problem.field_names)


def check_disk(path: Path, needed: int, what: str) -> None:
    """Refuse with ``ValueError`` when the folder of ``path`` lacks ``needed`` free bytes."""
    folder = existing_ancestor(path)
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if needed > free:
        raise ValueError(
            f"{what}: the file needs about {format_bytes(needed)} of disk, but "
            f"{str(folder)!r} has {format_bytes(free)} free; lower n or resolution, or "
            "choose another folder"
        )


def check_storable(fields: Any, what: str, dtype: str) -> None:
    """Refuse values that the file would not hold faithfully, naming field and sample.

    Complex values (the imaginary part would be dropped), NaN or infinity, and finite
    values beyond the range of ``float32`` when storing ``float32`` (they would become
    infinite). Shapes and names are left to the problem's checks.
    """
    if not isinstance(fields, Mapping):
        return
    limit = float(np.finfo(np.float32).max)
    for key, value in fields.items():
        try:
            array = np.asarray(value)
        except Exception:  # the problem's checks report unreadable values
            continue
        if array.dtype.kind == "c":
            raise TypeError(
                f"{what}[{key!r}]: complex values (dtype {array.dtype}); expected real "
                "numbers; store the real and imaginary parts as separate fields"
            )
        if array.dtype.kind != "f" or array.ndim == 0 or array.size == 0:
            continue
        rows = array.reshape(array.shape[0], -1)
        finite = np.isfinite(rows).all(axis=1)
        if not finite.all():
            first = int(np.argmin(finite))
            bad = int(np.size(rows) - np.count_nonzero(np.isfinite(rows)))
            raise ValueError(
                f"{what}[{key!r}]: {bad} NaN or infinite values, the first in sample {first}; "
                "expected finite values"
            )
        if dtype == "float32" and array.dtype.itemsize > 4:
            over = (np.abs(rows) > limit).any(axis=1)
            if over.any():
                first = int(np.argmax(over))
                raise ValueError(
                    f"{what}[{key!r}]: values beyond the float32 range (|x| > {limit:.4g}), "
                    f"the first in sample {first}; store with dtype='float64' or rescale"
                )


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
    path = check_output_path(path)
    check_storable(inputs, "inputs", dtype)
    check_storable(outputs, "outputs", dtype)
    inputs = problem.check_inputs(inputs, problem.resolution)
    outputs = problem.check_outputs(outputs, problem.resolution)
    n = len(next(iter(inputs.values())))
    itemsize = np.dtype(dtype).itemsize
    check_disk(
        path,
        sum(v[:1].size for v in (*inputs.values(), *outputs.values())) * n * itemsize,
        f"{n} samples",
    )
    index = np.arange(n) if sample_index is None else np.asarray(sample_index, dtype=np.int64)
    if index.shape != (n,):
        raise ValueError(f"sample_index: expected shape ({n},), got {index.shape}")

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    coords = problem.coords()
    if tmp.exists() and not tmp.is_dir():
        tmp.unlink()  # left by a killed run; never a finished file
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
