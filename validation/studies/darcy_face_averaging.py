"""How accurate is the stored Darcy data? Arithmetic against harmonic face averages.

The stored Darcy data (``Darcy2D``, two-phase 12/3 medium) is solved on
``solver_resolution`` nodes per side and strided to ``resolution``. Its own error is the
discretisation error of that solve, seen on the stored nodes. This study measures it for
both face averages of the 5-point scheme (``face_average="arithmetic"``, the FNO paper's
generator and pdeml's default, and ``"harmonic"``), at the paper size (421 → 85) and the
quick size (85 → 29) of the preset:

1. the same coefficient fields (seed 0, the first ``samples`` of a generated dataset; the
   Gaussian field keeps ``n_modes = solver_resolution``, so finer grids sample the very
   same field) are solved on every grid from the stored one up to ``finest`` whose nodes
   contain the stored nodes;
2. a Richardson estimate of the exact solution on the stored nodes is built from the
   three finest grids ``F``, ``M = (F + 1)/2`` and ``S = (F + 3)/4`` (``S`` is the
   solver resolution itself): the observed order ``p = log2(‖u_S − u_M‖ / ‖u_M − u_F‖)``
   (norms pooled over the samples) and ``u* = u_F + (u_F − u_M)/(2^p − 1)``;
3. the error of each grid's solution against ``u*`` (relative L2 on the stored nodes, per
   sample; mean and max over the samples), and the convergence order as the slope of log
   mean error against log h over the grids up to ``S``;
4. a check of the estimate itself: for the first ``check_samples`` samples the grid
   ``2F − 1`` is solved too, and ``u*`` is rebuilt from ``M, F, 2F − 1``.

The two averages converge to the same limit, so ``‖u*_arithmetic − u*_harmonic‖`` is a
further check. Run from the repository root (about 15 minutes on one busy core)::

    OMP_NUM_THREADS=1 python validation/studies/darcy_face_averaging.py

It prints the tables and writes ``validation/reports/darcy_face_averaging.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import _report

from pdeml.problems import Darcy2D
from pdeml.solvers.finite_difference import FACE_AVERAGES, solve_darcy

#: Stored grid, solver grid, finest grid ``F`` of the ladder, and how many samples are also
#: solved on the check grid ``2F − 1`` (3361² is about a minute and 6 GB a solve).
SIZES = {
    "paper": {"resolution": 85, "solver_resolution": 421, "finest": 1681, "check_samples": 2},
    "quick": {"resolution": 29, "solver_resolution": 85, "finest": 337, "check_samples": 8},
}


def ladder(stored: int, finest: int) -> list[int]:
    """Grids from ``stored`` to ``finest`` whose nodes contain the stored nodes and whose
    own nodes are contained in the finest grid's."""
    step = stored - 1
    return [n for n in range(stored, finest + 1, step) if (finest - 1) % (n - 1) == 0]


