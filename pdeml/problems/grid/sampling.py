"""Drawing the inputs of a :class:`~pdeml.problems.grid.GridProblem`, one sample at a time.

Each sample gets its own generator, ``sample_rng(seed, index)``, so its inputs depend only on
``(seed, index)``: the same dataset comes out whatever the workers or the chunking.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from pdeml._checks import numeric_array
from pdeml.problems.grf import NeumannGRF, PeriodicGRF
from pdeml.problems.grid.callables import resolve_callable

if TYPE_CHECKING:
    from pdeml.problems.grid import GridProblem


def draw_grf(
    problem: GridProblem, rngs: Sequence[np.random.Generator], resolution: int
) -> dict[str, np.ndarray]:
    """Every input field a Gaussian random field, drawn in turn from each sample's generator.

    Periodic fields on a periodic grid, zero-Neumann ones (cosine series) otherwise; the
    field lives on the unit cube, stretched to the domain's lengths.
    """
    family = PeriodicGRF if all(problem.periodic) else NeumannGRF
    field = family(
        dim=len(problem.dims),
        sigma=problem.grf_sigma,
        tau=problem.grf_tau,
        gamma=problem.grf_gamma,
        n_modes=problem.grf_modes,
    )
    drawn: dict[str, list[np.ndarray]] = {name: [] for name in problem.input_names}
    for rng in rngs:
        for name in problem.input_names:
            drawn[name].append(field.coefficients([rng])[0])
    return {
        name: field.evaluate(np.stack(coefficients), resolution)
        for name, coefficients in drawn.items()
    }


def draw_table(problem: GridProblem, n: int, start: int) -> dict[str, np.ndarray]:
    """Rows ``start .. start + n - 1`` of the CSV table of the ``"table:FILE.csv"`` sampler.

    The header names the columns; every input must be one of them (other columns are
    ignored). Relative paths are read from the current folder.
    """
    path = problem.sampler.partition(":")[2]
    where = f"{problem.label}: sampler {problem.sampler}"
    try:
        table = np.genfromtxt(path, delimiter=",", names=True, dtype=float, ndmin=1)
    except OSError as error:
        raise ValueError(f"{where}: cannot read the table ({error})") from None
    except ValueError as error:
        raise ValueError(f"{where}: not a CSV table of numbers with a header ({error})") from None
    names = table.dtype.names or ()
    missing = [f for f in problem.input_names if f not in names]
    if missing:
        raise ValueError(f"{where}: no column for input(s) {missing}; its header has {list(names)}")
    if start + n > len(table):
        raise ValueError(
            f"{where}: samples {start}..{start + n - 1} asked for, but the table has "
            f"{len(table)} rows"
        )
    out = {
        name: np.asarray(table[name][start : start + n], dtype=float)
        for name in problem.input_names
    }
    for name, values in out.items():
        if not np.isfinite(values).all():
            bad = start + int(np.argmax(~np.isfinite(values)))
            raise ValueError(f"{where}: column {name!r} is not a finite number in sample {bad}")
    return out


def draw_with(
    problem: GridProblem, rngs: Sequence[np.random.Generator], resolution: int, start: int
) -> dict[str, np.ndarray]:
    """Call the user's ``sample(rng, coords)`` once per sample and check what it returns."""
    sample = resolve_callable(problem.sampler, f"{problem.label}: sampler")
    coords = problem.coords(resolution)
    out: dict[str, list[np.ndarray]] = {name: [] for name in problem.input_names}
    for i, rng in enumerate(rngs):
        where = f"{problem.label}: sampler {problem.sampler}, sample {start + i}"
        try:
            fields = sample(rng, coords)
        except Exception as error:
            raise ValueError(f"{where}: raised {type(error).__name__}: {error}") from None
        checked = check_sample(problem, fields, problem.input_names, resolution, where)
        for name, value in checked.items():
            out[name].append(value)
    return {name: np.stack(values) for name, values in out.items()}


def check_sample(
    problem: GridProblem,
    fields: Any,
    names: Sequence[str],
    resolution: int,
    where: str,
) -> dict[str, np.ndarray]:
    """One sample's fields as float64 arrays of the declared shapes, finite; else one line."""
    if not isinstance(fields, Mapping):
        raise ValueError(
            f"{where}: expected a dict of field name to array, got {type(fields).__name__}"
        )
    if sorted(fields) != sorted(names):
        raise ValueError(f"{where}: expected fields {list(names)}, got {list(fields)}")
    out = {}
    for name in names:
        label = f"{where}: {name!r}"
        try:
            array = numeric_array(fields[name], label)
        except TypeError as error:
            raise ValueError(str(error)) from None
        expected = problem.field_shape(name, resolution)
        if array.shape != expected:
            dims = ", ".join(problem.field_dims(name))
            raise ValueError(f"{label}: expected shape ({dims}) = {expected}, got {array.shape}")
        if not np.isfinite(array).all():
            raise ValueError(f"{label}: holds NaN or infinite values")
        out[name] = array
    return out
