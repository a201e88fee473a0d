"""The process pool of generation workers: spawned, thread-capped, quiet on Ctrl-C.

Kept apart from :mod:`pdeml.data.generation`, which decides what to solve; this module
only knows how to run picklable chunk tasks in fresh processes and stop them cleanly.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from pdeml._signals import children_ignore_sigint
from pdeml._threads import limit_threads, limited_threads, threads_per_worker
from pdeml.data.compile_gate import CompileGate, shared_state, wait_for_kernels

if TYPE_CHECKING:
    from pdeml.problems.base import Problem


def init_worker(threads: int, problem_modules: tuple[str, ...], gate: Any = None) -> None:
    """Set up a generation worker process.

    Ctrl-C reaches every process of the terminal's foreground group; the parent alone
    reports it (one line) and stops the pool, so workers ignore SIGINT instead of each
    printing a traceback. Threads are capped so that the workers together fill the cores
    once. The problem's :meth:`~pdeml.problems.base.Problem.worker_modules` (the module
    defining its class, those of user functions it calls) are imported so that a problem
    class from the user's own package is registered even though the user's script is not
    re-imported (see :func:`main_module_hidden`). With a ``gate`` (see
    :mod:`pdeml.data.compile_gate`), the worker first waits until the parent has compiled
    the solver's kernels, so that it loads them from numba's cache instead of compiling
    them too.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if gate is not None:
        wait_for_kernels(gate)
    limit_threads(threads)
    if "" not in sys.path:
        # As in the parent's `python script.py`: user modules beside the script are found.
        sys.path.append("")
    for module in problem_modules:
        if module != "__main__":
            importlib.import_module(module)


def defined_in_script(problem: Problem) -> bool:
    """Whether the problem's class or a function it calls lives in the running script."""
    return "__main__" in problem.worker_modules()


@contextlib.contextmanager
def main_module_hidden(problem: Problem) -> Iterator[None]:
    """While worker processes start, keep them from re-importing the user's script.

    A spawned process normally re-runs the calling script (as ``__mp_main__``) so that
    objects defined there can be unpickled; a script without an
    ``if __name__ == "__main__":`` guard then calls ``generate`` again inside the worker
    and the pool breaks. Generation workers need nothing from the script (their function
    lives in pdeml and the problem travels as a plain dict), so multiprocessing's spawn
    preparation (``multiprocessing.spawn.get_preparation_data``), which reads the main
    module's ``__spec__`` and ``__file__``, is shown a main module without them. A problem
    class (or a user function it calls) defined in the script itself does need the
    script, so then nothing is hidden.
    """
    main = sys.modules.get("__main__")
    if main is None or defined_in_script(problem):
        yield
        return
    missing = object()
    saved = {key: main.__dict__.get(key, missing) for key in ("__file__", "__spec__")}
    main.__dict__.pop("__file__", None)
    main.__dict__["__spec__"] = None
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is missing:
                main.__dict__.pop(key, None)
            else:
                main.__dict__[key] = value


#: (problem module, class, threads) of the first chunks solved by :func:`run_pool` here.
_COMPILED: set[tuple[str, str, int]] = set()


def run_pool(
    problem: Problem,
    task: Callable[[int, int], tuple[int, float]],
    sizes: dict[int, int],
    queue: list[int],
    workers: int,
    bar: Any,
    cores: int,
    first: Callable[[], object] | None = None,
) -> None:
    """Run ``task(start, stop)`` for the chunks ``queue`` in ``workers`` spawned processes.

    ``task`` must be picklable (a module-level function or a ``functools.partial`` of one)
    and return ``(start, seconds)``; ``sizes`` maps a chunk's start to its sample count, by
    which ``bar`` advances. Threads per worker are shared out of ``cores``. An interrupt
    or a failure stops the pool at once: running chunks are lost, finished ones kept.

    ``first``, if given, is called in this process while the workers start, with a
    worker's thread count (so that it calls the same kernels: some solvers pick a kernel
    by the thread count); the caller solves a chunk with it, compiling the solver's numba
    kernels, and the workers take no chunk before they are compiled
    (:mod:`pdeml.data.compile_gate`), unless a first chunk of the same problem class
    was solved so in this process before.
    """
    # spawn: a forked child would inherit numba's threading layer in an unsafe state.
    context = multiprocessing.get_context("spawn")
    threads = threads_per_worker(workers, cores)
    # After a first chunk of this kind in this process, the cache holds its kernels.
    kind = (type(problem).__module__, type(problem).__qualname__, threads)
    gate = shared_state(context) if first is not None and kind not in _COMPILED else None
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=init_worker,
        initargs=(threads, problem.worker_modules(), gate),
    )
    pending: set[Future] = set()

    def submit_more() -> None:
        while queue and len(pending) < 2 * workers:
            start = queue.pop(0)
            pending.add(pool.submit(task, start, start + sizes[start]))

    try:
        with main_module_hidden(problem):
            # The pool starts its processes on these first submissions: they inherit an
            # ignored SIGINT, so a Ctrl-C while they still import is not theirs to report.
            with children_ignore_sigint():
                submit_more()
            if first is not None:
                with CompileGate(gate), limited_threads(threads):
                    first()
                _COMPILED.add(kind)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    start, _ = future.result()
                    bar.update(sizes[start])
                submit_more()
    except BaseException:
        # Interrupted or failed: stop at once instead of waiting for the running chunks
        # (a chunk is written under a temporary name and renamed, so killing a worker
        # mid-chunk loses only that chunk's work). The futures are not cancelled: the
        # pool's own thread fails every unfinished one when it finds its workers gone,
        # and in Python 3.11 it dies with a printed InvalidStateError traceback when one
        # of them was cancelled meanwhile (concurrent.futures.process.terminate_broken).
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            if process.is_alive():
                process.terminate()
        pool.shutdown(wait=True)
        raise
    pool.shutdown(wait=True)
