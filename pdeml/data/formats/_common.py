"""Pieces shared by the foreign-format readers and writers.

Every reader returns an :class:`Imported` (a problem fitted to the file, the fields in
pdeml's layout, and a record of where they came from); nothing is written until the whole
file has been read and checked. Every message about a file names the file, the key and what
was expected, on one line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pdeml._checks import check_count
from pdeml.data.store import check_output_path, temporary_path
from pdeml.problems.base import Problem

if TYPE_CHECKING:
    from pdeml.data.dataset import Dataset


@dataclasses.dataclass
class Imported:
    """What a reader found in a foreign file, mapped onto a pdeml problem.

    Attributes
    ----------
    problem : Problem
        The problem, with its grid (and, where the file fixes them, physical parameters)
        set from the file.
    inputs, outputs : dict of str to ndarray
        Fields named and shaped as ``problem`` declares, sample axis first.
    source : dict
        Provenance stored as the dataset attribute ``source``: file name, format, the keys
        used for each field, the parameters the file decided (``set_by_file``) and notes
        on how the layout was mapped.
    """

    problem: Problem
    inputs: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]
    source: dict[str, Any]


def file_label(fmt: str, path: str | Path) -> str:
    """How messages name a file: ``fno-mat file 'data/x.mat'``."""
    return f"{fmt} file {str(path)!r}"


def existing_file(fmt: str, path: str | Path) -> Path:
    """``path`` as a ``Path``; ``FileNotFoundError`` naming the format if it is not a file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{file_label(fmt, path)}: no such file")
    return path


def key_error(label: str, key: str, expected: str, got: str | None = None) -> ValueError:
    """The one-line error for an unexpected key, shape or value in a file."""
    message = f"{label}: key {key!r}: expected {expected}"
    return ValueError(message + (f", got {got}" if got is not None else ""))


def require_keys(label: str, available: Any, keys: tuple[str, ...], what: str) -> None:
    """Raise naming the first of ``keys`` missing from ``available``."""
    for key in keys:
        if key not in available:
            found = sorted(str(k) for k in available)
            raise key_error(label, key, what, f"no such key (the file holds {found})")


def require_rank(label: str, key: str, shape: tuple[int, ...], rank: int, layout: str) -> None:
    """Raise unless ``shape`` has ``rank`` axes; ``layout`` reads like ``[N, x]``."""
    if len(shape) != rank:
        raise key_error(label, key, f"a rank-{rank} array {layout}", f"shape {tuple(shape)}")


def finite_array(label: str, key: str, value: Any) -> np.ndarray:
    """``value`` as a real numeric array with only finite entries, else a one-line error."""
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise key_error(label, key, "a real numeric array", f"dtype {array.dtype}")
    bad = int(array.size - np.count_nonzero(np.isfinite(array)))
    if bad:
        raise key_error(label, key, "finite values", f"{bad} NaN or infinite values")
    return array


def sample_count(label: str, n: int | None, available: int) -> int:
    """Number of samples to read: all, or the first ``n``."""
    if available < 1:
        raise ValueError(f"{label}: holds no samples; expected at least one")
    if n is None:
        return available
    n = check_count(n, "n")
    if n > available:
        raise ValueError(f"{label}: n={n} samples asked for, but the file holds {available}")
    return n


def replace_problem(problem: Problem, label: str, **changes: Any) -> Problem:
    """``problem.replace(**changes)`` with a failure reported against the file."""
    try:
        return problem.replace(**changes)
    except ValueError as error:
        raise ValueError(f"{label}: {error}") from None


