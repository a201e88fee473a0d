"""Cost per model time unit of the hybrid Lorenz96 solvers and the resolved one, as K grows.

For K = 4 … 256 slow variables (J = 32 fast ones each, F = 20, the Wilks 2005 family), an
ensemble of ``--members`` states on the attractor is integrated by the resolved two-scale
RK4 (dt = 0.001) and by the hybrid solver (its default dt) with each closure. The closures are
trained once at K = 8 on a small dataset (their cost does not depend on how well they are
trained, and every closure here applies to a ring of any length). Each timing is the best
of ``--repeats`` runs of a horizon long enough to last ~0.2 s (at least one stored
interval), divided by the horizon. The fitted slope of log cost against log K is the
observed scaling exponent (1 for O(K); the FNO's FFTs add a log K that the fit reads as a
slightly larger exponent).

``--dt-study`` instead measures how large the hybrid's RK4 step may be: at the Wilks and
Lorenz-1996 settings it trains the polynomial, MLP and FNO closures on resolved runs, then
integrates 32 held-out states to t = 1 with dt = 0.005 … 0.05 and prints the RMSE between
each run and the dt = 0.005 run, next to the closure's own forecast RMSE against the
resolved model at t = 1 (the error that a smaller step cannot remove).

Run::

    python validation/benchmarks/hybrid_lorenz96.py             # writes the report
    python validation/benchmarks/hybrid_lorenz96.py --quick     # K ≤ 32, one repeat, no report
    python validation/benchmarks/hybrid_lorenz96.py --dt-study  # step-size table (printed)
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import numba
import numpy as np
import torch

try:
    from validation.benchmarks._report import header, markdown_table, write_report
except ImportError:  # run as a script from anywhere
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from validation.benchmarks._report import header, markdown_table, write_report

from pdeml.closures import closure_training_data, make_closure
from pdeml.problems import Lorenz96
from pdeml.surrogates.l96_hybrid import L96HybridSurrogate

FAMILY = {"J": 32, "F": 20.0, "dt": 0.001, "save_every": 50}
KS = (4, 8, 16, 32, 64, 128, 256)
TARGET_SECONDS = 0.2


def trained_closures() -> dict[str, Any]:
    """Every closure, trained briefly at the Wilks setting (K = 8)."""
    problem = Lorenz96(K=8, **FAMILY, T=5.0, spinup=5.0)
    x, c = closure_training_data(problem, 4, seed=0)
    return {
        "none": make_closure("none"),
        "polynomial": make_closure("polynomial", degree=4).fit(x, c),
        "mlp": make_closure("mlp", hidden=(32, 32), epochs=3).fit(x, c),
        "gp": make_closure("gp", max_points=300, restarts=1).fit(x, c),
        "fno": make_closure(
            "fno", modes=5, width=8, layers=2, projection=16, activation="relu", epochs=3
        ).fit(x, c),
    }


def cost_per_time_unit(run, interval: float, repeats: int, limit: float = 5.0) -> float:
    """Seconds per model time unit of ``run(T)``; T grows from one interval to ~TARGET s."""
    T = interval
    while True:
        start = time.perf_counter()
        run(T)
        seconds = time.perf_counter() - start
        if seconds > TARGET_SECONDS / 4 or T >= limit:
            break
        T *= 4
    best = seconds
    for _ in range(repeats - 1):
        start = time.perf_counter()
        run(T)
        best = min(best, time.perf_counter() - start)
    return best / T


def measure(k: int, members: int, closures: dict[str, Any], repeats: int) -> dict[str, Any]:
    problem = Lorenz96(K=k, **FAMILY, T=FAMILY["dt"] * FAMILY["save_every"], spinup=2.0)
    states = problem.sample_inputs(members, seed=0)
    interval = problem.save_interval
    resolved = problem.reference_solver()

    def run_resolved(T: float) -> None:
        solver = Lorenz96(K=k, **FAMILY, T=T, spinup=2.0).reference_solver()
        solver.solve(states)

    resolved.solve(states)  # compile or load numba's cache
    row: dict[str, Any] = {"K": k, "slow + fast variables": k * (FAMILY["J"] + 1)}
    row["resolved s/tu"] = cost_per_time_unit(run_resolved, interval, repeats)
    for name, closure in closures.items():
        hybrid = L96HybridSurrogate(problem, closure, check_finite=False)
        with np.errstate(all="ignore"):
            hybrid.integrate(states["X0"], interval)
            seconds = cost_per_time_unit(
                lambda T, h=hybrid: h.integrate(states["X0"], T), interval, repeats
            )
        row[f"{name} s/tu"] = seconds
    for name in closures:
        row[f"{name} speed-up"] = row["resolved s/tu"] / row[f"{name} s/tu"]
    return row


STUDY_SETTINGS = {
    "Wilks 2005": {"K": 8, "J": 32, "F": 20.0, "dt": 0.001, "save_every": 50},
    "Lorenz 1996": {"K": 36, "J": 10, "F": 10.0, "dt": 0.005, "save_every": 10},
}
STUDY_DTS = (0.005, 0.01, 0.02, 0.05)


def dt_study() -> str:
    """Markdown table: trajectory change from dt = 0.005 vs the closure's forecast error."""
    rows = []
    for setting, params in STUDY_SETTINGS.items():
        base = Lorenz96(**params, T=10.0, spinup=10.0)
        x, c = closure_training_data(base, 16, seed=0)
        closures = {
            "polynomial": make_closure("polynomial", degree=4).fit(x, c),
            "mlp": make_closure("mlp", hidden=(32, 32), epochs=20, batch_size=32).fit(x, c),
            "fno": make_closure(
                "fno",
                modes=min(8, params["K"] // 2 + 1),
                width=8,
                layers=2,
                projection=16,
                activation="relu",
                epochs=20,
                batch_size=32,
            ).fit(x, c),
        }
        problem = Lorenz96(**params, T=1.0, spinup=10.0)
        inputs = problem.sample_inputs(32, seed=1)
        reference = problem.reference_solver().solve(inputs)["X"][:, -1]
        for name, closure in closures.items():
            runs = {}
            for dt in STUDY_DTS:
                solver = L96HybridSurrogate(problem, closure, dt=dt, check_finite=False)
                with np.errstate(all="ignore"):
                    runs[dt] = solver.integrate(inputs["X0"], 1.0)[:, -1]
            forecast = float(np.sqrt(np.mean((runs[STUDY_DTS[0]] - reference) ** 2)))
            row = {"setting": setting, "closure": name, "forecast RMSE t=1": forecast}
            for dt in STUDY_DTS[1:]:
                diff = np.sqrt(np.mean((runs[dt] - runs[STUDY_DTS[0]]) ** 2))
                row[f"dt={dt}"] = float(diff)
            rows.append(row)
            print(row, flush=True)
    return (
        "RMS difference at t = 1 between the hybrid at each dt and at dt = 0.005 "
        "(32 states), and the dt = 0.005 hybrid's RMSE against the resolved model:\n\n"
        + markdown_table(rows)
    )


#: FNO closure sizes of the grid (``--fno-grid``): width, layers, projection, activation.
FNO_GRID = (
    (16, 3, 32, "gelu"),
    (8, 2, 16, "gelu"),
    (8, 2, 16, "relu"),
    (8, 2, 16, "tanh"),
    (4, 2, 16, "tanh"),
    (8, 1, 16, "tanh"),
    (4, 1, 8, "tanh"),
)


def best_of(run, repeats: int) -> float:
    """Shortest wall time of ``repeats`` calls of ``run()``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def fno_grid() -> str:
    """Markdown table: FNO closure sizes at Wilks (quick data) against the polynomial one.

    Training data and test sets are those of ``validation/studies/multiscale_lorenz96.py --size
    quick`` (16 / 4 resolved runs of 10 time units, 40 epochs); RMSE at t = 1 over 32
    attractor states; speed-up of the hybrid (32 members) over the resolved model timed
    right after it (best of 3 and 2).
    """
    params = {"K": 8, **FAMILY}
    base = Lorenz96(**params, T=10.0, spinup=10.0)
    x_train, c_train = closure_training_data(base, 16, seed=0)
    x_test, c_test = closure_training_data(base, 4, seed=3)
    problem = Lorenz96(**params, T=1.0, spinup=10.0)
    inputs = problem.sample_inputs(32, seed=1)
    reference = problem.reference_solver().solve(inputs)["X"][:, -1]
    timing = problem.sample_inputs(32, seed=4)
    resolved = problem.reference_solver()
    candidates = [("polynomial", {"degree": 4})] + [
        ("fno", {"modes": 5, "width": w, "layers": n, "projection": p, "activation": a})
        for w, n, p, a in FNO_GRID
    ]
    rows = []
    for name, hp in candidates:
        train = {} if name == "polynomial" else {"epochs": 40, "batch_size": 32}
        closure = make_closure(name, **hp, **train).fit(x_train, c_train)
        solver = L96HybridSurrogate(problem, closure, check_finite=False)
        with np.errstate(all="ignore"):
            x = solver.integrate(inputs["X0"], 1.0)[:, -1]
        solver.integrate(timing["X0"], 1.0)  # compile / build the fast path first
        hybrid_s = best_of(lambda s=solver: s.integrate(timing["X0"], 1.0), 3)
        resolved_s = best_of(lambda: resolved.solve(timing), 2)  # T = 1
        row = {
            "closure": name,
            "width": hp.get("width", "-"),
            "layers": hp.get("layers", "-"),
            "projection": hp.get("projection", "-"),
            "activation": hp.get("activation", "-"),
            "closure nMSE": float(np.mean((closure(x_test) - c_test) ** 2) / np.var(c_test)),
            "RMSE t=1": float(np.sqrt(np.mean((x - reference) ** 2, axis=-1)).mean()),
            "hybrid s/tu": hybrid_s,
            "resolved s/tu": resolved_s,
            "speed-up": resolved_s / hybrid_s,
            "loop": solver.path(),
        }
        rows.append(row)
        print(row, flush=True)
    return markdown_table(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=32, help="ensemble size")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (best kept)")
    parser.add_argument("--quick", action="store_true", help="K ≤ 32, one repeat, no report")
    parser.add_argument("--dt-study", action="store_true", help="step-size study (printed)")
    parser.add_argument("--fno-grid", action="store_true", help="FNO size grid (printed)")
    args = parser.parse_args(argv)
    if args.fno_grid:
        print(fno_grid())
        return 0
    if args.dt_study:
        print(dt_study())
        return 0
    ks = [k for k in KS if k <= 32] if args.quick else list(KS)
    repeats = 1 if args.quick else args.repeats

    closures = trained_closures()
    load_before = os.getloadavg()
    rows = []
    for k in ks:
        row = measure(k, args.members, closures, repeats)
        rows.append(row)
        print(
            ", ".join(
                f"{a}: {b:.3g}" if isinstance(b, float) else f"{a}: {b}" for a, b in row.items()
            ),
            flush=True,
        )
    load_after = os.getloadavg()
    logk = np.log([r["K"] for r in rows])
    slopes = {
        name: float(np.polyfit(logk[1:], np.log([r[f"{name} s/tu"] for r in rows[1:]]), 1)[0])
        for name in ["resolved", *closures]
    }
    hybrid_dt = L96HybridSurrogate(Lorenz96(K=8, **FAMILY, T=0.05, spinup=0.0), closures["none"]).dt
    cost_cols = ["K", "slow + fast variables", "resolved s/tu", *[f"{n} s/tu" for n in closures]]
    ratio_cols = ["K", *[f"{n} speed-up" for n in closures]]
    text = header("Hybrid Lorenz96: cost per model time unit against K") + "\n".join(
        [
            "",
            f"Ensemble of {args.members} members; J = {FAMILY['J']}, F = {FAMILY['F']}; "
            f"resolved RK4 dt = {FAMILY['dt']}, hybrid RK4 dt = "
            f"{hybrid_dt}. "
            f"numba threads {numba.get_num_threads()}, torch threads {torch.get_num_threads()}. "
            f"Best of {repeats}. Load average (1 min) {load_before[0]:.2f} before, "
            f"{load_after[0]:.2f} after: the machine is shared with other jobs, so read "
            "single numbers as ±30 %.",
            "",
            "Seconds per model time unit (whole ensemble):",
            "",
            markdown_table([{c: r[c] for c in cost_cols} for r in rows]),
            "Speed-up of each hybrid over the resolved model (resolved s/tu ÷ hybrid s/tu):",
            "",
            markdown_table([{c: r[c] for c in ratio_cols} for r in rows]),
            "Observed scaling exponent (slope of log cost against log K, K ≥ 8): "
            + ", ".join(f"{n} {s:.2f}" for n, s in slopes.items())
            + ".",
            "",
        ]
    )
    print(text)
    if not args.quick:
        print(f"wrote {write_report('hybrid_lorenz96', text)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
