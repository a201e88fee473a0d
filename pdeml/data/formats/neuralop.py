"""neuraloperator ``.pt`` files: a dict of tensors ``x`` (input) and ``y`` (output).

The files of the ``neuraloperator`` library hold one input and one output field, with or
without a channel axis of size 1, and are read as shipped:

- **Darcy** (``darcy_train_16.pt``, ``darcy_test_16.pt``, ``darcy_test_32.pt``): ``x`` is
  a 0/1 mask of the two-phase coefficient stored as ``bool``; it is cast to float (0.0 and
  1.0, exact) and the cast is recorded.
- **Burgers** (``burgers_train_16.pt``, ``burgers_test_16.pt``): ``y`` ``[N, 17, 16]`` is a
  trajectory whose first snapshot is ``x``; it becomes ``u_traj = y[:, 1:]`` (``n_t = 16``)
  and ``u = y[:, -1]``, and the key ``visc`` sets the problem's viscosity ``nu``.

**Grid.** neuraloperator places every file on the regular grid ``x_j = j/s``,
``j = 0 .. s-1`` (its positional embedding; the files at 16 and 32 points are nested).
For a periodic problem this is pdeml's grid. For a problem whose grid holds both ends
(Darcy2D, ``linspace(0, 1, s)``) the values are stored as they are, so node ``j`` stands for
``x = j/s`` of the file: ``x_file = x_stored (s - 1)/s``; ``source`` records the mapping.

Other parameters (the time ``T`` of a trajectory, forcing, ...) are the problem's: the files
record none. Files are read with ``torch.load(..., weights_only=True)``, which loads tensors
and plain containers only, never arbitrary pickled objects.
"""

from __future__ import annotations

import dataclasses
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
    finite_array,
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
#: The key neuraloperator's Burgers files hold the viscosity in, and the parameter it sets.
VISCOSITY_KEY, VISCOSITY = "visc", "nu"


def read_neuralop_pt(
    path: str | Path, problem: Problem, *, resolution: int | None = None, n: int | None = None
) -> Imported:
    """Read a neuraloperator ``.pt`` file (``{"x": tensor, "y": tensor, ...}``) onto ``problem``.

    Parameters
    ----------
    path : str or Path
        The ``.pt`` file.
    problem : Problem
        A problem with one input and one output field; ``x`` becomes the input, ``y`` the
        output. A channel axis of size 1 (``[N, 1, ...]``) is squeezed; boolean tensors are
        cast to float. For Navier–Stokes a missing time axis (``[N, s, s]``) means one
        snapshot, and ``t_in``/``T`` follow the tensors. For a problem with an optional
        trajectory (Burgers ``u_traj``), ``y`` ``[N, t, x]`` with ``y[:, 0]`` equal to ``x``
        is that trajectory from time 0, and ``n_t`` follows it. A key ``visc`` sets ``nu``.
    resolution : int, optional
        Store a coarser grid, taken by striding (default: the file's grid).
    n : int, optional
        Read only the first ``n`` samples.

    Returns
    -------
    Imported
        The fitted problem, the fields, and the provenance record (``source``: keys, casts,
        the file's grid and its mapping, the parameters the file set, notes).
    """
    path = existing_file(FORMAT, path)
    label = file_label(FORMAT, path)
    try:
        in_name, out_name = single_fields(problem, FORMAT)
    except ValueError as error:
        raise ValueError(f"{label}: {error}") from None
    data = _load(path, label)
    require_keys(label, data, ("x", "y"), "a tensor")
    casts: dict[str, str] = {}
    notes: list[str] = []
    x, note = _fit_rank(label, "x", _as_array(label, "x", data["x"], casts), problem, in_name)
    notes += [note] if note else []
    y = _as_array(label, "y", data["y"], casts)
    trajectory = _trajectory_of(problem, out_name)
    if trajectory and y.ndim == 2 + len(problem.field_dims(out_name)) and y.shape[1] > 1:
        fields, keys = _split_trajectory(label, x, y, (in_name, out_name, trajectory))
        changes = problem.parameters_from_shapes(fields)
        notes.append(
            f"'y' [N, {y.shape[1]}, ...] read as a trajectory from t = 0 (y[:, 0] equals x): "
            f"{trajectory} = y[:, 1:] at the {y.shape[1] - 1} times k T/{y.shape[1] - 1}, "
            f"{out_name} = y[:, -1]; the time T is the problem's (the file records no times)"
        )
    else:
        fields = {in_name: x}
        fields[out_name], note = _fit_rank(label, "y", y, problem, out_name)
        notes += [note] if note else []
        keys = {in_name: "x", out_name: "y"}
        # A problem whose trajectory is optional keeps its own setting when the file has none.
        changes = {} if trajectory else problem.parameters_from_shapes(fields)
    used = {"x", "y"}
    if VISCOSITY_KEY in data:
        viscosity, note = _viscosity(label, data[VISCOSITY_KEY], problem)
        notes.append(note)
        if viscosity is not None:
            changes[VISCOSITY] = viscosity
            used.add(VISCOSITY_KEY)
    spatial = {k: v for k, v in fields.items() if k != trajectory}
    native = native_grid(label, problem, spatial, keys)
    count = sample_count(label, n, len(x))
    fitted, stride = fit_grid(problem, native, resolution, label, **changes)
    out = strided(label, fitted, fields, keys, native, count)
    grid, mapping, note = _grid_record(fitted, native)
    notes += [f"{key!r} stored as bool (a 0/1 mask): cast to 0.0/1.0" for key in casts]
    notes += [note, "other physical parameters are the problem's: the file records none"]
    source = {
        "file": path.name,
        "format": FORMAT,
        "keys": keys,
        "casts": casts,
        "native_resolution": native,
        "stride": stride,
        "grid": grid,
        "grid_mapping": mapping,
        "set_by_file": changes,
        "notes": notes,
        "unused_keys": sorted(str(k) for k in data if k not in used),
    }
    inputs = {in_name: out[in_name]}
    return Imported(fitted, inputs, {k: v for k, v in out.items() if k != in_name}, source)


