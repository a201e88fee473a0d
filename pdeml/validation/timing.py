"""Timings that say how much they can be trusted: repeats, median and spread, thread settings.

On a shared machine one timing is one draw: the same entry on the same commit timed 4×
apart with the machine's load (Darcy FNO, 0.27× loaded against 1.08× quiet). So an entry
is timed several times, the median is what the report's speed-up uses, and the spread
(minimum, quartiles, maximum) and the thread pools in force are recorded beside it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

#: Timed calls per surrogate entry (one for a surrogate that trains per query).
TIMING_REPEATS = 5
#: No further repeat starts once the calls so far took this many seconds: a slow entry
#: (seconds per call) is timed fewer times rather than holding a suite up for minutes.
TIMING_BUDGET = 60.0

T = TypeVar("T")


def timed_calls(
    call: Callable[[], T], repeats: int = TIMING_REPEATS, budget: float = TIMING_BUDGET
) -> tuple[T, list[float]]:
    """Call ``call()`` up to ``repeats`` times; return the last result and each call's seconds.

    Parameters
    ----------
    call : callable
        What to time, without arguments.
    repeats : int
        How many times at most (at least 1).
    budget : float
        Seconds: no further call starts once the calls so far took this long together.

    Returns
    -------
    result
        What the last call returned.
    seconds : list of float
        Wall-clock seconds of each call, in order.

    Raises
    ------
    ValueError
        If ``repeats`` is not a positive integer.
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats: expected a positive integer, got {repeats!r}")
    seconds: list[float] = []
    while len(seconds) < repeats and (not seconds or sum(seconds) < budget):
        start = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - start)
    return result, seconds


def spread(seconds: Sequence[float], per: int = 1) -> dict[str, Any]:
    """The median and spread of repeated timings, divided by ``per`` (e.g. per sample).

    Parameters
    ----------
    seconds : sequence of float
        One timing per repeat.
    per : int
        Divide every timing by this (the samples in each timed call).

    Returns
    -------
    dict
        ``repeats``, ``median``, ``min``, ``q1``, ``q3``, ``max`` and ``all`` (every repeat),
        in seconds per ``per``.

    Raises
    ------
    ValueError
        If ``seconds`` is empty or ``per`` is not positive.
    """
    if per < 1:
        raise ValueError(f"per: expected a positive count, got {per!r}")
    values = np.asarray(seconds, dtype=np.float64) / per
    if values.size == 0:
        raise ValueError("seconds: expected at least one timing, got none")
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return {
        "repeats": int(values.size),
        "median": float(median),
        "min": float(values.min()),
        "q1": float(q1),
        "q3": float(q3),
        "max": float(values.max()),
        "all": values.tolist(),
    }


def thread_settings() -> dict[str, Any]:
    """The thread pools in force in this process: torch, numba, BLAS, and ``OMP_NUM_THREADS``.

    Torch is only asked when it is already imported; a pool that cannot be read is ``None``.
    """
    settings: dict[str, Any] = {}
    torch = sys.modules.get("torch")
    settings["torch"] = torch.get_num_threads() if torch is not None else None
    try:
        import numba

        settings["numba"] = numba.get_num_threads()
    except Exception:  # numba missing or its threading layer not loadable here
        settings["numba"] = None
    try:
        from threadpoolctl import threadpool_info

        blas = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
        settings["blas"] = max(blas) if blas else None
    except Exception:  # threadpoolctl cannot inspect some builds
        settings["blas"] = None
    settings["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS")
    return settings


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (``os.getloadavg``); ``None`` where unavailable."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):  # e.g. Windows
        return None
