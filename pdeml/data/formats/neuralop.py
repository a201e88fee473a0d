"""neuraloperator ``.pt`` files: a dict of tensors ``x`` (input) and ``y`` (output).

The files of the ``neuraloperator`` library (e.g. ``darcy_train_16.pt``) hold one input and
one output field, with or without a channel axis of size 1. They carry no parameters: the
problem (a preset) says what the data are, and its grid is set from the tensors' shapes.
Files are read with ``torch.load(..., weights_only=True)``, which loads tensors and plain
containers only, never arbitrary pickled objects.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from pdeml.data.dataset import Dataset
from pdeml.data.formats._common import (
    Imported,
    atomic_output,
    existing_file,
    file_label,
    fit_grid,
    key_error,
    native_grid,
    opened,
    require_keys,
    sample_count,
    single_fields,
    stored_fields,
    strided,
)
from pdeml.problems.base import Problem

FORMAT = "neuralop-pt"


def read_neuralop_pt(
    path: str | Path, problem: Problem, *, resolution: int | None = None, n: int | None = None
) -> Imported:
    """Read a neuraloperator ``.pt`` file (``{"x": tensor, "y": tensor}``) onto ``problem``.

    Parameters
    ----------
    path : str or Path
        The ``.pt`` file.
    problem : Problem
        A problem with one input and one output field; ``x`` becomes the input, ``y`` the
        output. A channel axis of size 1 (``[N, 1, ...]``) is squeezed; for Navier–Stokes a
        missing time axis (``[N, s, s]``) means one snapshot, and ``t_in``/``T`` follow the
        tensors.
    resolution : int, optional
        Store a coarser grid, taken by striding (default: the file's grid).
    n : int, optional
        Read only the first ``n`` samples.

    Returns
    -------
    Imported
        The fitted problem, the fields, and the provenance record.
    """
    import torch

    path = existing_file(FORMAT, path)
    label = file_label(FORMAT, path)
    try:
        in_name, out_name = single_fields(problem, FORMAT)
    except ValueError as error:
        raise ValueError(f"{label}: {error}") from None
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for foreign or unsafe files
        # Not torch's advice to retry with weights_only=False: pdeml never unpickles objects.
        found = re.search(r"Unsupported global: GLOBAL \S+", str(error))
        detail = f": {found.group(0)}" if found else ""
        raise ValueError(
            f"{label}: not a file of tensors that torch.load(..., weights_only=True) accepts "
            f"({type(error).__name__}{detail})"
        ) from None
    if not isinstance(data, dict):
        raise ValueError(
            f"{label}: expected a dict of tensors with keys 'x' and 'y', got {type(data).__name__}"
        )
    require_keys(label, data, ("x", "y"), "a tensor")
    keys = {in_name: "x", out_name: "y"}
    fields, notes = {}, []
    for name, key in keys.items():
        fields[name], note = _fit_rank(label, key, data[key], problem, name)
        if note:
            notes.append(note)
    changes = problem.parameters_from_shapes(fields)
    if problem.name == "burgers":
        changes = {}  # one output: u, whatever n_t the problem had is kept and checked
    native = native_grid(label, problem, fields, keys)
    count = sample_count(label, n, len(fields[in_name]))
    fitted, stride = fit_grid(problem, native, resolution, label, **changes)
    out = strided(label, fitted, fields, keys, native, count)
    notes.append("physical parameters are the problem's: the file records none")
    source = {
        "file": path.name,
        "format": FORMAT,
        "keys": keys,
        "native_resolution": native,
        "stride": stride,
        "set_by_file": changes,
        "notes": notes,
        "unused_keys": sorted(str(k) for k in data if k not in ("x", "y")),
    }
    return Imported(fitted, {in_name: out[in_name]}, {out_name: out[out_name]}, source)


def _fit_rank(
    label: str, key: str, value: Any, problem: Problem, name: str
) -> tuple[np.ndarray, str]:
    import torch

    if torch.is_tensor(value):
        if value.is_complex():
            raise key_error(label, key, "a real tensor", f"dtype {value.dtype}")
        value = value.detach().cpu()
        if value.is_floating_point() and value.dtype not in (torch.float32, torch.float64):
            value = value.to(torch.float32)  # half and bfloat16 have no numpy dtype
        array = value.numpy()
    elif isinstance(value, np.ndarray):
        array = value
    else:
        raise key_error(label, key, "a tensor", type(value).__name__)
    dims = problem.field_dims(name)
    rank = 1 + len(dims)
    layout = f"[N, {', '.join(dims)}]"
    if array.ndim == rank:
        return array, ""
    if array.ndim == rank + 1 and array.shape[1] == 1:
        return array[:, 0], f"channel axis of {key!r} squeezed"
    if array.ndim == rank - 1 and dims[0] not in problem.spatial_dims():
        return array[:, None], f"{key!r} read as one snapshot along {dims[0]!r}"
    raise key_error(label, key, f"{layout} or [N, 1, {', '.join(dims)}]", f"shape {array.shape}")


def export_neuralop_pt(
    dataset: Dataset | str | Path, path: str | Path, *, overwrite: bool = False
) -> Path:
    """Write a pdeml dataset as a neuraloperator ``.pt`` file ``{"x": ..., "y": ...}``.

    The tensors have no channel axis (neuraloperator's loaders add it) and keep the
    dataset's stored dtype.

    Parameters
    ----------
    dataset : Dataset or str or Path
        A dataset of a problem with one input and one output field (or its file).
    path : str or Path
        The ``.pt`` file to write (atomically).
    overwrite : bool
        Replace an existing file.
    """
    import torch

    with opened(dataset) as ds:
        in_name, out_name = single_fields(ds.problem, FORMAT)
        inputs, outputs = stored_fields(ds)
    data = {"x": torch.from_numpy(inputs[in_name]), "y": torch.from_numpy(outputs[out_name])}
    with atomic_output(path, overwrite) as tmp:
        torch.save(data, tmp)
    return Path(path)
