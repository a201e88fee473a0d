"""Samples per second of each reference solver at the quick and the paper size.

For Darcy it also times plain ``scipy.sparse.linalg.spsolve`` (scipy's default SuperLU
ordering) on the very same assembled matrices in the same run, and prints the ratio.

Run::

    python validation/benchmarks/reference_solvers.py [--repeats 3]

It prints a table and writes ``validation/reports/reference_solvers.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse.linalg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report

import pdeml
from pdeml.solvers.finite_difference import assemble_darcy

# preset, size, samples per timing, reference-solver options
CASES = [
    ("burgers", "quick", 8, {}),
    ("burgers", "paper", 4, {}),
    ("darcy", "quick", 8, {}),
    ("darcy", "paper", 3, {}),
    # The paper size of Navier–Stokes (500 000 steps of 256² per sample) takes minutes per
    # sample; its per-step speed is in validation/benchmarks/navier_stokes.py.
    ("navier_stokes", "quick", 4, {}),
    ("navier_stokes", "quick", 4, {"dtype": "float32"}),
]


def best_time(function, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def solver_row(
    preset: str, size: str, n: int, repeats: int, options: dict[str, object]
) -> dict[str, object]:
    problem = pdeml.load_problem(preset, size=size)
    solver = problem.reference_solver(**options)
    inputs = problem.sample_inputs(n, seed=0, resolution=problem.solver_resolution)
    solver.solve({k: v[:1] for k, v in inputs.items()})  # compile / warm caches
    seconds = best_time(lambda: solver.solve(inputs), repeats)
    return {
        "problem": preset,
        "size": size,
        "grid": problem.solver_resolution,
        "solver": solver.name + "".join(f" ({k}={v})" for k, v in options.items()),
        "samples": n,
        "samples/s": n / seconds,
        "s/sample": seconds / n,
    }


def darcy_spsolve_ratio(size: str, n: int, repeats: int) -> dict[str, object]:
    """Time our default linear solve and plain spsolve on the same assembled matrices."""
    from pdeml.solvers.finite_difference import DEFAULT_METHOD, DEFAULT_RTOL, _solve_linear

    problem = pdeml.load_problem("darcy", size=size)
    a = problem.sample_inputs(n, seed=0, resolution=problem.solver_resolution)["a"]
    matrices = [assemble_darcy(a[i]) for i in range(n)]
    h = 1.0 / (problem.solver_resolution - 1)
    rhs = np.full(matrices[0].shape[0], problem.forcing * h * h)
    ours = best_time(
        lambda: [_solve_linear(m, rhs, DEFAULT_METHOD, DEFAULT_RTOL) for m in matrices], repeats
    )
    plain = best_time(
        lambda: [scipy.sparse.linalg.spsolve(m.tocsc(), rhs) for m in matrices], repeats
    )
    return {
        "problem": "darcy",
        "size": size,
        "grid": problem.solver_resolution,
        "solver": "scipy spsolve (same matrices)",
        "samples": n,
        "samples/s": n / plain,
        "s/sample": plain / n,
        "ratio ours/spsolve": ours / plain,
    }


def darcy_method_sweep(repeats: int) -> list[dict[str, object]]:
    """Direct against AMG per grid size: the evidence behind method="auto"."""
    from pdeml.problems import Darcy2D
    from pdeml.solvers.finite_difference import solve_darcy

    rows = []
    for n in (43, 85, 141, 211, 281, 421):
        a = Darcy2D(resolution=n, solver_resolution=n).sample_inputs(3, seed=0)["a"]
        row: dict[str, object] = {"points per side": n}
        for method in ("direct", "amg"):
            solve_darcy(a[0], 1.0, method)  # warm caches
            seconds = best_time(lambda m=method, a=a: [solve_darcy(x, 1.0, m) for x in a], repeats)
            row[f"{method} ms/sample"] = 1e3 * seconds / len(a)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for preset, size, n, options in CASES:
        rows.append(solver_row(preset, size, n, args.repeats, options))
        print(rows[-1], flush=True)
    ratio_rows = [darcy_spsolve_ratio(size, n, args.repeats) for _, size, n, _ in CASES[2:4]]
    for row in rows:
        row["ratio ours/spsolve"] = ""
    text = _report.header("Reference solvers: samples per second")
    text += "\n" + _report.markdown_table(rows + ratio_rows)
    text += (
        "\nDarcy: 'ratio ours/spsolve' < 1 means pdeml's default linear solve is faster than "
        "plain spsolve (scipy's default COLAMD ordering) on the same matrices, assembly "
        "excluded from both. The default ('auto') is SuperLU with a minimum-degree ordering "
        "of A + Aᵀ below 192 points per side and CG with a Ruge–Stüben AMG preconditioner "
        "(rtol 1e-10) from 192 on. Numbers are the best of --repeats runs.\n"
    )
    text += "\nDarcy linear solvers by grid size (solve_darcy, assembly included):\n\n"
    text += _report.markdown_table(darcy_method_sweep(args.repeats))
    print(text)
    print("wrote", _report.write_report("reference_solvers", text))


if __name__ == "__main__":
    main()
