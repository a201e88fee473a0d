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
    "load_average": "Load average (1, 5, 15 min)",
    "load_start": "Load average at start (1, 5, 15 min)",
    "load_end": "Load average at end (1, 5, 15 min)",
    "threads": "Threads",
    "timing_threads": "Thread pools while timing",
}
#: Above the table of where each entry was measured.
MEASURED_HELP = (
    "The table above describes the run that wrote this report. A run reuses the entries "
    "that finished earlier with the same settings, so each entry records where and when it "
    "was itself measured (load averages over 1, 5 and 15 minutes)."
)
#: How the speed-up column is computed and read.
SPEEDUP_HELP = (
    "Speed-up at equal accuracy: the reference solver's time per sample at the surrogate's "
    "error, divided by the surrogate's time per sample. The reference time is read off the "
    "reference ladder (settings whose error is measured against a finer ground truth), "
    "interpolated between the two settings whose errors bracket the surrogate's (log error "
    "against log time). Times are measured on the devices named in the tables; a speed-up "
    "across different devices compares the two setups, not the algorithms alone. “≥” marks a "
    "lower bound (the surrogate is more accurate than every setting; the ratio is to the most "
    "accurate one), “≤” an upper bound (it is less accurate than the cheapest setting; a "
    "cheaper, coarser one might match); the notes under each table say which in words."
)
#: How the break-even count is computed and read.
BREAK_EVEN_HELP = (
    "Break-even (queries): the smallest number of queries N after which generating the "
    "surrogate's training data (the time per sample recorded when the dataset was made, "
    "the solve and the drawing of the inputs, which for Navier–Stokes is a solver run too, "
    "times the training samples; none for a physics-informed surrogate), "
    "training it and answering N queries costs less time than answering the N queries with "
    "the reference solver at equal accuracy (the time behind the speed-up). ∞: never, because "
    "the surrogate is slower per query, or less accurate than every reference setting. “—”: "
    "unknown (e.g. a surrogate loaded from a finished run, whose training time was not "
    "measured here). “≤” / “≥”: a bound, where the speed-up is one. “guarded” is the same "
    "count with the guarded time per query, against the reference at the guarded answers' "
    "own error."
)
#: How the times are taken.
TIMING_HELP = (
    "Time per sample is the wall-clock time of the surrogate's batched call on the whole test "
    "set, divided by the test samples, in milliseconds: the median of several repeated calls "
    "(after a warm-up call), with the fastest and slowest repeat beside it; a wide spread "
    "means the machine was busy (see the load average and threads in the environment table). "
    "Training time is the surrogate's whole fit, in seconds."
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


def environment_value(key: str, value: Any) -> str:
    """One value of the environment table as text: load averages as ``"0.52, 0.61, 0.70"``,
    ``None`` as ``"—"``."""
    if value is None:
        return "—"
    if key.startswith("load") and isinstance(value, (list, tuple)):
        return ", ".join(format_number(v, 3) for v in value)
    return str(value)


def spread_cell(spread: Any) -> str:
    """``"2.10–2.40 (5 runs)"`` in milliseconds from an entry's ``time_per_sample_spread``."""
    if not isinstance(spread, Mapping) or spread.get("min") is None:
        return "—"
    runs = spread.get("repeats")
    low, high = _ms(spread.get("min")), _ms(spread.get("max"))
    return f"{low}–{high} ({runs} run{'s' if runs != 1 else ''})"


def threads_text(settings: Mapping[str, Any]) -> str:
    """``"torch 1, numba 1, BLAS 1, OMP_NUM_THREADS=1"`` from :func:`~pdeml.validation.timing.
    thread_settings`."""
    names = {"torch": "torch", "numba": "numba", "blas": "BLAS"}
    parts = [f"{label} {settings[k]}" for k, label in names.items() if settings.get(k) is not None]
    if settings.get("OMP_NUM_THREADS") is not None:
        parts.append(f"OMP_NUM_THREADS={settings['OMP_NUM_THREADS']}")
    return ", ".join(parts) or "—"
