"""Thread counts for every place pdeml starts work: one rule, set from the cores we really have.

Torch (OpenMP), numba and Dask each start a pool of threads sized to the whole machine. Two
such pools side by side, or one pool beside another program, make each thread wait for a
busy core; on a 2-core machine that made small trainings tens of times slower (measured in
the validation runner). So every worker asks :func:`threads_per_worker` how many threads it
may use and applies it with :func:`limit_threads`.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator

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


def _running_elsewhere() -> int | None:
    """Runnable tasks on the machine now that are not threads of this process, or None."""
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            running = int(f.read().split()[3].split("/")[0])
        own = 0
        for task in os.scandir("/proc/self/task"):
            with open(os.path.join(task.path, "stat"), encoding="ascii", errors="replace") as f:
                # The state follows the command name, which is in parentheses.
                if f.read().rpartition(")")[2].split()[0] == "R":
                    own += 1
    except (OSError, ValueError, IndexError):
        return None
    return max(0, running - own)


def idle_cores(samples: int = 5, interval: float = 0.005) -> int:
    """Cores this process may use that other work is not using right now.

    :func:`available_cores` minus the runnable tasks of other processes (the kernel's
    count in ``/proc/loadavg``, less this process's own running threads), taking the
    smallest of ``samples`` readings ``interval`` seconds apart so that a passing
    command does not count. At least 1; :func:`available_cores` where the count cannot be
    read, or when ``PDEML_NUM_THREADS`` is set.

    Called once when work starts (a generation, a suite, a training), not per call: it
    takes about ``samples * interval`` seconds. Threads beside a process that keeps a core
    busy wait for that core at every parallel step; fewer threads finish sooner.
    """
    cores = available_cores()
    if os.environ.get(THREADS_ENV, "").strip():
        return cores
    readings = []
    for i in range(max(1, samples)):
        if i:
            time.sleep(interval)
        value = _running_elsewhere()
        if value is None:
            return cores
        readings.append(value)
    return max(1, cores - min(readings))


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


@contextlib.contextmanager
def limited_threads(threads: int) -> Iterator[int]:
    """Within the block, torch, numba and BLAS use at most ``threads`` threads; restored after.

    Never raises a count the caller set lower. Yields the count in force. Used where pdeml
    runs work in the caller's own process (a training, an in-process suite or generation),
    so that a busy moment does not change the caller's settings for good.
    """
    torch = sys.modules.get("torch")
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a core dependency
        numba = None
    saved_torch = torch.get_num_threads() if torch is not None else None
    saved_numba = numba.get_num_threads() if numba is not None else None
    current = saved_torch if saved_torch is not None else threads
    target = max(1, min(int(threads), current))
    limit_threads(target)
    # numpy's BLAS sizes its pool from the machine, not from the torch/numba caps. Seen
    # once (not a benchmark; the load differed between the runs): the Lorenz96 quick suite
    # in-process on a busy 2-core machine took 194 s with BLAS uncapped, 122 s with
    # OMP_NUM_THREADS=1, same numbers bit for bit.
    from threadpoolctl import threadpool_limits

    blas = threadpool_limits(limits=target, user_api="blas")
    try:
        yield target
    finally:
        blas.restore_original_limits()
        if numba is not None and saved_numba is not None:
            numba.set_num_threads(saved_numba)
        if torch is not None and saved_torch is not None:
            torch.set_num_threads(saved_torch)