def stored_solutions(
    problem: Darcy2D, grids: list[int], samples: list[int], timings: dict
) -> dict[str, dict[int, np.ndarray]]:
    """``u`` on the stored nodes, per face average and grid: ``[sample, x, y]``."""
    s = problem.resolution
    out: dict[str, dict[int, list[np.ndarray]]] = {
        fa: {n: [] for n in grids} for fa in FACE_AVERAGES
    }
    for k in samples:
        fine = problem.sample_inputs(1, seed=0, start=k, resolution=max(grids))["a"][0]
        for n in grids:
            a = fine[:: (max(grids) - 1) // (n - 1), :: (max(grids) - 1) // (n - 1)]
            for fa in FACE_AVERAGES:
                started = time.perf_counter()
                u = solve_darcy(a, problem.forcing, face_average=fa)
                timings.setdefault((fa, n), []).append(time.perf_counter() - started)
                stride = (n - 1) // (s - 1)
                out[fa][n].append(u[::stride, ::stride])
    return {fa: {n: np.stack(v) for n, v in by.items()} for fa, by in out.items()}


def norms(u: np.ndarray) -> np.ndarray:
    """L2 norm of each sample over the stored nodes."""
    return np.sqrt(np.sum(u**2, axis=(1, 2)))


def richardson(
    coarse: np.ndarray, middle: np.ndarray, fine: np.ndarray
) -> tuple[np.ndarray, float]:
    """Extrapolated solution and the pooled observed order from three grids of ratio 2."""
    d1 = np.sqrt(np.sum((coarse - middle) ** 2))
    d2 = np.sqrt(np.sum((middle - fine) ** 2))
    p = float(np.log2(d1 / d2))
    return fine + (fine - middle) / (2.0**p - 1.0), p


def relative_errors(u: np.ndarray, truth: np.ndarray) -> np.ndarray:
    return norms(u - truth) / norms(truth)


def study(name: str, samples: int, check_samples: int | None) -> tuple[str, dict]:
    size = SIZES[name]
    check_samples = min(samples, check_samples or size["check_samples"])
    s, S, F = size["resolution"], size["solver_resolution"], size["finest"]
    problem = Darcy2D(resolution=s, solver_resolution=S, n_modes=S)
    grids = ladder(s, F)
    middle = (F + 1) // 2
    assert S == (F + 3) // 4 and middle in grids and S in grids, grids
    timings: dict = {}
    started = time.perf_counter()
    u = stored_solutions(problem, grids, list(range(samples)), timings)
    check = stored_solutions(problem, [2 * F - 1], list(range(check_samples)), {})
    rows, summary = [], {}
    truth = {}
    for fa in FACE_AVERAGES:
        truth[fa], p = richardson(u[fa][S], u[fa][middle], u[fa][F])
        errors = {n: relative_errors(u[fa][n], truth[fa]) for n in grids if n < F}
        fit = [n for n in grids if n <= S]
        h = 1.0 / (np.array(fit) - 1.0)
        slope = float(np.polyfit(np.log(h), np.log([errors[n].mean() for n in fit]), 1)[0])
        # The stored data's error against the estimate from the next finer triple.
        c = slice(0, check_samples)
        t_check, p_check = richardson(u[fa][middle][c], u[fa][F][c], check[fa][2 * F - 1])
        e_check = relative_errors(u[fa][S][c], t_check)
        summary[fa] = {
            "p": p,
            "slope": slope,
            "stored": errors[S],
            "difference": relative_errors(u[fa][S], u[fa][middle]),
            "check": (e_check, errors[S][:check_samples], p_check),
        }
        for n in grids[:-1]:
            rows.append(
                {
                    "face average": fa,
                    "solver grid": n,
                    "h": f"1/{n - 1}",
                    "mean rel. L2 error": float(errors[n].mean()),
                    "max": float(errors[n].max()),
                    "s per solve": float(np.median(timings[(fa, n)])),
                }
            )
    between = relative_errors(truth["arithmetic"], truth["harmonic"])
    # The same stored data against every estimate of the truth: own and other average,
    # fitted order and the first order that interfaces cut by the grid give in theory.
    truths = {f"u*_{fa[:5]}, p fitted": truth[fa] for fa in FACE_AVERAGES}
    for fa in FACE_AVERAGES:
        truths[f"u*_{fa[:5]}, p = 1"] = 2.0 * u[fa][F] - u[fa][middle]
    lines = [
        f"## {name}: stored {s}×{s} from {S}×{S}",
        "",
        f"{samples} samples (seed 0, samples 0–{samples - 1}), grids {grids}, truth u* from "
        f"{S}, {middle}, {F}; errors on the {s}×{s} stored nodes against u* of the same face "
        f"average. Wall time {time.perf_counter() - started:.0f} s.",
        "",
        _report.markdown_table(rows),
        "| face average | observed order p (Richardson) | slope of log error vs log h "
        f"(grids {s}…{S}) | stored data's error (mean / max) | ‖u_{S} − u_{middle}‖ (mean) "
        "| error / difference |",
        "|---|---|---|---|---|---|",
    ]
    for fa, r in summary.items():
        ratio = r["stored"].mean() / r["difference"].mean()
        lines.append(
            f"| {fa} | {r['p']:.2f} | {r['slope']:.2f} | {r['stored'].mean():.2e} / "
            f"{r['stored'].max():.2e} | {r['difference'].mean():.2e} | {ratio:.2f} |"
        )
    lines += [
        "",
        f"The stored data (solved on {S}) against each estimate of the truth, mean relative "
        "L2 error over the samples:",
        "",
        "| stored data | " + " | ".join(truths) + " |",
        "|---|" + "---|" * len(truths),
    ]
    for fa in FACE_AVERAGES:
        cells = [f"{relative_errors(u[fa][S], t).mean():.2e}" for t in truths.values()]
        lines.append(f"| {fa} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Limits of the two averages: ‖u*_arithmetic − u*_harmonic‖ / ‖u*‖ = "
        f"{between.mean():.1e} (mean), {between.max():.1e} (max).",
        "",
        f"Check of the estimate on samples 0–{check_samples - 1} with the grid {2 * F - 1} "
        f"(u* from {middle}, {F}, {2 * F - 1}):",
        "",
        "| face average | order p from the finer triple | stored error against the finer u* "
        "(mean / max) | against u* (mean / max) |",
        "|---|---|---|---|",
    ]
    for fa, r in summary.items():
        e_check, e_used, p_check = r["check"]
        lines.append(
            f"| {fa} | {p_check:.2f} | {e_check.mean():.2e} / {e_check.max():.2e} | "
            f"{e_used.mean():.2e} / {e_used.max():.2e} |"
        )
    return "\n".join(lines) + "\n", summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=["paper", "quick"])
    parser.add_argument("--samples", type=int, default=8, help="fields per size (default 8)")
    parser.add_argument(
        "--check-samples",
        type=int,
        default=None,
        help="fields also solved on 2F - 1 (default: 2 at paper size, 8 at quick)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if args.samples < 1 or (args.check_samples is not None and args.check_samples < 1):
        parser.error("--samples and --check-samples must be at least 1")
    load = os.getloadavg()[0]
    parts = [
        _report.header("Darcy data accuracy: arithmetic against harmonic face averages"),
        f"`OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}`, load average "
        f"(1 min) {load:.2f} at the start: a shared machine, so the seconds are rough.",
        "",
    ]
    for name in args.sizes:
        text, _ = study(name, args.samples, args.check_samples)
        print(text, flush=True)
        parts.append(text)
    text = "\n".join(parts)
    if not args.no_write:
        print(f"wrote {_report.write_report('darcy_face_averaging', text)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
