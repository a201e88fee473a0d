"""Ctrl-C handling shared by everything that starts processes, and the console entry point's
last word: a Ctrl-C reaches one process, which reports it in one line."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


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
