"""Where one FNO training step spends its time: pdeml's against neuralop's, under torch.profiler.

The timing matrix (``fno_vs_neuraloperator.py --matrix``) says how fast each network trains;
this says why. For one setting it profiles ``--steps`` optimiser steps of each network (the
matrix's step: zero_grad, forward, relative L2 loss, backward, Adam, batches already on the
device), one network after the other, after a warm-up, and prints per step:

- ``wall``: the step's wall-clock time;
- ``kernels``: device kernels launched (CUDA) and their summed device time: where the wall
  time is much larger than the kernel time, the step waits on the host launching kernels
  (launch-bound), not on the device computing;
- ``ops``: operators dispatched by the host (aten calls), and the ten costliest by host time.

    python validation/benchmarks/fno_step_profile.py --dims 2 --grid 85 --batch 20
    python validation/benchmarks/fno_step_profile.py --dims 1 --grid 8192 --batch 64 --device cuda
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _fno_matrix

WARMUP = 5


def profile_steps(net: torch.nn.Module, cell: _fno_matrix.Cell, steps: int) -> dict[str, object]:
    """Profile ``steps`` optimiser steps of ``net`` on random data shaped for ``cell``."""
    shape = (cell.batch, 1, *([cell.grid] * cell.dims))  # channels first, as both take
    x = torch.randn(shape, device=cell.device)
    y = torch.randn(shape, device=cell.device)
    step = _fno_matrix._step_fn(net, cell, x, y)
    for _ in range(WARMUP):
        step()
    _fno_matrix._sync(cell.device)
    cuda = cell.device.startswith("cuda")
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        start = time.perf_counter()
        for _ in range(steps):
            step()
        _fno_matrix._sync(cell.device)
        wall = (time.perf_counter() - start) / steps
    events = prof.events()
    kernels = [e for e in events if e.device_type.name == "CUDA"]
    ops = [e for e in events if e.device_type.name == "CPU" and e.name.startswith("aten::")]
    top = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10)
    return {
        "wall_ms": 1e3 * wall,
        "kernels_per_step": len(kernels) / steps,
        "kernel_ms": sum(e.device_time for e in kernels) / 1e3 / steps,
        "ops_per_step": len(ops) / steps,
        "top": top,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dims", type=int, choices=(1, 2), default=2)
    parser.add_argument("--grid", type=int, default=85)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--top", action="store_true", help="print the ten costliest operators")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cell = _fno_matrix.Cell(
        args.dims, args.grid, args.batch, args.threads, args.device, "fp32", False, args.batch
    )
    pair = {
        name: net.to(args.device)
        for name, net in _fno_matrix.build_pair(args.dims, args.grid).items()
    }
    results = {name: profile_steps(net, cell, args.steps) for name, net in pair.items()}
    print(f"# one training step, {args.dims}D grid {args.grid}, batch {args.batch}, {args.device}")
    print("| network | wall (ms) | kernels | kernel time (ms) | device busy | host ops |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        busy = r["kernel_ms"] / r["wall_ms"] if r["kernels_per_step"] else float("nan")
        print(
            f"| {name} | {r['wall_ms']:.2f} | {r['kernels_per_step']:.0f} | "
            f"{r['kernel_ms']:.2f} | {busy:.0%} | {r['ops_per_step']:.0f} |"
        )
    if args.top:
        for name, r in results.items():
            print(f"\n## {name}: the ten costliest operators by host time\n\n{r['top']}")


if __name__ == "__main__":
    main()
