"""Bring your own arrays: wrap fields a user already has as a regular pdeml dataset."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pdeml.data.dataset import Dataset, open_dataset
from pdeml.data.store import check_output_path, check_storable, write_dataset
from pdeml.problems.base import Problem

#: Attributes pdeml writes itself; user ``attrs`` may not replace them.
RESERVED_ATTRS = ("problem", "inputs", "outputs", "version", "created")


def from_arrays(
    problem: Problem,
    inputs: Mapping[str, np.ndarray],
    outputs: Mapping[str, np.ndarray],
    coords: Mapping[str, np.ndarray] | None = None,
    attrs: Mapping[str, Any] | None = None,
    *,
    path: str | Path,
    dtype: str = "float32",
    overwrite: bool = False,
) -> Dataset:
    """Write arrays you already have as a pdeml dataset and open it.

    Parameters
    ----------
    problem : Problem
        What the data are. The arrays must be on its grid at ``problem.resolution`` (build
        the problem with the resolution of your data, e.g. ``Darcy2D(resolution=421,
        solver_resolution=421)``).
    inputs, outputs : dict of str to ndarray
        Exactly the problem's input and output fields, sample axis first, then the field's
        dimensions (``problem.field_dims(name)``), finite values only.
    coords : dict of str to ndarray, optional
        Your grid, checked against the problem's (``problem.coords()``) to catch data on
        another grid (shifted, cell-centred, another domain). The file always stores the
        problem's coordinates.
    attrs : dict, optional
        Extra provenance, JSON-serialisable, stored under ``pdeml_<key>`` (``source`` is
        shown by ``pdeml info``). Keys pdeml writes itself (``problem``, ``inputs``,
        ``outputs``, ``version``, ``created``) are refused.
    path : str or Path
        The ``.h5`` file to write. It is written under a temporary name and renamed when
        complete, so nothing half-written is left behind.
    dtype : {"float32", "float64"}
        Storage type of the fields.
    overwrite : bool
        Replace an existing file (default: refuse).

    Returns
    -------
    Dataset
        ``pdeml.open_dataset(path)``.

    Raises
    ------
    ValueError
        Missing or unexpected field names, wrong shapes, NaN or infinite values, values
        beyond the float32 range when ``dtype="float32"``, a grid other than the problem's,
        reserved attribute keys (one line naming the field and the first bad sample), or a
        ``path`` that cannot become a file (inside a file, a name too long).
    TypeError
        Complex values (store real and imaginary parts as separate fields).
    IsADirectoryError
        If ``path`` is a folder.
    FileExistsError
        If ``path`` exists and ``overwrite`` is false.

    Examples
    --------
    >>> import numpy as np, pdeml
    >>> from pdeml.problems import Burgers1D
    >>> problem = Burgers1D(resolution=64, solver_resolution=64)
    >>> u0 = np.random.default_rng(0).normal(size=(8, 64))
    >>> ds = pdeml.from_arrays(problem, {"u0": u0}, {"u": 0.5 * u0}, path="mine.h5")
    """
    if not isinstance(problem, Problem):
        raise TypeError(
            f"problem: expected a pdeml Problem (e.g. pdeml.load_problem('burgers')), "
            f"got {type(problem).__name__}"
        )
    path = check_output_path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} already exists; pass overwrite=True to replace it")
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    # Before the problem's checks, which convert to float64 (dropping imaginary parts).
    check_storable(inputs, "inputs", dtype)
    check_storable(outputs, "outputs", dtype)
    _check_resolution(problem, inputs)
    inputs = problem.check_inputs(inputs, problem.resolution)
    outputs = problem.check_outputs(outputs, problem.resolution)
    n_in = len(next(iter(inputs.values())))
    n_out = len(next(iter(outputs.values())))
    if n_in != n_out:
        raise ValueError(f"outputs: have {n_out} samples, expected {n_in} like the inputs")
    if n_in < 1:
        raise ValueError("inputs: expected at least one sample, got 0")
    if coords is not None:
        _check_coords(problem, coords)
    meta = _check_attrs(attrs)
    meta.setdefault("source", {"format": "arrays", "via": "pdeml.from_arrays"})
    write_dataset(path, problem, inputs, outputs, attrs=meta, dtype=dtype)
    return open_dataset(path)


def _check_resolution(problem: Problem, inputs: Mapping[str, np.ndarray]) -> None:
    """A clearer message than a shape mismatch when the whole grid differs."""
    if not isinstance(inputs, Mapping):
        return  # check_inputs says what is wrong
    try:
        found = problem.infer_resolution(inputs)
    except (TypeError, ValueError):
        return
    if found != problem.resolution:
        raise ValueError(
            f"inputs: the arrays are on a grid of {found} points per axis but "
            f"problem.resolution is {problem.resolution}; build the problem at the data's "
            f"resolution, e.g. problem.replace(resolution={found}, solver_resolution=...)"
        )


def _check_coords(problem: Problem, coords: Mapping[str, np.ndarray]) -> None:
    expected = problem.coords()
    if not isinstance(coords, Mapping):
        raise TypeError(f"coords: expected a dict of dimension name to array, got {coords!r}")
    for dim, given in coords.items():
        if dim not in expected:
            raise ValueError(
                f"coords[{dim!r}]: unknown dimension; expected some of {sorted(expected)}"
            )
        want = np.asarray(expected[dim], dtype=np.float64)
        try:
            have = np.asarray(given, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            raise TypeError(f"coords[{dim!r}]: expected a numeric array") from None
        scale = max(1.0, float(np.max(np.abs(want))) if want.size else 1.0)
        if have.shape != want.shape or not np.allclose(have, want, rtol=0, atol=1e-6 * scale):
            raise ValueError(
                f"coords[{dim!r}]: expected the problem's grid, {_describe(want)}, got "
                f"{_describe(have)}; pdeml grids are on the unit interval (see "
                "docs/own_data.md for mapping other grids)"
            )


def _describe(values: np.ndarray) -> str:
    if values.size == 0:
        return "no points"
    if values.size == 1:
        return f"1 point at {values[0]:.6g}"
    return f"{values.size} points from {values[0]:.6g} to {values[-1]:.6g}"


def _check_attrs(attrs: Mapping[str, Any] | None) -> dict[str, Any]:
    if attrs is None:
        return {}
    if not isinstance(attrs, Mapping):
        raise TypeError(f"attrs: expected a dict, got {type(attrs).__name__}")
    reserved = [k for k in attrs if k in RESERVED_ATTRS]
    if reserved:
        raise ValueError(f"attrs: keys {reserved} are written by pdeml itself; use other names")
    for key, value in attrs.items():
        if not isinstance(key, str):
            raise TypeError(f"attrs: keys must be strings, got {key!r}")
        try:
            json.dumps(value)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"attrs[{key!r}]: expected a JSON-serialisable value ({error})"
            ) from None
    return dict(attrs)