def _load(path: Path, label: str) -> dict[str, Any]:
    import torch

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
    return data


def _as_array(label: str, key: str, value: Any, casts: dict[str, str]) -> np.ndarray:
    """A tensor (or array) as a real numpy array; booleans become float32 0/1 (recorded)."""
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
    if array.dtype == np.bool_:
        # neuraloperator's Darcy files store the coefficient as a 0/1 mask; 0.0/1.0 is exact.
        casts[key] = "bool -> float32 (False -> 0.0, True -> 1.0)"
        array = array.astype(np.float32)
    return array


def _fit_rank(
    label: str, key: str, array: np.ndarray, problem: Problem, name: str
) -> tuple[np.ndarray, str]:
    dims = problem.field_dims(name)
    rank = 1 + len(dims)
    layout = f"[N, {', '.join(dims)}]"
    if array.ndim == rank:
        return array, ""
    if array.ndim == rank + 1 and array.shape[1] == 1:
        return array[:, 0], f"channel axis of {key!r} squeezed"
    if array.ndim == rank - 1 and dims[0] not in problem.spatial_dims():
        return array[:, None], f"{key!r} read as one snapshot along {dims[0]!r}"
    expected = f"{layout} or [N, 1, {', '.join(dims)}]"
    if key == "y" and _trajectory_of(problem, name):
        expected += f" or a trajectory [N, t, {', '.join(dims)}] with y[:, 0] equal to x"
    raise key_error(label, key, expected, f"shape {array.shape}")


def _trajectory_of(problem: Problem, name: str) -> str | None:
    """The declared output holding ``name`` over time (Burgers: ``u_traj`` for ``u``)."""
    dims = ("t", *problem.field_dims(name))
    found = [k for k, v in type(problem).OUTPUTS.items() if k != name and tuple(v) == dims]
    return found[0] if len(found) == 1 else None


def _split_trajectory(
    label: str, x: np.ndarray, y: np.ndarray, names: tuple[str, str, str]
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """``x`` and a trajectory ``y`` starting at ``x`` as input, final state and trajectory."""
    in_name, out_name, trajectory = names
    if x.shape[0] != y.shape[0] or x.shape[1:] != y.shape[2:]:
        raise key_error(
            label, "y", f"a trajectory [N, t, ...] of x's shape {x.shape}", f"shape {y.shape}"
        )
    first = finite_array(label, "y", y[:, 0])
    scale = float(np.max(np.abs(finite_array(label, "x", x)), initial=0.0))
    gap = float(np.max(np.abs(first - x), initial=0.0))
    if gap > 1e-6 * max(scale, np.finfo(np.float64).tiny):
        raise key_error(
            label,
            "y",
            "a trajectory [N, t, ...] from t = 0 with y[:, 0] equal to x (neuraloperator's layout)",
            f"y[:, 0] differing from x by up to {gap:.3g}",
        )
    fields = {in_name: x, out_name: y[:, -1], trajectory: y[:, 1:]}
    keys = {in_name: "x", out_name: "y[:, -1]", trajectory: "y[:, 1:]"}
    return fields, keys


def _viscosity(label: str, value: Any, problem: Problem) -> tuple[float | None, str]:
    """``nu`` from the file's ``visc`` (one value), and the note saying how it was read."""
    if VISCOSITY not in {f.name for f in dataclasses.fields(problem)}:
        return None, (
            f"{VISCOSITY_KEY!r} not used: problem {problem.name!r} has no viscosity "
            f"parameter {VISCOSITY!r}"
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = np.asarray(float(value))
    array = finite_array(label, VISCOSITY_KEY, _as_array(label, VISCOSITY_KEY, value, {}))
    values = np.unique(array)
    if values.size != 1 or values[0] <= 0:
        raise key_error(
            label, VISCOSITY_KEY, "one positive viscosity", f"values {values[:4].tolist()}"
        )
    stored = float(values[0])
    # Written as float32 (0.01 -> 0.009999999776...): read back the decimal it was written
    # from, so that --set nu=0.01 agrees with the file.
    single = np.float32(stored)
    viscosity = float(str(single)) if float(single) == stored else stored
    rounding = f" (stored as {stored!r}, float32 precision)" if viscosity != stored else ""
    return viscosity, f"{VISCOSITY} = {VISCOSITY_KEY} = {viscosity!r}{rounding}"


def _grid_record(problem: Problem, native: int) -> tuple[str, str, str]:
    """The file's grid, its mapping onto the problem's grid, and the note saying so."""
    grid = f"x_j = j/{native}, j = 0..{native - 1}"
    if not problem.grid_includes_right_end():
        return grid, "exact", f"neuraloperator's grid {grid} is the problem's grid: exact"
    mapping = f"x_file = x_stored * {native - 1}/{native}"
    note = (
        f"neuraloperator's grid {grid} (x = 0 on it, x = 1 not) stored as is on "
        f"{type(problem).__name__}'s node grid linspace(0, 1, {native}): values unchanged, "
        f"{mapping}; against the problem's reference solver the domains differ by one cell "
        "and the last row and column of the file are not boundary values"
    )
    return grid, mapping, note


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
