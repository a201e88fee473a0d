"""PDEBench HDF5 files (Takamoto et al., NeurIPS 2022): 1D Burgers and 2D Darcy flow.

**Burgers** (``1D_Burgers_Sols_Nu*.hdf5``): ``tensor`` ``[N, t, x]``, ``x-coordinate``,
``t-coordinate`` and the attribute ``Nu``. PDEBench solves u_t + (u²/2)_x = (Nu/π) u_xx, so
the problem's ``nu`` is ``Nu/π``; ``u0 = tensor[:, 0]``, ``u = tensor[:, k]`` and ``T`` is
the time between them: ``k`` is the last snapshot unless ``target_index`` or ``target_time``
chooses another. PDEBench's grid is cell-centred, ``x_j = (j + 1/2) dx``; on a periodic
domain that is a shift by half a cell, which the (translation-invariant) equation does not
see, so values are kept as they are. A periodic domain of length ``L ≠ 1`` is rescaled
exactly onto [0, 1): with x' = x/L, t' = t/L the equation keeps its form with
ν' = ν/L, and T' = T/L; the values of u do not change.

**Darcy** (``2D_DarcyFlow_beta*_Train.hdf5``): ``tensor`` = u ``[N, 1, x, y]``, ``nu`` =
a ``[N, x, y]``, attribute ``beta`` = the constant source (the problem's ``forcing``).
PDEBench's grid is cell-centred without boundary nodes, Darcy2D's has nodes on the boundary.
The values are imported as they are (no interpolation: the data stay PDEBench's, so metrics
on them match PDEBench's), placed on Darcy2D's node grid, and the file's grid is recorded in
the ``source`` attribute. The two grids differ by half a cell, and PDEBench's outermost values
are not the zero boundary values: comparing such data with Darcy2D's own reference solver
carries an O(h) grid mismatch. Files whose coordinates are nodes from 0 to 1 (as written by
:func:`export_pdebench`) map exactly.
"""

from __future__ import annotations

import math
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
    opened,
    require_keys,
    require_rank,
    sample_count,
    stored_fields,
    uniform_spacing,
    unsupported,
)
from pdeml.problems.base import Problem

FORMAT = "pdebench"
_NUMBER = r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


def read_pdebench(
    path: str | Path,
    problem: Problem,
    *,
    resolution: int | None = None,
    n: int | None = None,
    target_index: int | None = None,
    target_time: float | None = None,
) -> Imported:
    """Read a PDEBench 1D Burgers or 2D Darcy HDF5 file onto ``problem``.

    Parameters
    ----------
    path : str or Path
        The ``.hdf5`` file.
    problem : Problem
        A ``Burgers1D`` or ``Darcy2D``; the grid and the parameters the file records
        (``nu`` and ``T`` for Burgers, ``forcing`` for Darcy) are set from the file.
    resolution : int, optional
        Store a coarser grid, taken by striding (default: the file's grid).
    n : int, optional
        Read only the first ``n`` samples.
    target_index : int, optional
        Burgers: the snapshot taken as the target ``u``, an index along the time axis of
        ``tensor`` (``1 .. t-1``, or negative from the end); default: the last one.
    target_time : float, optional
        Burgers: the target snapshot by its time in ``t-coordinate`` (instead of
        ``target_index``); it must match a stored time to a thousandth of a time step.

    Returns
    -------
    Imported
        The fitted problem, the fields, and the provenance record (``source["target"]``
        says which snapshot became ``u``, at what time, and what chose it).
    """
    import h5py

    path = existing_file(FORMAT, path)
    label = file_label(FORMAT, path)
    if problem.name not in _READERS:
        raise unsupported(FORMAT, problem, _READERS)
    if not h5py.is_hdf5(path):
        raise ValueError(f"{label}: not an HDF5 file")
    target = {"target_index": target_index, "target_time": target_time}
    target = {key: value for key, value in target.items() if value is not None}
    with h5py.File(path, "r") as f:
        imported = _READERS[problem.name](f, path, problem, label, resolution, n, target)
    imported.source = {"file": path.name, "format": FORMAT, **imported.source}
    return imported


