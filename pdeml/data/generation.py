"""Generating a dataset with a problem's reference solver: parallel, seeded, resumable.

The ``n`` samples are cut into chunks of consecutive indices. Each chunk draws its inputs
from the per-sample streams of ``seed`` (so a sample depends only on ``(seed, index)``),
solves them on the solver grid, strides both to the stored resolution, and is saved to its
own small file in ``<path>.partial/`` under a temporary name, renamed when whole. When every
chunk is there, the dataset file is written (atomically as well) and the folder removed.

A run that is killed leaves only whole chunk files and no file at ``path``; running the same
call again finds them and computes only the missing chunks.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import shutil
import time
import warnings
from collections.abc import Mapping
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np

from pdeml._checks import check_count, check_memory, check_seed
from pdeml._threads import (
    available_cores,
    idle_cores,
    limited_threads,
)
from pdeml._version import __version__
from pdeml.data.dataset import Dataset, open_dataset
from pdeml.data.distributed import check_cluster, run_on_cluster
from pdeml.data.pool import defined_in_script, run_pool
from pdeml.data.store import (
    check_disk,
    check_output_path,
    field_values_per_sample,
    write_dataset,
)
from pdeml.problems.base import Problem

MANIFEST = "manifest.json"


def partial_dir(path: Path) -> Path:
    """Folder holding the finished chunks of an unfinished generation of ``path``."""
    return path.with_name(path.name + ".partial")


def default_chunk_size(n: int) -> int:
    """Samples per chunk: small enough for a lively progress bar and little lost work."""
    return int(min(16, max(1, n // 32)))


def _chunk_file(folder: Path, start: int) -> Path:
    return folder / f"chunk_{start:09d}.npz"


def solve_chunk(
    problem_dict: dict[str, Any],
    solver_options: dict[str, Any],
    seed: int,
    start: int,
    stop: int,
    dtype: str,
    folder: str,
) -> tuple[int, float]:
    """Draw, solve and save samples ``start .. stop - 1``; return ``(start, solve seconds)``.

    Runs in a worker process; everything it needs comes in as plain values.
    """
    problem = Problem.from_dict(problem_dict)
    solver = problem.reference_solver(**solver_options)
    draw_start = time.perf_counter()
    inputs = problem.sample_inputs(
        stop - start,
        seed,
        start=start,
        resolution=problem.solver_resolution,
        **sampling_options(problem, solver_options),
    )
    begin = time.perf_counter()
    draw_seconds = begin - draw_start
    outputs, failures = solver.solve_recording_failures(inputs, start)
    seconds = time.perf_counter() - begin
    fields = problem.restrict({**inputs, **outputs}, problem.solver_resolution, problem.resolution)
    target = _chunk_file(Path(folder), start)
    tmp = target.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        seconds=np.float64(seconds),
        # Drawing the inputs is a solver run for some problems (Navier–Stokes snapshots, a
        # Lorenz96 spin-up): kept apart so start-up and solve cost can be told apart.
        draw_seconds=np.float64(draw_seconds),
        # Samples whose solve failed (user solvers only): their rows are NaN and are left
        # out of the dataset; kept here so that a resumed run does not solve them again.
        failed_index=np.array(sorted(failures), dtype=np.int64),
        failed_error=np.array([failures[i] for i in sorted(failures)], dtype=str),
        **{k: v.astype(dtype) for k, v in fields.items()},
    )
    os.replace(tmp, target)
    return start, seconds


def sampling_options(problem: Problem, solver_options: Mapping[str, Any]) -> dict[str, Any]:
    """The solver options that ``problem.sample_inputs`` also accepts.

    Problems whose inputs come from a solver run (the first snapshots of a Navier–Stokes
    trajectory, a spin-up on the Lorenz96 attractor) take the solver's backend and device
    there too, so a GPU generation runs on the GPU from the first step.
    """
    accepted = inspect.signature(problem.sample_inputs).parameters
    return {k: v for k, v in solver_options.items() if k in accepted}


def _manifest(
    problem: Problem,
    solver_options: Mapping[str, Any],
    n: int,
    seed: int,
    chunk_size: int,
    dtype: str,
) -> dict[str, Any]:
    return {
        "problem": problem.to_dict(),
        "solver_options": dict(solver_options),
        "n": n,
        "seed": seed,
        "chunk_size": chunk_size,
        "dtype": dtype,
        "version": __version__,
    }


def _prepare_partial(folder: Path, manifest: dict[str, Any]) -> None:
    """Create the chunk folder, or check that an existing one is for the same request."""
    record = folder / MANIFEST
    if folder.is_dir():
        try:
            previous = json.loads(record.read_text())
        except FileNotFoundError:
            # Killed between creating the folder and writing its manifest: nothing was
            # solved for it yet, so it can be taken over.
            previous = manifest if not any(folder.glob("chunk_*.npz")) else None
        except (OSError, json.JSONDecodeError):
            previous = None
        if previous != manifest:
            raise ValueError(
                f"{folder} holds an interrupted generation with other settings; run the "
                "same command as before to resume it, or pass overwrite=True (--overwrite) "
                "to discard it"
            )
        if record.exists():
            return
    else:
        if folder.exists():
            raise FileExistsError(
                f"{folder} is in the way of the generation's chunk folder; move it away"
            )
        folder.mkdir(parents=True)
    tmp = record.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, record)


#: A job of at most this many samples is a "small job": its first chunk is solved in this
#: process and timed, and when the rest would take less than :data:`IN_PROCESS_SECONDS`
#: here, no worker processes are started. Starting them costs about a second each
#: (interpreter, numpy, numba, pdeml imports), more than small jobs gain from them; it
#: also lets plain scripts without an ``if __name__ == "__main__":`` guard run small
#: jobs. Larger jobs start the workers at once, so no core waits for the probe.
SMALL_JOB_SAMPLES = 32
#: See :data:`SMALL_JOB_SAMPLES`.
IN_PROCESS_SECONDS = 5.0
#: Bytes per stored value held while the file is assembled: the fields in the storage
#: type plus the float64 copy the dataset writer checks.
_ASSEMBLY_COPY_BYTES = 8


def _check_sizes(
    problem: Problem,
    n: int,
    chunk_size: int,
    workers: int,
    dtype: str,
    path: Path,
    folder: Path | None,
) -> None:
    """Refuse, before any work, a request that cannot fit in memory or on disk."""
    what = (
        f"n={n} samples of {problem.title} at resolution={problem.resolution} "
        f"(solver_resolution={problem.solver_resolution})"
    )
    try:
        stored = field_values_per_sample(problem)
        solved = field_values_per_sample(problem, problem.solver_resolution)
    except (MemoryError, OverflowError):
        raise ValueError(f"{what}: the grid is too large to describe in memory") from None
    itemsize = np.dtype(dtype).itemsize
    assembly = n * stored * (itemsize + _ASSEMBLY_COPY_BYTES)
    # Each process holds one chunk's inputs and outputs on the solver grid, in float64,
    # and their restriction: at least twice the chunk's fields.
    in_flight = min(workers, -(-n // chunk_size)) * min(chunk_size, n) * solved * 8 * 2
    check_memory("generate", what, max(assembly, in_flight), "lower n or resolution")
    # Chunks an earlier run finished are on the disk already (none when overwriting).
    done = len(list(folder.glob("chunk_*.npz"))) if folder is not None and folder.is_dir() else 0
    file_bytes = n * stored * itemsize
    # Chunk files still to write, and the dataset file written beside all of them.
    remaining_chunks = max(0, file_bytes - done * min(chunk_size, n) * stored * itemsize)
    check_disk(path, file_bytes + remaining_chunks, what)


def generate(
    problem: Problem,
    n: int,
    seed: int = 0,
    path: str | Path = "data/dataset.h5",
    *,
    workers: int | None = None,
    scheduler: Any = None,
    solver_options: Mapping[str, Any] | None = None,
    chunk_size: int | None = None,
    dtype: str = "float32",
    overwrite: bool = False,
    progress: bool = True,
) -> Dataset:
    """Generate ``n`` samples of ``problem`` with its reference solver into one HDF5 file.

    Parameters
    ----------
    problem : Problem
        What to generate; inputs are drawn and solved at ``problem.solver_resolution`` and
        stored at ``problem.resolution``.
    n : int
        Number of samples.
    seed : int
        Seed of the draw; the file is the same whatever ``workers`` is.
    path : str or Path
        Destination file. An unfinished run for the same path and settings is resumed;
        a run whose chunks were all finished is only assembled.
    workers : int, optional
        Processes to use (default: the cores this process may run on,
        :func:`pdeml._threads.idle_cores`). ``1`` runs in this process. Small jobs
        run in this process whatever ``workers`` is (see :data:`SMALL_JOB_SAMPLES`).
        Worker processes do not re-import the calling script, so a script without an
        ``if __name__ == "__main__":`` guard works, unless the problem's class is defined
        in that script.
    scheduler : str or distributed.Client, optional
        Run the chunks as tasks on a running ``dask.distributed`` cluster instead: the
        scheduler's address (``"tcp://host:8786"``; one that does not answer within 10 s
        is reported before anything is written) or a connected ``Client``. The workers
        must see ``path``'s folder at the same path (a shared filesystem) and run the
        same pdeml version; ``workers`` is then not used. Same file, resume and Ctrl-C as
        locally; a killed worker's chunks are solved again elsewhere
        (:mod:`pdeml.data.distributed`).
    solver_options : dict, optional
        Passed to ``problem.reference_solver``.
    chunk_size : int, optional
        Samples per unit of work (default from ``n`` only, never from ``workers``).
    dtype : {"float32", "float64"}
        Storage type of the fields; solvers always compute in float64.
    overwrite : bool
        Replace an existing file at ``path`` and discard an unfinished run.
    progress : bool
        Show a progress bar.

    Returns
    -------
    Dataset
        The generated dataset, opened lazily.

    Raises
    ------
    ValueError
        Bad arguments; ``path`` inside a file or with a name too long; a request whose
        arrays would not fit in the available memory or on the disk (checked first).
    IsADirectoryError
        ``path`` is a folder.
    FileExistsError
        ``path`` exists and ``overwrite`` is false.
    KeyboardInterrupt
        On Ctrl-C, with one line saying where the finished chunks are kept.
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a pdeml Problem, got {type(problem).__name__}")
    n, seed = check_count(n), check_seed(seed)
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    scheduler = check_cluster(scheduler, workers)
    # Cores that other programs are not keeping busy now: more processes or threads
    # than that only wait for each other.
    cores = idle_cores()
    workers = cores if workers is None else check_count(workers, "workers")
    chunk_size = (
        default_chunk_size(n) if chunk_size is None else check_count(chunk_size, "chunk_size")
    )
    path = check_output_path(path, "path (--out)")
    folder = partial_dir(path)
    if path.exists() and not overwrite:
        leftover = (
            f" ({folder} is left over from the run that wrote it and may be deleted)"
            if folder.exists()
            else ""
        )
        raise FileExistsError(
            f"{path} exists; pass overwrite=True (--overwrite) to replace it{leftover}"
        )
    _check_sizes(problem, n, chunk_size, workers, dtype, path, None if overwrite else folder)
    if solver_options is not None and not isinstance(solver_options, Mapping):
        raise TypeError(
            "solver_options: expected a dict of option name to value (e.g. "
            f"{{'backend': 'numba'}}), got {type(solver_options).__name__} {solver_options!r}"
        )
    solver_options = dict(solver_options or {})
    solver = problem.reference_solver(**solver_options)  # fail early on bad options
    problem.check_sampling()  # and on a problem that cannot draw inputs
    if overwrite and folder.is_dir():
        shutil.rmtree(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    _prepare_partial(folder, _manifest(problem, solver_options, n, seed, chunk_size, dtype))

    starts = range(0, n, chunk_size)
    finished = {p.name for p in folder.glob("chunk_*.npz")}
    todo = [s for s in starts if _chunk_file(folder, s).name not in finished]
    begin = time.perf_counter()
    used = _run_chunks(
        problem,
        solver_options,
        seed,
        n,
        chunk_size,
        dtype,
        folder,
        todo,
        workers,
        progress,
        resumed=len(starts) - len(todo),
        cores=cores,
        scheduler=scheduler,
    )
    wall = time.perf_counter() - begin

    chunks = [np.load(_chunk_file(folder, s), allow_pickle=False) for s in starts]
    fields = {k: np.concatenate([c[k] for c in chunks]) for k in problem.field_names}
    solve_seconds = float(sum(float(c["seconds"]) for c in chunks))
    # Chunks written before the drawing time was recorded count none.
    draw_seconds = float(sum(float(c["draw_seconds"]) for c in chunks if "draw_seconds" in c))
    failed = failed_samples(chunks)
    if failed:
        fields = _without_failed(fields, failed, n, problem, path)
    attrs = {
        "solver": solver.describe(),
        "seed": seed,
        "n": n - len(failed),
        "seconds_wall": wall,
        "solve_seconds_per_sample": solve_seconds / n,
        "draw_seconds_per_sample": draw_seconds / n,
        # Processes that solved chunks in this run (1 when it only assembled the file).
        "workers": max(1, used),
    }
    if failed:
        attrs["failed_samples"] = [{"index": i, "error": e} for i, e in failed.items()]
    write_dataset(
        path,
        problem,
        {k: fields[k] for k in problem.input_names},
        {k: fields[k] for k in problem.output_names},
        attrs=attrs,
        dtype=dtype,
    )
    # The file is whole; the chunks go. A chunk still being written by a cluster task left
    # over from an interrupted run can make the folder briefly non-empty: leave it then.
    shutil.rmtree(folder, ignore_errors=True)
    if folder.exists():
        warnings.warn(f"{folder} could not be removed completely; it may be deleted", stacklevel=2)
    return open_dataset(path)


def failed_samples(chunks: list[Any]) -> dict[int, str]:
    """Sample index -> error of the failed samples recorded in loaded chunk files.

    Chunk files written before failures were recorded have no such arrays: none failed.
    """
    failed: dict[int, str] = {}
    for chunk in chunks:
        if "failed_index" in chunk.files:
            for index, error in zip(chunk["failed_index"], chunk["failed_error"], strict=True):
                failed[int(index)] = str(error)
    return failed


def _without_failed(
    fields: dict[str, np.ndarray], failed: dict[int, str], n: int, problem: Problem, path: Path
) -> dict[str, np.ndarray]:
    """The fields without the failed samples' rows, after one warning listing them."""
    label = problem.title
    if len(failed) == n:
        first = next(iter(failed.items()))
        raise ValueError(
            f"generate {label}: every one of the {n} samples failed (sample {first[0]}: "
            f"{first[1]}); no dataset written"
        )
    shown = "; ".join(f"sample {i}: {e}" for i, e in list(failed.items())[:3])
    more = f"; and {len(failed) - 3} more" if len(failed) > 3 else ""
    warnings.warn(
        f"generate {label}: {len(failed)} of {n} samples failed and are left out of {path} "
        f"(listed in its attribute failed_samples): {shown}{more}",
        stacklevel=3,
    )
    keep = np.ones(n, dtype=bool)
    keep[list(failed)] = False
    return {k: v[keep] for k, v in fields.items()}


def _run_chunks(
    problem: Problem,
    solver_options: dict[str, Any],
    seed: int,
    n: int,
    chunk_size: int,
    dtype: str,
    folder: Path,
    todo: list[int],
    workers: int,
    progress: bool,
    resumed: int,
    cores: int | None = None,
    scheduler: Any = None,
) -> int:
    """Solve the chunks starting at ``todo``; return the number of processes used.

    With a ``scheduler`` (see :func:`pdeml.data.distributed.check_cluster`), the chunks run
    on that Dask cluster and the count is of the workers that solved them.

    ``cores`` (default: the available cores) sizes the threads: of this process while it
    solves chunks itself, of each worker otherwise.
    """
    cores = available_cores() if cores is None else cores
    if not todo:
        return 0  # every chunk was finished by an earlier run: only the file is left to write
    from tqdm.auto import tqdm

    bar = tqdm(
        total=n,
        initial=min(n, resumed * chunk_size),
        unit="sample",
        desc=f"generate {problem.title}",
        disable=not progress,
    )
    args = (problem.to_dict(), solver_options, seed)
    sizes = {s: min(s + chunk_size, n) - s for s in todo}
    queue = list(todo)

    def solve_here(start: int) -> float:
        begin = time.perf_counter()
        solve_chunk(*args, start, start + sizes[start], dtype, str(folder))
        bar.update(sizes[start])
        return time.perf_counter() - begin

    used, first = 1, None
    try:
        task = functools.partial(solve_chunk, *args, dtype=dtype, folder=str(folder))
        if scheduler is not None:
            return run_on_cluster(scheduler, problem, task, sizes, queue, folder / MANIFEST, bar)
        if workers > 1 and len(queue) > 1 and sum(sizes.values()) <= SMALL_JOB_SAMPLES:
            with limited_threads(cores):
                seconds = solve_here(queue.pop(0))
                if seconds * len(queue) >= IN_PROCESS_SECONDS and len(queue) > 2:
                    # The first chunk also paid for compiling or loading the kernels.
                    seconds = solve_here(queue.pop(0))
            if seconds * len(queue) < IN_PROCESS_SECONDS:
                workers = 1
        elif workers > 1 and len(queue) > 2:
            # This process solves the first chunk, compiling the kernels once, while the
            # workers start (and wait for the kernels: see run_pool).
            first = functools.partial(solve_here, queue.pop(0))
        if workers == 1 or len(queue) <= 1:
            with limited_threads(cores):
                for start in queue:
                    solve_here(start)
            return used
        used = min(workers, len(queue))
        run_pool(problem, task, sizes, queue, used, bar, cores, first)
        return used
    except KeyboardInterrupt:
        bar.close()
        raise KeyboardInterrupt(
            f"generation interrupted; finished chunks kept in {folder}; run the same "
            "command again to resume"
        ) from None
    except BrokenProcessPool:
        bar.close()
        if defined_in_script(problem):
            hint = (
                f"the problem ({type(problem).__name__}) or a function it calls is defined "
                "in the calling script, which new processes re-import: put the script's work "
                'under `if __name__ == "__main__":`, or pass workers=1 (--workers 1)'
            )
        else:
            hint = "perhaps out of memory; if it happens again, pass workers=1 (--workers 1)"
        raise RuntimeError(
            f"a generation worker process died ({hint}); finished chunks are kept in "
            f"{folder} and are reused by the next run"
        ) from None
    finally:
        bar.close()
