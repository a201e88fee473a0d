"""Signal tests: interrupt a real ``pdeml`` command at a random moment, then run it again.

For each command, an uninterrupted run in a fresh copy of the fixtures gives the reference
output and the command's duration. Each trial starts the same command, sends SIGKILL or
SIGINT after a random delay, and checks that

* a SIGINT ends the process within :data:`EXIT_TIMEOUT` seconds without a traceback;
* the output path holds either nothing or a complete, readable result;
* running the same command again (``train`` with ``--resume``) succeeds and gives the
  reference output (bit for bit for datasets), leaving no temporary file behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pdeml.testing.fixtures import DARCY_SET, copy_fixtures
from pdeml.testing.fuzz import HALF_WRITTEN

#: Seconds a process may take to exit after SIGINT before the trial counts as a hang.
EXIT_TIMEOUT = 30.0
#: Seconds any single command may run.
RUN_TIMEOUT = 300.0


def _set(*assignments: str) -> list[str]:
    return [a for s in assignments for a in ("--set", s)]


#: name -> (argv, output path, argv added on the rerun)
COMMANDS: dict[str, tuple[list[str], str, list[str]]] = {
    "generate": (
        [
            "generate",
            "darcy",
            "--n",
            "48",
            "--workers",
            "2",
            "--quiet",
            "--out",
            "g.h5",
            *_set("resolution=15", "solver_resolution=57"),
        ],
        "g.h5",
        [],
    ),
    "train": (
        [
            "train",
            "--data",
            "darcy.h5",
            "--surrogate",
            "fno",
            "--out",
            "r",
            "--quiet",
            *_set("epochs=30", "modes=4", "width=8", "checkpoint_every=3"),
        ],
        "r",
        ["--resume"],
    ),
    "predict": (["predict", "run_fno", "darcy.h5", "--out", "p.h5"], "p.h5", []),
    "import": (
        [
            "import",
            "arrays.npz",
            "--format",
            "arrays",
            "--problem",
            "darcy",
            "--out",
            "i.h5",
            *_set(*DARCY_SET),
        ],
        "i.h5",
        [],
    ),
    "validate": (
        ["validate", "suite_tiny.toml", "--out", "rep", "--workers", "1", "--quiet"],
        "rep",
        [],
    ),
}


@dataclass
class Trial:
    """One interrupted run and its rerun."""

    command: str
    signal: str
    delay: float
    first_exit: int | None = None
    rerun_exit: int | None = None
    finished_before_signal: bool = False
    failures: list[str] = field(default_factory=list)
    detail: str = ""

    @property
    def passed(self) -> bool:
        return not self.failures


def _start(argv: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "pdeml.cli", *argv],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # Its own process group: a SIGINT reaches the command and its workers, as a
        # Ctrl-C in a terminal does, and nothing else.
        start_new_session=True,
    )


def _run(argv: list[str], cwd: Path) -> tuple[int, str, float]:
    begin = time.perf_counter()
    proc = _start(argv, cwd)
    try:
        _, err = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        return -9, "timed out\n" + err, time.perf_counter() - begin
    return proc.returncode, err, time.perf_counter() - begin


def fingerprint(command: str, path: Path) -> object:
    """What must be equal between a reference run and a resumed one."""
    if command in ("generate", "import", "predict"):
        import h5py

        with h5py.File(path, "r") as f:
            return {k: np.asarray(f[k][...]).tobytes() for k in sorted(f.keys())}
    if command == "train":
        from pdeml.surrogates.base import load_surrogate

        surrogate = load_surrogate(path)
        return ("loads", type(surrogate).__name__, (path / "config.json").exists())
    if command == "validate":
        import json

        entries = sorted((path / "entries").glob("*.json"))
        status = {p.stem: json.loads(p.read_text()).get("status") for p in entries}
        return ("report", (path / "report.md").exists(), status)
    raise ValueError(f"command: unknown {command!r}")


def _leftovers(workspace: Path) -> list[str]:
    return [
        str(p.relative_to(workspace))
        for p in workspace.rglob("*")
        if HALF_WRITTEN.search(str(p.relative_to(workspace))) or p.name.endswith(".partial")
    ]


def reference_run(command: str, fixtures: Path, root: Path) -> tuple[object, float]:
    """Run ``command`` uninterrupted; return its output's fingerprint and its duration."""
    argv, output, _ = COMMANDS[command]
    workspace = root / f"reference-{command}"
    copy_fixtures(fixtures, workspace)
    code, err, seconds = _run(argv, workspace)
    if code != 0:
        raise RuntimeError(f"reference run of {command} failed ({code}): {err[-2000:]}")
    return fingerprint(command, workspace / output), seconds


