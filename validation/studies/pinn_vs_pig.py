"""PINN against PIG: error against wall time, on Burgers (ν = 0.01/π) and log-normal Darcy.

For each case both surrogates train on the same problem instance, with the same points,
optimisers and budget, and record the relative L2 error against the reference solver every
``every`` optimiser steps (monitoring time excluded from the clock). The script prints, per
case, the final errors and times and the error ratio *at equal wall time*: both curves are
read (linearly interpolated) at the moment the faster of the two finished its budget, and
the PINN's error there is divided by PIG's. It draws the curves (log–log) to
``validation/reports/pinn_vs_pig_<size>.png`` and writes the table to
``validation/reports/pinn_vs_pig_<size>.md``.

Cases:

* ``burgers``: the classic Dirichlet case, ``x ∈ [−1, 1]``, ``u0 = −sin(πx)``, ``ν = 0.01/π``,
  on a 129 × 20 (x, t) grid; conditions imposed exactly.
* ``darcy``: ``−∇·(a∇u) = 1`` on the unit square, ``a = exp(GRF)`` (``coefficient =
  "lognormal"``), 64 × 64 grid (solved on 127²), ``u = b(x, y) N`` imposes ``u = 0``.

Run::

    python validation/studies/pinn_vs_pig.py --size quick [--cases burgers darcy]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

import pdeml
from pdeml.problems import Darcy2D
from pdeml.problems.burgers_dirichlet import BurgersDirichlet
from pdeml.validation.provenance import header, markdown_table, write_markdown

REPORTS = Path(__file__).resolve().parents[1] / "reports"

# Per size: collocation points, Adam steps, L-BFGS steps, record interval.
SIZES = {
    "smoke": (500, 40, 20, 20),
    "quick": (2000, 500, 300, 50),
    "paper": (10000, 5000, 5000, 250),
}
# Both with residual-based adaptive resampling every 50 Adam steps (PIG's default).
PINN = {"width": 20, "depth": 8}
PIG = {"n_gaussians": 400, "features": 4, "sigma": 0.1, "hidden": 16}
RESAMPLING = {"resampling": "rad", "resample_every": 50}


def make_case(name: str) -> tuple[Any, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Problem, one input instance and its reference outputs."""
    if name == "burgers":
        problem = BurgersDirichlet(resolution=129, n_t=20)
    else:
        problem = Darcy2D(resolution=64, solver_resolution=127, coefficient="lognormal")
    inputs = problem.sample_inputs(1, 0)
    if name == "darcy":
        # Draw at the solver's grid and restrict, as generate() does, so the reference is
        # the fine solve seen at the stored points.
        fine = problem.sample_inputs(1, 0, resolution=problem.solver_resolution)
        outputs = problem.reference_solver().solve(fine)
        inputs = problem.restrict(fine, problem.solver_resolution, problem.resolution)
        outputs = problem.restrict(outputs, problem.solver_resolution, problem.resolution)
    else:
        outputs = problem.reference_solver().solve(inputs)
    return problem, inputs, outputs


def run(name: str, size: str) -> list[dict[str, Any]]:
    n_col, adam, lbfgs, every = SIZES[size]
    problem, inputs, reference = make_case(name)
    common = dict(n_collocation=n_col, adam_steps=adam, lbfgs_steps=lbfgs, seed=0, device="cpu")
    common.update(RESAMPLING)
    rows = []
    # PIG with the Gaussians at 3e-2 and the MLP after them at 1e-3 (better than one rate
    # at this short budget; see the lr_network docs).
    rates = {"pinn": {"lr": 1e-3}, "pig": {"lr": 3e-2, "lr_network": 1e-3}}
    for label, hyper in (("pinn", PINN), ("pig", PIG)):
        surrogate = pdeml.make_surrogate(label, problem, **hyper)
        surrogate.fit(**rates[label], **common)
        out = surrogate.solve(inputs, reference=reference, record_every=every)
        field = problem.output_names[0]
        error = np.linalg.norm(out[field] - reference[field]) / np.linalg.norm(reference[field])
        stats = surrogate.last_solve_stats[0]
        rows.append(
            {
                "case": name,
                "surrogate": label,
                "rel. L2": float(error),
                "train time [s]": stats["train_s"],
                "curve": stats["curve"],
            }
        )
    pinn, pig = rows
    # Equal wall time: both curves read at the moment the faster of the two finished.
    moment = min(pinn["train time [s]"], pig["train time [s]"])
    at = {
        r["surrogate"]: float(
            np.interp(moment, [c[0] for c in r["curve"]], [c[2] for c in r["curve"]])
        )
        for r in rows
    }
    for row in rows:
        row["equal time [s]"] = moment
        row["rel. L2 at equal time"] = at[row["surrogate"]]
        row["PINN / PIG error at equal time"] = at["pinn"] / at["pig"]
    return rows


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = sorted({r["case"] for r in rows})
    fig, axes = plt.subplots(1, len(cases), figsize=(5 * len(cases), 4), squeeze=False)
    for ax, case in zip(axes[0], cases, strict=True):
        for row in (r for r in rows if r["case"] == case):
            curve = np.array(row["curve"])
            seconds = np.maximum(curve[:, 0], 1e-3)
            ax.loglog(seconds, curve[:, 2], marker=".", label=row["surrogate"])
        ax.set_xlabel("training wall time [s]")
        ax.set_ylabel("relative L2 error")
        ax.set_title(case)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="quick")
    parser.add_argument(
        "--cases", nargs="+", choices=["burgers", "darcy"], default=["burgers", "darcy"]
    )
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = [row for case in args.cases for row in run(case, args.size)]
    table = markdown_table([{k: v for k, v in r.items() if k != "curve"} for r in rows])
    print(table)
    png = REPORTS / f"pinn_vs_pig_{args.size}.png"
    plot(rows, png)
    n_col, adam, lbfgs, every = SIZES[args.size]
    text = header(f"PINN against PIG, error against wall time ({args.size})")
    text += (
        f"\nSame instance, {n_col} collocation points (RAD every 50 steps), Adam × {adam} "
        f"(PINN lr 1e-3; PIG: Gaussians 3e-2, MLP 1e-3) then L-BFGS ≤ {lbfgs}, float64, "
        f"{args.threads} torch thread(s), conditions imposed exactly. PINN: {PINN}; "
        f"PIG: {PIG}. Errors every {every} steps, "
        "monitoring time excluded.\n\n"
        + table
        + f"\n![error against wall time]({png.name})\n\nCurves (seconds, step, error):\n\n```json\n"
        + json.dumps({f"{r['case']}/{r['surrogate']}": r["curve"] for r in rows})
        + "\n```\n"
    )
    path = write_markdown(REPORTS, f"pinn_vs_pig_{args.size}", text)
    print(f"wrote {path} and {png}")


if __name__ == "__main__":
    main()
