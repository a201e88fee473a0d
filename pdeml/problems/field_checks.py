"""Checks of a batch of a problem's named fields: names, shapes, sample counts, finiteness.

Kept apart from :mod:`pdeml.problems.base` so that the contract stays a declaration; every
problem's ``check_inputs`` and ``check_outputs`` end here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from pdeml._checks import check_values, numeric_array

if TYPE_CHECKING:
    from pdeml.problems.base import Problem


def check_fields(
    problem: Problem,
    fields: Mapping[str, np.ndarray],
    names: tuple[str, ...],
    what: str,
    resolution: int | None,
) -> dict[str, np.ndarray]:
    """Check a batch of named fields against a problem's declaration; float64 copies.

    Parameters
    ----------
    problem : Problem
        Declares the fields' dimensions and shapes at a resolution.
    fields : mapping
        Field name to array with a leading sample axis.
    names : tuple of str
        The names expected, exactly (the problem's inputs or outputs).
    what : str
        ``"inputs"`` or ``"outputs"``, for the messages; inputs without ``resolution``
        have it read from the data and checked against the problem's least.
    resolution : int or None
        The grid the fields must be on; ``None``: read from the inputs.

    Returns
    -------
    dict of numpy.ndarray
        The fields as float64 arrays, all with the same number of samples.

    Raises
    ------
    TypeError
        ``fields`` is not a mapping.
    ValueError
        A missing or unexpected field, a wrong shape, no samples, different sample counts,
        or non-finite values; the message names the field and what was expected.
    """
    if not isinstance(fields, Mapping):
        raise TypeError(
            f"{what} must be a dict mapping field name to array, got {type(fields).__name__}"
        )
    missing = [k for k in names if k not in fields]
    extra = [k for k in fields if k not in names]
    if missing or extra:
        raise ValueError(
            f"{what}: expected fields {list(names)}, got {list(fields)}"
            + (f" (missing {missing})" if missing else "")
            + (f" (unexpected {extra})" if extra else "")
        )
    if resolution is None and what == "inputs":
        resolution = problem.infer_resolution(fields)
        least = problem.min_resolution()
        if resolution is not None and resolution < least:
            name = names[0]
            raise ValueError(
                f"{what}[{name!r}]: grid of {resolution} points per direction (shape "
                f"{np.shape(fields[name])}), expected at least {least} for {problem.name}"
            )
    out: dict[str, np.ndarray] = {}
    n_samples = None
    for key in names:
        array = numeric_array(fields[key], f"{what}[{key!r}]")
        expected = problem.field_shape(key, resolution)
        if array.ndim != 1 + len(expected) or array.shape[1:] != expected:
            dims = ", ".join(problem.field_dims(key))
            raise ValueError(
                f"{what}[{key!r}]: expected shape (n, {dims}) = (n, "
                f"{', '.join(map(str, expected))}), got {array.shape}"
            )
        if n_samples is None:
            n_samples = array.shape[0]
            if n_samples == 0:
                raise ValueError(
                    f"{what}[{key!r}]: expected at least one sample, got shape {array.shape}"
                )
        elif array.shape[0] != n_samples:
            raise ValueError(
                f"{what}[{key!r}]: has {array.shape[0]} samples, expected {n_samples} "
                "like the other fields"
            )
        check_values(array, f"{what}[{key!r}]")
        out[key] = array
    return out
