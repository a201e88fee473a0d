"""Errors by band of wavenumber: how much of the error sits at large, middle and small scales.

:func:`fourier_band_errors` follows PDEBench's low / mid / high split of the error's
Fourier spectrum; like the other metrics it gives one number per sample (per band).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from pdeml.validation.metrics._arrays import _flat, _per_sample, _spatial_axes

#: PDEBench's wavenumber bands: low ``0 ≤ |k| ≤ 3``, mid ``4 ≤ |k| ≤ 11``, high ``|k| ≥ 12``.
DEFAULT_BANDS: tuple[tuple[int, int | None], ...] = ((0, 3), (4, 11), (12, None))

# Bounds the memory of the FFT in fourier_band_errors (complex values per chunk of samples).
_FFT_CHUNK_VALUES = 1 << 22


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


@_per_sample("pred", "ref")
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
        Predictions and reference, each grid read as periodic.
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
