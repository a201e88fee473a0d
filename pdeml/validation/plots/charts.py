"""Summary charts of a validation run: error histograms, accuracy against cost, training
curves, calibration and scalar parity.

Every function takes plain numbers and arrays (no files, no suite objects) and returns a
:class:`matplotlib.figure.Figure` with an Agg canvas attached.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from pdeml.validation.plots.canvas import new_figure
from pdeml.validation.speedup import ladder_front, setting_label


def _positive(values: Any) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).ravel()
    return array[np.isfinite(array) & (array > 0)]


def error_histogram(errors: Mapping[str, Sequence[float] | np.ndarray], title: str = "") -> Figure:
    """Histograms of per-sample relative L2 errors, one outline per surrogate, log-x axis.

    Parameters
    ----------
    errors : mapping of str to array
        Label (e.g. ``"fno · u"``) to per-sample relative L2 errors. Zero and non-finite
        values cannot be placed on a log axis and are left out (the count is shown).
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = new_figure(7.5, 4.0)
    ax = fig.add_subplot()
    data = {label: _positive(v) for label, v in errors.items()}
    pooled = np.concatenate([v for v in data.values() if v.size] or [np.ones(1)])
    lo, hi = float(pooled.min()), float(pooled.max())
    if hi <= lo * 1.01:
        lo, hi = lo / 2.0, hi * 2.0
    # Few test samples make a coarse histogram: fewer bins, and a tick per sample below.
    largest = max((v.size for v in data.values()), default=1)
    bins = np.geomspace(lo, hi, int(np.clip(2 * np.sqrt(largest), 8, 30)) + 1)
    for i, (label, values) in enumerate(data.items()):
        dropped = int(np.size(errors[label]) - values.size)
        name = label + (f" ({dropped} not shown)" if dropped else "")
        if values.size:
            ax.hist(values, bins=bins, histtype="step", lw=1.8, color=f"C{i % 10}", label=name)
            if values.size <= 200:
                ax.plot(values, np.zeros_like(values), "|", color=f"C{i % 10}", ms=12, mew=1.2)
            ax.axvline(float(np.mean(values)), color=f"C{i % 10}", ls=":", lw=1.2)
    ax.set_xscale("log")
    ax.set_xlabel("relative L2 error per test sample (dotted: mean)")
    ax.set_ylabel("samples")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3, which="both")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    ax.set_title(title or "error distribution")
    return fig


def accuracy_cost(
    ladders: Mapping[str, Sequence[Mapping[str, float]]],
    points: Mapping[str, tuple[float, float]],
    title: str = "",
) -> Figure:
    """Accuracy against cost: reference solver ladders as lines, surrogates as points.

    Parameters
    ----------
    ladders : mapping of str to sequence of mapping
        Reference solver label to its ladder, a list of
        ``{"resolution", "seconds_per_sample", "relative_l2"}``.
    points : mapping of str to (float, float)
        Surrogate label to ``(seconds per sample, mean relative L2)``.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Log-log axes; the ladder's front (the settings no other beats on both time and
        error) is a line labelled by setting, the other settings faint dots.
    """
    fig = new_figure(7.5, 4.8)
    ax = fig.add_subplot()
    drawn = False
    for i, (label, ladder) in enumerate(ladders.items()):
        usable = [
            s
            for s in ladder
            if _finite_positive(s.get("seconds_per_sample"))
            and _finite_positive(s.get("relative_l2"))
        ]
        # The line joins the settings no other beats on both counts (the speed-ups are
        # read along it); settings off it (a step too small for their grid) are dots.
        front = ladder_front(usable)
        steps = [(t, e, setting_label(p)) for t, e, p in front]
        if not steps:
            continue
        others = [s for s in usable if all(s is not p for _, _, p in front)]
        if others:
            ax.plot(
                [float(s["seconds_per_sample"]) for s in others],
                [float(s["relative_l2"]) for s in others],
                ".",
                color=f"C{i}",
                alpha=0.4,
            )
        t, e, _ = zip(*steps)
        ax.plot(t, e, "-o", color=f"C{i}", lw=1.5, ms=5, label=f"{label} (reference)")
        for ti, ei, ri in steps:
            ax.annotate(ri, (ti, ei), textcoords="offset points", xytext=(5, 5), fontsize=8)
        drawn = True
    markers = "sD^vP*Xh"
    for i, (label, (t, e)) in enumerate(points.items()):
        if _finite_positive(t) and _finite_positive(e):
            color = f"C{(i + len(ladders)) % 10}"
            ax.plot([t], [e], markers[i % len(markers)], ms=9, color=color, label=label)
            drawn = True
    if drawn:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "nothing to show", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("time per sample (s)")
    ax.set_ylabel("mean relative L2 error")
    ax.grid(alpha=0.3, which="both")
    ax.set_title(title or "accuracy against cost (lower left is better)")
    return fig


