"""Error metrics on arrays: one number per sample, pure NumPy, no field names or problems.

Every metric takes arrays with the sample axis first (``[n, ...]``: then time and channels
if any, then space) and returns a float64 array of shape ``[n]``, so that a caller can take
the mean, the spread or the worst case (:func:`summarize`). Spatial metrics read the last
``spatial_dims`` axes as the grid; every other axis after the sample axis is summed or
averaged over like the grid points are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from pdeml.validation.metrics._arrays import (
    _check_lengths,
    _flat,
    _mean_squares,
    _per_sample,
    _quiet,
    _spatial_axes,
    _sum_squares,
)


@_per_sample("pred", "ref")
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
        The ratio of norms of each sample (``inf`` for a zero reference).
    """
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


@_per_sample("pred", "ref")
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
        Predictions and reference on the grid.
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
    axes = _spatial_axes(pred, spatial_dims)
    lengths_ = _check_lengths(lengths, len(axes))
    error = pred - ref
    num = _sum_squares(error) + _h1_seminorm_squared(error, axes, bool(periodic), lengths_)
    den = _sum_squares(ref) + _h1_seminorm_squared(ref, axes, bool(periodic), lengths_)
    return np.sqrt(num) / np.sqrt(den)


@_per_sample("pred", "ref")
def rmse(pred: ArrayLike, ref: ArrayLike) -> np.ndarray:
    """Root-mean-square error per sample (absolute, in the units of the field).

    .. math:: \\mathrm{RMSE}_i = \\sqrt{\\tfrac{1}{M} \\sum_j (p_{ij} - r_{ij})^2},

    over the M values of each sample.

    Parameters
    ----------
    pred, ref : array_like, shape [n, ...]
        Predicted and reference values, in the field's units.

    Returns
    -------
    numpy.ndarray, shape [n]
    """
    return np.sqrt(_mean_squares(pred - ref))


@_per_sample("pred", "ref")
def nrmse(pred: ArrayLike, ref: ArrayLike) -> np.ndarray:
    """Normalised RMSE per sample, PDEBench's nRMSE: the RMSE over the RMS of the reference.

    .. math:: \\mathrm{nRMSE}_i = \\mathrm{RMSE}_i \\big/ \\sqrt{\\tfrac{1}{M} \\sum_j r_{ij}^2}.

    Over a whole sample this is the same number as :func:`relative_l2` (the point counts
    cancel); PDEBench also takes it per time step, which :func:`error_over_time` gives.

    Parameters
    ----------
    pred, ref : array_like, shape [n, ...]
        Predictions and the reference they are scored against.

    Returns
    -------
    numpy.ndarray, shape [n]
    """
    return np.sqrt(_mean_squares(pred - ref)) / np.sqrt(_mean_squares(ref))


@_per_sample("pred", "ref")
def max_error(pred: ArrayLike, ref: ArrayLike) -> np.ndarray:
    """Largest absolute error per sample, :math:`\\max_j |p_{ij} - r_{ij}|` (absolute).

    Parameters
    ----------
    pred, ref : array_like, shape [n, ...]
        Predictions and reference (at least one value per sample).

    Returns
    -------
    numpy.ndarray, shape [n]
    """
    return np.max(np.abs(_flat(pred - ref)), axis=1)


@_per_sample("pred", "ref")
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
        Predictions and reference on a grid that holds both ends.
    spatial_dims : int
        Number D of trailing spatial axes.

    Returns
    -------
    numpy.ndarray, shape [n]
    """
    axes = _spatial_axes(pred, spatial_dims)
    grid = pred.shape[axes[0] :]
    mask = np.zeros(grid, dtype=bool)
    for d in range(len(grid)):
        edge: list[Any] = [slice(None)] * len(grid)
        edge[d] = [0, -1]
        mask[tuple(edge)] = True
    return np.sqrt(_mean_squares((pred - ref)[..., mask]))


@_per_sample("pred", "ref")
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
