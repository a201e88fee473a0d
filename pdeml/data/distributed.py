"""Generation on a running ``dask.distributed`` cluster: the chunks become Dask tasks.

:mod:`pdeml.data.generation` decides what to solve and assembles the file; this module only
runs its chunk tasks on a cluster, keeping the promises of local generation:

- the same arrays whatever the workers: a task is the same chunk function with the same
  arguments as locally (a sample depends only on ``(seed, index)``); every worker must run
  the same pdeml version, which each task checks;
- whole files only: a task solves into a staging folder of its own inside the chunk
  folder, then renames the files into place, so a killed worker leaves no half-written
  chunk and a task that Dask runs twice (a worker presumed dead that was only slow) cannot
  mix two writers' bytes;
- nothing lost: Dask reschedules the tasks of a worker that dies (the chunk it was solving
  is solved again elsewhere), a finished chunk's result is released at once so that the
  death of its worker costs nothing, and the client checks that every finished chunk's
  file is there before it counts it;
- resumable: chunk files are on the shared filesystem as soon as they are finished, so the
  same call run again (after Ctrl-C, a killed client, a lost scheduler) reuses them;
- no mixing of runs: a task left running by an interrupted client writes nothing into a
  chunk folder whose manifest has changed since (a new run with other settings).

The output folder must be on a filesystem that every worker sees at the same path (NFS,
Lustre, GPFS, a cloud file share). Each task checks that it sees the manifest this machine
wrote before it solves, and this machine checks that it sees every file a task wrote.
"""

from __future__ import annotations

import importlib
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pdeml._dask import check_scheduler, close_quietly, connect
from pdeml._threads import available_cores, limited_threads, threads_per_worker
from pdeml._version import __version__

if TYPE_CHECKING:
    from pdeml.problems.base import Problem

SHARED = (
    "the output folder must be on a filesystem that every worker and this machine share, "
    "at the same path (see the pdeml docs, 'Generating on a cluster')"
)


def _is_client(value: Any) -> bool:
    if not type(value).__module__.startswith("distributed"):
        return False  # not even distributed's: no need to import it to say so
    from distributed import Client

    return isinstance(value, Client)


def check_cluster(scheduler: Any, workers: Any = None) -> Any:
    """Check the ``scheduler`` argument of :func:`pdeml.generate`; return what to run on.

    Parameters
    ----------
    scheduler : str, distributed.Client or None
        An address such as ``"tcp://host:8786"``, a connected synchronous client, or
        ``None`` (local generation: returned as is).
    workers : int or None
        The ``workers`` argument, which a cluster does not use: it must be ``None``.

    Returns
    -------
    str, distributed.Client or None
        The address (stripped) or the client.

    Raises
    ------
    TypeError, ValueError
        Naming ``scheduler`` (``--scheduler``) or ``workers``: a malformed address, a
        scheduler that does not answer within :data:`pdeml._dask.SCHEDULER_TIMEOUT`
        seconds (checked here, before anything is written), a closed or asynchronous client.
    """
    if scheduler is None:
        return None
    if workers is not None:
        raise ValueError(
            f"workers: not used with a scheduler (the cluster's workers solve the chunks), "
            f"got workers={workers!r}; leave workers (--workers) out"
        )
    if _is_client(scheduler):
        if scheduler.asynchronous:
            raise TypeError(
                "scheduler: expected a synchronous distributed.Client, got one "
                "made with asynchronous=True"
            )
        if scheduler.status != "running":
            raise ValueError(
                f"scheduler: the distributed.Client given is not connected "
                f"(status {scheduler.status!r}); pass a connected client or an address"
            )
        return scheduler
    if not isinstance(scheduler, str):
        raise TypeError(
            "scheduler: expected an address such as 'tcp://host:8786' or a "
            f"distributed.Client, got {scheduler!r} ({type(scheduler).__name__})"
        )
    address = str(check_scheduler(scheduler))  # a str in, a str out
    # Connect once now, so that a scheduler that is not there is reported before any file
    # or folder is made; the run connects again when it has work to send.
    close_quietly(connect(address, set_as_default=False), None)
    return address


