"""Uncertainty metrics: how well a predictive Gaussian (mean, variance) covers the reference.

Each takes ``mean``, ``var`` and ``ref`` with the sample axis first and returns one number
per sample (shape ``[n]``), like the error metrics of :mod:`pdeml.validation.metrics.arrays`;
:func:`calibration_curve` pools every sample into one curve.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtr

from pdeml.validation.metrics._arrays import (
    _as_arrays,
    _check_mask,
    _check_variance,
    _flat,
    _per_sample,
)

#: Nominal levels of the central intervals in :func:`calibration_curve`.
CALIBRATION_LEVELS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


@_per_sample("mean", "var", "ref")
def interval_coverage(
    mean: ArrayLike, var: ArrayLike, ref: ArrayLike, level: float = 0.95
) -> np.ndarray:
    """Fraction of the values of each sample inside the central Gaussian predictive interval.

    .. math::

        C_i = \\tfrac{1}{M} \\#\\{j : |r_{ij} - \\mu_{ij}| \\le z \\sigma_{ij}\\},
        \\qquad z = \\Phi^{-1}\\big(\\tfrac{1 + \\ell}{2}\\big),

    with :math:`\\sigma = \\sqrt{\\mathrm{var}}` and level :math:`\\ell` (z = 1.95996 for 0.95).
    A calibrated model gives :math:`C \\approx \\ell`. Non-finite predictions count as misses.

    Parameters
    ----------
    mean, var, ref : array_like, shape [n, ...]
        Predictive mean and variance, and the reference they should cover.
    level : float, optional
        Nominal probability of the interval, in (0, 1).

    Returns
    -------
    numpy.ndarray, shape [n]
    """
    if not (isinstance(level, (float, int, np.floating)) and 0.0 < level < 1.0):
        raise ValueError(f"level must be a probability in (0, 1), got {level!r}")
    z = NormalDist().inv_cdf(0.5 * (1.0 + float(level)))
    inside = np.abs(ref - mean) <= z * np.sqrt(var)
    return np.mean(_flat(inside), axis=1, dtype=np.float64)


@_per_sample("var")
def mean_predictive_std(var: ArrayLike) -> np.ndarray:
    """Mean predictive standard deviation per sample, :math:`\\tfrac{1}{M}\\sum_j \\sqrt{v_{ij}}`.

    Parameters
    ----------
    var : array_like, shape [n, ...]
        Predictive variance.

    Returns
    -------
    numpy.ndarray, shape [n]
    """
    return np.mean(np.sqrt(_flat(var)), axis=1)


@_per_sample("mean", "var", "ref")
def gaussian_nll(mean: ArrayLike, var: ArrayLike, ref: ArrayLike) -> np.ndarray:
    """Mean negative log-likelihood of the reference under the Gaussian prediction, per sample.

    .. math::

        \\mathrm{NLL}_i = \\tfrac{1}{M} \\sum_j \\Big[\\tfrac12 \\log(2\\pi v_{ij})
        + \\frac{(r_{ij} - \\mu_{ij})^2}{2 v_{ij}}\\Big].

    Lower is better; it needs positive variances to be finite.

    Parameters
    ----------
    mean, var, ref : array_like, shape [n, ...]
        Predictive mean and (positive) variance, and the reference.

    Returns
    -------
    numpy.ndarray, shape [n]
    """
    error = ref - mean
    nll = 0.5 * (np.log(2.0 * np.pi * var) + error * error / var)
    return np.mean(_flat(nll), axis=1)


@_per_sample("mean", "var", "ref")
def gaussian_crps(mean: ArrayLike, var: ArrayLike, ref: ArrayLike) -> np.ndarray:
    """Continuous ranked probability score of the Gaussian prediction, mean per sample.

    Closed form for :math:`X \\sim N(\\mu, \\sigma^2)` and observation :math:`y`,
    with :math:`z = (y - \\mu)/\\sigma`:

    .. math::

        \\mathrm{CRPS} = E|X - y| - \\tfrac12 E|X - X'|
        = \\sigma \\Big[z\\,(2\\Phi(z) - 1) + 2\\varphi(z) - \\tfrac{1}{\\sqrt\\pi}\\Big],

    averaged over the M values of each sample; it is :math:`|y - \\mu|` where
    :math:`\\sigma = 0`. Lower is better, in the units of the field.

    Parameters
    ----------
    mean, var, ref : array_like, shape [n, ...]
        Gaussian predictive mean and variance, and the observed reference.

    Returns
    -------
    numpy.ndarray, shape [n]
    """
    sigma = np.sqrt(var)
    error = ref - mean
    z = error / sigma
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    crps = sigma * (z * (2.0 * ndtr(z) - 1.0) + 2.0 * pdf - 1.0 / math.sqrt(math.pi))
    crps = np.where(sigma == 0.0, np.abs(error), crps)
    return np.mean(_flat(crps), axis=1)


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
