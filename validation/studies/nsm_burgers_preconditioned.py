"""Why the preconditioned loss trains worse on Burgers: a diagnostic.

Trains the NSM of ``nsm_comparison.py``'s ``burgers_fine`` case (256-point inputs, 16 × 16
modes, width 16, 3 layers, lr 3e-3) once with the spectral loss and once with the
preconditioned one, for the same wall-clock budget, then reports on the comparison's 16
test inputs, per input, the relative L2 error of each and, for each trained network, both
losses relative to their value at ``V = 0``. A network trained on the preconditioned loss
that ends with a *higher* preconditioned loss than one trained on the spectral loss
fails in its optimisation, not in the loss's minimiser. Usage::

    python validation/studies/nsm_burgers_preconditioned.py --budget 45 \
        --out validation/reports/nsm_burgers_preconditioned.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from pdeml.problems import Burgers1D
from pdeml.surrogates.nsm import NSMSurrogate
from pdeml.validation.metrics import relative_l2
from pdeml.validation.provenance import header

REPORTS = Path(__file__).resolve().parents[1] / "reports"

#: Seed of the comparison's test inputs (``nsm_comparison.TEST_SEED``).
TEST_SEED = 10_000
LOSSES = ("spectral", "preconditioned")


def relative_losses(model: NSMSurrogate, inputs: dict) -> dict[str, np.ndarray]:
    """Both losses of the trained network per input, over their values at ``V = 0``."""
    form = model.form(inputs).to(None, torch.float64)
    u = model.coefficients(inputs).to(torch.complex128)
    zero = form.solution(u.new_zeros(u.shape))
    with torch.no_grad():
        return {
            name: (getattr(form, f"{name}_loss")(u) / getattr(form, f"{name}_loss")(zero)).numpy()
            for name in LOSSES
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=45.0, help="training seconds per loss")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="validation/reports/nsm_burgers_preconditioned.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    problem = Burgers1D(T=0.2, resolution=256, solver_resolution=256)
    inputs = problem.sample_inputs(16, TEST_SEED)
    ref = problem.reference_solver().solve(inputs)["u"]
    errors, losses, steps = {}, {}, {}
    for loss in LOSSES:
        model = NSMSurrogate(problem, loss=loss, modes=(16, 16), kept=8, width=16, layers=3)
        model.fit(
            n_train=256, steps=10**6, batch_size=16, lr=3e-3, time_limit=args.budget, device="cpu"
        )
        errors[loss] = relative_l2(model.solve(inputs)["u"], ref)
        losses[loss] = relative_losses(model, inputs)
        steps[loss] = model.training["steps"]
    worse = int(np.sum(errors["preconditioned"] > errors["spectral"]))
    lines = [
        header("NSM on Burgers: spectral against preconditioned loss"),
        f"{args.budget:g} s of training per loss, torch threads {args.threads}, 16 test inputs.",
        "",
        "| trained on | steps | rel. L2 mean | median | spectral loss / at V=0 (median) "
        "| preconditioned loss / at V=0 (median) |",
        "|---|---|---|---|---|---|",
    ]
    for loss in LOSSES:
        e, r = errors[loss], losses[loss]
        lines.append(
            f"| {loss} | {steps[loss]} | {e.mean():.2e} | {np.median(e):.2e} | "
            f"{np.median(r['spectral']):.2e} | {np.median(r['preconditioned']):.2e} |"
        )
    lines += [
        "",
        f"Preconditioned worse than spectral on {worse} of {len(ref)} test inputs.",
        "",
        "| input | " + " | ".join(LOSSES) + " |",
        "|---|---|---|",
        *(
            f"| {i} | " + " | ".join(f"{errors[k][i]:.2e}" for k in LOSSES) + " |"
            for i in range(len(ref))
        ),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