def _finite_positive(value: Any) -> bool:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return math.isfinite(number) and number > 0


def training_curves(
    histories: Mapping[str, Sequence[Mapping[str, float]]], title: str = ""
) -> Figure:
    """Training loss and validation metric against epoch, one line per surrogate, log-y.

    Parameters
    ----------
    histories : mapping of str to sequence of mapping
        Surrogate label to its per-epoch log: dicts with ``epoch``, ``train_loss`` and
        ``valid_metric`` (either may be missing).
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = new_figure(10.0, 4.0)
    axes = fig.subplots(1, 2)
    for ax, key, label in (
        (axes[0], "train_loss", "training loss"),
        (axes[1], "valid_metric", "validation metric"),
    ):
        for i, (name, history) in enumerate(histories.items()):
            pairs = [
                (float(h["epoch"]), float(h[key]))
                for h in history
                if h.get("epoch") is not None and _finite_positive(h.get(key))
            ]
            if pairs:
                x, y = zip(*pairs)
                ax.plot(x, y, color=f"C{i % 10}", lw=1.4, label=name)
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, which="both")
        if ax.get_lines():
            ax.legend(fontsize=8)
    fig.suptitle(title or "training")
    return fig


def calibration(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], title: str = ""
) -> Figure:
    """Observed against nominal coverage of central predictive intervals.

    Parameters
    ----------
    curves : mapping of str to (levels, observed)
        Label (e.g. ``"mmgp · u"``) to the nominal levels and the observed coverage at each
        (:func:`pdeml.validation.metrics.calibration_curve`).
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        The diagonal is perfect calibration; below it the intervals are too narrow.
    """
    fig = new_figure(5.2, 5.0)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="0.5", lw=1.0, ls="--", label="calibrated")
    for i, (label, (levels, observed)) in enumerate(curves.items()):
        ax.plot(levels, observed, "-o", ms=4, lw=1.4, color=f"C{i % 10}", label=label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("nominal coverage of the central interval")
    ax.set_ylabel("observed coverage (test samples and values pooled)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(title or "calibration")
    return fig


def scalar_parity(
    reference: np.ndarray,
    prediction: np.ndarray,
    variance: np.ndarray | None = None,
    title: str = "",
) -> Figure:
    """A scalar output over the test set: prediction against reference (left) and the error
    with its 95 % predictive interval against the reference (right).

    Parameters
    ----------
    reference, prediction : numpy.ndarray, shape [n]
    variance : numpy.ndarray, shape [n], optional
        Predictive variance: error bars of ±1.96 standard deviations (95 %) on the right.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    reference = np.asarray(reference, dtype=np.float64).ravel()
    prediction = np.asarray(prediction, dtype=np.float64).ravel()
    fig = new_figure(9.0, 4.2)
    left, right = fig.subplots(1, 2)
    left.plot(reference, prediction, "o", ms=3)
    finite = np.concatenate([reference, prediction])
    finite = finite[np.isfinite(finite)]
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        left.plot([lo, hi], [lo, hi], color="0.5", ls="--", lw=1.0, label="exact")
        left.legend(fontsize=8)
    left.set_xlabel("reference")
    left.set_ylabel("prediction")
    left.grid(alpha=0.3)
    error = prediction - reference
    if variance is not None:
        bar = 1.959964 * np.sqrt(np.clip(np.asarray(variance, dtype=np.float64).ravel(), 0, None))
        inside = np.abs(error) <= bar
        right.errorbar(reference, error, yerr=bar, fmt="none", lw=0.8, color="0.6")
        right.set_title(f"95 % intervals cover {inside.mean():.0%} of {inside.size}", fontsize=10)
    right.plot(reference, error, "o", ms=3, color="C0")
    right.axhline(0.0, color="0.3", lw=1.0)
    right.set_xlabel("reference")
    right.set_ylabel("prediction − reference")
    right.grid(alpha=0.3)
    fig.suptitle(title)
    return fig
