"""Thread counts: cores this process may use, cores idle now, limits that are given back."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import torch

from pdeml import _threads


def test_available_cores_follows_the_override(monkeypatch):
    monkeypatch.setenv(_threads.THREADS_ENV, "3")
    assert _threads.available_cores() == 3
    assert _threads.idle_cores() == 3  # the override is taken as it is
    monkeypatch.setenv(_threads.THREADS_ENV, "zero")
    with pytest.raises(ValueError, match=_threads.THREADS_ENV):
        _threads.available_cores()


def test_threads_per_worker_share_the_cores():
    assert _threads.threads_per_worker(2, cores=6) == 3
    assert _threads.threads_per_worker(8, cores=2) == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_idle_cores_sees_spinning_processes(monkeypatch):
    """Three spinners are runnable at every reading, so at least three of the 64 cores
    are taken whatever else the machine does (other work only lowers the count). A
    comparison with a reading before the spinners started was flaky beside the other
    test process, whose load may come and go between the two readings."""
    monkeypatch.delenv(_threads.THREADS_ENV, raising=False)
    monkeypatch.setattr(_threads, "available_cores", lambda: 64)
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(3)]
    try:
        time.sleep(0.5)  # let them start spinning
        busy = _threads.idle_cores()
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    assert busy <= 64 - 3


def test_limited_threads_gives_the_callers_settings_back():
    before = torch.get_num_threads()
    with _threads.limited_threads(1) as used:
        assert used == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    torch.set_num_threads(1)
    try:
        with _threads.limited_threads(8) as used:  # never raises a lower count
            assert used == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_limited_threads_caps_blas_and_gives_it_back() -> None:
    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    before = blas_threads()
    if not before:
        pytest.skip("numpy is linked to no BLAS that threadpoolctl knows")
    with _threads.limited_threads(1):
        assert blas_threads() == [1] * len(before)
    assert blas_threads() == before
