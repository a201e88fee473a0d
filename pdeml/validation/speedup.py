"""Speed-up at equal accuracy: a surrogate's time against a reference solver's ladder.

A reference solver run at several settings (resolutions, time steps) gives a ladder of
(error against a finer truth, time per sample) points. A surrogate of error ``e`` is read
against the cheapest setting at least as accurate as ``e``; its speed-up is that setting's
time over the surrogate's. This is the one reading used by validation reports and by the
study scripts under ``validation/studies/``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pdeml.validation.records import number

#: Marks of :func:`equal_accuracy_setting`: the coarsest setting is already as accurate
#: (a cheaper one might be too: the speed-up is an upper bound), or no setting is as
#: accurate (the most accurate one is returned: the speed-up is a lower bound).
UPPER_BOUND, LOWER_BOUND = "≤", "≥"


def equal_accuracy_setting(
    error: float, ladder: Sequence[Mapping[str, Any]]
) -> tuple[Mapping[str, Any] | None, str]:
    """The ladder setting that a surrogate of error ``error`` is read against.

    Parameters
    ----------
    error : float
        The surrogate's error (mean relative L2).
    ladder : sequence of mapping
        Settings of the reference solver, each with ``"relative_l2"`` (its error against
        a finer ground truth) and ``"seconds_per_sample"``; other keys are kept. A setting
        with a missing (``None``) or non-finite value is left out.

    Returns
    -------
    setting : mapping or None
        The cheapest setting with ``relative_l2 <= error``; if none is that accurate, the
        most accurate setting; ``None`` when ``error`` is not finite or no setting is left.
    bound : str
        ``""`` for an exact reading, :data:`UPPER_BOUND` when the setting is the coarsest
        one, :data:`LOWER_BOUND` when no setting is as accurate as ``error``.
    """
    # Ladder points read back from JSON hold None where the solver's error was NaN.
    ladder = [
        p
        for p in ladder
        if np.isfinite(number(p.get("relative_l2")))
        and np.isfinite(number(p.get("seconds_per_sample")))
    ]
    if not ladder or not np.isfinite(error):
        return None, ""
    good = [p for p in ladder if p["relative_l2"] <= error]
    if not good:
        return min(ladder, key=lambda p: p["relative_l2"]), LOWER_BOUND
    cheapest = min(good, key=lambda p: p["seconds_per_sample"])
    coarsest = min(ladder, key=lambda p: p["seconds_per_sample"])
    return cheapest, UPPER_BOUND if cheapest is coarsest else ""


def speedup_at_equal_accuracy(
    error: float, seconds: float | None, ladder: list[dict[str, float]]
) -> tuple[float | None, str]:
    """Time of the cheapest ladder setting at least as accurate as ``error``, over ``seconds``.

    Returns the ratio and a note: ``"≤"`` when even the coarsest setting is more accurate
    (a cheaper setting might match, so the ratio is an upper bound), ``"≥"`` when no
    setting is as accurate (the ratio to the most accurate setting is a lower bound).
    The setting is :func:`equal_accuracy_setting`'s.
    """
    setting, bound = equal_accuracy_setting(error, ladder)
    if setting is None or not seconds:
        return None, ""
    note = {
        UPPER_BOUND: "≤ (upper bound: the coarsest setting is already as accurate)",
        LOWER_BOUND: (
            "≥ (lower bound: the surrogate beats every setting; ratio to the most accurate)"
        ),
    }.get(bound, "")
    return setting["seconds_per_sample"] / seconds, note
