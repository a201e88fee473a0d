"""Error and uncertainty metrics of predictions against a reference, one number per sample.

Every metric takes arrays with the sample axis first (``[n, ...]``: then time and channels
if any, then space) and returns a float64 array of shape ``[n]``, so that a caller can take
the mean, the spread or the worst case (:func:`summarize`). Spatial metrics read the last
``spatial_dims`` axes as the grid; every other axis after the sample axis is summed or
averaged over like the grid points are.

Metrics are relative unless named otherwise. A sample whose reference is identically zero
has no relative error: it gives ``inf`` (``nan`` if the error is zero too). Non-finite
predictions are allowed and give ``inf``/``nan`` errors, never exceptions or warnings, so a
diverged surrogate shows up in the numbers. :func:`compute_metrics` computes several metrics
by name for dicts of fields. The one-line formulas are collected in ``docs/metrics.md``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from pdeml.validation._arrays import (
    _as_arrays,
    _check_lengths,
    _check_variance,
    _flat,
    _mean_squares,
    _quiet,
    _spatial_axes,
    _sum_squares,
)
from pdeml.validation.uncertainty import (
    gaussian_crps,
    gaussian_nll,
    interval_coverage,
    mean_predictive_std,
)

if TYPE_CHECKING:
    from pdeml.problems.base import Problem

#: Nominal levels of the central intervals in :func:`calibration_curve`.
CALIBRATION_LEVELS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)

#: Metrics that need a predictive variance (``var=``).
UNCERTAINTY_METRICS = ("interval_coverage", "mean_predictive_std", "gaussian_nll", "gaussian_crps")

# Metrics that read a grid (axes, neighbours, periodicity): no meaning on masked values.
_GRID_ARGUMENTS = ("spatial_dims", "time_axis")
_ARRAY_ARGUMENTS = ("pred", "ref", "mean", "var")

#: PDEBench's wavenumber bands: low ``0 ≤ |k| ≤ 3``, mid ``4 ≤ |k| ≤ 11``, high ``|k| ≥ 12``.
DEFAULT_BANDS: tuple[tuple[int, int | None], ...] = ((0, 3), (4, 11), (12, None))

# Bounds the memory of the FFT in fourier_band_errors (complex values per chunk of samples).
_FFT_CHUNK_VALUES = 1 << 22


@_quiet
def relative_l2(pred: ArrayLike, ref: ArrayLike) -> np.ndarray:
    """Relative L2 error per sample.

    .. math:: \\mathrm{relL2}_i = \\|p_i - r_i\\|_2 / \\|r_i\\|_2,

    the norms taken over all axes but the sample axis.

    Parameters
    ----------
    pred, ref : array_like, shape [n, ...]
        Predictions and reference.

    Returns
    -------
    numpy.ndarray, shape [n]
    """
    pred, ref = _as_arrays(("pred", "ref"), pred, ref)
    return np.sqrt(_sum_squares(pred - ref)) / np.sqrt(_sum_squares(ref))


def _h1_seminorm_squared(
    x: np.ndarray, axes: tuple[int, ...], periodic: bool, lengths: tuple[float, ...]
) -> np.ndarray:
    total = np.zeros(x.shape[0])
    for axis, length in zip(axes, lengths):
        points = x.shape[axis]
        if periodic:
            difference = (np.roll(x, -1, axis=axis) - x) / (length / points)
        else:
            if points < 2:
                raise ValueError(
                    f"a grid with both ends needs at least 2 points per axis, got {points} "
                    f"along axis {axis} of shape {x.shape}"
                )
            difference = np.diff(x, axis=axis) / (length / (points - 1))
        total = total + _sum_squares(difference)
    return total


@_quiet
def relative_h1(
    pred: ArrayLike,
    ref: ArrayLike,
    spatial_dims: int,
    periodic: bool,
    lengths: Sequence[float] | None = None,
) -> np.ndarray:
    """Relative discrete H1 error per sample, the validation twin of the ``h1`` training loss.

    .. math::

        \\|v\\|^2_{H^1} = \\sum_j v_j^2 + \\sum_{d} \\sum_j (D_d v)_j^2, \\qquad
        \\mathrm{relH1}_i = \\|p_i - r_i\\|_{H^1} / \\|r_i\\|_{H^1},

    with forward differences :math:`(D_d v)_j = (v_{j + e_d} - v_j) / h_d` along each of the
    last ``spatial_dims`` axes. On periodic grids (right end excluded) the difference wraps
    around and :math:`h_d = L_d / m_d`; on grids with both ends only the :math:`m_d - 1`
    interior differences are taken and :math:`h_d = L_d / (m_d - 1)`, where :math:`m_d` is the
    number of points and :math:`L_d` the domain length. The sums run over every axis but the
    sample axis (time and channels included). It equals, sample by sample,
    :func:`pdeml.training.losses.relative_h1` (which averages over samples and clamps the
    denominator at 1e-12, where this gives ``inf`` for a zero reference).

    Parameters
    ----------
    pred, ref : array_like, shape [n, ..., m_1, ..., m_D]
        Predictions and reference.
    spatial_dims : int
        Number D of trailing spatial axes.
    periodic : bool
        Whether the grid is periodic (right end excluded) or holds both ends.
    lengths : sequence of float, optional
        Domain length per spatial axis; 1 for each by default.

    Returns
    -------
    numpy.ndarray, shape [n]
    """
    pred, ref = _as_arrays(("pred", "ref"), pred, ref)
    axes = _spatial_axes(pred, spatial_dims)
    lengths_ = _check_lengths(lengths, len(axes))
    error = pred - ref
    num = _sum_squares(error) + _h1_seminorm_squared(error, axes, bool(periodic), lengths_)
    den = _sum_squares(ref) + _h1_seminorm_squared(ref, axes, bool(periodic), lengths_)
    return np.sqrt(num) / np.sqrt(den)


@_quiet
def rmse(pred: ArrayLike, ref: ArrayLike) -> np.ndarray:
    """Root-mean-square error per sample (absolute, in the units of the field).

    .. math:: \\mathrm{RMSE}_i = \\sqrt{\\tfrac{1}{M} \\sum_j (p_{ij} - r_{ij})^2},

    over the M values of each sample.

    Parameters
    ----------
    pred, ref : array_like, shape [n, ...]
        Predictions and reference.

    Returns
    -------
    numpy.ndarray, shape [n]
    """
    pred, ref = _as_arrays(("pred", "ref"), pred, ref)
    return np.sqrt(_mean_squares(pred - ref))


@_quiet
def nrmse(pred: ArrayLike, ref: ArrayLike) -> np.ndarray:
    """Normalised RMSE per sample, PDEBench's nRMSE: the RMSE over the RMS of the reference.

    .. math:: \\mathrm{nRMSE}_i = \\mathrm{RMSE}_i \\big/ \\sqrt{\\tfrac{1}{M} \\sum_j r_{ij}^2}.

    Over a whole sample this is the same number as :func:`relative_l2` (the point counts
    cancel); PDEBench also takes it per time step, which :func:`error_over_time` gives.

    Parameters
    ----------
    pred, ref : array_like, shape [n, ...]
        Predictions and reference.

    Returns
    -------
    numpy.ndarray, shape [n]
    """
    pred, ref = _as_arrays(("pred", "ref"), pred, ref)
    return np.sqrt(_mean_squares(pred - ref)) / np.sqrt(_mean_squares(ref))


@_quiet
def max_error(pred: ArrayLike, ref: ArrayLike) -> np.ndarray:
    """Largest absolute error per sample, :math:`\\max_j |p_{ij} - r_{ij}|` (absolute).

    Parameters
    ----------
    pred, ref : array_like, shape [n, ...]
        Predictions and reference.

    Returns
    -------
    numpy.ndarray, shape [n]
    """
    pred, ref = _as_arrays(("pred", "ref"), pred, ref)
    return np.max(np.abs(_flat(pred - ref)), axis=1)


def _band_table(
    bands: Sequence[tuple[int, int | None]] | Mapping[str, tuple[int, int | None]],
) -> list[tuple[str, int, int | None]]:
    if isinstance(bands, Mapping):
        items = list(bands.items())
    else:
        bands = list(bands)
        names = ("low", "mid", "high") if len(bands) == 3 else (None,) * len(bands)
        items = list(zip(names, bands))
    table = []
    for name, band in items:
        try:
            low, high = band
            ok = int(low) == low >= 0 and (high is None or int(high) == high >= low)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(
                "bands must hold (low, high) pairs of integer wavenumbers with 0 <= low <= high "
                f"(high None for no upper bound), got {band!r}"
            )
        high = None if high is None else int(high)
        if name is None:
            name = f"k{int(low)}+" if high is None else f"k{int(low)}-{high}"
        table.append((str(name), int(low), high))
    return table


def _wavenumber_magnitude(shape: tuple[int, ...]) -> np.ndarray:
    """round(|k|) on the ``rfftn`` modes of a grid of ``shape`` (integer wavenumbers)."""
    freqs = [np.rint(np.fft.fftfreq(m, 1.0 / m)) for m in shape[:-1]]
    freqs.append(np.rint(np.fft.rfftfreq(shape[-1], 1.0 / shape[-1])))
    grids = np.meshgrid(*freqs, indexing="ij")
    return np.rint(np.sqrt(sum(g * g for g in grids))).astype(np.int64)


@_quiet
def fourier_band_errors(
    pred: ArrayLike,
    ref: ArrayLike,
    spatial_dims: int,
    bands: Sequence[tuple[int, int | None]] | Mapping[str, tuple[int, int | None]] = DEFAULT_BANDS,
) -> dict[str, np.ndarray]:
    """RMSE of the error restricted to bands of wavenumber magnitude, per sample (absolute).

    Let :math:`\\hat e_{k}` be the unnormalised discrete Fourier transform of the error
    :math:`e = p - r` over the last ``spatial_dims`` axes (N points in all), with integer
    wavenumbers :math:`k` (``numpy.fft.fftfreq(m, 1/m)`` per axis) and magnitude
    :math:`|k| = \\mathrm{round}(\\sqrt{\\sum_d k_d^2})` (exactly :math:`|k_x|` in 1D). For a
    band :math:`B = \\{k : a \\le |k| \\le b\\}`,

    .. math::

        E_{B,i} = \\sqrt{\\frac{1}{M N} \\sum_{\\text{other axes}} \\sum_{k \\in B}
        |\\hat e_{ik}|^2},

    where M is the number of values per sample (N times the other axes, such as time).
    This is the RMSE of the error with every mode outside B removed, and by Parseval
    (:math:`\\sum_x e_x^2 = N^{-1} \\sum_k |\\hat e_k|^2`) the squares of the band errors
    add up to :math:`\\mathrm{RMSE}^2` when the bands cover every mode exactly once.
    The transform treats every grid as periodic, as PDEBench does. A band holding no mode
    of the grid (``high`` under 24 points in 1D, under 18 per axis in 2D) gives 0; a sample with a
    non-finite error gives ``nan`` in every band.

    Parameters
    ----------
    pred, ref : array_like, shape [n, ..., m_1, ..., m_D]
        Predictions and reference.
    spatial_dims : int
        Number D of trailing spatial axes.
    bands : sequence of (int, int or None), or mapping name -> (int, int or None)
        Inclusive ranges ``(a, b)`` of ``|k|``; ``b=None`` has no upper bound. The default is
        PDEBench's low ``(0, 3)``, mid ``(4, 11)``, high ``(12, None)``. A sequence of three
        bands is named ``low``, ``mid``, ``high``; other sequences ``"k{a}-{b}"`` / ``"k{a}+"``.

    Returns
    -------
    dict of str to numpy.ndarray, shape [n]
        Band name to the per-sample band error.
    """
    pred, ref = _as_arrays(("pred", "ref"), pred, ref)
    axes = _spatial_axes(pred, spatial_dims)
    table = _band_table(bands)
    n = pred.shape[0]
    grid = pred.shape[axes[0] :]
    points = math.prod(grid)
    values = math.prod(pred.shape[1:])

    magnitude = _wavenumber_magnitude(grid).ravel()
    masks = [(magnitude >= a) & (True if b is None else magnitude <= b) for _, a, b in table]
    # rfftn keeps half of the last axis: count each dropped mirror mode through its twin.
    weight = np.full(grid[-1] // 2 + 1, 2.0)
    weight[0] = 1.0
    if grid[-1] % 2 == 0:
        weight[-1] = 1.0

    totals = np.zeros((len(table), n))
    chunk = max(1, _FFT_CHUNK_VALUES // max(values, 1))
    for start in range(0, n, chunk):
        error = pred[start : start + chunk] - ref[start : start + chunk]
        spectrum = np.fft.rfftn(error, axes=axes)
        power = (spectrum.real**2 + spectrum.imag**2) * weight
        power = power.reshape(error.shape[0], -1, magnitude.size).sum(axis=1)
        for b, mask in enumerate(masks):
            totals[b, start : start + chunk] = power[:, mask].sum(axis=1)
        # A band with no modes on this grid would read 0 even for a diverged sample.
        totals[:, start : start + chunk][:, ~np.isfinite(_flat(error)).all(axis=1)] = np.nan
    scale = 1.0 / (values * points) if values else np.nan
    return {name: np.sqrt(totals[b] * scale) for b, (name, _, _) in enumerate(table)}


@_quiet
def boundary_error(pred: ArrayLike, ref: ArrayLike, spatial_dims: int) -> np.ndarray:
    """RMSE on the boundary nodes of a grid that holds both ends, per sample (absolute).

    The boundary nodes are those whose index is first or last along at least one of the
    last ``spatial_dims`` axes (the two end points in 1D, the edge ring in 2D).

    .. math:: E_i = \\sqrt{\\tfrac{1}{|\\partial|} \\sum_{j \\in \\partial} (p_{ij} - r_{ij})^2},

    with the other axes (time, channels) averaged over too. On a periodic grid the first and
    last indices are not a boundary; the number is then of little meaning.

    Parameters
    ----------
    pred, ref : array_like, shape [n, ..., m_1, ..., m_D]
        Predictions and reference.
    spatial_dims : int
        Number D of trailing spatial axes.

    Returns
    -------
    numpy.ndarray, shape [n]
    """
    pred, ref = _as_arrays(("pred", "ref"), pred, ref)
    axes = _spatial_axes(pred, spatial_dims)
    grid = pred.shape[axes[0] :]
    mask = np.zeros(grid, dtype=bool)
    for d in range(len(grid)):
        edge: list[Any] = [slice(None)] * len(grid)
        edge[d] = [0, -1]
        mask[tuple(edge)] = True
    return np.sqrt(_mean_squares((pred - ref)[..., mask]))


@_quiet
def error_over_time(pred: ArrayLike, ref: ArrayLike, time_axis: int = 1) -> np.ndarray:
    """Relative L2 error per sample and per time step.

    .. math:: E_{it} = \\|p_{it} - r_{it}\\|_2 / \\|r_{it}\\|_2,

    the norms over every axis but the sample and time axes.

    Parameters
    ----------
    pred, ref : array_like, shape [n, t, ...]
        Predictions and reference.
    time_axis : int, optional
        Axis of time (1 by default; negative counts from the end; never the sample axis).

    Returns
    -------
    numpy.ndarray, shape [n, t]
    """
    pred, ref = _as_arrays(("pred", "ref"), pred, ref)
    ok = isinstance(time_axis, (int, np.integer)) and not isinstance(time_axis, bool)
    axis = int(time_axis) + pred.ndim if ok and time_axis < 0 else time_axis
    if not ok or not 1 <= axis < pred.ndim:
        raise ValueError(
            f"time_axis must be an axis after the sample axis of an array of shape "
            f"{pred.shape}, got {time_axis!r}"
        )
    error = np.moveaxis(pred - ref, axis, 1)
    ref = np.moveaxis(ref, axis, 1)
    shape = (error.shape[0], error.shape[1], math.prod(error.shape[2:]))
    error, ref = error.reshape(shape), ref.reshape(shape)
    return np.sqrt(np.sum(error * error, axis=2)) / np.sqrt(np.sum(ref * ref, axis=2))


def calibration_curve(
    mean: ArrayLike,
    var: ArrayLike,
    ref: ArrayLike,
    levels: Sequence[float] = CALIBRATION_LEVELS,
    mask: ArrayLike | None = None,
) -> np.ndarray:
    """Observed coverage of central Gaussian intervals at nominal levels, pooled.

    For each level :math:`\\ell`, the fraction of all values (every sample, every point
    where ``mask`` is true) with :math:`|r - \\mu| \\le \\Phi^{-1}((1+\\ell)/2)\\,\\sigma`.
    A calibrated model lies on the diagonal (observed = nominal); below it the intervals
    are too narrow (over-confident), above it too wide. Non-finite predictions count as
    misses.

    Parameters
    ----------
    mean, var, ref : array_like, shape [n, ...]
        Predictive mean and variance, and the reference.
    levels : sequence of float
        Nominal probabilities in (0, 1); :data:`CALIBRATION_LEVELS` by default.
    mask : array_like of bool, shape [n, ...], optional
        Values to count (the others are padding).

    Returns
    -------
    numpy.ndarray, shape [len(levels)]
    """
    from statistics import NormalDist

    mean, var, ref = _as_arrays(("mean", "var", "ref"), mean, var, ref)
    _check_variance(var)
    keep = _check_mask(mask, ref.shape, "mask")
    levels = np.asarray(levels, dtype=np.float64).ravel()
    if levels.size == 0 or not np.all((levels > 0) & (levels < 1)):
        raise ValueError(f"levels must be probabilities in (0, 1), got {levels.tolist()}")
    miss = np.abs(ref - mean)[keep]
    if miss.size == 0:
        return np.full(levels.shape, np.nan)
    sigma = np.sqrt(var[keep])
    bounds = [NormalDist().inv_cdf(0.5 * (1.0 + float(x))) for x in levels]
    # The rule of interval_coverage: inside when |r − μ| <= z σ (σ = 0: exact hits only).
    return np.array([np.mean(miss <= b * sigma) for b in bounds])


def _check_mask(mask: ArrayLike | None, shape: tuple[int, ...], name: str) -> np.ndarray:
    if mask is None:
        return np.ones(shape, dtype=bool)
    keep = np.asarray(mask)
    if keep.dtype != bool or keep.shape != shape:
        raise ValueError(
            f"{name} must be a boolean array of shape {shape}, got {keep.dtype} {keep.shape}"
        )
    return keep


# -- summaries and the registry -------------------------------------------------------------
@_quiet
def summarize(per_sample: ArrayLike) -> dict[str, Any]:
    """Mean, standard deviation (``ddof=0``), median and maximum over the sample axis.

    Non-finite values propagate (a diverged sample makes the summary non-finite).

    Parameters
    ----------
    per_sample : array_like, shape [n] or [n, ...]
        A metric's per-sample values, e.g. from :func:`relative_l2` or :func:`error_over_time`.

    Returns
    -------
    dict
        ``{"mean", "std", "median", "max"}``: floats for shape [n], arrays of shape ``[...]``
        otherwise (e.g. per time step).
    """
    values = np.asarray(per_sample, dtype=np.float64)
    if values.ndim < 1 or values.shape[0] == 0:
        raise ValueError(f"per_sample must hold at least one sample, got shape {values.shape}")
    stats = {
        "mean": np.mean(values, axis=0),
        "std": np.std(values, axis=0),
        "median": np.median(values, axis=0),
        "max": np.max(values, axis=0),
    }
    return {k: float(v) if np.ndim(v) == 0 else v for k, v in stats.items()}


#: Metrics by name, for :func:`compute_metrics` and suites.
METRICS: dict[str, Callable[..., Any]] = {
    "relative_l2": relative_l2,
    "relative_h1": relative_h1,
    "rmse": rmse,
    "nrmse": nrmse,
    "max_error": max_error,
    "fourier_bands": fourier_band_errors,
    "boundary_error": boundary_error,
    "error_over_time": error_over_time,
    "interval_coverage": interval_coverage,
    "mean_predictive_std": mean_predictive_std,
    "gaussian_nll": gaussian_nll,
    "gaussian_crps": gaussian_crps,
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