def _dataset(f: Any, label: str, key: str, what: str) -> Any:
    import h5py

    require_keys(label, f, (key,), what)
    if not isinstance(f[key], h5py.Dataset):
        raise key_error(label, key, what, "a group")
    return f[key]


def _coordinate(f: Any, label: str, key: str, size: int | tuple[int, ...]) -> np.ndarray:
    values = finite_array(label, key, _dataset(f, label, key, "a coordinate vector")[()]).ravel()
    sizes = (size,) if isinstance(size, int) else size
    if values.size not in sizes:
        expected = " or ".join(map(str, sizes))
        raise key_error(label, key, f"{expected} coordinates", f"{values.size}")
    return values.astype(np.float64)


def _attribute(f: Any, path: Path, label: str, name: str, what: str) -> tuple[float, str]:
    """A scalar attribute, else the value after ``name`` in the file name (as PDEBench's)."""
    if name in f.attrs:
        value = np.asarray(f.attrs[name])
        if value.size != 1 or value.dtype.kind not in "iuf" or not np.isfinite(value).all():
            raise ValueError(f"{label}: attribute {name!r}: expected {what}, got {value!r}")
        return float(value.ravel()[0]), f"attribute {name}"
    match = re.search(name + _NUMBER, path.name)
    if match:
        return float(match.group(1)), f"file name ({match.group(0)})"
    raise ValueError(
        f"{label}: attribute {name!r}: expected {what} (or '{name}<value>' in the file name), "
        "got no such attribute"
    )


def _burgers(
    f: Any, path: Path, problem: Problem, label: str, resolution: Any, n: Any, target: Any
) -> Imported:
    tensor = _dataset(f, label, "tensor", "the solutions, an array [N, t, x]")
    require_rank(label, "tensor", tensor.shape, 3, "[N, t, x]")
    count_all, steps, nx = tensor.shape
    if steps < 2:
        raise key_error(label, "tensor", "at least 2 time steps along axis 1", f"{steps}")
    x = _coordinate(f, label, "x-coordinate", nx)
    # PDEBench's t-coordinate has one entry more than the stored snapshots.
    t = _coordinate(f, label, "t-coordinate", (steps, steps + 1))
    dx = uniform_spacing(label, "x-coordinate", x)
    length = nx * dx
    if math.isclose(length, 1.0, rel_tol=1e-6):
        length = 1.0
    viscosity, nu_from = _attribute(f, path, label, "Nu", "PDEBench's viscosity coefficient Nu")
    last, chosen_by = _target_snapshot(label, t[:steps], target)
    span = float(t[last] - t[0])
    if span <= 0:
        raise key_error(label, "t-coordinate", "increasing times", f"{t[0]:g} .. {t[last]:g}")
    nu, final = viscosity / math.pi / length, span / length
    count = sample_count(label, n, count_all)
    fitted, stride = fit_grid(problem, nx, resolution, label, nu=nu, T=final, n_t=0)
    u0 = finite_array(label, "tensor", tensor[0:count, 0, ::stride])
    u = finite_array(label, "tensor", tensor[0:count, last, ::stride])
    notes = [
        f"nu = Nu/π = {viscosity:g}/π (PDEBench solves u_t + (u²/2)_x = (Nu/π) u_xx; "
        f"Nu from the {nu_from})",
        f"T = t[{last}] - t[0] = {span:g}",
        f"x-coordinate: {nx} points from {x[0]:.6g}, spacing {dx:.6g}, periodic length "
        f"{nx * dx:.6g}; "
        + (
            f"stored on x_j = j/{nx} (a shift by {x[0]:.3g}, which the periodic equation "
            "does not see)"
            if abs(x[0]) > 1e-3 * dx
            else "the grid x_j = j L/N of Burgers1D"
        ),
        "the input distribution (sigma, tau, gamma) is the problem's, not PDEBench's",
    ]
    if length != 1.0:
        notes.append(
            f"domain length {length:.6g} rescaled to 1: x' = x/L, t' = t/L, so nu = Nu/(π L) "
            "and T = span/L; values unchanged"
        )
    source = {
        "keys": {"u0": "tensor[:, 0]", "u": f"tensor[:, {last}]"},
        "target": {"index": last, "time": float(t[last]), "chosen_by": chosen_by},
        "native_resolution": nx,
        "stride": stride,
        "x_range": [float(x[0]), float(x[-1])],
        "period": float(nx * dx),
        "set_by_file": {"nu": nu, "T": final, "n_t": 0},
        "notes": notes,
    }
    return Imported(fitted, {"u0": u0}, {"u": u}, source)


