"""Guarded entries of a validation suite, and how well an error indicator tracks the truth.

A suite's surrogate may carry ``guard = { tol = 0.05, fallback = "solve" }``. Its entry
then also runs the surrogate behind :func:`pdeml.guard` on the test set and records, under
``guard``: the fraction of predictions accepted, the true worst error of the accepted ones
(the guard's promise is that it stays below ``tol``), the guarded time per sample, the
error of the guarded outputs, and how the indicator ranks the surrogate's true errors
(:func:`indicator_quality`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from pdeml.guarded import check_fallback, check_tol

#: Keys of a suite's ``guard`` table.
GUARD_KEYS = ("tol", "fallback", "ood", "indicator")
#: Share of samples counted as "the worst" by :func:`indicator_quality`.
WORST_SHARE = 0.05


def check_guard(value: Any, where: str) -> dict[str, Any]:
    """Check a suite's ``guard = {...}`` table; return it with defaults filled in.

    ``tol`` (required): a positive number; ``fallback``: ``"solve"`` (default),
    ``"warm-start"`` or ``"flag"``; ``ood``: also reject inputs far from the training
    inputs (default false); ``indicator``: a table of options for the problem's indicator.

    Raises
    ------
    ValueError
        Naming ``where`` and the key, for anything else.
    """
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: expected a table such as {{ tol = 0.05 }}, got {value!r}")
    unknown = sorted(set(value) - set(GUARD_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; expected some of {list(GUARD_KEYS)}")
    if "tol" not in value:
        raise ValueError(f"{where}: needs 'tol', the largest estimated relative error accepted")
    try:
        tol = check_tol(value["tol"])
        fallback = check_fallback(value.get("fallback", "solve"))
    except ValueError as error:
        raise ValueError(f"{where}.{error}") from None
    ood = value.get("ood", False)
    if not isinstance(ood, bool):
        raise ValueError(f"{where}.ood must be true or false, got {ood!r}")
    options = value.get("indicator", {})
    if not isinstance(options, Mapping):
        raise ValueError(f"{where}.indicator must be a table of indicator options, got {options!r}")
    return {"tol": tol, "fallback": fallback, "ood": ood, "indicator": dict(options)}


def indicator_quality(
    estimates: np.ndarray, errors: np.ndarray, tol: float | None = None
) -> dict[str, Any]:
    """How well per-sample error estimates track the true errors.

    Parameters
    ----------
    estimates, errors : numpy.ndarray
        ``[n]`` estimated and true relative errors of the same predictions.
    tol : float, optional
        Also report what accepting ``estimate <= tol`` would give.

    Returns
    -------
    dict
        ``spearman``: rank correlation; ``ratio_min``, ``ratio_median``, ``ratio_max``: of
        estimate to true error (above 1: over-estimates); ``worst_share``,
        ``worst_count``: the share (5 %) and number of samples counted as the worst;
        ``worst_true_error``: mean true error of the truly worst; ``worst_flagged_error``:
        mean true error of those with the largest estimates; ``worst_recall``: how many of
        the truly worst are among them. With ``tol``: ``accepted_fraction`` and
        ``accepted_worst_error`` (None when none is accepted).
    """
    from scipy.stats import spearmanr

    estimates = np.asarray(estimates, dtype=np.float64)
    errors = np.asarray(errors, dtype=np.float64)
    n = len(errors)
    count = max(1, math.ceil(WORST_SHARE * n))
    truly_worst = set(np.argsort(errors)[-count:].tolist())
    flagged = np.argsort(estimates)[-count:]
    rho = spearmanr(estimates, errors).statistic if n > 2 else float("nan")
    ratios = estimates / np.maximum(errors, 1e-300)
    out: dict[str, Any] = {
        "n": n,
        "spearman": float(rho),
        "ratio_min": float(np.min(ratios)),
        "ratio_median": float(np.median(ratios)),
        "ratio_max": float(np.max(ratios)),
        "worst_share": WORST_SHARE,
        "worst_count": count,
        "worst_true_error": float(np.mean(sorted(errors)[-count:])),
        "worst_flagged_error": float(np.mean(errors[flagged])),
        "worst_recall": len(truly_worst.intersection(flagged.tolist())) / count,
    }
    if tol is not None:
        accepted = estimates <= tol
        out["accepted_fraction"] = float(np.mean(accepted))
        out["accepted_worst_error"] = float(errors[accepted].max()) if accepted.any() else None
    return out


def _relative_l2(outputs: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray]) -> Any:
    """Per-sample relative L2 error, averaged over the fields (as validation scores)."""
    ratios = []
    for name, ref in reference.items():
        n = len(ref)
        diff = np.linalg.norm((np.asarray(outputs[name]) - ref).reshape(n, -1), axis=1)
        ratios.append(diff / np.maximum(np.linalg.norm(ref.reshape(n, -1), axis=1), 1e-300))
    return np.mean(ratios, axis=0)


def run_guard(
    surrogate: Any,
    spec: Mapping[str, Any],
    train: Any,
    inputs: Mapping[str, np.ndarray],
    reference: Mapping[str, np.ndarray],
    errors: np.ndarray,
) -> dict[str, Any]:
    """Run ``surrogate`` guarded as ``spec`` says on the test set; the entry's ``guard`` record.

    Parameters
    ----------
    surrogate : Surrogate
        The fitted surrogate.
    spec : dict
        The checked ``guard`` table (:func:`check_guard`).
    train : Dataset
        The training set (for the out-of-distribution score).
    inputs, reference : dict
        The test inputs and reference outputs.
    errors : numpy.ndarray
        ``[n]`` true relative L2 errors of the unguarded predictions (mean over fields).

    Returns
    -------
    dict
        ``tol``, ``fallback``, ``accepted_fraction``, ``accepted_worst_error`` (None if
        nothing was accepted), ``time_per_sample`` (the guarded solve: predict, estimate,
        fall back), ``met`` (accepted worst error below ``tol``), ``counts`` per path,
        ``mean_error`` and ``worst_error`` of the guarded outputs, ``estimate_seconds``
        and ``fallback_seconds`` per sample, the :func:`indicator_quality` of the
        estimates, and for ``"warm-start"`` the mean CG iterations of the warm and of cold
        starts on the re-solved samples.
    """
    import pdeml

    spec = check_guard(spec, "guard")
    ood = None
    if spec["ood"]:
        from pdeml.ood import InputDistance

        ood = InputDistance().fit(train)
    guarded = pdeml.guard(
        surrogate,
        spec["tol"],
        spec["fallback"],
        indicator_options=spec["indicator"],
        ood=ood,
    )
    guarded.solve({k: v[:1] for k, v in inputs.items()})  # warm-up: compiled kernels, caches
    start = time.perf_counter()
    result = guarded.solve_with_report(inputs)
    seconds = time.perf_counter() - start
    n = len(errors)
    accepted = result.accepted
    guarded_errors = _relative_l2(result.outputs, reference)
    record: dict[str, Any] = {
        "tol": spec["tol"],
        "fallback": spec["fallback"],
        "accepted_fraction": result.accepted_fraction,
        "accepted_worst_error": float(errors[accepted].max()) if accepted.any() else None,
        "time_per_sample": seconds / n,
        "met": bool(not accepted.any() or errors[accepted].max() < spec["tol"]),
        "counts": result.counts(),
        "mean_error": float(np.mean(guarded_errors)),
        "worst_error": float(np.max(guarded_errors)),
        "estimate_seconds": result.seconds["estimate"] / n,
        "fallback_seconds": result.seconds["fallback"] / n,
        "indicator": indicator_quality(result.estimates, errors),
    }
    if result.ood_scores is not None:
        record["ood_limit"] = guarded.ood_limit
        record["ood_rejected"] = int(np.sum(result.ood_scores > guarded.ood_limit))
    if spec["fallback"] == "warm-start" and result.iterations is not None:
        rejected = np.flatnonzero(~accepted)
        if len(rejected):
            subset = {k: np.asarray(v)[rejected] for k, v in inputs.items()}
            options = guarded.reference.options() if guarded.reference is not None else {}
            _, cold = surrogate.problem.warm_start(subset, None, **options)
            record["iterations_warm"] = float(np.mean(result.iterations[rejected]))
            record["iterations_cold"] = float(np.mean(cold))
    return record