def allowed_strided(problem: Problem, native: int) -> list[int]:
    """Resolutions that striding takes exactly from a grid of ``native`` points."""
    if problem.grid_includes_right_end():
        m = native - 1
        return [m // d + 1 for d in range(1, m + 1) if m % d == 0 and m // d >= 2]
    return [native // d for d in range(1, native + 1) if native % d == 0 and native // d >= 2]


def fit_grid(
    problem: Problem, native: int, resolution: int | None, label: str, **changes: Any
) -> tuple[Problem, int]:
    """The problem on the file's grid (or a strided one) and the stride to read with.

    The stored resolution is the file's ``native`` one unless ``resolution`` asks for a
    coarser grid that striding reaches exactly. The problem's ``solver_resolution`` is kept
    when the file's grid could have been strided from it, and otherwise set to ``native``
    (the finest grid the data are known on). ``changes`` are further parameters the file
    decides, applied in the same step so that the problem is validated once.
    """
    names = {f.name for f in dataclasses.fields(problem)}
    if "resolution" not in names or "solver_resolution" not in names:
        # A problem without a grid to subsample (Lorenz96): the file must match it.
        if resolution is not None and resolution != native:
            raise ValueError(f"{label}: problem {problem.name!r} cannot be subsampled")
        return (replace_problem(problem, label, **changes) if changes else problem), 1
    target = native if resolution is None else check_count(resolution, "resolution", 2)
    allowed = allowed_strided(problem, native)
    if target not in allowed:
        rule = (
            f"({native} - 1) divisible by (resolution - 1)"
            if problem.grid_includes_right_end()
            else f"{native} divisible by resolution"
        )
        raise ValueError(
            f"{label}: resolution {target} cannot be strided from the file's {native} points; "
            f"expected {rule}, e.g. one of {allowed[:8]}"
        )
    stride = problem.restriction_stride(native, target)
    solver = problem.solver_resolution
    try:
        keep = solver >= native and problem.restriction_stride(solver, native) >= 1
    except ValueError:
        keep = False
    fitted = replace_problem(
        problem,
        label,
        resolution=target,
        solver_resolution=solver if keep else native,
        **changes,
    )
    return fitted, stride


def uniform_spacing(label: str, key: str, values: np.ndarray) -> float:
    """Spacing of a uniform, increasing coordinate vector (else a one-line error)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size < 2:
        raise key_error(label, key, "at least 2 coordinates", f"{values.size}")
    steps = np.diff(values)
    step = float(np.mean(steps))
    if step <= 0 or not np.allclose(steps, step, rtol=1e-4, atol=0.0):
        raise key_error(
            label,
            key,
            "uniformly spaced increasing coordinates",
            f"spacings from {steps.min():.6g} to {steps.max():.6g}",
        )
    return step


def close(a: float, b: float) -> bool:
    """Parameters equal up to round-off (they may have gone through a product with π)."""
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-15)


def stored_fields(dataset: Dataset) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Inputs and outputs in their stored dtype (so an export loses nothing)."""
    inputs = {k: np.asarray(dataset.xr[k].values) for k in dataset.input_names}
    outputs = {k: np.asarray(dataset.xr[k].values) for k in dataset.output_names}
    return inputs, outputs


@contextlib.contextmanager
def opened(dataset: Dataset | str | Path) -> Iterator[Dataset]:
    """A dataset given as an object or a path; a path is opened and closed here."""
    from pdeml.data.dataset import Dataset, open_dataset

    if isinstance(dataset, Dataset):
        yield dataset
        return
    ds = open_dataset(dataset)
    try:
        yield ds
    finally:
        ds.close()


@contextlib.contextmanager
def atomic_output(path: str | Path, overwrite: bool) -> Iterator[Path]:
    """Yield a temporary name beside ``path``; rename it onto ``path`` only on success."""
    path = check_output_path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} already exists; pass overwrite=True to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def single_fields(problem: Problem, fmt: str) -> tuple[str, str]:
    """The one input and one output name of a problem, for layouts holding one of each."""
    if len(problem.input_names) != 1 or len(problem.output_names) != 1:
        raise ValueError(
            f"{fmt}: the layout holds one input and one output field; problem "
            f"{problem.name!r} has inputs {list(problem.input_names)} and outputs "
            f"{list(problem.output_names)}"
        )
    return problem.input_names[0], problem.output_names[0]


def unsupported(fmt: str, problem: Problem, supported: Mapping[str, Any]) -> ValueError:
    """Error for a problem the layout has no mapping for."""
    return ValueError(
        f"{fmt}: no mapping for problem {problem.name!r}; expected one of "
        f"{', '.join(sorted(supported))}"
    )


def native_grid(
    label: str, problem: Problem, fields: Mapping[str, np.ndarray], keys: Mapping[str, str]
) -> int:
    """Points per spatial axis shared by all ``fields`` (``keys``: field name -> file key)."""
    spatial = problem.spatial_dims()
    lead = next(iter(fields))
    n_lead = int(np.shape(fields[lead])[0])
    native, first = None, None
    for name, array in fields.items():
        if np.shape(array)[0] != n_lead:
            raise key_error(
                label,
                keys[name],
                f"{n_lead} samples like {keys[lead]!r}",
                f"{np.shape(array)[0]} (shape {np.shape(array)})",
            )
        for axis, dim in enumerate(problem.field_dims(name), start=1):
            if dim not in spatial:
                continue
            if native is None:
                native, first = int(np.shape(array)[axis]), keys[name]
            elif np.shape(array)[axis] != native:
                raise key_error(
                    label,
                    keys[name],
                    f"{native} points along every spatial axis, like {first!r}",
                    f"shape {np.shape(array)}",
                )
    if native is None:  # pragma: no cover - every problem has a spatial axis
        raise ValueError(f"{label}: no spatial axis found")
    return native


def strided(
    label: str,
    fitted: Problem,
    fields: Mapping[str, np.ndarray],
    keys: Mapping[str, str],
    native: int,
    count: int,
) -> dict[str, np.ndarray]:
    """The first ``count`` samples on the fitted problem's grid, checked to be finite."""
    first = {name: np.asarray(array)[:count] for name, array in fields.items()}
    out = fitted.restrict(first, native, fitted.resolution)
    return {name: finite_array(label, keys[name], array) for name, array in out.items()}


def verify(label: str, imported: Imported) -> Imported:
    """Run the problem's own field checks, reporting a failure against the file."""
    try:
        imported.inputs = imported.problem.check_inputs(
            imported.inputs, imported.problem.resolution
        )
        imported.outputs = imported.problem.check_outputs(
            imported.outputs, imported.problem.resolution
        )
    except (TypeError, ValueError) as error:
        raise ValueError(f"{label}: {error}") from None
    n_in = len(next(iter(imported.inputs.values())))
    n_out = len(next(iter(imported.outputs.values())))
    if n_in != n_out:
        raise ValueError(f"{label}: {n_in} input samples but {n_out} output samples")
    return imported
