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

import inspect
import json
import multiprocessing
import os
import shutil
import time
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np

from pdeml._version import __version__
from pdeml.data.dataset import Dataset, open_dataset
from pdeml.data.store import write_dataset
from pdeml.problems.base import Problem, check_count, check_seed

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
    inputs = problem.sample_inputs(
        stop - start, seed, start=start, resolution=problem.solver_resolution
    )
    begin = time.perf_counter()
    outputs = solver.solve(inputs)
    seconds = time.perf_counter() - begin
    fields = problem.restrict({**inputs, **outputs}, problem.solver_resolution, problem.resolution)
    target = _chunk_file(Path(folder), start)
    tmp = target.with_suffix(".tmp.npz")
    np.savez(tmp, seconds=np.float64(seconds), **{k: v.astype(dtype) for k, v in fields.items()})
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


def _init_worker(threads: int) -> None:
    # Several processes each running numba's full thread pool would oversubscribe the cores.
    import numba

    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))


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
    if folder.exists():
        try:
            previous = json.loads(record.read_text())
        except (OSError, json.JSONDecodeError):
            previous = None
        if previous != manifest:
            raise ValueError(
                f"{folder} holds an interrupted generation with other settings; run the "
                "same command as before to resume it, or pass overwrite=True (--overwrite) "
                "to discard it"
            )
        return
    folder.mkdir(parents=True)
    tmp = record.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, record)


def generate(
    problem: Problem,
    n: int,
    seed: int = 0,
    path: str | Path = "data/dataset.h5",
    *,
    workers: int | None = None,
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
        Destination file. An unfinished run for the same path and settings is resumed.
    workers : int, optional
        Processes to use (default: all cores). ``1`` runs in this process.
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
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a pdeml Problem, got {type(problem).__name__}")
    n, seed = check_count(n), check_seed(seed)
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    workers = (os.cpu_count() or 1) if workers is None else check_count(workers, "workers")
    chunk_size = (
        default_chunk_size(n) if chunk_size is None else check_count(chunk_size, "chunk_size")
    )
    solver_options = dict(solver_options or {})
    solver = problem.reference_solver(**solver_options)  # fail early on bad options
    path = Path(path)
    folder = partial_dir(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    if overwrite and folder.exists():
        shutil.rmtree(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    _prepare_partial(folder, _manifest(problem, solver_options, n, seed, chunk_size, dtype))

    starts = list(range(0, n, chunk_size))
    todo = [s for s in starts if not _chunk_file(folder, s).exists()]
    begin = time.perf_counter()
    _run_chunks(
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
    )
    wall = time.perf_counter() - begin

    chunks = [np.load(_chunk_file(folder, s), allow_pickle=False) for s in starts]
    fields = {k: np.concatenate([c[k] for c in chunks]) for k in problem.field_names}
    solve_seconds = float(sum(float(c["seconds"]) for c in chunks))
    attrs = {
        "solver": solver.describe(),
        "seed": seed,
        "n": n,
        "seconds_wall": wall,
        "solve_seconds_per_sample": solve_seconds / n,
        "workers": workers,
    }
    write_dataset(
        path,
        problem,
        {k: fields[k] for k in problem.input_names},
        {k: fields[k] for k in problem.output_names},
        attrs=attrs,
        dtype=dtype,
    )
    shutil.rmtree(folder)
    return open_dataset(path)


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
) -> None:
    from tqdm.auto import tqdm

    total = -(-n // chunk_size)
    bar = tqdm(
        total=n,
        initial=min(n, resumed * chunk_size),
        unit="sample",
        desc=f"generate {problem.name}",
        disable=not progress or not todo,
    )
    args = (problem.to_dict(), solver_options, seed)
    try:
        if workers == 1 or len(todo) == 1:
            for start in todo:
                stop = min(start + chunk_size, n)
                solve_chunk(*args, start, stop, dtype, str(folder))
                bar.update(stop - start)
            return
        # spawn: a forked child would inherit numba's threading layer in an unsafe state.
        context = multiprocessing.get_context("spawn")
        threads = max(1, (os.cpu_count() or 1) // workers)
        with ProcessPoolExecutor(
            max_workers=min(workers, len(todo)),
            mp_context=context,
            initializer=_init_worker,
            initargs=(threads,),
        ) as pool:
            pending: set[Future] = set()
            queue = list(todo)
            sizes = {s: min(s + chunk_size, n) - s for s in todo}
            try:
                while queue or pending:
                    while queue and len(pending) < 2 * workers:
                        start = queue.pop(0)
                        stop = start + sizes[start]
                        pending.add(
                            pool.submit(solve_chunk, *args, start, stop, dtype, str(folder))
                        )
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        start, _ = future.result()
                        bar.update(sizes[start])
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
    except KeyboardInterrupt:
        bar.close()
        raise KeyboardInterrupt(
            f"generation interrupted; {total} chunks planned, finished ones are kept in "
            f"{folder}; run the same command again to resume"
        ) from None
    except BrokenProcessPool:
        bar.close()
        raise RuntimeError(
            f"a generation worker process died (out of memory, or the calling script cannot "
            f"be re-imported by new processes, as with code piped on standard input); "
            f"finished chunks are kept in {folder}; run again, with workers=1 (--workers 1) "
            f"if it happens again"
        ) from None
    finally:
        bar.close()
