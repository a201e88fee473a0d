"""Start-up of small jobs: the first solve and the first generated chunk, cold and warm.

For each built-in problem at the quick size, in fresh interpreters:

- ``first solve``: ``import pdeml``, load the preset, solve one sample; the second solve
  in the same process is timed too, so ``start-up = first - second`` is what the first
  call costs beyond the solve itself (imports, numba compilation or cache loading);
- ``generate``: ``pdeml generate --n N --workers W``, wall time of the whole command, and
  its overhead: the wall time minus ``N × solve / W``, the solve time the dataset records
  (``solve_seconds_per_sample``, timed around the solver calls) shared by the workers.
  With N = 2 the job is small and runs in the calling process (docs/datasets.md, "Workers
  and scripts"); with N = 64 (the quick presets' size) W spawned workers start at once,
  and the overhead is their start-up before the first chunk plus writing the file. On a
  cold cache the kernels compile inside the first solver call of each process, so the
  compilation counts as solve time there.

"Cold" points ``NUMBA_CACHE_DIR`` at an empty folder (every kernel compiles); "warm" runs
again on the same folder (kernels load from numba's cache, which every worker shares).
Medians over the rounds; each cell gives the time and its start-up part. The goal of
issue 23: a warm quick generation's first chunk starts within 2 s.

Usage::

    python validation/benchmarks/first_chunk.py --rounds 3 --write
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROBLEMS = ("burgers", "darcy", "navier_stokes", "lorenz96")

SOLVE_TWICE = """
import json, sys, time
start = time.perf_counter()
import pdeml
problem = pdeml.load_problem(sys.argv[1], size="quick")
solver = problem.reference_solver()
inputs = problem.sample_inputs(1, seed=0)
solver.solve(inputs)
first = time.perf_counter() - start
start = time.perf_counter()
solver.solve(inputs)
print(json.dumps({"first": first, "second": time.perf_counter() - start}))
"""


def _env(cache: str) -> dict[str, str]:
    return dict(os.environ, NUMBA_CACHE_DIR=cache, OMP_NUM_THREADS="1")


def first_solve(problem: str, cache: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", SOLVE_TWICE, problem],
        env=_env(cache),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def first_chunk(problem: str, cache: str, workers: int, folder: str, n: int) -> dict[str, float]:
    import h5py

    path = Path(folder) / f"{problem}.h5"
    command = [sys.executable, "-m", "pdeml.cli", "generate", problem, "--size", "quick"]
    command += ["--n", str(n), "--workers", str(workers), "--out", str(path)]
    start = time.perf_counter()
    subprocess.run(
        [*command, "--quiet", "--overwrite"], env=_env(cache), check=True, capture_output=True
    )
    wall = time.perf_counter() - start
    with h5py.File(path, "r") as f:
        solve = float(f.attrs["pdeml_solve_seconds_per_sample"])
    return {"wall": wall, "overhead": wall - n * solve / (workers if n > 32 else 1)}


def measure(rounds: int, workers: int) -> list[dict[str, object]]:
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    for _ in range(rounds):
        for problem in PROBLEMS:
            with tempfile.TemporaryDirectory() as cache:
                for state in ("cold", "warm"):
                    solve = first_solve(problem, cache)
                    results.setdefault((problem, f"{state} solve"), []).append(solve)
            # The chunk runs on its own fresh cache, cold then warm.
            for n in (2, 64):
                with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as data:
                    for state in ("cold", "warm"):
                        chunk = first_chunk(problem, cache, workers, data, n)
                        results.setdefault((problem, f"{state} n={n}"), []).append(chunk)
    rows = []
    for problem in PROBLEMS:
        row: dict[str, object] = {"problem": problem}
        for state in ("cold", "warm"):
            solves = results[(problem, f"{state} solve")]
            row[f"{state}: first solve, its start-up (s)"] = "{:.2f}, {:.2f}".format(
                statistics.median(s["first"] for s in solves),
                statistics.median(s["first"] - s["second"] for s in solves),
            )
            for n in (2, 64):
                chunks = results[(problem, f"{state} n={n}")]
                row[f"{state}: generate n={n}, its overhead (s)"] = "{:.2f}, {:.2f}".format(
                    statistics.median(c["wall"] for c in chunks),
                    statistics.median(c["overhead"] for c in chunks),
                )
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="write the report")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _report import header, markdown_table, write_report

    load = os.getloadavg()
    rows = measure(args.rounds, args.workers)
    text = "\n".join(
        [
            header("Start-up of small jobs: first solve and first chunk, cold and warm"),
            (__doc__ or "").split("Usage::")[0].strip(),
            "",
            f"{args.rounds} rounds, medians; load average (1, 5, 15 min) at the start "
            f"{load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} and at the end "
            + ", ".join(f"{v:.2f}" for v in os.getloadavg())
            + ".",
            "",
            markdown_table(rows),
        ]
    )
    print(text)
    if args.write:
        print("written:", write_report("first_chunk", text))


if __name__ == "__main__":
    main()
