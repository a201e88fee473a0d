"""Start-up time: ``import pdeml``, ``pdeml --help`` and small jobs, against a baseline checkout.

Each round runs every command once with this checkout's package and once with the
baseline's (``PYTHONPATH`` puts the baseline first), alternating which goes first, in fresh
interpreters with warm file caches. The table gives medians with the spread and the
median of the per-round ratios (this checkout / baseline), so a drift of the machine's
speed during the run cancels out.

With ``--small-jobs``, two more tables (issue 23), per built-in problem at the quick size:

- first solve: ``import pdeml``, load the preset, draw and solve one sample, in a fresh
  interpreter, on a cold numba cache (``NUMBA_CACHE_DIR`` a new empty folder: every kernel
  compiles) and warm (the same folder again: kernels load from it); this checkout only;
- first chunk: seconds from starting ``pdeml generate <problem> --size quick`` (64 samples
  in chunks of 2) until the first chunk file is written, with ``--workers 2`` on a cold
  and a warm cache and with the default workers on a warm one; the command is then
  stopped. Both checkouts, each on its own cache.

Usage::

    git archive <commit> | tar -x -C /tmp/pdeml-before   # or: git worktree add ...
    python validation/benchmarks/startup.py --baseline /tmp/pdeml-before --rounds 30 --write
    python validation/benchmarks/startup.py --baseline /tmp/pdeml-before --rounds 3 \\
        --small-jobs --write
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]
COMMANDS = {
    "import pdeml": [sys.executable, "-c", "import pdeml"],
    "pdeml --help": [sys.executable, "-m", "pdeml.cli", "--help"],
    "import pdeml; load_problem": [
        sys.executable,
        "-c",
        "import pdeml; pdeml.load_problem('darcy', size='quick')",
    ],
}


def _time(command: list[str], checkout: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(checkout), OMP_NUM_THREADS="1")
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, cwd="/")
    return time.perf_counter() - start


def _heavy_modules(checkout: Path) -> str:
    """Which heavy libraries ``import pdeml`` loads (it should load none of them)."""
    probe = (
        "import sys, pdeml; print(','.join(m for m in ('torch', 'dask', 'numba', 'scipy', "
        "'h5py', 'xarray', 'matplotlib') if m in sys.modules) or 'none')"
    )
    env = dict(os.environ, PYTHONPATH=str(checkout))
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, cwd="/"
    )
    return out.stdout.strip()


PROBLEMS = ("burgers", "darcy", "navier_stokes", "lorenz96")
FIRST_SOLVE = """
import sys, time
start = time.perf_counter()
import pdeml
problem = pdeml.load_problem(sys.argv[1], size="quick")
solver = problem.reference_solver()
solver.solve(problem.sample_inputs(1, seed=0))
first = time.perf_counter() - start
start = time.perf_counter()
solver.solve(problem.sample_inputs(2, seed=1))  # what a chunk of the quick preset does
print(first, time.perf_counter() - start)
"""


def _env(checkout: Path, cache: str) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(checkout), NUMBA_CACHE_DIR=cache, OMP_NUM_THREADS="1")


def first_solve(checkout: Path, problem: str, cache: str) -> tuple[float, float]:
    """Seconds for ``import pdeml`` and the first solve of one sample, in a fresh process.

    Also returns the seconds of a chunk's work (draw and solve 2 samples) in that process
    after it, the kernels loaded.
    """
    out = subprocess.run(
        [sys.executable, "-c", FIRST_SOLVE, problem],
        env=_env(checkout, cache),
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    )
    first, chunk = out.stdout.strip().splitlines()[-1].split()
    return float(first), float(chunk)


def first_chunk(
    checkout: Path, problem: str, cache: str, workers: int | None
) -> tuple[float, float, float]:
    """Seconds from starting a quick ``pdeml generate`` until its first chunk is written.

    Also returns those seconds less the chunk's solve time (as recorded in the chunk file,
    timed around the solver call: with a cold cache it includes the compilation), and less
    its solve and input-drawing time: the seconds before the chunk's work began (NaN for a
    checkout whose chunk files do not record the drawing time).
    """
    import numpy as np

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "data.h5"
        partial = out.with_name(out.name + ".partial")
        command = [sys.executable, "-m", "pdeml.cli", "generate", problem, "--size", "quick"]
        command += ["--out", str(out), "--quiet"]
        command += ["--workers", str(workers)] if workers else []
        start = time.perf_counter()
        process = subprocess.Popen(
            command,
            env=_env(checkout, cache),
            cwd="/",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: stopped with its workers
        )
        try:
            while process.poll() is None:
                # Chunks are written as chunk_<start>.tmp.npz and renamed when whole.
                done = [p for p in partial.glob("chunk_*.npz") if ".tmp" not in p.name]
                if done:
                    seconds = time.perf_counter() - start
                    with np.load(done[0]) as chunk:
                        solve = float(chunk["seconds"])
                        draw = float(chunk["draw_seconds"]) if "draw_seconds" in chunk else np.nan
                    return seconds, seconds - solve, seconds - solve - draw
                time.sleep(0.005)
            raise RuntimeError(f"{' '.join(command)} ended first: {process.stderr.read()}")
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            process.stderr.close()


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def measure_small_jobs(
    baseline: Path, rounds: int, checkout: Path = HERE, problems: tuple[str, ...] = PROBLEMS
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """The first-solve table (this checkout) and the first-chunk table (both checkouts)."""
    solves: dict[tuple[str, str], list[tuple[float, float]]] = {}
    chunks: dict[tuple[str, str, Path], list[tuple[float, float, float]]] = {}
    cases = (("2", "cold"), ("2", "warm"), ("default", "warm"))
    for i in range(rounds):
        for problem in problems:
            with tempfile.TemporaryDirectory() as cache:
                for state in ("cold", "warm"):
                    seconds = first_solve(checkout, problem, cache)
                    solves.setdefault((problem, state), []).append(seconds)
            for where in (checkout, baseline) if i % 2 == 0 else (baseline, checkout):
                with tempfile.TemporaryDirectory() as cache:
                    for workers, state in cases:
                        count = None if workers == "default" else int(workers)
                        seconds = first_chunk(where, problem, cache, count)
                        chunks.setdefault((problem, f"{workers}, {state}", where), []).append(
                            seconds
                        )
            print(f"round {i + 1}, {problem} done, load {os.getloadavg()[0]:.1f}", flush=True)
    solve_rows = [
        {
            "problem": problem,
            "cold cache (s)": _spread([a for a, _ in solves[(problem, "cold")]]),
            "warm cache (s)": _spread([a for a, _ in solves[(problem, "warm")]]),
            "then a chunk's work (s)": _spread([b for _, b in solves[(problem, "warm")]]),
        }
        for problem in problems
    ]
    chunk_rows = []
    for problem in problems:
        for workers, state in cases:
            key = f"{workers}, {state}"
            ours, theirs = chunks[(problem, key, checkout)], chunks[(problem, key, baseline)]
            chunk_rows.append(
                {
                    "problem": problem,
                    "workers, cache": key,
                    "this checkout (s)": _spread([a for a, _, _ in ours]),
                    "before its solve": _spread([b for _, b, _ in ours]),
                    "before its work": _spread([c for _, _, c in ours]),
                    "baseline (s)": _spread([a for a, _, _ in theirs]),
                    "before its solve ": _spread([b for _, b, _ in theirs]),
                    "ratio (median of rounds)": round(
                        statistics.median(a[0] / b[0] for a, b in zip(ours, theirs, strict=True)),
                        3,
                    ),
                }
            )
    return solve_rows, chunk_rows


def measure(baseline: Path, rounds: int) -> list[dict[str, object]]:
    """Median seconds per command for both checkouts, and the paired ratio."""
    rows = []
    for label, command in COMMANDS.items():
        for checkout in (HERE, baseline):  # warm the file cache and bytecode for both
            _time(command, checkout)
        ours, theirs, ratios = [], [], []
        for i in range(rounds):
            order = (HERE, baseline) if i % 2 == 0 else (baseline, HERE)
            seconds = {checkout: _time(command, checkout) for checkout in order}
            ours.append(seconds[HERE])
            theirs.append(seconds[baseline])
            ratios.append(seconds[HERE] / seconds[baseline])
        rows.append(
            {
                "command": label,
                "this checkout (s)": statistics.median(ours),
                "spread": f"{min(ours):.3f}-{max(ours):.3f}",
                "baseline (s)": statistics.median(theirs),
                "spread ": f"{min(theirs):.3f}-{max(theirs):.3f}",
                "ratio (median of rounds)": statistics.median(ratios),
            }
        )
    return rows


def small_jobs(
    checkout: Path, baseline: Path, commit: str, rounds: int, write: bool, problems: list[str]
) -> None:
    """Measure and print (and with ``write``, save) the two small-job tables."""
    from _report import header, markdown_table, write_report

    load = os.getloadavg()
    solve_rows, chunk_rows = measure_small_jobs(baseline, rounds, checkout, tuple(problems))
    text = "\n".join(
        [
            header("Start-up of small jobs: first solve and first chunk, cold and warm"),
            f"This checkout: {checkout}; baseline: commit {commit or '?'} ({baseline}). "
            f"{rounds} rounds, the checkouts alternated; medians (min-max). OMP_NUM_THREADS=1. "
            f"Load average (1, 5, 15 min) at the start {load[0]:.2f}, {load[1]:.2f}, "
            f"{load[2]:.2f}, at the end " + ", ".join(f"{v:.2f}" for v in os.getloadavg()),
            f"on {os.cpu_count()} cores.",
            "",
            "`import pdeml`, then load the quick preset, draw and solve one sample (this "
            "checkout), and in the warm process after that, draw and solve 2 samples (a "
            "chunk's work, numba's default threads):",
            "",
            markdown_table(solve_rows),
            "Seconds from starting `pdeml generate <problem> --size quick` until its first "
            "chunk (2 samples) is written, those seconds less the chunk's solve time "
            "(recorded in the chunk file; on a cold cache the compilation is in it), and "
            "less its solve and drawing of the inputs (a solver run for Navier–Stokes and "
            "Lorenz96; the first kernel call, which loads the cached kernels, falls in it "
            "there): the seconds before the chunk's work began:",
            "",
            markdown_table(chunk_rows),
        ]
    )
    print(text)
    if write:
        print("written:", write_report("startup_small_jobs", text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="checkout to compare to")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--write", action="store_true", help="write validation/reports/startup.md")
    parser.add_argument(
        "--small-jobs",
        action="store_true",
        help="time the first solve and the first generated chunk instead, cold and warm "
        "(writes validation/reports/startup_small_jobs.md)",
    )
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=PROBLEMS)
    parser.add_argument("--baseline-commit", help="the baseline's commit, if not a git checkout")
    parser.add_argument(
        "--checkout",
        type=Path,
        default=HERE,
        help="checkout measured as 'this checkout' by --small-jobs (default: this one; a "
        "copy keeps files others edit meanwhile from invalidating numba's cache)",
    )
    args = parser.parse_args()
    baseline = args.baseline.resolve()
    for label, folder in (("--baseline", baseline), ("--checkout", args.checkout)):
        if not (folder / "pdeml" / "__init__.py").is_file():
            parser.error(f"{label}: {folder} holds no pdeml package")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _report import header, markdown_table, write_report

    commit = (
        args.baseline_commit
        or subprocess.run(
            ["git", "-C", str(baseline), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    if args.small_jobs:
        small_jobs(
            args.checkout.resolve(), baseline, commit, args.rounds, args.write, args.problems
        )
        return
    rows = measure(baseline, args.rounds)
    text = "\n".join(
        [
            header("Start-up time against a baseline checkout"),
            f"Baseline: commit {commit or '?'} ({baseline}); {args.rounds} alternated rounds "
            "per command, fresh interpreter each run, OMP_NUM_THREADS=1.",
            "",
            markdown_table(rows),
            f"Heavy libraries loaded by `import pdeml`: this checkout: {_heavy_modules(HERE)}; "
            f"baseline: {_heavy_modules(baseline)}.",
            "",
        ]
    )
    print(text)
    if args.write:
        print("written:", write_report("startup", text))


if __name__ == "__main__":
    main()