def _slots_by_host(client: Any) -> dict[str, int]:
    """Task threads of all workers per host: a host's cores are shared among them."""
    try:
        info = client.scheduler_info(n_workers=-1)
    except TypeError:  # distributed before 2025 lists every worker and has no n_workers
        info = client.scheduler_info()
    slots: dict[str, int] = {}
    for worker in info.get("workers", {}).values():
        host = str(worker.get("host", ""))
        slots[host] = slots.get(host, 0) + int(worker.get("nthreads") or 1)
    return slots


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None


def _slots_here(worker: Any, slots: dict[str, int]) -> int:
    """Task slots on ``worker``'s host, which share its cores.

    From ``slots`` (taken when the run started); a host that joined later (adaptive
    clusters, SLURM jobs that start while the run waits) is looked up now.
    """
    from distributed import get_client
    from distributed.comm import get_address_host

    host = get_address_host(worker.address)
    if host not in slots:
        try:
            slots = _slots_by_host(get_client())
        except Exception:  # no answer: the worker's own threads, the least it shares with
            slots = {}
    return slots.get(host) or worker.state.nthreads


def solve_on_worker(
    start: int,
    stop: int,
    task: Callable[..., tuple[int, float]],
    manifest: str,
    settings: str,
    slots: dict[str, int],
    modules: tuple[str, ...],
    version: str,
) -> dict[str, Any]:
    """Run one chunk task on a Dask worker (see the module docstring for the guarantees).

    Solves samples ``start .. stop - 1`` with ``task(start, stop, folder=...)``, the local
    chunk function; ``manifest`` is the path
    of the run's manifest, whose text must still be ``settings``; ``slots`` the task
    threads per host, which share its cores; ``modules`` those the problem needs imported;
    ``version`` the client's pdeml version. Returns ``start``, ``seconds``, the ``worker``
    address and the ``files`` it moved into the chunk folder, or ``discarded=True`` when
    the folder now belongs to a run with other settings.
    """
    from distributed import get_worker

    worker = get_worker()
    where = f"Dask worker {worker.address}"
    if version != __version__:
        raise RuntimeError(
            f"{where} runs pdeml {__version__}, this machine pdeml {version}: install the "
            "same version on every worker, so that a seed gives the same arrays everywhere"
        )
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise ImportError(
                f"{where} cannot import {module!r}, which the problem needs ({error}); "
                "install it on every worker or put it on their PYTHONPATH"
            ) from None
    record = Path(manifest)
    folder = record.parent
    found = _read(record)
    if found is None:
        raise FileNotFoundError(f"{where} does not see {record}, written by the client: {SHARED}")
    if found != settings:
        return {"start": start, "discarded": True}
    # A dot name: the generation's glob for finished chunks does not see it, and a killed
    # worker's leftover goes with the chunk folder when the file is assembled.
    staging = folder / f".chunk_{start:09d}.{uuid.uuid4().hex}.staging"
    try:
        staging.mkdir()  # no parents: a chunk folder removed since stays removed
    except OSError as error:
        raise type(error)(
            error.errno,
            f"{where} cannot write in the chunk folder ({error.strerror}); {SHARED}",
            str(folder),
        ) from None
    threads = threads_per_worker(_slots_here(worker, slots), available_cores())
    try:
        with limited_threads(threads):
            _, seconds = task(start, stop, folder=str(staging))
        if _read(record) != settings:
            return {"start": start, "discarded": True}
        # The chunk's .npz last: its presence is what marks the chunk finished.
        names = sorted(
            (p.name for p in staging.iterdir()), key=lambda name: (name.endswith(".npz"), name)
        )
        for name in names:
            os.replace(staging / name, folder / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"start": start, "seconds": seconds, "worker": worker.address, "files": names}