def _darcy(
    f: Any, path: Path, problem: Problem, label: str, resolution: Any, n: Any, target: Any
) -> Imported:
    if target:
        raise ValueError(
            f"{label}: {next(iter(target))}: the Darcy layout holds one steady solution; "
            "expected no target snapshot"
        )
    tensor = _dataset(f, label, "tensor", "the solutions u, an array [N, 1, x, y]")
    require_rank(label, "tensor", tensor.shape, 4, "[N, 1, x, y]")
    count_all, channels, nx, ny = tensor.shape
    if channels != 1 or nx != ny:
        raise key_error(label, "tensor", "a square grid [N, 1, s, s]", f"shape {tensor.shape}")
    coefficient = _dataset(f, label, "nu", "the coefficients a, an array [N, x, y]")
    if coefficient.shape != (count_all, nx, ny):
        raise key_error(label, "nu", f"shape {(count_all, nx, ny)}", f"{coefficient.shape}")
    grids = {}
    for key in ("x-coordinate", "y-coordinate"):
        values = _coordinate(f, label, key, nx)
        h = uniform_spacing(label, key, values)
        tol = 1e-3 * h
        if abs(values[0]) < tol and abs(values[-1] - 1.0) < tol:
            grids[key] = "nodes"
        elif abs(values[0] - h / 2) < tol and abs(values[-1] - 1.0 + h / 2) < tol:
            grids[key] = "cell-centred"
        else:
            raise key_error(
                label,
                key,
                "the unit interval as nodes 0..1 or as cell centres h/2..1-h/2",
                f"{nx} points from {values[0]:.6g} to {values[-1]:.6g}",
            )
    if len(set(grids.values())) != 1:
        raise key_error(label, "y-coordinate", f"a {grids['x-coordinate']} grid like x", "not")
    grid = grids["x-coordinate"]
    beta, beta_from = _attribute(f, path, label, "beta", "the constant source beta")
    count = sample_count(label, n, count_all)
    fitted, stride = fit_grid(problem, nx, resolution, label, forcing=beta)
    index = (slice(0, count), slice(None, None, stride), slice(None, None, stride))
    a = finite_array(label, "nu", coefficient[index])
    u = finite_array(label, "tensor", tensor[index[0], 0, index[1], index[2]])
    notes = [f"forcing = beta = {beta:g} (from the {beta_from})"]
    if grid == "cell-centred":
        notes.append(
            f"PDEBench's cell-centred grid x_i = (i + 1/2)/{nx} (no boundary nodes) stored as "
            f"is on Darcy2D's node grid linspace(0, 1, {nx}): values unchanged; against "
            "Darcy2D's reference solver the grids differ by half a cell and the outermost "
            "values are not the zero boundary"
        )
    else:
        notes.append("grid nodes include the boundary, as Darcy2D's: exact mapping")
    notes.append("the coefficient distribution is the problem's, not PDEBench's")
    source = {
        "keys": {"a": "nu", "u": "tensor[:, 0]"},
        "native_resolution": nx,
        "stride": stride,
        "grid": grid,
        "set_by_file": {"forcing": beta},
        "notes": notes,
    }
    return Imported(fitted, {"a": a}, {"u": u}, source)


