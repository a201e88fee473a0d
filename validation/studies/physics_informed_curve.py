"""Error against wall time of one PINN or PIG run on the classic Burgers case.

Trains ``pinn`` or ``pig`` on ``u_t + u u_x = (0.01/π) u_xx``, ``u0 = −sin(πx)``,
``u(±1, t) = 0`` and prints, every ``--every`` optimiser steps, the training time so far
(monitoring excluded) and the relative L2 error against the reference solver on the
published 256 × 100 grid. Used to size the budgets of
``validation/suites/physics_informed_paper.toml``; the numbers quoted in
``docs/surrogates/pinn.md`` and ``pig.md`` come from it.

Run::

    python validation/studies/physics_informed_curve.py pig \\
        '{"n_gaussians": 200, "n_collocation": 8000, "adam_steps": 3000, "lbfgs_steps": 3000}'
"""

from __future__ import annotations

import argparse
import json

import numba
import numpy as np
import torch

import pdeml
from pdeml.problems.burgers_dirichlet import BurgersDirichlet
from pdeml.surrogates.base import surrogate_class


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("surrogate", choices=["pinn", "pig"])
    parser.add_argument("hyperparameters", help="JSON object of hyperparameters and fit options")
    parser.add_argument("--every", type=int, default=500, help="steps between errors")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    settings = json.loads(args.hyperparameters)
    settings.setdefault("seed", 0)
    problem = BurgersDirichlet(resolution=256, n_t=100)
    inputs = problem.sample_inputs(1, 0)
    reference = problem.reference_solver().solve(inputs)
    names = surrogate_class(args.surrogate).hyperparameter_names()
    hyper = {k: v for k, v in settings.items() if k in names}
    fit = {k: v for k, v in settings.items() if k not in names}
    surrogate = pdeml.make_surrogate(args.surrogate, problem, **hyper)
    surrogate.fit(device="cpu", **fit)
    out = surrogate.solve(inputs, reference=reference, record_every=args.every)
    error = np.linalg.norm(out["u"] - reference["u"]) / np.linalg.norm(reference["u"])
    stats = surrogate.last_solve_stats[0]
    for seconds, step, value in stats["curve"]:
        print(f"{seconds:8.1f} s  step {int(step):6d}  rel. L2 {value:.3e}")
    print(
        f"{args.surrogate} {settings}: rel. L2 {error:.3e}, {stats['train_s']:.1f} s, "
        f"{stats['lbfgs_iterations']} L-BFGS iterations"
    )


if __name__ == "__main__":
    main()