def _finished(future: Any, samples: str, folder: Path, scheduler: str) -> dict[str, Any]:
    """The result of a chunk's future, with Dask's failures said in pdeml's words."""
    from concurrent.futures import CancelledError  # distributed's FutureCancelledError is one

    from distributed import KilledWorker

    kept = f"finished chunks are kept in {folder} and are reused by the next run"
    try:
        result = future.result()
    except KilledWorker as error:
        raise RuntimeError(
            f"Dask workers kept dying while solving samples {samples}, perhaps out of "
            f"memory ({' '.join(str(error).split())}); {kept}"
        ) from None
    except CancelledError as error:  # most often: the connection to the scheduler is lost
        reason = " ".join(str(error).split())  # distributed's text spans lines
        raise RuntimeError(f"the run on scheduler {scheduler} stopped ({reason}); {kept}") from None
    if result.get("discarded"):
        raise RuntimeError(
            f"{folder} was replaced by another generation while this one ran (its manifest "
            "changed); run the command again"
        )
    missing = [name for name in result["files"] if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"Dask worker {result['worker']} wrote {missing[0]} into a {folder} that this "
            f"machine does not see: {SHARED}"
        )
    return result


def run_on_cluster(
    scheduler: Any,
    problem: Problem,
    task: Callable[..., tuple[int, float]],
    sizes: dict[int, int],
    queue: list[int],
    manifest: Path,
    bar: Any,
) -> int:
    """Solve the chunks ``queue`` as tasks on a Dask cluster; return the workers that did.

    Parameters
    ----------
    scheduler : str or distributed.Client
        As returned by :func:`check_cluster`. A client given by the caller stays open.
    problem : Problem
        For the modules its workers must import (:meth:`Problem.worker_modules`).
    task : callable
        Picklable ``task(start, stop, folder=...) -> (start, seconds)`` that writes the
        chunk of samples ``start .. stop - 1`` into ``folder``.
    sizes : dict
        Chunk start -> samples in it; ``bar`` advances by these.
    queue : list of int
        Starts of the chunks to solve.
    manifest : Path
        The chunk folder's manifest; tasks write beside it while its text is unchanged.
    bar : tqdm
        Progress bar.
    """
    modules = tuple(problem.worker_modules())
    if "__main__" in modules:
        raise ValueError(
            f"scheduler: the problem ({type(problem).__name__}) or a function it calls is "
            "defined in the calling script, which Dask workers cannot import; move it into "
            "a module the workers can import, or leave the scheduler (--scheduler) out"
        )
    from distributed import as_completed

    manifest = Path(os.path.abspath(manifest))
    folder = manifest.parent
    settings = manifest.read_text(encoding="utf-8")
    owned = isinstance(scheduler, str)
    client = connect(scheduler, set_as_default=False) if owned else scheduler
    address = getattr(client.scheduler, "address", None) or str(scheduler)
    pending: dict[str, Any] = {}
    try:
        slots = _slots_by_host(client)
        waiting = not slots
        if waiting:  # the tasks wait in the scheduler until workers join (dask worker ...)
            bar.set_postfix_str(f"waiting for workers to join {address}")
        token = uuid.uuid4().hex[:8]
        futures = client.map(
            solve_on_worker,
            queue,
            [start + sizes[start] for start in queue],
            task=task,
            manifest=str(manifest),
            settings=settings,
            slots=slots,
            modules=modules,
            version=__version__,
            key=[f"pdeml-generate-{start:09d}-{token}" for start in queue],
            pure=False,
        )
        pending = {future.key: future for future in futures}
        samples = {key: f"{s}..{s + sizes[s] - 1}" for key, s in zip(pending, queue)}
        used = set()
        for future in as_completed(futures, loop=client.loop):
            del pending[future.key]
            result = _finished(future, samples[future.key], folder, address)
            # Released at once: the scheduler forgets the key, so the death of the worker
            # holding this small result does not make Dask solve the chunk again.
            future.release()
            used.add(result["worker"])
            if waiting:
                waiting = False
                bar.set_postfix_str("")
            bar.update(sizes[result["start"]])
        return len(used)
    except BaseException:
        # Interrupted or failed: queued chunks are dropped; chunks already running finish
        # on their workers and land in the folder, where the next run finds them.
        if pending:
            try:
                client.cancel(list(pending.values()))
            except Exception:  # the scheduler may be gone already
                pass
        raise
    finally:
        if owned:
            close_quietly(client, None)
