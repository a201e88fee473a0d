"""Conditioning of the NSM losses: minimise each directly over the coefficients.

For a few Burgers (periodic, T = 0.2) and Darcy (smooth log-normal) instances, L-BFGS
(float64, strong Wolfe) minimises the plain spectral loss and the preconditioned one
(``SpectralForm.preconditioned_loss``) over the free coefficients, with no network, and
reports the iterations it took, the wall time and the relative L2 error of the minimiser
against the reference solver. Both losses have (nearly) the same minimiser; the iteration
count measures how well conditioned each is. Usage::

    python validation/studies/nsm_loss_conditioning.py \
        --out validation/reports/nsm_loss_conditioning.md
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from pdeml.problems import Burgers1D, Darcy2D
from pdeml.validation.metrics import relative_l2
from pdeml.validation.provenance import header

REPORTS = Path(__file__).resolve().parents[1] / "reports"

LOSSES = ("spectral_loss", "preconditioned_loss")


def minimise(form, loss_name: str, max_iter: int) -> tuple[torch.Tensor, int, float]:
    """L-BFGS on the free coefficients from zero; the solution, iterations and seconds."""
    shape = (1, *form.free_shape)
    dtype = torch.complex128 if form.complex else torch.float64
    free = torch.zeros(shape, dtype=dtype, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [free],
        max_iter=max_iter,
        history_size=50,
        tolerance_grad=1e-14,
        tolerance_change=1e-16,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = getattr(form, loss_name)(form.solution(free)).sum()
        loss.backward()
        return loss

    start = time.perf_counter()
    optimizer.step(closure)
    seconds = time.perf_counter() - start
    return form.solution(free).detach(), int(optimizer.state[free]["n_iter"]), seconds


def cases(n_instances: int):
    burgers = Burgers1D(T=0.2, resolution=64, solver_resolution=256)
    darcy = Darcy2D(coefficient="lognormal", resolution=33, solver_resolution=129, n_modes=8)
    for problem, modes in ((burgers, (16, 16)), (darcy, 16)):
        for seed in range(n_instances):
            fine = problem.sample_inputs(1, 100 + seed, resolution=problem.solver_resolution)
            r, s = problem.solver_resolution, problem.resolution
            ref = problem.restrict(problem.reference_solver().solve(fine), r, s)
            inputs = problem.restrict(fine, r, s)
            yield problem.name, seed, problem.spectral_form(inputs, modes), ref, s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=3, help="instances per problem")
    parser.add_argument("--max-iter", type=int, default=2000, help="L-BFGS iteration cap")
    parser.add_argument("--out", default="validation/reports/nsm_loss_conditioning.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    lines = [
        header("Conditioning of the NSM losses"),
        "torch threads 1.",
        "",
        f"L-BFGS from zero over the free coefficients (no network), at most {args.max_iter} "
        "iterations; error of the minimiser against the reference solver on the problem's "
        "grid. Burgers 16 x 16 modes, Darcy 16 x 16 free modes.",
        "",
        "| problem | instance | loss | L-BFGS iterations | seconds | rel. L2 |",
        "|---|---|---|---|---|---|",
    ]
    for name, seed, form, ref, resolution in cases(args.instances):
        key = next(iter(ref))
        for loss_name in LOSSES:
            u, iterations, seconds = minimise(form, loss_name, args.max_iter)
            error = float(relative_l2(form.outputs(u, resolution)[key], ref[key])[0])
            capped = " (cap: not converged)" if iterations >= args.max_iter else ""
            row = (
                f"| {name} | {seed} | {loss_name.removesuffix('_loss')} | {iterations}{capped} | "
                f"{seconds:.1f} | {error:.2e} |"
            )
            lines.append(row)
            print(row, flush=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