def run_trial(
    command: str,
    sig: signal.Signals,
    delay: float,
    fixtures: Path,
    workspace: Path,
    reference: object,
) -> Trial:
    """Interrupt ``command`` with ``sig`` after ``delay`` seconds, check, rerun, check."""
    argv, output, rerun_extra = COMMANDS[command]
    trial = Trial(command, sig.name, delay)
    copy_fixtures(fixtures, workspace)
    proc = _start(argv, workspace)
    try:
        proc.wait(timeout=delay)
        trial.finished_before_signal = True
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, sig)
    try:
        _, err = proc.communicate(timeout=EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        trial.failures.append("hang")
        trial.detail += f"no exit {EXIT_TIMEOUT:.0f} s after {sig.name}; "
    trial.first_exit = proc.returncode
    if "Traceback (most recent call last)" in err:
        trial.failures.append("traceback")
        trial.detail += err[-1500:]
    if sig == signal.SIGINT and not trial.finished_before_signal and proc.returncode == 0:
        # Finished between the timer and the signal: fine, it is then complete.
        trial.finished_before_signal = True

    target = workspace / output
    # A run or report folder holds resumable partial state by design; a dataset file at
    # its final path must be whole.
    folder_output = command in ("train", "validate")
    if target.exists() and not folder_output:
        try:
            if fingerprint(command, target) != reference:
                trial.failures.append("files")
                trial.detail += "an output left at the final path differs from the reference; "
        except Exception as error:
            trial.failures.append("files")
            trial.detail += f"output left unreadable: {type(error).__name__}: {error}; "
    done = target.exists() and (not folder_output or trial.first_exit == 0)
    if not done:
        code, err, _ = _run(argv + rerun_extra, workspace)
        trial.rerun_exit = code
        if code != 0:
            trial.failures.append("resume")
            trial.detail += f"rerun exit {code}: {err.strip().splitlines()[-1:] or ''}; "
        elif fingerprint(command, target) != reference:
            trial.failures.append("resume")
            trial.detail += "rerun output differs from the reference; "
    left = _leftovers(workspace)
    if left and (done or trial.rerun_exit == 0):
        trial.failures.append("files")
        trial.detail += f"left behind: {left[:5]}; "
    return trial


def run_trials(
    commands: list[str],
    per_command: int,
    fixtures: Path,
    *,
    seed: int = 0,
    progress: bool = False,
) -> tuple[list[Trial], dict[str, float]]:
    """``per_command`` trials per command, half SIGKILL and half SIGINT, random delays.

    Returns the trials and each command's uninterrupted duration.
    """
    from tqdm.auto import tqdm

    rng = np.random.default_rng(seed)
    root = Path(tempfile.mkdtemp(prefix="pdeml-kills-"))
    trials: list[Trial] = []
    durations: dict[str, float] = {}
    try:
        plan = []
        for command in commands:
            reference, seconds = reference_run(command, fixtures, root)
            durations[command] = seconds
            for i in range(per_command):
                sig = signal.SIGKILL if i % 2 == 0 else signal.SIGINT
                # From after the interpreter has started to the end of the uninterrupted run.
                delay = float(rng.uniform(min(0.5, seconds / 2), seconds))
                plan.append((command, sig, delay, reference))
        for i, (command, sig, delay, reference) in enumerate(
            tqdm(plan, disable=not progress, desc="signal trials")
        ):
            workspace = root / f"trial{i:04d}"
            trials.append(run_trial(command, sig, delay, fixtures, workspace, reference))
            shutil.rmtree(workspace, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return trials, durations
