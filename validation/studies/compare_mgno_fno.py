"""MgNO against FNO on the same data: accuracy, size and speed side by side.

Cases: Darcy (coefficient to pressure, zero Dirichlet boundary) and Navier–Stokes
(ν = 1e−3, one step ahead, rolled out over the output window: both operators in their
``variant="recurrent"`` form). Each model trains with its own paper's recipe:

* MgNO (He, Liu, Xu, ICLR 2024): relative H1 loss, Adam with a one-cycle schedule, batch 8,
  24 channels, 4 layers (paper: lr 5e−4, 500 epochs; about 0.57 M parameters, relative
  L2 3.4e−3 and relative H1 1.4e−2 on Darcy at 421² with 6 levels).
* FNO (Li et al., ICLR 2021): relative L2 loss, Adam 1e−3 halved every ``step_size``
  epochs, batch 20, 12 modes and width 32 (paper: 500 epochs, step 100).

Both see the same training and test samples, which are the same files
``validation/studies/reproduce_fno.py`` generates (same preset, overrides, count and seed). The
table lists relative L2 and relative H1 on the test set (mean and standard deviation over
samples), trainable parameters, seconds per training epoch (median over epochs, robust to
other jobs on a shared machine), and inference milliseconds per test sample (batched, after
a warm-up call).

Sizes: ``smoke`` runs in seconds (CI: the script works end to end), ``quick`` in about ten
minutes on 2 CPU cores (Darcy at 43² from an 85² solve, 300 training samples; short
trainings, so errors are far above the papers'), ``paper`` is the published set-up and is
meant for a GPU.

Run::

    python validation/studies/compare_mgno_fno.py --size quick [--cases darcy ns]

It prints the table and writes ``validation/reports/mgno_vs_fno_<size>.md``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import pdeml
from pdeml.validation.metrics import relative_h1, relative_l2
from pdeml.validation.provenance import header, markdown_table, write_markdown

#: The repository's committed reports.
REPORTS = Path(__file__).resolve().parents[1] / "reports"

PRESETS = {"darcy": "darcy", "ns": "navier_stokes"}
#: The papers' figures on Darcy (relative L2, relative H1); FNO's H1 is not published.
PAPER = {"mgno": (3.4e-3, 1.4e-2), "fno": (1.08e-2, None)}

MGNO_TRAIN = {"loss": "h1", "scheduler": "onecycle", "batch_size": 8}
FNO_TRAIN = {"loss": "l2", "scheduler": "step", "batch_size": 20, "lr": 1e-3}

# Per size and case: problem overrides, n_train, n_test, then per model
# (hyperparameters, training options).
CASES: dict[str, dict[str, dict[str, Any]]] = {
    "paper": {
        "darcy": {
            "problem": {"resolution": 85, "solver_resolution": 421},
            "n_train": 1000,
            "n_test": 200,
            "mgno": ({"channels": 24, "layers": 4}, {**MGNO_TRAIN, "lr": 5e-4, "epochs": 500}),
            "fno": ({"modes": 12, "width": 32}, {**FNO_TRAIN, "epochs": 500, "step_size": 100}),
        },
        "ns": {
            "problem": {"resolution": 64, "solver_resolution": 256, "nu": 1e-3, "T": 50},
            "n_train": 1000,
            "n_test": 200,
            "mgno": (
                {"channels": 24, "layers": 4, "variant": "recurrent"},
                {**MGNO_TRAIN, "lr": 5e-4, "epochs": 500},
            ),
            "fno": (
                {"modes": 12, "width": 20, "variant": "recurrent"},
                {**FNO_TRAIN, "epochs": 500, "step_size": 100},
            ),
        },
    },
    "quick": {
        "darcy": {
            "problem": {"resolution": 43, "solver_resolution": 85},
            "n_train": 300,
            "n_test": 50,
            # A short run wants a higher one-cycle peak than the paper's 5e-4 for 500 epochs.
            "mgno": ({"channels": 24, "layers": 4}, {**MGNO_TRAIN, "lr": 2e-3, "epochs": 40}),
            # The FNO reproduction's quick recipe (validation/studies/reproduce_fno.py).
            "fno": ({"modes": 12, "width": 32}, {**FNO_TRAIN, "epochs": 60, "step_size": 15}),
        },
        "ns": {
            "problem": {"resolution": 32, "solver_resolution": 64},
            "n_train": 100,
            "n_test": 20,
            "mgno": (
                {"channels": 16, "layers": 4, "variant": "recurrent"},
                {**MGNO_TRAIN, "lr": 2e-3, "epochs": 15},
            ),
            "fno": (
                {"modes": 8, "width": 20, "variant": "recurrent"},
                {**FNO_TRAIN, "epochs": 15, "step_size": 5},
            ),
        },
    },
    "smoke": {
        "darcy": {
            "problem": {"resolution": 15, "solver_resolution": 29},
            "n_train": 40,
            "n_test": 10,
            "mgno": ({"channels": 8, "layers": 2}, {**MGNO_TRAIN, "lr": 3e-3, "epochs": 3}),
            "fno": ({"modes": 4, "width": 8}, {**FNO_TRAIN, "epochs": 3}),
        },
        "ns": {
            "problem": {"resolution": 16, "solver_resolution": 32, "T": 12, "dt": 0.01},
            "n_train": 8,
            "n_test": 4,
            "mgno": (
                {"channels": 4, "layers": 1, "variant": "recurrent"},
                {**MGNO_TRAIN, "lr": 3e-3, "epochs": 2},
            ),
            "fno": (
                {"modes": 4, "width": 8, "variant": "recurrent"},
                {**FNO_TRAIN, "epochs": 2},
            ),
        },
    },
}


def load_data(size: str, case: str, data_dir: Path) -> tuple[Any, Any]:
    """Train and test sets, generated once and cached under the reproduction's file names."""
    spec = CASES[size][case]
    preset_size = "paper" if size == "paper" else "quick"
    problem = pdeml.load_problem(PRESETS[case], size=preset_size, **spec["problem"])
    n = spec["n_train"] + spec["n_test"]
    key = "_".join(f"{k}{v}" for k, v in sorted(spec["problem"].items()))
    path = data_dir / f"fno_{PRESETS[case]}_{key}_n{n}.h5"
    ds = pdeml.open_dataset(path) if path.exists() else pdeml.generate(problem, n, 0, path)
    return ds.split(n_test=spec["n_test"])


