"""pdeml's PINN against DeepXDE's on the classic Burgers case, same network and budget.

The case of Raissi et al.: ``u_t + u u_x = (0.01/π) u_xx`` on ``[−1, 1] × [0, 1]``,
``u(x, 0) = −sin(πx)``, ``u(±1, t) = 0``. Both sides train the same network (``depth``
hidden tanh layers of ``width``, Glorot-normal weights, float64), on the same numbers of
uniformly drawn collocation, boundary and initial points, with soft boundary and initial
penalties of weight 1, Adam (lr 1e-3) for ``adam`` steps and then L-BFGS for at most
``lbfgs`` iterations. Errors are relative L2 against pdeml's reference solver (method of
lines, BDF, verified against the Cole–Hopf solution) on the same grid. pdeml's default,
with the conditions imposed exactly (hard constraints), is printed as a third row.

Run (needs ``pip install -e ".[bench]"``)::

    python validation/benchmarks/pinn_vs_deepxde.py --size quick

It prints a table and writes ``validation/reports/pinn_vs_deepxde_<size>_<device>.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report

import pdeml
from pdeml.problems.burgers_dirichlet import BurgersDirichlet

SIZES = {
    # width, depth, n_collocation, n_boundary, n_initial, adam, lbfgs
    "smoke": (20, 3, 500, 40, 40, 100, 50),
    "quick": (20, 3, 2540, 80, 160, 2000, 1000),
    "paper": (20, 8, 10000, 200, 200, 15000, 5000),
}


def deepxde_run(
    problem: BurgersDirichlet,
    grid: np.ndarray,
    width: int,
    depth: int,
    n_collocation: int,
    n_boundary: int,
    n_initial: int,
    adam: int,
    lbfgs: int,
    seed: int,
) -> tuple[np.ndarray, float]:
    """Train DeepXDE's PINN; return its prediction on ``grid`` ``[m, 2]`` and the time."""
    os.environ.setdefault("DDE_BACKEND", "pytorch")
    import deepxde as dde

    dde.config.set_default_float("float64")
    dde.config.set_random_seed(seed)
    nu = problem.nu

    def pde(x, u):
        u_x = dde.grad.jacobian(u, x, i=0, j=0)
        u_t = dde.grad.jacobian(u, x, i=0, j=1)
        u_xx = dde.grad.hessian(u, x, i=0, j=0)
        return u_t + u * u_x - nu * u_xx

    space = dde.geometry.Interval(-1.0, 1.0)
    domain = dde.geometry.GeometryXTime(space, dde.geometry.TimeDomain(0.0, problem.T))
    boundary = dde.icbc.DirichletBC(
        domain, lambda x: 0.0 * x[:, :1], lambda x, on_boundary: on_boundary
    )
    initial = dde.icbc.IC(
        domain, lambda x: -np.sin(np.pi * x[:, :1]), lambda x, on_initial: on_initial
    )
    data = dde.data.TimePDE(
        domain,
        pde,
        [boundary, initial],
        num_domain=n_collocation,
        num_boundary=n_boundary,
        num_initial=n_initial,
        train_distribution="uniform",
    )
    net = dde.nn.FNN([2] + [width] * depth + [1], "tanh", "Glorot normal")
    model = dde.Model(data, net)
    start = time.perf_counter()
    model.compile("adam", lr=1e-3)
    model.train(iterations=adam, display_every=max(adam, 1), verbose=0)
    if lbfgs:
        # The same L-BFGS as pdeml's: history 50, our tolerances, at most `lbfgs` iterations.
        config = dde.optimizers.config
        config.set_LBFGS_options(maxcor=50, ftol=1e-15, gtol=1e-12, maxiter=lbfgs)
        # DeepXDE (pytorch backend) fixes the iterations per optimiser call when it is
        # imported, min(1000, 15000): set_LBFGS_options(maxiter=k) alone would still run
        # 1000 iterations in one call for k < 1000. Align the per-call budget.
        config.LBFGS_options["iter_per_step"] = lbfgs
        config.LBFGS_options["fun_per_step"] = config.LBFGS_options["maxfun"]
        model.compile("L-BFGS")
        model.train(display_every=max(lbfgs, 1), verbose=0)
    elapsed = time.perf_counter() - start
    return np.asarray(model.predict(grid))[:, 0], elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="quick")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: fair on CPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    width, depth, n_col, n_bnd, n_ini, adam, lbfgs = SIZES[args.size]

    problem = BurgersDirichlet(resolution=129, n_t=20)
    inputs = problem.sample_inputs(1, 0)
    reference = problem.reference_solver().solve(inputs)["u"][0]
    coords = problem.coords()
    t_grid, x_grid = np.meshgrid(coords["t"], coords["x"], indexing="ij")
    grid = np.stack([x_grid.ravel(), t_grid.ravel()], axis=1)

    def error(field: np.ndarray) -> float:
        field = field.reshape(reference.shape)
        return float(np.linalg.norm(field - reference) / np.linalg.norm(reference))

    common = dict(
        n_collocation=n_col,
        n_boundary=n_bnd,
        n_initial=n_ini,
        adam_steps=adam,
        lbfgs_steps=lbfgs,
        lr=1e-3,
        seed=args.seed,
        device="cpu",
    )
    rows = []
    prediction, seconds = deepxde_run(
        problem, grid, width, depth, n_col, n_bnd, n_ini, adam, lbfgs, args.seed
    )
    rows.append(
        {
            "implementation": "deepxde (soft BC/IC)",
            "rel. L2": error(prediction),
            "time [s]": seconds,
        }
    )
    for label, hard in (("pdeml pinn (soft BC/IC)", False), ("pdeml pinn (hard BC/IC)", True)):
        pinn = pdeml.make_surrogate(
            "pinn", problem, width=width, depth=depth, hard_constraints=hard
        ).fit(**common)
        field = pinn.solve(inputs)["u"][0]
        rows.append(
            {
                "implementation": label,
                "rel. L2": error(field),
                "time [s]": pinn.last_solve_stats[0]["time_s"],
            }
        )
    base = rows[0]["time [s]"]
    for row in rows:
        row["time / deepxde"] = row["time [s]"] / base
    table = _report.markdown_table(rows)
    print(table)
    device = "cpu"
    text = _report.header(f"PINN: pdeml against DeepXDE, Burgers ν = 0.01/π ({args.size})")
    text += (
        f"\nNetwork {depth} × {width} tanh, {n_col} collocation / {n_bnd} boundary / "
        f"{n_ini} initial points (uniform), Adam 1e-3 × {adam} then L-BFGS ≤ {lbfgs}, float64, "
        f"{args.threads} torch thread(s). Error: relative L2 on a 20 × 129 (t, x) grid against "
        "the reference solver.\n\n" + table
    )
    path = _report.write_report(f"pinn_vs_deepxde_{args.size}_{device}", text)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
