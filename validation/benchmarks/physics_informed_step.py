"""Cost of one physics-informed training step: closed-form jets against nested autograd.

One step is the loss (mean squared residual at the collocation points) and its gradient with
respect to every network parameter, as Adam and L-BFGS evaluate it. The baseline is the
plain computation: the residual's ``torch.autograd.grad(create_graph=True)`` through the
whole candidate ``u0 + t (1 − x²) N``, then a backward pass through that graph. The jets
(:mod:`pdeml.surrogates.jets`) give the same numbers (the table prints the largest relative
difference of the gradients) at another cost:

* ``pinn``: ``u0`` differentiated once per point set (the network stays on autograd);
* ``pig``: the same, plus the Gaussian features' jet in closed form, by the fused numba
  kernel on CPU (row ``jets (torch)``: the same jet written in torch, for comparison).

Case: the classic Burgers problem (``ν = 0.01/π``, 256 × 100 grid), float64, the paper
suite's sizes (PINN 8 × 20; PIG 1000 diagonal Gaussians, 4 features, MLP 16).

Run::

    python validation/benchmarks/physics_informed_step.py [--points 10000] [--threads 1]

It prints a table and writes ``validation/reports/physics_informed_step_<device>.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numba
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report

from pdeml.problems.burgers_dirichlet import BurgersDirichlet
from pdeml.surrogates.physics_informed import ConstrainedSolution
from pdeml.surrogates.pig import GaussianEmbedding, PIGNetwork
from pdeml.surrogates.pinn import MLP


def network(kind: str, physics) -> torch.nn.Module:
    torch.manual_seed(0)
    if kind == "pinn":
        return MLP(physics.lower, physics.upper, 20, 8, "tanh").double()
    embedding = GaussianEmbedding(physics.lower, physics.upper, 1000, 4, "diagonal", 0.1)
    return PIGNetwork(embedding, 16, 1).double()


def seconds_per_step(solution, physics, points, params, repeats: int) -> tuple[float, list]:
    def step():
        loss = physics.residual(solution, points).pow(2).mean()
        return torch.autograd.grad(loss, params)

    grads = step()  # warm-up (numba compilation, allocator)
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats, grads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    problem = BurgersDirichlet(resolution=256, n_t=100)
    physics = problem.physics(problem.sample_inputs(1, 0))
    points = physics.sample_collocation(args.points, 0, "uniform").requires_grad_(True)
    rows = []
    variants = [
        ("pinn", "jets", True, True),
        ("pig", "jets (fused kernel)", True, True),
        ("pig", "jets (torch)", True, False),
    ]
    for kind, label, jets, fused in variants:
        net = network(kind, physics)
        if kind == "pig":
            net.embedding.fused = fused
        params = list(net.parameters())
        plain = ConstrainedSolution(net, physics, True, jets=False)
        base, base_grads = seconds_per_step(plain, physics, points, params, args.repeats)
        fast_solution = ConstrainedSolution(net, physics, True, jets=jets)
        fast, grads = seconds_per_step(fast_solution, physics, points, params, args.repeats)
        difference = max(
            float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))
            for a, b in zip(grads, base_grads, strict=True)
        )
        rows.append(
            {
                "network": kind,
                "variant": label,
                "autograd [s/step]": base,
                "jets [s/step]": fast,
                "speed-up": base / fast,
                "max rel. gradient difference": difference,
            }
        )
    table = _report.markdown_table(rows)
    print(table)
    device = "cpu"
    text = _report.header("One physics-informed training step: jets against nested autograd")
    text += (
        f"\nBurgers (ν = 0.01/π), {args.points} collocation points, float64, "
        f"{args.threads} thread(s), mean of {args.repeats} steps after one warm-up. "
        "Command: `python validation/benchmarks/physics_informed_step.py "
        f"--points {args.points} --threads {args.threads}`.\n\n" + table + "\n"
    )
    path = _report.write_report(f"physics_informed_step_{device}", text)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
