"""Thread counts for every place pdeml starts work: one rule, set from the cores we really have.

Torch (OpenMP), numba and Dask each start a pool of threads sized to the whole machine. Two
such pools side by side, or one pool beside another program, make each thread wait for a
busy core; on a 2-core machine that made small trainings tens of times slower (measured in
the validation runner). So every worker asks :func:`threads_per_worker` how many threads it
may use and applies it with :func:`limit_threads`.
"""

from __future__ import annotations

import os
import sys

#: Environment variable that overrides the detected core count (a positive integer).
THREADS_ENV = "PDEML_NUM_THREADS"


def available_cores() -> int:
    """Cores this process may run on.

    The CPU affinity mask (what ``taskset``, SLURM or a container allow) where the platform
    has one, else ``os.cpu_count()``; ``PDEML_NUM_THREADS`` overrides both.
    """
    override = os.environ.get(THREADS_ENV, "").strip()
    if override:
        try:
            value = int(override)
        except ValueError:
            value = 0
        if value < 1:
            raise ValueError(f"{THREADS_ENV}: expected a positive integer, got {override!r}")
        return value
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """Threads each of ``workers`` processes may start so that together they fill the cores once."""
    cores = available_cores() if cores is None else cores
    return max(1, cores // max(1, workers))


def limit_threads(threads: int) -> None:
    """Cap torch's and numba's thread pools in this process at ``threads``.

    Torch is only capped when it is already imported (so that calling this does not pay
    for importing it); numba is capped when importable.
    """
    threads = max(1, int(threads))
    # Numba first: starting numba's pool resets the count torch reports (seen with
    # torch 2.13 and numba's OpenMP layer), so torch is capped last.
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a core dependency
        numba = None
    if numba is not None:
        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
