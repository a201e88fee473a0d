"""The robustness fuzz suite at CI size: every case in one process, two signal trials each.

The full run (command-line cases as separate processes, 20 signal trials per command) is
``python validation/benchmarks/robustness.py``; its report is committed.
"""

from __future__ import annotations

import pytest

from pdeml.testing.cases import all_cases
from pdeml.testing.fixtures import build_fixtures
from pdeml.testing.fuzz import mentions_found, run_cases
from pdeml.testing.kills import COMMANDS, run_trials


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    return build_fixtures(tmp_path_factory.mktemp("robustness") / "fx")


def test_catalogue_is_large_and_unique():
    cases = all_cases()
    assert len(cases) >= 300
    assert len({c.id for c in cases}) == len(cases)
    assert {c.group for c in cases} >= {"generate", "train", "predict", "import", "validate", "api"}


def test_mentions_are_whole_words():
    assert mentions_found("pdeml: error: --n must be positive", ["--n|n"]) == []
    assert mentions_found("no samples here", ["n"]) == ["n"]
    assert mentions_found("bad width", ["modes|width"]) == []


@pytest.mark.slow
def test_every_case(fixtures):
    results = run_cases(all_cases(), fixtures, timeout=60)
    failing = [
        f"{r.id}: {r.failures} {r.message[:120]!r} {r.detail[-200:]!r}"
        for r in results
        if r.failures
    ]
    assert not failing, "\n".join(failing)


@pytest.mark.slow
def test_signal_trials(fixtures):
    trials, _ = run_trials(list(COMMANDS), 2, fixtures, seed=1)
    failing = [
        f"{t.command} {t.signal} {t.delay:.2f}s: {t.failures} {t.detail[-300:]}"
        for t in trials
        if t.failures
    ]
    assert not failing, "\n".join(failing)


def test_a_ctrl_c_landing_in_a_finaliser_is_delivered_after_it():
    """Python prints and drops a KeyboardInterrupt raised in ``__del__`` ("Exception
    ignored in ..."); the console command's handler sends the signal again instead, so
    the interrupt reaches ordinary code (here the sleep) and is reported once."""
    import os
    import signal
    import time

    from pdeml import _signals

    class InterruptedWhileFinalised:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.001)  # the handler runs here, inside the finaliser

    previous = signal.signal(signal.SIGINT, _signals._interrupt_outside_finalisers)
    try:
        begin = time.perf_counter()
        with pytest.raises(KeyboardInterrupt):
            InterruptedWhileFinalised()  # dropped at once: __del__ runs now
            time.sleep(2.0)
        assert time.perf_counter() - begin < 1.0
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_ctrl_c_landing_in_a_function_a_finaliser_calls_is_delivered_after_it():
    """The signal trials caught a Ctrl-C landing in ``close()`` called by numpy's
    ``NpzFile.__del__``: one frame below the finaliser, swallowed all the same."""
    import os
    import signal
    import time

    from pdeml import _signals

    def close():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.001)  # the handler runs here, one call below __del__

    class ClosesOnFinalise:
        def __del__(self):
            close()

    previous = signal.signal(signal.SIGINT, _signals._interrupt_outside_finalisers)
    try:
        begin = time.perf_counter()
        with pytest.raises(KeyboardInterrupt):
            ClosesOnFinalise()
            time.sleep(2.0)
        assert time.perf_counter() - begin < 1.0
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_ctrl_c_landing_in_a_multiprocessing_finaliser_is_delivered_after_it():
    """CI's signal trials caught a Ctrl-C landing in ``multiprocessing.util.Finalize``,
    which Python calls as a weakref callback with no frame of weakref.py above it."""
    import os
    import signal
    import time
    from multiprocessing.util import Finalize

    from pdeml import _signals

    def clean_up():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.001)  # the handler runs here, inside Finalize.__call__

    class Resource:
        pass

    previous = signal.signal(signal.SIGINT, _signals._interrupt_outside_finalisers)
    try:
        resource = Resource()
        Finalize(resource, clean_up)
        begin = time.perf_counter()
        with pytest.raises(KeyboardInterrupt):
            del resource  # the weakref callback runs Finalize.__call__ -> clean_up
            time.sleep(2.0)
        assert time.perf_counter() - begin < 1.0
    finally:
        signal.signal(signal.SIGINT, previous)
