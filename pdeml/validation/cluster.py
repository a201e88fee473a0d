"""Where entries run: local Dask workers sized to the cores, a remote scheduler, or this
process; quiet shutdown and Ctrl-C handling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

# The scheduler helpers live in pdeml._dask (cluster generation uses them too); the names
# stay importable from here.
from pdeml._dask import (  # noqa: F401
    SCHEDULER_TIMEOUT,
    check_scheduler,
    close_quietly,
)
from pdeml._dask import connect as _connect
from pdeml._dask import quiet_distributed as _quiet_distributed  # noqa: F401
from pdeml._json import write_json
from pdeml._signals import children_ignore_sigint
from pdeml._threads import available_cores, threads_per_worker
from pdeml.validation.entry import run_entry
from pdeml.validation.records import ENTRIES

#: Thread-count variables every local worker starts with: read by libgomp (torch's
#: intra-op pool), MKL / OpenBLAS and numba when they load, so the pools are sized at birth.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)


def worker_environ(threads: int = 1) -> dict[str, Any]:
    """Environment of the local Dask workers, each allowed ``threads`` threads.

    distributed's defaults, with the thread variables (:data:`THREAD_VARIABLES`) set to
    ``threads`` and without ``MALLOC_TRIM_THRESHOLD_``.

    distributed sets ``MALLOC_TRIM_THRESHOLD_`` to 64 KiB so that workers hand memory back
    to the system; glibc then trims on nearly every free of a torch buffer, and surrogate
    training in a worker ran 2.2x slower than in the main process (NSM on Poisson, 300
    steps, timed by a one-off script: 27 s against 12 s; 13 s with this environment).
    Training times and times per sample in the reports are measured in the workers, so
    they must not pay for it.

    ``OMP_WAIT_POLICY=PASSIVE`` makes an idle OpenMP thread sleep at once instead of
    spinning for a while first (libgomp's default), which on a core shared with other
    work takes time from whoever else runs there. Measured on 2 busy cores (load about 6,
    one more ``while True: pass`` beside it): a 2-epoch FNO fit on 32 Darcy samples at
    29 x 29 with 2 torch threads took 33 s and 35 s by default, 12 s and 8.5 s with
    ``PASSIVE`` (9.7 s with 1 thread).
    """
    import dask
    import distributed  # noqa: F401  (registers the distributed config)

    threads = max(1, int(threads))
    defaults = dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {}
    env = {k: v for k, v in defaults.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    env.update({name: threads for name in THREAD_VARIABLES})
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    return env


#: Local worker processes allowed per core: more only wait for a core, each holding the
#: memory of a Python process with torch loaded (several hundred MB).
WORKERS_PER_CORE = 4
INTERRUPTED = (
    "validation interrupted; finished entries kept in {entries}; "
    "run the same command again to resume"
)


def check_workers(workers: Any) -> int | None:
    """Check ``workers`` (``None``: choose later); raise naming it when it is not usable."""
    if workers is None:
        return None
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)):
        raise TypeError(
            f"workers: expected a positive integer (worker processes), "
            f"got {workers!r} ({type(workers).__name__})"
        )
    workers = int(workers)
    cores = available_cores()
    limit = WORKERS_PER_CORE * cores
    if workers < 1:
        raise ValueError(
            f"workers: expected a positive integer (1 runs the entries in this process), "
            f"got {workers}"
        )
    if workers > limit:
        raise ValueError(
            f"workers: at most {limit} ({WORKERS_PER_CORE} per core on the {cores} cores "
            f"this process may use), got {workers}"
        )
    return workers


def connect(scheduler: str) -> Any:
    """A client of the scheduler at ``scheduler``, or ``ValueError`` after
    :data:`SCHEDULER_TIMEOUT` seconds (read from this module at each call)."""
    return _connect(scheduler, SCHEDULER_TIMEOUT)


def execute(specs: list[dict[str, Any]], workers: int, progress: bool, client: Any = None) -> None:
    """Run ``specs``: on ``client`` if given, else in local workers or in this process."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(specs), desc="validate", unit="entry", disable=not progress)
    if not specs:
        bar.close()
        if client is not None:
            close_quietly(client, None)
        return
    if client is None and (workers <= 1 or len(specs) == 1):
        try:
            for spec in specs:
                run_entry(spec)
                bar.update()
        finally:
            bar.close()
        return
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if client is None:
        import dask

        # The threads the runner gave each entry (sized from the idle cores).
        environ = worker_environ(int(specs[0].get("threads") or threads_per_worker(workers)))
        with (
            dask.config.set({"distributed.nanny.pre-spawn-environ": environ}),
            children_ignore_sigint(),
        ):
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
        client = Client(cluster)
    try:
        futures = client.map(run_entry, specs, pure=False)
        by_key = {future.key: spec for future, spec in zip(futures, specs)}
        for future in as_completed(futures):
            spec = by_key[future.key]
            if future.status == "error":  # a worker died: record it, go on
                write_json(
                    Path(spec["out"]) / ENTRIES / f"{spec['id']}.json",
                    {
                        "id": spec["id"],
                        "kind": spec["kind"],
                        "problem_id": spec["problem_id"],
                        "status": "failed",
                        "error": repr(future.exception()),
                    },
                )
            bar.update()
    finally:
        bar.close()
        close_quietly(client, cluster)
