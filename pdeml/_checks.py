"""Argument checks shared by every problem, solver, surrogate, closure and writer.

One place, one wording: each check raises ``ValueError`` or ``TypeError`` with a message
naming the argument or field, what was expected and what was given (DESIGN.md, "Errors").
Sizes are bounded here before any work starts: a grid, a number of steps or an allocation
beyond these limits is refused at once instead of hanging or ending in ``MemoryError``.
This module imports only numpy, so kernels under :mod:`pdeml.solvers` may use it without
reaching for a problem.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np


def check_seed(seed: Any) -> int:
    """Validate a user seed (a non-negative integer) and return it as ``int``."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def check_count(n: Any, argument: str = "n", minimum: int = 1) -> int:
    """Validate a count argument and return it as ``int``."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise ValueError(f"{argument} must be an integer >= {minimum}, got {n!r}")
    return int(n)


#: Largest grid sizes accepted anywhere, whatever the memory: beyond these a single sample
#: takes hours to solve, so such a value is a typo (an extra zero) far more often than a wish.
MAX_POINTS_1D = 2**24
MAX_POINTS_2D = 2**15
#: Largest number of stored time snapshots and of time steps of one solve.
MAX_SNAPSHOTS = 10**6
MAX_STEPS = 10**8
#: Fallback when the available memory cannot be read (no /proc/meminfo, no sysconf).
_DEFAULT_MEMORY = 8 * 2**30


def available_memory() -> int:
    """Bytes of memory this process may still use.

    ``MemAvailable`` of ``/proc/meminfo`` (Linux), else the free physical pages; a cgroup
    limit (containers, SLURM) lowers it. Where none can be read, 8 GiB, so that a size
    check never fails only because the platform hides its memory. psutil is not needed.
    """
    available: int | None = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if available is None:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, AttributeError):
            available = None
    try:  # cgroup v2: the container's own limit may be far below the machine's memory
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        with open("/sys/fs/cgroup/memory.current") as f:
            used = int(f.read().strip())
        if limit != "max":
            room = max(0, int(limit) - used)
            available = room if available is None else min(available, room)
    except (OSError, ValueError):
        pass
    return _DEFAULT_MEMORY if available is None else available


def format_bytes(nbytes: float) -> str:
    """``nbytes`` in human units (``"1.5 GiB"``)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(nbytes) < 1024 or unit == "PiB":
            return f"{nbytes:.0f} B" if unit == "B" else f"{nbytes:.3g} {unit}"
        nbytes /= 1024
    return f"{nbytes:.3g} PiB"  # pragma: no cover - the loop always returns


def check_memory(owner: str, what: str, nbytes: float, hint: str) -> None:
    """Raise ``ValueError`` if an allocation of about ``nbytes`` would not fit in memory.

    Parameters
    ----------
    owner : str
        Who asks (problem or solver name), the message's prefix.
    what : str
        The sizes responsible, e.g. ``"solver_resolution = 100000"``.
    nbytes : float
        Estimated bytes.
    hint : str
        What to reduce, e.g. ``"reduce solver_resolution"``.
    """
    available = available_memory()
    if nbytes > available:
        raise ValueError(
            f"{owner}: {what} needs about {format_bytes(nbytes)} of memory, more than the "
            f"{format_bytes(available)} available; {hint}"
        )


def check_steps(owner: str, what: str, steps: float, hint: str) -> None:
    """Raise ``ValueError`` if a solve would take more than ``MAX_STEPS`` time steps."""
    if not math.isfinite(steps) or steps > MAX_STEPS:
        raise ValueError(
            f"{owner}: {what} makes {steps:.3g} time steps per solve, expected at most "
            f"{MAX_STEPS:.0e}; {hint}"
        )


def grid_points(problem: str, field: str, value: Any, minimum: int, dims: int) -> int:
    """Validate a grid size: an integer in ``[minimum, MAX_POINTS_1D or MAX_POINTS_2D]``."""
    maximum = MAX_POINTS_1D if dims == 1 else MAX_POINTS_2D
    require_int(problem, field, value, minimum, maximum)
    return int(value)


