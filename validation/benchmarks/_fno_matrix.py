"""The timing matrix of ``fno_vs_neuraloperator.py --matrix``: pdeml's FNO against neuralop's.

Each cell is one setting (grid, batch, threads, device, precision, compilation); in it both
networks, built to the same architecture and parameter count, are timed on the same random
data, alternated within each repetition:

- ``step``: one optimiser step (zero_grad, forward, relative L2 loss, backward, Adam), with
  the batches already on the device: the network's forward+backward alone;
- ``epoch``: one epoch of pdeml's :class:`~pdeml.training.trainer.Trainer` over ``n``
  samples (both networks go through the same Trainer, as a user's ``fit`` does);
- ``rest``: ``epoch`` minus ``steps × step``: batching, index copies, loss bookkeeping;
- ``infer 1`` and ``infer B``: inference per sample, one sample per call and ``batch``
  samples per call.

Timings are medians over the repetitions, with the min–max spread; a ratio above one means
pdeml is faster. Only speed is measured here: the accuracy at equal settings is the
``--size`` run of the same script (same architectures, trained on Darcy data).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pdeml.nn.fourier import count_parameters
from pdeml.training.losses import relative_lp
from pdeml.training.optimizers import make_optimizer

#: Paper settings per dimension: modes, width (Darcy 2D and Burgers 1D of the FNO paper).
NETWORKS = {2: (12, 32), 1: (16, 64)}


@dataclass(frozen=True)
class Cell:
    """One setting of the matrix."""

    dims: int
    grid: int
    batch: int
    threads: int
    device: str
    precision: str  # "fp32" or "bf16" (autocast; GPU only)
    compiled: bool
    samples: int


def neuralop_fno(n_modes: tuple[int, ...], width: int, padding: float | None) -> torch.nn.Module:
    """neuraloperator's FNO configured as the paper's (and pdeml's) architecture.

    A single linear lifting, four Fourier layers with a linear skip and no channel MLP,
    projection through 128 channels, grid coordinates appended. neuralop counts modes over
    the full spectrum: it keeps ``n // 2`` on each side of a full axis and ``n // 2 + 1`` of
    the real-FFT axis, so ``(2m, 2m - 1)`` keeps the same weights as pdeml's ``modes=m``
    (checked: equal parameter counts in the reports).
    """
    from neuralop.models import FNO as NeuralopFNO

    return NeuralopFNO(
        n_modes=n_modes,
        in_channels=1,
        out_channels=1,
        hidden_channels=width,
        n_layers=4,
        lifting_channel_ratio=0,
        projection_channel_ratio=128 / width,
        use_channel_mlp=False,
        fno_skip="linear",
        domain_padding=padding,
        positional_embedding="grid",
    )


def build_pair(dims: int, grid: int) -> dict[str, torch.nn.Module]:
    """pdeml's and neuralop's FNO of the paper's architecture for one dimension and grid."""
    from pdeml.nn.fourier import FNO, supported_modes

    modes, width = NETWORKS[dims]
    if dims == 2:
        # Darcy is not periodic: ~10 % padding (9 points at 85, as the paper), both sides.
        pad = max(1, round(grid * 9 / 85))
        # The modes pdeml's fit trains at this grid (it clips the rest with a warning): the
        # 16² grid, padded to 18², carries 8, not the paper's 12. Both networks get them.
        modes = min(modes, *supported_modes((grid, grid), (pad, pad)))
        ours = FNO(1, 1, (modes, modes), width=width, padding=(pad, pad), periodic=(False, False))
        n_modes: tuple[int, ...] = (2 * modes, 2 * modes - 1)
        padding: float | None = pad / grid
    else:
        ours = FNO(1, 1, (modes,), width=width, padding=(0,), periodic=(True,))
        # The real-FFT axis keeps n // 2 + 1 of neuralop's count: 2m - 1 keeps m.
        n_modes = (2 * modes - 1,)
        padding = None
    theirs = neuralop_fno(n_modes, width, padding)
    return {"pdeml": ours, "neuraloperator": theirs}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _autocast(cell: Cell) -> Any:
    if cell.precision == "bf16":
        return torch.autocast(cell.device.split(":")[0], dtype=torch.bfloat16)
    return nullcontext()


def _time(fn: Callable[[], None], device: str, repeat: int) -> float:
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    _sync(device)
    return (time.perf_counter() - start) / repeat


def _step_fn(net: torch.nn.Module, cell: Cell, x: torch.Tensor, y: torch.Tensor):
    # The Trainer's optimiser, so that `step` and `epoch` time the same update.
    optimizer = make_optimizer("adam", net.parameters(), 1e-3)
    batches = [(x[i : i + cell.batch], y[i : i + cell.batch]) for i in range(0, len(x), cell.batch)]
    state = {"k": 0}

    def step() -> None:
        xb, yb = batches[state["k"] % len(batches)]
        state["k"] += 1
        optimizer.zero_grad(set_to_none=True)
        with _autocast(cell):
            pred = net(xb)
        loss = relative_lp(pred.float(), yb)
        loss.backward()
        optimizer.step()

    return step


def _epoch_seconds(net: torch.nn.Module, cell: Cell, x: torch.Tensor, y: torch.Tensor) -> float:
    from pdeml.training.trainer import Trainer, TrainerConfig

    config = TrainerConfig(
        # The first epoch carries one-off costs (allocator, FFT plans): the second is timed.
        epochs=2,
        batch_size=cell.batch,
        device=cell.device,
        amp=cell.precision == "bf16",
        # The network comes compiled when the cell asks (the Trainer's `compile` is that call).
        compile=False,
        progress=False,
    )
    history = Trainer(config).fit(net, relative_lp, (x, y))
    return float(history[-1]["seconds"])


def _infer_fn(net: torch.nn.Module, cell: Cell, x: torch.Tensor, size: int):
    chunks = [x[i : i + size] for i in range(0, min(len(x), 4 * size), size)]

    def infer() -> None:
        with torch.no_grad(), _autocast(cell):
            for chunk in chunks:
                net(chunk)

    return infer, sum(len(c) for c in chunks)


def time_cell(cell: Cell, repeats: int) -> dict[str, Any]:
    """Time both networks in one cell, alternated; returns the row of medians and spreads."""
    torch.set_num_threads(cell.threads)
    gen = torch.Generator().manual_seed(0)
    shape = (cell.samples, 1, *(cell.grid,) * cell.dims)
    x = torch.randn(shape, generator=gen).to(cell.device)
    y = torch.randn(shape, generator=gen).to(cell.device)
    nets = {}
    for name, net in build_pair(cell.dims, cell.grid).items():
        torch.manual_seed(0)
        net = net.to(cell.device)
        nets[name] = net
    params = {name: count_parameters(net) for name, net in nets.items()}
    runners = {}
    for name, net in nets.items():
        # Both take channels first, [batch, channels, *space].
        runners[name] = torch.compile(net) if cell.compiled else net
    timings: dict[str, dict[str, list[float]]] = {n: {} for n in nets}
    steps = math.ceil(cell.samples / cell.batch)
    failed: dict[str, str] = {}
    for name, module in runners.items():
        # Warm-up: allocator, FFT plans, compilation. A package that fails here (bf16 FFTs
        # on cuFFT, say) is reported in the row and the other one is still timed.
        try:
            _step_fn(module, cell, x, y)()
            _time(_step_fn(module, cell, x, y), cell.device, 2)
        except Exception as error:
            failed[name] = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
    for name in failed:
        del runners[name], timings[name]
    if not runners:
        raise RuntimeError("; ".join(f"{n}: {e}" for n, e in failed.items()))
    for _ in range(repeats):
        for name, module in runners.items():
            record = timings[name]
            module.train()
            step = _step_fn(module, cell, x, y)
            record.setdefault("step", []).append(_time(step, cell.device, max(3, steps // 2)))
            record.setdefault("epoch", []).append(_epoch_seconds(module, cell, x, y))
            module.eval()
            for label, size in (("infer 1", 1), ("infer B", cell.batch)):
                infer, count = _infer_fn(module, cell, x, size)
                infer()
                record.setdefault(label, []).append(_time(infer, cell.device, 2) / count)
    row: dict[str, Any] = {**asdict(cell), "parameters": params, "failed": failed}
    for name, record in timings.items():
        row[name] = {k: _summary(v) for k, v in record.items()}
        row[name]["rest"] = max(
            0.0, row[name]["epoch"]["median"] - steps * row[name]["step"]["median"]
        )
    return row


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "median": float(np.median(values)),
        "min": float(min(values)),
        "max": float(max(values)),
    }


def cells(
    grids2d: Iterable[int],
    grids1d: Iterable[int],
    batches: Iterable[int],
    threads: Iterable[int],
    device: str,
    precisions: Iterable[str],
    compiled: Iterable[bool],
) -> list[Cell]:
    """The matrix's cells, 2D first; the sample count keeps each epoch short."""
    out = []
    for dims, grids in ((2, grids2d), (1, grids1d)):
        for grid in grids:
            points = grid**dims
            # About 5e5 grid values per epoch on CPU (60 samples at 85², 25 at 141², ...),
            # at least two batches, at most 200 samples; a GPU takes 16x more.
            budget = 5e5 if device == "cpu" else 8e6
            for batch in batches:
                samples = max(2 * batch, min(200, int(budget // points) // batch * batch))
                for t in threads:
                    for p in precisions:
                        for c in compiled:
                            out.append(Cell(dims, grid, batch, t, device, p, c, samples))
    return out


def run_matrix(cell_list: list[Cell], repeats: int, log: Path | None, say=print) -> list[dict]:
    """Time every cell, appending each row to ``log`` (JSON lines) as it finishes."""
    rows = []
    for i, cell in enumerate(cell_list, 1):
        begin = time.perf_counter()
        try:
            row = time_cell(cell, repeats)
        except Exception as error:  # a failing cell is reported, not fatal for the rest
            row = {**asdict(cell), "error": f"{type(error).__name__}: {str(error)[:300]}"}
        row["wall"] = time.perf_counter() - begin
        rows.append(row)
        if log is not None:
            with open(log, "a") as f:
                f.write(json.dumps(row) + "\n")
        say(f"[{i}/{len(cell_list)}] {describe(cell)}: {ratio_text(row)} ({row['wall']:.1f} s)")
    return rows


def describe(cell: Cell) -> str:
    grid = "x".join([str(cell.grid)] * cell.dims)
    extra = f", {cell.precision}" + (", compiled" if cell.compiled else "")
    return f"{grid} batch {cell.batch}, {cell.threads} thr, {cell.device}{extra}"


def ratio_text(row: dict) -> str:
    if "error" in row:
        return "failed: " + row["error"]
    if row.get("failed"):
        return "failed: " + "; ".join(f"{n}: {e}" for n, e in row["failed"].items())
    ours, theirs = row["pdeml"], row["neuraloperator"]
    return (
        f"epoch {theirs['epoch']['median'] / ours['epoch']['median']:.2f}x, "
        f"step {theirs['step']['median'] / ours['step']['median']:.2f}x"
    )


def table(rows: list[dict]) -> list[dict[str, Any]]:
    """Report rows: per cell, pdeml's seconds and neuralop / pdeml ratios (median [min-max])."""
    keys = ("epoch", "step", "infer 1", "infer B")
    out = []
    for row in rows:
        cell = Cell(**{k: row[k] for k in Cell.__dataclass_fields__})
        entry: dict[str, Any] = {"cell": describe(cell), "samples": cell.samples}
        entry["params (pdeml / neuralop)"] = ""
        entry["pdeml epoch (s)"] = ""
        entry.update({f"{key} ratio": "" for key in keys})
        entry["rest of epoch, pdeml / neuralop (s)"] = ""
        entry["note"] = ""
        failed = dict(row.get("failed", {}))
        if "error" in row:
            failed = {"cell": row["error"]}
        entry["note"] = "; ".join(
            f"{n} failed: {e.splitlines()[0][:160]}" for n, e in failed.items()
        )
        if "parameters" in row:
            params = row["parameters"]
            entry["params (pdeml / neuralop)"] = f"{params['pdeml']} / {params['neuraloperator']}"
        ours, theirs = row.get("pdeml"), row.get("neuraloperator")
        if ours:
            entry["pdeml epoch (s)"] = f"{ours['epoch']['median']:.4g}"
        if ours and theirs:
            for key in keys:
                mid = theirs[key]["median"] / ours[key]["median"]
                low = theirs[key]["min"] / ours[key]["max"]
                high = theirs[key]["max"] / ours[key]["min"]
                entry[f"{key} ratio"] = f"{mid:.2f} [{low:.2f}-{high:.2f}]"
            steps = math.ceil(cell.samples / cell.batch)
            entry["rest of epoch, pdeml / neuralop (s)"] = (
                f"{ours['rest']:.3g} / {theirs['rest']:.3g} ({steps} steps)"
            )
        out.append(entry)
    return out


def read_log(paths: Iterable[Path]) -> list[dict]:
    """The rows of one or more JSON-lines logs written by :func:`run_matrix`."""
    rows = []
    for path in paths:
        rows += [json.loads(line) for line in Path(path).read_text().splitlines() if line]
    return rows
