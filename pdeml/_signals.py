"""Ctrl-C handling shared by everything that starts processes, and the console entry point's
last word: a Ctrl-C reaches one process, which reports it in one line."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

#: Where a KeyboardInterrupt would be swallowed: Python runs weakref callbacks and
#: ``__del__`` finalisers with their exceptions printed as "Exception ignored in ..." and
#: dropped, so a Ctrl-C landing there would print a traceback and be lost.
_SWALLOWING_FILES = ("weakref.py", "_weakrefset.py")
#: Finalisers Python calls directly as weakref callbacks (no frame of weakref.py above them):
#: multiprocessing's ``Finalize`` (the clean-up of a pool, a queue, a connection), where the
#: signal trials caught a Ctrl-C landing.
_SWALLOWING_CALLBACKS = ((os.path.join("multiprocessing", "util.py"), "__call__"),)


@contextlib.contextmanager
def children_ignore_sigint() -> Iterator[None]:
    """Processes started inside ignore SIGINT (Ctrl-C); this one gets it back after.

    Ctrl-C reaches every process of the terminal's process group: worker processes
    (generation, local Dask workers) would each die with a traceback of their own, even
    while still importing, before any handler of theirs is set. An ignored SIGINT is
    inherited through fork and exec, and Python keeps it ignored, so the workers leave
    Ctrl-C to this process, which stops them. (A Ctrl-C while the workers start is lost.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def ignore_sigint_from_now() -> None:
    """Ignore Ctrl-C for the rest of this process (the console command has answered).

    A Ctrl-C that arrives while the interpreter shuts down (torch and h5py finalisers run
    then) would otherwise print a traceback after the command's own one-line message.
    Only for the console entry point: a library must not do this to its caller.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _interrupt_outside_finalisers(signum: int, frame: FrameType | None) -> None:
    """SIGINT handler: KeyboardInterrupt, unless it would land in a finaliser.

    There it would be printed as "Exception ignored" and lost (it happened when Ctrl-C
    came while torch was being imported, which runs garbage collection); the signal is
    sent again a moment later instead, to reach ordinary code.
    """
    if _inside_finaliser(frame):
        threading.Timer(0.01, os.kill, (os.getpid(), signal.SIGINT)).start()
        return
    raise KeyboardInterrupt


def _inside_finaliser(frame: FrameType | None) -> bool:
    """Whether ``frame`` or any frame that called it is a finaliser: the signal can land in
    a function a ``__del__`` calls (numpy's ``NpzFile.__del__`` -> ``close``, seen in the
    signal trials), where the KeyboardInterrupt is swallowed just the same."""
    while frame is not None:
        code = frame.f_code
        if code.co_filename.endswith(_SWALLOWING_FILES) or code.co_name == "__del__":
            return True
        if any(
            code.co_filename.endswith(f) and code.co_name == n for f, n in _SWALLOWING_CALLBACKS
        ):
            return True
        frame = frame.f_back
    return False


def interrupt_outside_finalisers() -> None:
    """Install :func:`_interrupt_outside_finalisers` for Ctrl-C (console entry point only)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _interrupt_outside_finalisers)
