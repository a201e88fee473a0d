"""Trajectory statistics of the multiscale Lorenz96 comparison: forecast skill and climate.

A hybrid model (slow variables plus a learned closure) is judged against the resolved
two-scale model on two time scales: short-range forecasts from the same initial states
(RMSE over the ring, time to failure) and long-run statistics of ``X`` (mean, standard
deviation, autocorrelation, histogram). All functions take trajectories ``[n, t, K]``
(members, stored times, sites) in numpy and never raise on NaN or infinite values: a
blown-up member counts as failed.
"""

from __future__ import annotations

import numpy as np


def rmse_per_member(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """RMSE over the sites of two trajectories ``[n, t, K]``: ``[n, t]``.

    NaN or infinite values (a blown-up run) give ``+inf``, so they count as failure.
    """
    with np.errstate(all="ignore"):
        err = np.sqrt(np.mean((a - b) ** 2, axis=-1))
    return np.where(np.isfinite(err), err, np.inf)


def time_to_failure(
    error: np.ndarray, times: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """First stored time at which each member's error passes ``threshold``.

    Parameters
    ----------
    error : numpy.ndarray
        Per-member errors ``[n, t]`` (e.g. :func:`rmse_per_member`).
    times : numpy.ndarray
        The stored times ``[t]``.
    threshold : float
        Failure level, typically the climatological standard deviation of ``X``.

    Returns
    -------
    first, failed : numpy.ndarray
        ``[n]`` each: the time of failure (the horizon ``times[-1]`` for members that never
        fail, so a mean over members is a lower bound) and whether the member failed.
    """
    over = error > threshold
    failed = over.any(axis=1)
    return np.where(failed, times[np.argmax(over, axis=1)], times[-1]), failed


def autocorrelation(x: np.ndarray, max_lag: int) -> np.ndarray:
    """Autocorrelation of ``x [n, t, K]`` at lags ``0 … max_lag`` (stored steps), pooled
    over members and sites."""
    x = x - x.mean()
    var = np.mean(x * x)
    return np.array(
        [np.mean(x[:, lag:] * x[:, : x.shape[1] - lag]) / var for lag in range(max_lag + 1)]
    )


def hellinger(a: np.ndarray, b: np.ndarray, bins: np.ndarray) -> float:
    """Hellinger distance between the histograms of ``a`` and ``b`` on ``bins`` (0 … 1)."""
    p, _ = np.histogram(a, bins)
    q, _ = np.histogram(b, bins)
    p, q = p / max(p.sum(), 1), q / max(q.sum(), 1)
    return float(np.sqrt(max(0.0, 1.0 - np.sum(np.sqrt(p * q)))))


def histogram_bins(reference: np.ndarray, n: int = 60) -> np.ndarray:
    """``n`` equal bins over the range of ``reference`` widened by 20 % on each side."""
    spread = np.ptp(reference)
    return np.linspace(reference.min() - 0.2 * spread, reference.max() + 0.2 * spread, n + 1)


def climate_statistics(
    run: np.ndarray, reference: np.ndarray, max_lag: int, bins: np.ndarray
) -> dict[str, float]:
    """Long-run statistics of ``run [n, t, K]`` and their distance to ``reference``'s.

    Returns ``mean X``, ``std X``, ``ACF error`` (mean absolute difference of the
    autocorrelations over lags ``0 … max_lag``) and ``Hellinger`` (histograms on
    ``bins``); all NaN when ``run`` is not finite.
    """
    keys = ("mean X", "std X", "ACF error", "Hellinger")
    if not np.all(np.isfinite(run)):
        return dict.fromkeys(keys, float("nan"))
    acf = autocorrelation(run, max_lag) - autocorrelation(reference, max_lag)
    values = (run.mean(), run.std(), np.mean(np.abs(acf)), hellinger(run, reference, bins))
    return {k: float(v) for k, v in zip(keys, values)}