def _target_snapshot(label: str, times: np.ndarray, target: dict[str, Any]) -> tuple[int, str]:
    """Index of the target snapshot among ``times`` (one per stored snapshot) and its origin."""
    steps = len(times)
    if len(target) > 1:
        raise ValueError(f"{label}: target_index and target_time both given; expected one")
    if "target_index" in target:
        index = target["target_index"]
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"target_index: expected an int, got {type(index).__name__}")
        last = int(index) + steps if index < 0 else int(index)
        if not 1 <= last < steps:
            raise ValueError(
                f"{label}: target_index={index}: expected a snapshot after the first, "
                f"1..{steps - 1} (or {-(steps - 1)}..-1), of the {steps} in 'tensor'"
            )
        return last, f"target_index={index}"
    if "target_time" in target:
        value = target["target_time"]
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise TypeError(f"target_time: expected a number, got {type(value).__name__}")
        value = float(value)
        # A thousandth of a step: the times are float32 in PDEBench's files.
        tolerance = 1e-3 * float(np.min(np.abs(np.diff(times))))
        gaps = np.abs(times - value) if math.isfinite(value) else np.full(steps, np.inf)
        last = int(np.argmin(gaps))
        if gaps[last] > tolerance or last == 0:
            raise ValueError(
                f"{label}: target_time={value:g}: expected one of the snapshot times after the "
                f"first in 't-coordinate', {times[1]:.6g} .. {times[-1]:.6g} ({steps - 1} "
                f"times, step {times[1] - times[0]:.6g})"
            )
        return last, f"target_time={value:g}"
    return steps - 1, "the last snapshot (default)"


_READERS = {"burgers": _burgers, "darcy": _darcy}


def export_pdebench(
    dataset: Dataset | str | Path, path: str | Path, *, overwrite: bool = False
) -> Path:
    """Write a Burgers or Darcy pdeml dataset in PDEBench's HDF5 layout.

    Burgers: ``tensor`` ``[N, 2, x]`` holding ``u0`` and ``u``, ``x-coordinate`` (pdeml's
    grid ``j/N``), ``t-coordinate`` ``[0, T]`` and ``Nu = π·nu``. Darcy: ``tensor`` = u
    ``[N, 1, x, y]``, ``nu`` = a, node coordinates ``linspace(0, 1, s)`` and ``beta`` =
    forcing. The coordinates are pdeml's, so :func:`read_pdebench` maps the file back
    exactly.

    Parameters
    ----------
    dataset : Dataset or str or Path
        The dataset (or its file).
    path : str or Path
        The ``.hdf5`` file to write (atomically).
    overwrite : bool
        Replace an existing file.
    """
    import h5py

    with opened(dataset) as ds:
        problem = ds.problem
        inputs, outputs = stored_fields(ds)
    if problem.name == "burgers" and problem.n_t > 0:
        raise ValueError(
            f"{FORMAT}: the Burgers layout written here holds u0 and u only; this dataset "
            f"also has u_traj (n_t={problem.n_t})"
        )
    if problem.name not in _READERS:
        raise unsupported(FORMAT, problem, _READERS)
    coords = problem.coords()
    with atomic_output(path, overwrite) as tmp, h5py.File(tmp, "w") as f:
        if problem.name == "burgers":
            f.create_dataset("tensor", data=np.stack([inputs["u0"], outputs["u"]], axis=1))
            f.create_dataset("x-coordinate", data=coords["x"])
            f.create_dataset("t-coordinate", data=np.array([0.0, problem.T]))
            f.attrs["Nu"] = problem.nu * math.pi
        else:
            f.create_dataset("tensor", data=outputs["u"][:, None])
            f.create_dataset("nu", data=inputs["a"])
            f.create_dataset("x-coordinate", data=coords["x"])
            f.create_dataset("y-coordinate", data=coords["y"])
            f.attrs["beta"] = problem.forcing
    return Path(path)
