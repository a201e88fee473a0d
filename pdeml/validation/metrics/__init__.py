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

The package holds the array functions (:mod:`.arrays`, :mod:`.fourier`,
:mod:`.uncertainty`) apart from the name dispatch over a problem's fields (:mod:`.dispatch`).
"""

from pdeml.validation.metrics.arrays import (
    boundary_error,
    error_over_time,
    max_error,
    nrmse,
    relative_h1,
    relative_l2,
    rmse,
    summarize,
)
from pdeml.validation.metrics.dispatch import METRICS, UNCERTAINTY_METRICS, compute_metrics
from pdeml.validation.metrics.fourier import DEFAULT_BANDS, fourier_band_errors
from pdeml.validation.metrics.uncertainty import (
    CALIBRATION_LEVELS,
    calibration_curve,
    gaussian_crps,
    gaussian_nll,
    interval_coverage,
    mean_predictive_std,
)

__all__ = [
    "CALIBRATION_LEVELS",
    "DEFAULT_BANDS",
    "METRICS",
    "UNCERTAINTY_METRICS",
    "boundary_error",
    "calibration_curve",
    "compute_metrics",
    "error_over_time",
    "fourier_band_errors",
    "gaussian_crps",
    "gaussian_nll",
    "interval_coverage",
    "max_error",
    "mean_predictive_std",
    "nrmse",
    "relative_h1",
    "relative_l2",
    "rmse",
    "summarize",
]
