"""Compile the solver's numba kernels once, in the parent, while the workers wait.

Numba compiles a kernel on its first call and, with ``cache=True``, saves it to disk
(``__pycache__`` beside the source, or ``NUMBA_CACHE_DIR``), from where a later process
loads it in a fraction of a second. Generation workers started on a cold cache all reached
their first solve at the same moment and each compiled every kernel itself: on a busy
2-core machine a generation's first chunk came after 47–70 s (issue 23). So the parent
solves the first chunk itself while the workers start, and each worker waits, right after
the interpreter and pdeml are up and before importing numba, scipy and the solver, until
the parent has its kernels; it then loads them from the cache. Waiting before those
imports also leaves the cores to the parent's first chunk (on 2 busy cores, workers
importing beside it made it twice as slow).

The parent's side is :class:`CompileGate`, which counts, in memory shared with the
workers, the parent's compilations and cache loads as numba reports them (its
``"numba:compiler_lock"`` event brackets both; see ``numba.core.event``). The worker's side
is :func:`wait_for_kernels`: it goes on once the parent has compiled or loaded a kernel
and then been :data:`QUIET_SECONDS` without doing so, once the parent's chunk is done, or
after :data:`FIRST_SECONDS` of waiting without any such event (a solver without numba
kernels, or kernels the parent process holds from an earlier call), or when the parent
has died. The timing is the worker's: the parent may be inside a long kernel call, which
holds its GIL.
"""

from __future__ import annotations

import os
import time
from types import TracebackType
from typing import Any

#: Seconds without a compilation in the parent after which its kernels count as ready.
QUIET_SECONDS = 0.3
#: Seconds a worker waits for the parent's first compilation or cache load.
FIRST_SECONDS = 3.0
# Slots of the shared state: compilations in progress, events so far, parent done.
_DEPTH, _EVENTS, _DONE = 0, 1, 2


def shared_state(context: Any) -> Any:
    """Zeroed state shared by a :class:`CompileGate` and the workers of ``context``."""
    return context.RawArray("q", 3)


class CompileGate:
    """Report the parent's numba compilations to the workers, and its end.

    Use as a context manager around the parent's first chunk; the workers wait for it
    with :func:`wait_for_kernels`.

    Parameters
    ----------
    state : multiprocessing.sharedctypes.RawArray or None
        From :func:`shared_state`, passed to the workers too; None makes the gate a no-op.
    """

    def __init__(self, state: Any):
        self.state = state  # None: no worker waits, nothing to report
        self.listening: Any = None

    # Called by numba in the compiling thread (through the listener made in __enter__):
    # the compiler lock is taken, re-entrantly, around each compilation or cache load.
    def on_start(self, event: Any = None) -> None:
        """A compilation or cache load starts."""
        self.state[_DEPTH] += 1
        self.state[_EVENTS] += 1

    def on_end(self, event: Any = None) -> None:
        """One ends."""
        self.state[_DEPTH] = max(0, self.state[_DEPTH] - 1)
        self.state[_EVENTS] += 1

    def __enter__(self) -> CompileGate:
        if self.state is None:
            return self
        from numba.core import event

        gate = self

        class Relay(event.Listener):
            def on_start(self, ev: Any) -> None:
                gate.on_start(ev)

            def on_end(self, ev: Any) -> None:
                gate.on_end(ev)

        self.listening = (event, Relay())
        event.register("numba:compiler_lock", self.listening[1])
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.state is not None:
            event, relay = self.listening
            event.unregister("numba:compiler_lock", relay)
            self.state[_DONE] = 1


def wait_for_kernels(
    state: Any,
    quiet: float = QUIET_SECONDS,
    first: float = FIRST_SECONDS,
    poll: float = 0.02,
) -> float:
    """In a worker: wait until the parent's :class:`CompileGate` says its kernels are ready.

    Returns the seconds waited. See the module's docstring for when it returns.
    """
    start = calm = time.monotonic()
    seen, parent = -1, os.getppid()
    # A parent killed outright sets no flag: then go on, and the pool's queues end the worker.
    while not state[_DONE] and os.getppid() == parent:
        now = time.monotonic()
        events = state[_EVENTS]
        if state[_DEPTH] > 0 or events != seen:
            seen, calm = events, now
        elif events > 0 and now - calm >= quiet:
            break
        elif events == 0 and now - start >= first:
            break
        time.sleep(poll)
    return time.monotonic() - start
