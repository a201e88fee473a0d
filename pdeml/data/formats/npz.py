"""Plain arrays: a NumPy ``.npz`` archive whose keys are the problem's field names.

Each array has the sample axis first and the dimensions the problem declares for the field
(``u0`` ``[N, x]`` for Burgers, ``w_in`` ``[N, t_in, x, y]`` for Navier–Stokes, ...). Files
are read with ``allow_pickle=False``: object arrays are refused, never unpickled.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pdeml.data.dataset import Dataset
from pdeml.data.formats._common import (
    Imported,
    atomic_output,
    existing_file,
    file_label,
    finite_array,
    fit_grid,
    key_error,
    native_grid,
    opened,
    replace_problem,
    require_rank,
    sample_count,
    stored_fields,
    strided,
)
from pdeml.problems.base import Problem

FORMAT = "arrays"


def read_arrays(
    path: str | Path, problem: Problem, *, resolution: int | None = None, n: int | None = None
) -> Imported:
    """Read a ``.npz`` archive keyed by ``problem``'s field names.

    Parameters
    ----------
    path : str or Path
        The ``.npz`` file.
    problem : Problem
        What the data are; its grid (and the time axes' lengths: Navier–Stokes ``t_in`` and
        ``T``, Burgers ``n_t``) are set from the arrays.
    resolution : int, optional
        Store a coarser grid, taken by striding (default: the arrays' grid).
    n : int, optional
        Read only the first ``n`` samples.

    Returns
    -------
    Imported
        The fitted problem, the fields, and the provenance record.
    """
    path = existing_file(FORMAT, path)
    label = file_label(FORMAT, path)
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as error:  # numpy raises several types for non-npy data
        raise ValueError(f"{label}: not a NumPy .npz archive ({type(error).__name__})") from None
    if not hasattr(archive, "files"):
        raise ValueError(f"{label}: expected a .npz archive of named arrays, got a single array")
    arrays = {}
    with archive:
        for key in archive.files:
            try:
                arrays[key] = archive[key]
            except ValueError:
                raise key_error(
                    label, key, "a numeric array", "an object array (never unpickled)"
                ) from None
    changes = problem.parameters_from_shapes(arrays)
    target = replace_problem(problem, label, **changes) if changes else problem
    expected = target.field_names
    for key in expected:
        if key not in arrays:
            raise key_error(
                label,
                key,
                f"the field {key!r} of {problem.name}",
                f"no such key ({sorted(arrays)})",
            )
    extra = [k for k in arrays if k not in expected]
    if extra:
        raise ValueError(
            f"{label}: unexpected keys {extra}; expected exactly the fields of "
            f"{problem.name}: {list(expected)}"
        )
    fields = {}
    for key in expected:
        dims = target.field_dims(key)
        require_rank(label, key, np.shape(arrays[key]), 1 + len(dims), f"[N, {', '.join(dims)}]")
        fields[key] = finite_array(label, key, arrays[key])
    keys = {k: k for k in expected}
    native = native_grid(label, target, fields, keys)
    count = sample_count(label, n, len(fields[expected[0]]))
    fitted, stride = fit_grid(problem, native, resolution, label, **changes)
    out = strided(label, fitted, fields, keys, native, count)
    source = {
        "file": path.name,
        "format": FORMAT,
        "keys": keys,
        "native_resolution": native,
        "stride": stride,
        "set_by_file": changes,
        "notes": ["physical parameters are the problem's: the file records none"],
    }
    inputs = {k: out[k] for k in fitted.input_names}
    return Imported(fitted, inputs, {k: out[k] for k in fitted.output_names}, source)


def export_arrays(
    dataset: Dataset | str | Path, path: str | Path, *, overwrite: bool = False
) -> Path:
    """Write a pdeml dataset as a ``.npz`` archive keyed by field name (stored dtype).

    Parameters
    ----------
    dataset : Dataset or str or Path
        The dataset (or its file).
    path : str or Path
        The ``.npz`` file to write (atomically).
    overwrite : bool
        Replace an existing file.
    """
    with opened(dataset) as ds:
        inputs, outputs = stored_fields(ds)
    with atomic_output(path, overwrite) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **inputs, **outputs)
    return Path(path)