def check_divides(problem: str, resolution: int, solver_resolution: int) -> None:
    """Raise ``ValueError`` unless ``resolution`` divides ``solver_resolution`` (periodic grids,
    whose stored data are strided from the solver grid)."""
    if solver_resolution % resolution != 0:
        raise ValueError(
            f"{problem}: resolution {resolution} must divide solver_resolution "
            f"{solver_resolution} (stored data are strided from the solver grid)"
        )


def require_positive(problem: str, field: str, value: Any, *, allow_zero: bool = False) -> None:
    """Raise ``ValueError`` unless ``value`` is a finite number > 0 (or >= 0)."""
    ok = (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value >= 0 if allow_zero else value > 0)
    )
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{problem}: {field} must be a finite number {bound}, got {value!r}")


def require_finite(problem: str, field: str, value: Any) -> None:
    """Raise ``ValueError`` unless ``value`` is a finite real number."""
    ok = (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )
    if not ok:
        raise ValueError(f"{problem}: {field} must be a finite number, got {value!r}")


def require_int(
    problem: str, field: str, value: Any, minimum: int, maximum: int | None = None
) -> None:
    """Raise ``ValueError`` unless ``value`` is an integer in ``[minimum, maximum]``."""
    ok = not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value >= minimum
    if ok and (maximum is None or value <= maximum):
        return
    expected = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    raise ValueError(f"{problem}: {field} must be an integer {expected}, got {value!r}")


#: Largest magnitude stored: datasets and surrogates work in float32, where larger values
#: become infinite.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def numeric_array(value: Any, label: str) -> np.ndarray:
    """``value`` as a float64 array, refusing dtypes that would be silently mangled.

    Complex values would lose their imaginary part; booleans, strings and objects are
    not fields. Integer arrays convert exactly and are accepted for every field (a user's
    ``np.ones(shape, dtype=int)`` is a field of ones).
    """
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:  # ragged nested lists
        raise TypeError(f"{label}: expected a numeric array ({error})") from None
    kind = array.dtype.kind
    if kind in "fiu":
        return np.asarray(array, dtype=np.float64)
    raise TypeError(
        f"{label}: expected a real numeric (integer or float) array, got dtype {array.dtype}"
    )


def nonfinite_samples(array: np.ndarray) -> tuple[int, int] | None:
    """``(count, first)`` of the samples (leading axis) holding NaN or infinite values, or
    None when every value is finite. Integer arrays cannot hold either."""
    array = np.asarray(array)
    if array.size == 0 or array.dtype.kind not in "fc":
        return None
    bad = ~np.isfinite(array.reshape(array.shape[0], -1)).all(axis=1)
    if not bad.any():
        return None
    return int(bad.sum()), int(np.argmax(bad))


def check_values(array: np.ndarray, label: str) -> None:
    """Refuse non-finite values and values beyond float32, naming the first bad sample."""
    if array.size == 0:
        return
    found = nonfinite_samples(array)
    if found is not None:
        count, sample = found
        raise ValueError(
            f"{label}: {count} sample(s) hold NaN or infinite values (the first is sample "
            f"{sample}); expected finite values"
        )
    too_large = np.abs(array) > FLOAT32_MAX
    if too_large.any():
        sample = int(np.flatnonzero(too_large.reshape(array.shape[0], -1).any(axis=1))[0])
        raise ValueError(
            f"{label}: sample {sample} has values beyond the float32 range (|x| > "
            f"{FLOAT32_MAX:.3g}, largest {float(np.abs(array).max()):.3g}); expected values "
            "that float32 storage and surrogates can hold"
        )


# -- hyperparameters of surrogates and closures ------------------------------------------
def check_int(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int ``>= minimum`` (:func:`check_count` with the argument named first)."""
    return check_count(value, name, minimum)


def check_float(name: str, value: Any, *, positive: bool = False) -> float:
    """``value`` as a finite float ``>= 0`` (``> 0`` if ``positive``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}")
    return value


def check_choice(name: str, value: Any, options: tuple[str, ...]) -> str:
    """``value`` if it is one of ``options``."""
    if value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value
