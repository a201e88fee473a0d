"""The FNO paper's Darcy run (s = 85, 1000 training samples solved at 421) on a CPU, resumable.

Stages, each skipped or resumed when a previous call got through it:

1. generate 1200 samples of ``darcy --size paper`` (``data/paper/darcy_paper_1200.h5``;
   generation resumes from its finished chunks);
2. train the FNO (modes 12, width 32, batch 20, Adam 1e-3) on the first 1000 with the
   checkpoint written every epoch to ``runs/darcy_paper_cpu``; a call after an interruption
   continues from the last epoch (``fit(..., resume=True)``);
3. score the last 200 samples (relative L2, mean over samples) and write
   ``validation/reports/darcy_paper_cpu.md`` with the wall time of every call.

Run in the background, again after any interruption::

    OMP_NUM_THREADS=1 nohup python validation/studies/darcy_paper_cpu.py --threads 1 \\
        >> runs/darcy_paper_cpu.log 2>&1 &

The target is the paper's 0.0108 (FNO paper, Darcy s = 85). ``--epochs`` sets the length
of the run (the paper's 500 by default; the step schedule halves the rate every
``epochs / 5`` epochs, as the paper's 100 of 500).

A second training cycle: ``--after RUN --after-epochs N`` first restores the model that
an earlier call of this script trained for ``N`` epochs in ``RUN`` (from its checkpoint,
no training), then trains it on for ``--epochs`` more with its own schedule
(``--scheduler cosine --lr 5e-4``: a warm restart, ``fit(..., warm_start=True)``), itself
checkpointed every epoch in ``--run`` and resumable::

    OMP_NUM_THREADS=2 nohup python validation/studies/darcy_paper_cpu.py --threads 2 \
        --after runs/darcy_paper_cpu --after-epochs 150 --epochs 100 --scheduler cosine \
        --lr 5e-4 --run runs/darcy_paper_cpu_cycle2 --report darcy_paper_cpu_cycle2 \
        >> runs/darcy_paper_cpu_cycle2.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import _report

import pdeml
from pdeml.validation.metrics.arrays import relative_l2

DATA = Path("data/paper/darcy_paper_1200.h5")
RUN = Path("runs/darcy_paper_cpu")
TARGET = 0.0108
N_TRAIN, N_TEST = 1000, 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=500)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--workers", type=int, default=1, help="generation processes")
    parser.add_argument("--size", default="paper", help="preset size (quick: a smoke run)")
    parser.add_argument("--n-train", type=int, default=N_TRAIN)
    parser.add_argument("--n-test", type=int, default=N_TEST)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--run", type=Path, default=RUN)
    parser.add_argument("--report", default="darcy_paper_cpu", help="report name")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate")
    parser.add_argument("--scheduler", default="step", choices=["step", "cosine"])
    parser.add_argument("--after", type=Path, help="run folder of a finished first cycle")
    parser.add_argument("--after-epochs", type=int, help="epochs of that first cycle")
    args = parser.parse_args()
    if (args.after is None) != (args.after_epochs is None):
        parser.error("--after and --after-epochs go together")
    run(args)


def run(args: argparse.Namespace) -> None:
    RUN, DATA = args.run, args.data

    import torch

    torch.set_num_threads(args.threads)
    RUN.mkdir(parents=True, exist_ok=True)
    calls_file = RUN / "calls.json"
    calls = json.loads(calls_file.read_text()) if calls_file.exists() else []
    call = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "stages": {}}
    calls.append(call)

    begin = time.perf_counter()
    if not DATA.exists():
        DATA.parent.mkdir(parents=True, exist_ok=True)
        problem = pdeml.load_problem("darcy", size=args.size)
        n = args.n_train + args.n_test
        pdeml.generate(problem, n=n, seed=0, path=DATA, workers=args.workers, progress=False)
    call["stages"]["generate"] = time.perf_counter() - begin
    calls_file.write_text(json.dumps(calls, indent=1))

    ds = pdeml.open_dataset(DATA)
    train, test = ds.split(n_test=args.n_test)
    begin = time.perf_counter()
    problem = pdeml.load_problem("darcy", size=args.size)
    model = pdeml.make_surrogate("fno", problem, modes=12, width=32)
    if args.after is not None:
        # The first cycle's finished model: its own call, resumed at its last epoch, so
        # nothing is trained and the weights are exactly those its report scored.
        done = first_cycle_epochs(args.after)
        if done != args.after_epochs:
            sys.exit(f"--after: {args.after} holds {done} epochs, not {args.after_epochs}")
        model.fit(train, **paper_options(args.after, args.after_epochs, 1e-3, "step"))
    model.fit(
        train,
        warm_start=args.after is not None,
        **paper_options(RUN, args.epochs, args.lr, args.scheduler),
    )
    call["stages"]["train"] = time.perf_counter() - begin
    calls_file.write_text(json.dumps(calls, indent=1))

    begin = time.perf_counter()
    inputs = {name: np.asarray(test.inputs[name]) for name in test.input_names}
    pred = model.solve(inputs)["u"]
    error = float(np.mean(relative_l2(pred, np.asarray(test.outputs["u"]))))
    call["stages"]["score"] = time.perf_counter() - begin
    call["relative_l2"] = float(error)
    calls_file.write_text(json.dumps(calls, indent=1))
    write_report(calls, float(error), args)


def first_cycle_epochs(run: Path) -> int:
    """Epochs the checkpoint in ``run`` holds (0 when there is none)."""
    from pdeml.training.checkpoint import load_checkpoint

    if not (run / "checkpoint.pt").exists():
        return 0
    return int(load_checkpoint(run / "checkpoint.pt", map_location="cpu")["epoch"])


def paper_options(run: Path, epochs: int, lr: float, scheduler: str) -> dict:
    """The FNO paper's training settings (batch 20, Adam, weight decay 1e-4), resumable."""
    return {
        "out_dir": run,
        "resume": True,
        "epochs": epochs,
        "batch_size": 20,
        "lr": lr,
        "scheduler": scheduler,
        "step_size": max(1, epochs // 5),
        "checkpoint_every": 1,
        "progress": False,
    }


def epoch_seconds(run: Path) -> list[float]:
    """Seconds of each epoch in ``run``'s metrics log."""
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [h["seconds"] for h in map(json.loads, lines) if "seconds" in h]


def schedule_text(epochs: int, lr: float, scheduler: str) -> str:
    if scheduler == "cosine":
        return f"Adam {lr:g} annealed to 0 (cosine) over {epochs} epochs"
    return f"Adam {lr:g} halved every {max(1, epochs // 5)} epochs, {epochs} epochs"


def write_report(calls: list[dict], error: float, args: argparse.Namespace) -> None:
    seconds = epoch_seconds(args.run)
    cycles = f"{schedule_text(args.epochs, args.lr, args.scheduler)}"
    if args.after is not None:
        first = epoch_seconds(args.after)
        cycles = (
            f"first {schedule_text(args.after_epochs, 1e-3, 'step')} (`{args.after}`), "
            f"then, from that model, {cycles} (a warm restart, `fit(warm_start=True)`; "
            f"{args.after_epochs + args.epochs} epochs in all)"
        )
        seconds = first + seconds
    rows = [
        {
            "call": i + 1,
            "started": c["started"],
            **{f"{k} (s)": round(v, 1) for k, v in c["stages"].items()},
        }
        for i, c in enumerate(calls)
    ]
    problem = pdeml.load_problem("darcy", size=args.size)
    text = _report.header(f"FNO on Darcy s = {problem.resolution} ({args.size}), on a CPU")
    text += (
        f"\n{args.n_train} training samples and {args.n_test} test samples of "
        f"`darcy --size {args.size}` (solved at {problem.solver_resolution} with the default "
        f"harmonic face averages, stored at {problem.resolution}), FNO modes 12, "
        f"width 32, batch 20, weight decay 1e-4, {cycles}, {args.threads} torch "
        "thread(s).\n\n"
        f"**Test relative L2: {error:.4g}** against the paper's {TARGET} "
        f"({'below' if error < TARGET else 'above'} it).\n\n"
        f"Training: {len(seconds)} epochs, median {np.median(seconds):.1f} s per epoch, "
        f"{sum(seconds) / 3600:.2f} h of epochs in all.\n\n"
    )
    text += _report.markdown_table(rows)
    print(text)
    print("wrote", _report.write_report(args.report, text))


if __name__ == "__main__":
    main()
