"""The words and numbers of a validation report: labels, explanations, number formats.

What the report says about each metric and how it writes a number lives here, apart from
the reading of a run (:mod:`pdeml.validation.report`) and its figures
(:mod:`pdeml.validation.report_figures`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

#: Short column labels of the metrics.
METRIC_LABELS = {
    "relative_l2": "rel. L2",
    "relative_h1": "rel. H1",
    "rmse": "RMSE",
    "nrmse": "nRMSE",
    "max_error": "max error",
    "fourier_low": "Fourier low",
    "fourier_mid": "Fourier mid",
    "fourier_high": "Fourier high",
    "boundary_error": "boundary error",
    "interval_coverage": "coverage",
    "mean_predictive_std": "mean pred. std",
    "gaussian_nll": "NLL",
    "gaussian_crps": "CRPS",
}
#: One-sentence explanations of the metrics, for "How to read this report".
METRIC_HELP = {
    "relative_l2": "‖prediction − reference‖₂ / ‖reference‖₂ for each test sample, then the "
    "mean (± standard deviation) over the test set; 0.01 means 1 % error.",
    "relative_h1": "the same ratio in the H1 norm (values and first derivatives), which "
    "also penalises wrong gradients and small-scale noise.",
    "rmse": "root-mean-square pointwise error, in the field's own units.",
    "nrmse": "RMSE divided by the root-mean-square of the reference (PDEBench's nRMSE, the "
    "relative RMSE), per sample, then the mean; over a whole sample it equals the relative L2 "
    "error, and for a scalar output it is |prediction − reference| / |reference|.",
    "max_error": "the largest pointwise |prediction − reference| in a sample, in the "
    "field's own units (not relative).",
    "fourier_low": "RMSE of the error's Fourier modes with |k| from 0 to 3 (absolute).",
    "fourier_mid": "RMSE of the error's Fourier modes with |k| from 4 to 11 (absolute).",
    "fourier_high": "RMSE of the error's Fourier modes with |k| of 12 and more (absolute).",
    "boundary_error": "RMSE on the boundary nodes of the grid (absolute).",
    "interval_coverage": "fraction of reference values inside the surrogate's 95 % "
    "predictive interval; near 0.95 when its uncertainty is calibrated. Mesh problems count "
    "the real nodes only (never the padding).",
    "mean_predictive_std": "mean predicted standard deviation (field units).",
    "gaussian_nll": "mean negative log-likelihood of the reference under the predicted "
    "Gaussian; lower is better.",
    "gaussian_crps": "continuous ranked probability score of the predicted Gaussian, in "
    "field units; lower is better.",
}
#: Row labels of the environment table.
ENVIRONMENT_LABELS = {
    "pdeml_version": "pdeml version",
    "commit": "Commit",
    "machine": "Machine",
    "cpu": "CPU",
    "cores": "CPU cores",
    "device": "Device",
    "python": "Python",
    "torch": "PyTorch",
    "date": "Date",
}
#: How the speed-up column is computed and read.
SPEEDUP_HELP = (
    "Speed-up at equal accuracy: the time per sample of the cheapest reference-solver setting "
    "that is at least as accurate as the surrogate (from the reference ladder, whose error is "
    "measured against a finer ground truth), divided by the surrogate's time per sample. "
    "Times are measured on the devices named in the tables; a speed-up across different "
    "devices compares the two setups, not the algorithms alone. “≥” marks a lower bound (no "
    "setting on the ladder is as accurate as the surrogate; the ratio is to the most accurate "
    "one), “≤” an upper bound (even the coarsest setting is as accurate; a cheaper one might be)."
)


def format_number(value: Any, digits: int = 4) -> str:
    """Format a number with ``digits`` significant digits; ``None`` becomes an em dash.

    Parameters
    ----------
    value : float, int or None
        The number.
    digits : int, optional
        Significant digits (4 by default).

    Returns
    -------
    str
        E.g. ``"0.01234"``, ``"1.235e-05"``, ``"n/a"`` (NaN), ``"—"``.
    """
    if value is None:
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return "n/a"
    if math.isinf(number):
        return "∞" if number > 0 else "−∞"
    if number == 0:
        return "0"
    return f"{number:.{digits}g}"


def _ms(seconds: Any) -> str:
    return "—" if seconds is None else format_number(float(seconds) * 1e3)


def _count(value: Any) -> str:
    return "—" if value is None else f"{int(value):,}"


def _bound(note: str) -> str:
    note = note.strip()
    if note.startswith(("≥", ">=")):
        return "≥ "
    if note.startswith(("≤", "<=")):
        return "≤ "
    return ""


def _goal_cell(goals: Mapping[str, Any]) -> str:
    """``met: rel. L2 < 0.005`` / ``MISSED: coverage (u) in [0.9, 0.98)`` per goal."""
    if not goals:
        return "—"
    parts = []
    for key, goal in goals.items():
        metric = str(goal.get("metric", key))
        label = METRIC_LABELS.get(metric, metric)
        if goal.get("field"):
            label += f" ({goal['field']})"
        verdict = "met" if goal.get("met") else "MISSED"
        value = format_number(goal.get("value"), 3)
        high = format_number(goal.get("bound"), 3)
        if goal.get("low") is not None:
            rule = f"{label} = {value} in [{format_number(goal['low'], 3)}, {high})"
        else:
            rule = f"{label} < {high}" + (f" ({value})" if goal.get("field") else "")
        parts.append(f"{verdict}: {rule}")
    return "; ".join(parts)
