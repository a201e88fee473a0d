"""Running the robustness cases and judging each: traceback, hang, files, message.

Cases run in a worker process (so that a hang can be ended by killing it), each in its own
copy of the fixtures, either in-process through :func:`pdeml.cli.main` (fast, for CI) or as
a real ``python -m pdeml.cli`` subprocess (what a user runs, for the full benchmark).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pdeml.testing.fixtures import copy_fixtures, snapshot
from pdeml.testing.fuzz_cases import Arr, Case

#: Exceptions that count as a clear user error from the Python API.
USER_EXCEPTIONS = (ValueError, TypeError, OSError)
#: Leftovers that mean a write was not completed or not cleaned up.
HALF_WRITTEN = re.compile(r"(\.tmp(\.npz)?$|\.partial(/|$)|\.tmp/)")
#: Failure classes, in the order a report lists them.
FAILURES = ("traceback", "hang", "files", "outcome", "vague")


@dataclass
class Result:
    """What one case did and the verdict on it."""

    id: str
    kind: str
    expect: str
    seconds: float = 0.0
    exit: int | None = None
    exception: str | None = None
    message: str = ""
    failures: list[str] = field(default_factory=list)
    detail: str = ""

    @property
    def passed(self) -> bool:
        return not self.failures


# -- in the worker --------------------------------------------------------------------------
def _fixture(name: str, cache: dict[str, Any]) -> Any:
    if name in cache:
        return cache[name]
    import pdeml

    if name == "darcy":
        value = pdeml.load_problem("darcy", resolution=15, solver_resolution=29)
    elif name == "burgers":
        value = pdeml.load_problem("burgers", resolution=32, solver_resolution=64)
    elif name == "dataset":
        value = pdeml.open_dataset("darcy.h5")
    elif name == "one_sample":
        value = _fixture("dataset", cache).subset([0])
    elif name == "nan_dataset":
        value = pdeml.open_dataset("nan.h5")
    elif name == "inf_dataset":
        value = pdeml.open_dataset("inf_input.h5")
    elif name == "train":
        value = _fixture("dataset", cache).split(n_test=4)[0]
    elif name == "fresh_fno":
        value = pdeml.make_surrogate("fno", _fixture("darcy", cache), modes=4, width=8)
    elif name == "fno":
        value = pdeml.load_surrogate("run_fno")
    elif name == "solver":
        value = _fixture("darcy", cache).reference_solver()
    else:
        raise KeyError(f"unknown robustness fixture {name!r}")
    cache[name] = value
    return value


def _build_array(spec: Arr) -> np.ndarray:
    if spec.dtype == "object":
        array = np.empty(spec.shape, dtype=object)
        array[...] = spec.fill
    else:
        array = np.full(spec.shape, spec.fill, dtype=spec.dtype)
    if spec.bad is not None and array.size:
        index = (min(1, spec.shape[0] - 1),) + (0,) * (array.ndim - 1)
        array[index] = spec.bad
    return array


def _resolve(value: Any, cache: dict[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("@"):
        return _fixture(value[1:], cache)
    if isinstance(value, Arr):
        return _build_array(value)
    if isinstance(value, dict) and any(isinstance(v, Arr) for v in value.values()):
        return {k: _resolve(v, cache) for k, v in value.items()}
    return value


def _target(call: str, cache: dict[str, Any]) -> Callable[..., Any]:
    if call.startswith("@"):
        name, _, method = call[1:].partition(".")
        return getattr(_fixture(name, cache), method)
    if ":" in call:
        module, _, name = call.partition(":")
        return getattr(importlib.import_module(module), name)
    module, _, name = call.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _close_all(cache: dict[str, Any]) -> None:
    for value in cache.values():
        close = getattr(value, "close", None)
        if callable(close) and type(value).__name__ == "Dataset":
            with contextlib.suppress(Exception):
                close()


def run_case_here(case: Case, workspace: Path, mode: str = "inprocess") -> Result:
    """Run ``case`` in ``workspace`` (the current process) and judge it."""
    result = Result(case.id, case.kind, case.expect)
    before = snapshot(workspace)
    old_cwd = os.getcwd()
    os.chdir(workspace)
    begin = time.perf_counter()
    output = ""
    try:
        if case.kind == "cli" and mode == "subprocess":
            output = _run_cli_subprocess(case, result)
        elif case.kind == "cli":
            output = _run_cli_inprocess(case, result)
        else:
            _run_api(case, result)
            output = result.message
    finally:
        result.seconds = time.perf_counter() - begin
        os.chdir(old_cwd)
    _judge(case, result, output, before, snapshot(workspace), workspace)
    return result


def _run_cli_inprocess(case: Case, result: Result) -> str:
    from pdeml.cli import main

    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                result.exit = int(main(list(case.argv)))
            except SystemExit as exit_:  # argparse
                code = exit_.code
                result.exit = code if isinstance(code, int) else (0 if code is None else 1)
    except BaseException as error:
        result.exception = f"{type(error).__name__}: {error}"
        result.detail = traceback.format_exc(limit=8)
    stderr = err.getvalue()
    result.message = _last_line(stderr) or _last_line(out.getvalue())
    if "Traceback (most recent call last)" in stderr:
        result.detail = stderr[-2000:]
    return out.getvalue() + "\n" + stderr


def _run_cli_subprocess(case: Case, result: Result) -> str:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "pdeml.cli", *case.argv],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    result.exit = proc.returncode
    result.message = _last_line(proc.stderr) or _last_line(proc.stdout)
    if "Traceback (most recent call last)" in proc.stderr:
        result.detail = proc.stderr[-2000:]
    return proc.stdout + "\n" + proc.stderr


def _run_api(case: Case, result: Result) -> None:
    cache: dict[str, Any] = {}
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            target = _target(case.call, cache)
            args = [_resolve(a, cache) for a in case.args]
            kwargs = {k: _resolve(v, cache) for k, v in case.kwargs.items()}
            value = target(*args, **kwargs)
            close = getattr(value, "close", None)
            if callable(close) and type(value).__name__ == "Dataset":
                close()
        result.exit = 0
    except USER_EXCEPTIONS as error:
        result.exit = 2
        result.exception = f"{type(error).__name__}: {error}"
        result.message = str(error)
    except BaseException as error:
        result.exit = 1
        result.exception = f"{type(error).__name__}: {error}"
        result.message = str(error)
        result.detail = traceback.format_exc(limit=8)
    finally:
        _close_all(cache)
    if "Traceback (most recent call last)" in err.getvalue():
        result.detail = err.getvalue()[-2000:]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.replace("\r", "\n").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def mentions_found(text: str, mentions: Iterable[str]) -> list[str]:
    """The entries of ``mentions`` that ``text`` lacks (each ``a|b`` needs one of its words)."""
    missing = []
    for mention in mentions:
        options = mention.split("|")
        if not any(
            re.search(rf"(?<![A-Za-z0-9_]){re.escape(o)}(?![A-Za-z0-9_])", text, re.IGNORECASE)
            for o in options
        ):
            missing.append(mention)
    return missing


def _judge(
    case: Case,
    result: Result,
    output: str,
    before: dict[str, str],
    after: dict[str, str],
    workspace: Path,
) -> None:
    traceback_seen = bool(result.detail) or (case.kind == "cli" and result.exception is not None)
    if case.kind == "api" and result.exit == 1:
        traceback_seen = True  # an exception that is not a user error
    if traceback_seen:
        result.failures.append("traceback")
    failed = result.exit not in (0, None)
    if case.expect == "error" and not failed:
        result.failures.append("outcome")
    if case.expect == "ok" and failed:
        result.failures.append("outcome")
    if case.expect in ("error", "any") and case.mentions:
        text = result.message if case.expect == "error" else output
        missing = mentions_found(text, case.mentions)
        if missing:
            result.failures.append("vague")
            result.detail = (result.detail + f"\nmessage lacks {missing}").strip()
    changed = [p for p, digest in before.items() if after.get(p) != digest]
    new = [p for p in after if p not in before]
    half = [p for p in new if HALF_WRITTEN.search(p)]
    partial_dirs = [p.name for p in workspace.rglob("*.partial")]
    problems = []
    if changed:
        problems.append(f"changed or removed: {changed[:5]}")
    if half or partial_dirs:
        problems.append(f"half-written: {(half + partial_dirs)[:5]}")
    if new and not case.may_write and failed:
        problems.append(f"new files after an error: {new[:5]}")
    if problems:
        result.failures.append("files")
        result.detail = (result.detail + "\n" + "; ".join(problems)).strip()
    if "traceback" in result.failures and not result.detail:
        result.detail = result.exception or ""


# -- the parent: a worker process per batch, killed on a hang -------------------------------
def _worker_loop(connection: Any, mode: str) -> None:
    import warnings

    warnings.simplefilter("ignore")
    while True:
        message = connection.recv()
        if message is None:
            return
        case, workspace = message
        try:
            result = run_case_here(case, Path(workspace), mode)
        except BaseException as error:
            result = Result(case.id, case.kind, case.expect, failures=["traceback"])
            result.detail = f"harness: {type(error).__name__}: {error}"
        connection.send(result)


class _Worker:
    def __init__(self, mode: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_worker_loop, args=(child, mode))
        # Not a daemon: a case may start processes of its own (generation workers).
        self.process.start()

    def run(self, case: Case, workspace: Path, timeout: float) -> Result | None:
        self.connection.send((case, str(workspace)))
        if self.connection.poll(timeout):
            try:
                return self.connection.recv()
            except EOFError:  # the worker died (e.g. killed for memory)
                return Result(
                    case.id,
                    case.kind,
                    case.expect,
                    failures=["traceback"],
                    detail="worker process died",
                )
        return None

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            with contextlib.suppress(Exception):
                self.connection.send(None)
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()


def run_cases(
    cases: list[Case],
    fixtures: Path,
    *,
    mode: str = "inprocess",
    timeout: float = 60.0,
    progress: bool = False,
) -> list[Result]:
    """Run ``cases`` one after another, each in a fresh copy of ``fixtures``.

    A case that does not finish within ``timeout`` seconds is a hang: its worker is killed
    and a new one takes the next case.
    """
    from tqdm.auto import tqdm

    results: list[Result] = []
    root = Path(tempfile.mkdtemp(prefix="pdeml-fuzz-"))
    worker = _Worker(mode)
    try:
        for i, case in enumerate(tqdm(cases, disable=not progress, desc="robustness cases")):
            workspace = root / f"case{i:04d}"
            copy_fixtures(fixtures, workspace)
            begin = time.perf_counter()
            result = worker.run(case, workspace, timeout)
            if result is None:
                worker.stop(kill=True)
                worker = _Worker(mode)
                result = Result(case.id, case.kind, case.expect, failures=["hang"])
                result.seconds = time.perf_counter() - begin
                result.detail = f"no answer within {timeout:.0f} s"
            elif not worker.process.is_alive():
                worker = _Worker(mode)
            results.append(result)
            shutil.rmtree(workspace, ignore_errors=True)
    finally:
        worker.stop()
        shutil.rmtree(root, ignore_errors=True)
    return results


def summarize(results: list[Result]) -> dict[str, int]:
    """Counts per failure class, plus ``cases`` and ``passed``."""
    counts = {"cases": len(results), "passed": sum(r.passed for r in results)}
    for failure in FAILURES:
        counts[failure] = sum(failure in r.failures for r in results)
    return counts