def evaluate(name: str, case: str, size: str, train: Any, test: Any, device: str) -> dict:
    """Train one model and measure it; a row of the report."""
    if name == "fno-h1":
        # The FNO with only its loss swapped for H1: separates the loss from the network.
        hyper, options = CASES[size][case]["fno"]
        options = {**options, "loss": "h1"}
    else:
        hyper, options = CASES[size][case][name]
    surrogate = pdeml.make_surrogate(name.removesuffix("-h1"), train.problem, **hyper)
    begin = time.perf_counter()
    surrogate.fit(train, test, device=device, progress=False, **options)
    train_seconds = time.perf_counter() - begin
    epoch_seconds = statistics.median(h["seconds"] for h in surrogate.history)
    inputs = test.inputs
    surrogate.solve(inputs)  # warm-up: allocator, kernel selection
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    begin = time.perf_counter()
    pred = surrogate.solve(inputs)
    infer = (time.perf_counter() - begin) / len(test)
    problem = train.problem
    periodic = not problem.grid_includes_right_end()
    dims = len(problem.spatial_dims())
    l2 = np.concatenate([relative_l2(pred[k], test.outputs[k]) for k in pred])
    h1 = np.concatenate([relative_h1(pred[k], test.outputs[k], dims, periodic) for k in pred])
    paper_l2, paper_h1 = PAPER.get(name, (None, None)) if case == "darcy" else (None, None)
    return {
        "case": case,
        "model": name,
        "grid": problem.resolution,
        "train/test": f"{len(train)}/{len(test)}",
        "loss, schedule": f"{options['loss']}, {options['scheduler']} {options['lr']:g}",
        "epochs": options["epochs"],
        "parameters": surrogate.parameter_count(),
        "rel. L2": float(l2.mean()),
        "L2 std": float(l2.std()),
        "rel. H1": float(h1.mean()),
        "H1 std": float(h1.std()),
        "s/epoch": epoch_seconds,
        "train s": train_seconds,
        "ms/sample": 1e3 * infer,
        "paper L2": "-" if paper_l2 is None else f"{paper_l2:.2g}",
        "paper H1": "-" if paper_h1 is None else f"{paper_h1:.2g}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(CASES), default="quick")
    parser.add_argument("--cases", nargs="+", choices=sorted(PRESETS))
    parser.add_argument(
        "--models",
        nargs="+",
        choices=["mgno", "fno", "fno-h1"],
        default=["mgno", "fno"],
        help="fno-h1: the FNO recipe with the H1 loss",
    )
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--no-report", action="store_true", help="print only")
    args = parser.parse_args()
    rows = []
    for case in args.cases or list(CASES[args.size]):
        print(f"data for {case} ...", flush=True)
        train, test = load_data(args.size, case, args.data)
        for name in args.models:
            print(f"training {name} on {case} ...", flush=True)
            rows.append(evaluate(name, case, args.size, train, test, args.device))
            print(markdown_table(rows[-1:]), flush=True)
    text = header(f"MgNO vs FNO on the same data ({args.size} size)")
    text += (
        "\nEach model with its own paper's recipe (MgNO: H1 loss, one-cycle, batch 8; "
        "FNO: L2 loss, step schedule, batch 20); errors on the test set, mean and standard "
        "deviation over samples; s/epoch is the median over epochs; ms/sample is batched "
        "inference after a warm-up. The H1 column favours the model trained on the H1 loss "
        "(`--models fno-h1` trains the FNO on it too), and equal epochs are not equal "
        "time: compare s/epoch.\n\n"
    )
    text += markdown_table(rows)
    print(text)
    if not args.no_report:
        print("wrote", write_markdown(REPORTS, f"mgno_vs_fno_{args.size}", text))


if __name__ == "__main__":
    main()
