"""Kernels compiled once per generation: the parent compiles, the workers load (issue 23)."""

import collections
import multiprocessing
import os
import re
import subprocess
import sys
import textwrap
import threading

import numba
import pytest

from pdeml.data.compile_gate import CompileGate, shared_state, wait_for_kernels

SCRIPT = textwrap.dedent(
    """
    import pdeml

    problem = pdeml.load_problem("darcy", size="quick", resolution=15, solver_resolution=29)
    # More than 32 samples in 3 chunks: worker processes start at once (not a small job).
    ds = pdeml.generate(problem, n=36, chunk_size=12, workers=2, path="d.h5", progress=False)
    print("workers", ds.attrs["workers"], "samples", len(ds))
    """
)


@pytest.mark.slow  # 8-18 s on 2 busy cores: compiles the Darcy kernels, starts 2 workers
def test_workers_load_the_kernels_the_parent_compiled(tmp_path):
    # A fresh numba cache: every kernel the chunks call must be compiled, and only once
    # (numba prints one "data saved" line per compilation it writes to the cache), by the
    # parent; the workers find them there ("data loaded"). Before, each worker compiled.
    env = dict(
        os.environ,
        NUMBA_CACHE_DIR=str(tmp_path / "cache"),
        NUMBA_DEBUG_CACHE="1",
        OMP_NUM_THREADS="1",
    )
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "workers 2 samples 36" in result.stdout
    saved = collections.Counter(re.findall(r"data saved to '.*?([\w.]+)-\d+\.py", result.stdout))
    loaded = re.findall(r"data loaded from '.*?([\w.]+)-\d+\.py", result.stdout)
    assert saved, result.stdout
    assert max(saved.values()) == 1, f"kernels compiled more than once: {saved}"
    assert set(loaded) & set(saved), f"no worker loaded a kernel from the cache: {loaded}"


@numba.njit
def _twice(x):  # not cached: compiles in every test run
    return 2 * x


def _state():
    return shared_state(multiprocessing.get_context("spawn"))


def test_gate_reports_the_parents_compilations_and_its_end():
    state = _state()
    with CompileGate(state):
        _twice(1.5)  # a compilation: numba takes and releases its compiler lock
        depth, events, done = state
        assert depth == 0 and events >= 2 and not done
    assert state[2] == 1


def test_workers_wait_while_the_parent_compiles():
    state = _state()
    state[0], state[1] = 1, 1  # the parent is compiling
    threading.Timer(0.3, lambda: state.__setitem__(2, 1)).start()  # ... and then done
    assert wait_for_kernels(state, quiet=0.01, first=0.01) >= 0.25
    state = _state()
    state[1] = 2  # a kernel compiled or loaded, nothing since: go after `quiet`
    assert wait_for_kernels(state, quiet=0.05, first=60.0) < 5.0
    # No numba in the parent's chunk (yet): go after `first`, not at its end.
    assert wait_for_kernels(_state(), quiet=60.0, first=0.05) < 5.0
