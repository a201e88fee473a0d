"""Metrics by name: which array function scores which field of a problem, with what arguments.

:func:`compute_metrics` takes dicts of fields (``{"u": array}``), finds for each field its
grid from the problem (spatial axes, periodicity, domain lengths, time axis) and calls the
metrics of :data:`METRICS` (pure array functions of :mod:`~pdeml.validation.metrics.arrays`,
:mod:`~pdeml.validation.metrics.fourier` and :mod:`~pdeml.validation.metrics.uncertainty`)
with the arguments each one names, on every value or, for a padded mesh field, on each
sample's real values only.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from pdeml.validation.metrics import arrays, fourier, uncertainty
from pdeml.validation.metrics._arrays import _check_mask
from pdeml.validation.metrics.fourier import DEFAULT_BANDS

if TYPE_CHECKING:
    from pdeml.problems.base import Problem

#: Metrics that need a predictive variance (``var=``).
UNCERTAINTY_METRICS = ("interval_coverage", "mean_predictive_std", "gaussian_nll", "gaussian_crps")

# Metrics that read a grid (axes, neighbours, periodicity): no meaning on masked values.
_GRID_ARGUMENTS = ("spatial_dims", "time_axis")
_ARRAY_ARGUMENTS = ("pred", "ref", "mean", "var")

#: Metrics by name, for :func:`compute_metrics` and suites.
METRICS: dict[str, Callable[..., Any]] = {
    "relative_l2": arrays.relative_l2,
    "relative_h1": arrays.relative_h1,
    "rmse": arrays.rmse,
    "nrmse": arrays.nrmse,
    "max_error": arrays.max_error,
    "fourier_bands": fourier.fourier_band_errors,
    "boundary_error": arrays.boundary_error,
    "error_over_time": arrays.error_over_time,
    "interval_coverage": uncertainty.interval_coverage,
    "mean_predictive_std": uncertainty.mean_predictive_std,
    "gaussian_nll": uncertainty.gaussian_nll,
    "gaussian_crps": uncertainty.gaussian_crps,
}

# Metrics returning a dict put each entry under "<prefix>_<key>" (fourier_low, ...).
_RESULT_PREFIX = {"fourier_bands": "fourier"}

_HINTS = {
    "var": "pass var= (the predictive variances, a dict like pred)",
    "spatial_dims": "pass spatial_dims= or problem=",
    "periodic": "pass periodic= or problem=",
}


def _coordinate_length(coordinate: np.ndarray, periodic: bool) -> float:
    points = len(coordinate)
    if points < 2:
        return 1.0
    span = float(coordinate[-1] - coordinate[0])
    return span * points / (points - 1) if periodic else span


def _problem_context(problem: Problem, field: str, shape: tuple[int, ...]) -> dict[str, Any]:
    """Spatial axes, periodicity, domain lengths and time axis of a field, from the problem."""
    dims = tuple(problem.field_dims(field))
    if len(dims) != len(shape) - 1:
        raise ValueError(
            f"field {field!r}: {problem.name} declares axes (n, {', '.join(dims)}), "
            f"got an array of shape {shape}"
        )
    spatial = set(problem.spatial_dims())
    count = 0
    for dim in reversed(dims):
        if dim not in spatial:
            break
        count += 1
    periodic = not problem.grid_includes_right_end()
    coords = problem.coords()
    grid_dims = dims[len(dims) - count :]
    lengths = tuple(_coordinate_length(np.asarray(coords[d]), periodic) for d in grid_dims)
    times = [i for i, d in enumerate(dims) if d == "t" or d.startswith("t_")]
    return {
        "spatial_dims": count or None,
        "periodic": periodic,
        "lengths": lengths or None,
        "time_axis": 1 + times[0] if times else None,
        "_dims": dims,
    }


def _per_field(value: Any, field: str) -> Any:
    return value.get(field) if isinstance(value, Mapping) else value


def compute_metrics(
    names: str | Sequence[str],
    pred: Mapping[str, ArrayLike],
    ref: Mapping[str, ArrayLike],
    *,
    problem: Problem | None = None,
    var: Mapping[str, ArrayLike] | None = None,
    spatial_dims: int | Mapping[str, int] | None = None,
    periodic: bool | Mapping[str, bool] | None = None,
    lengths: Sequence[float] | Mapping[str, Sequence[float]] | None = None,
    time_axis: int | Mapping[str, int] | None = None,
    level: float = 0.95,
    bands: Sequence[tuple[int, int | None]] | Mapping[str, tuple[int, int | None]] = DEFAULT_BANDS,
    mask: Mapping[str, ArrayLike | None] | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Compute metrics by name for every field of a prediction.

    Each metric of :data:`METRICS` is called with those of the arguments ``pred``, ``ref``,
    ``mean`` (= ``pred``), ``var``, ``spatial_dims``, ``periodic``, ``lengths``,
    ``time_axis``, ``level`` and ``bands`` that its signature names, so a metric added to
    the registry takes part too.

    Parameters
    ----------
    names : str or sequence of str
        Metric names, keys of :data:`METRICS`.
    pred, ref : mapping of str to array_like
        Predicted and reference fields (the same names; sample axis first).
    problem : Problem, optional
        Gives, per field, the spatial axes (the trailing axes the problem lists in
        ``spatial_dims()``), whether the grid is periodic, the domain lengths (from
        ``coords()``) and the time axis (named ``t`` or ``t_*``). Explicit arguments win.
    var : mapping of str to array_like, optional
        Predictive variances, needed by the uncertainty metrics (``pred`` is the mean).
    spatial_dims, periodic, lengths, time_axis : optional
        One value for every field, or a mapping field name -> value.
    level : float, optional
        Level of the interval for ``interval_coverage``.
    bands : optional
        Wavenumber bands for ``fourier_bands`` (see :func:`fourier_band_errors`).
    mask : mapping of str to array_like of bool, optional
        Per field, which values are real (shape of the field, sample axis first; ``None``
        for all), e.g. :meth:`pdeml.problems.base.Problem.output_mask` of a padded mesh
        layout. Each sample's metric is then computed on its real values only; metrics
        that read a grid (``relative_h1``, ``fourier_bands``, ``boundary_error``,
        ``error_over_time``) do not apply to a masked field and raise ``ValueError``.

    Returns
    -------
    dict
        ``{metric: {field: per-sample array}}``; ``fourier_bands`` gives one entry per band,
        ``fourier_low``, ``fourier_mid``, ``fourier_high`` by default, and
        ``error_over_time`` arrays of shape [n, t].

    Raises
    ------
    ValueError
        For an unknown metric name (listing the known ones), fields that differ between
        ``pred`` and ``ref``, a shape mismatch (naming the field and both shapes), or a metric
        that does not apply to a field (``boundary_error`` on a periodic grid, a missing
        spatial or time axis or variance). Non-finite predictions are not errors.
    """
    names = [names] if isinstance(names, str) else list(names)
    unknown = [name for name in names if name not in METRICS]
    if unknown:
        raise ValueError(
            f"unknown metric(s) {unknown}; expected some of: {', '.join(sorted(METRICS))}"
        )
    for what, fields in (("pred", pred), ("ref", ref), ("var", var)):
        if fields is not None and not isinstance(fields, Mapping):
            raise TypeError(
                f"{what} must be a dict mapping field name to array, got {type(fields).__name__}"
            )
    if set(pred) != set(ref):
        raise ValueError(
            f"pred and ref must hold the same fields, got {list(pred)} and {list(ref)}"
        )

    results: dict[str, dict[str, np.ndarray]] = {}
    for field in ref:
        p = np.asarray(pred[field], dtype=np.float64)
        r = np.asarray(ref[field], dtype=np.float64)
        if p.shape != r.shape:
            raise ValueError(
                f"field {field!r}: pred has shape {p.shape} but ref has shape {r.shape}"
            )
        context: dict[str, Any] = {"pred": p, "ref": r, "mean": p, "level": level, "bands": bands}
        if var is not None and field in var:
            v = np.asarray(var[field], dtype=np.float64)
            if v.shape != r.shape:
                raise ValueError(
                    f"field {field!r}: var has shape {v.shape} but ref has shape {r.shape}"
                )
            context["var"] = v
        keep = None
        if mask is not None and _per_field(mask, field) is not None:
            keep = _check_mask(_per_field(mask, field), r.shape, f"mask[{field!r}]")
        known = _problem_context(problem, field, r.shape) if problem is not None else {}
        for key, value in (
            ("spatial_dims", spatial_dims),
            ("periodic", periodic),
            ("lengths", lengths),
            ("time_axis", time_axis),
        ):
            value = _per_field(value, field)
            context[key] = known.get(key) if value is None else value

        for name in names:
            if (
                name == "boundary_error"
                and context["periodic"] is not None
                and bool(context["periodic"])
            ):
                raise ValueError(
                    f"boundary_error: field {field!r} lies on a periodic grid, which has no "
                    "boundary nodes"
                )
            if name == "error_over_time" and problem is not None and context["time_axis"] is None:
                raise ValueError(
                    f"error_over_time: field {field!r} has no time axis (axes "
                    f"{known['_dims']}); pass time_axis= to name one"
                )
            function = METRICS[name]
            kwargs = {}
            for parameter in inspect.signature(function).parameters.values():
                value = context.get(parameter.name)
                if value is not None:
                    kwargs[parameter.name] = value
                elif parameter.default is inspect.Parameter.empty:
                    hint = _HINTS.get(parameter.name, f"pass {parameter.name}=")
                    if problem is not None and parameter.name == "spatial_dims":
                        hint = (
                            f"its axes {known['_dims']} do not end in the spatial axes "
                            f"{tuple(problem.spatial_dims())} of {problem.name}; {hint}"
                        )
                    raise ValueError(f"{name}: field {field!r} needs {parameter.name} ({hint})")
            try:
                if keep is None:
                    value = function(**kwargs)
                else:
                    value = _masked_call(name, field, function, kwargs, keep)
            except ValueError as error:
                raise ValueError(f"{name}: field {field!r}: {error}") from None
            if isinstance(value, Mapping):
                prefix = _RESULT_PREFIX.get(name, name)
                for key, entry in value.items():
                    results.setdefault(f"{prefix}_{key}", {})[field] = entry
            else:
                results.setdefault(name, {})[field] = value
    return results


def _masked_call(
    name: str, field: str, function: Callable[..., Any], kwargs: dict[str, Any], keep: np.ndarray
) -> np.ndarray:
    """A per-sample metric on each sample's real values only (``keep``)."""
    parameters = inspect.signature(function).parameters
    if any(p in parameters for p in _GRID_ARGUMENTS):
        raise ValueError(
            f"field {field!r} is masked (padded or unstructured values), and {name} reads a grid"
        )
    n = keep.shape[0]
    out = np.empty(n)
    for i in range(n):
        one = {k: (v[i][keep[i]][None] if k in _ARRAY_ARGUMENTS else v) for k, v in kwargs.items()}
        out[i] = function(**one)[0] if keep[i].any() else np.nan
    return out
