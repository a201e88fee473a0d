"""pdeml's FNO against the FNO of the ``neuraloperator`` package, same data, same size.

Both networks are trained by the same pdeml Trainer (same optimiser, schedule, batches,
normaliser and loss), so the timings compare the network implementations. The
neuraloperator FNO is configured to the same architecture as the paper's (single linear
lifting, four Fourier layers with a linear skip and no channel MLP, projection through 128
channels, GELU, grid coordinates appended, ~10 % domain padding on non-periodic Darcy).

Run (needs ``pip install -e ".[bench]"``)::

    python validation/benchmarks/fno_vs_neuraloperator.py --size quick
    python validation/benchmarks/fno_vs_neuraloperator.py --size paper   # GPU
    python validation/benchmarks/fno_vs_neuraloperator.py --matrix       # timing matrix
    python validation/benchmarks/fno_vs_neuraloperator.py --matrix --device cuda \
        --precision fp32,bf16 --compile off,on

It prints a table and writes ``validation/reports/fno_vs_neuraloperator_<size>_<device>.md``
(``--matrix``: ``fno_matrix_<device>.md``; the cells are described in ``_fno_matrix.py``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _fno_matrix
import _report

import pdeml
from pdeml.nn.fourier import count_parameters
from pdeml.problems import Darcy2D
from pdeml.surrogates.neural import NormalizedOperator
from pdeml.training.losses import relative_lp
from pdeml.training.normalize import make_normalizer
from pdeml.training.trainer import Trainer, TrainerConfig

SIZES = {
    # resolution, solver_resolution, n_train, n_test, epochs, modes, width, batch
    "smoke": (29, 85, 40, 10, 2, 8, 16, 10),
    "quick": (43, 85, 200, 50, 20, 12, 32, 20),
    "paper": (85, 421, 1000, 200, 50, 12, 32, 20),
}


def pdeml_fno(modes: int, width: int) -> torch.nn.Module:
    from pdeml.nn.fourier import FNO

    return FNO(1, 1, (modes, modes), width=width, padding=(9, 9), periodic=(False, False))


def run(size: str, device: str) -> str:
    res, solver_res, n_train, n_test, epochs, modes, width, batch = SIZES[size]
    problem = Darcy2D(resolution=res, solver_resolution=solver_res)
    path = Path("data") / f"bench_darcy_{res}_{solver_res}_{n_train + n_test}.h5"
    if path.exists():
        ds = pdeml.open_dataset(path)
    else:
        ds = pdeml.generate(problem, n=n_train + n_test, seed=0, path=path)
    train, test = ds.split(n_test=n_test)
    x, y = train.torch()[:]
    xt, yt = test.torch()[:]
    config = TrainerConfig(
        epochs=epochs, batch_size=batch, lr=1e-3, step_size=100, device=device, progress=False
    )
    rows = []
    builders = {
        "pdeml": lambda: pdeml_fno(modes, width),
        "neuraloperator": lambda: _fno_matrix.neuralop_fno(
            (2 * modes, 2 * modes - 1), width, 9 / res
        ),
    }
    for name, build in builders.items():
        torch.manual_seed(0)
        net = build()
        model = NormalizedOperator(
            net,
            make_normalizer("pointwise", tuple(x.shape[1:]), False),
            make_normalizer("pointwise", tuple(y.shape[1:]), False),
        )
        model.x_norm.fit(x)
        model.y_norm.fit(y)
        trainer = Trainer(config)
        history = trainer.fit(model, relative_lp, (x, y))
        # The first epoch carries one-off costs (allocator warm-up, FFT plans).
        epoch_seconds = float(np.median([h["seconds"] for h in history[1:] or history]))
        model.eval()
        xt_dev = xt.to(device)
        with torch.no_grad():
            model(xt_dev[:batch])
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(3):
                pred = torch.cat([model(xt_dev[i : i + batch]) for i in range(0, len(xt), batch)])
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            infer = (time.perf_counter() - start) / 3 / len(xt)
        error = float(relative_lp(pred.cpu(), yt))
        rows.append(
            {
                "implementation": name,
                "parameters": count_parameters(net),
                "seconds/epoch": epoch_seconds,
                "ms/sample inference": 1e3 * infer,
                "test rel. L2": error,
            }
        )
    ours, theirs = rows
    ratio = {
        "implementation": "ratio neuralop / pdeml",
        "parameters": "",
        "seconds/epoch": theirs["seconds/epoch"] / ours["seconds/epoch"],
        "ms/sample inference": theirs["ms/sample inference"] / ours["ms/sample inference"],
        "test rel. L2": theirs["test rel. L2"] / ours["test rel. L2"],
    }
    setting = (
        f"Darcy s={res} (solved at {solver_res}), {n_train} train / {n_test} test, "
        f"{epochs} epochs, batch {batch}, modes {modes}, width {width}, device {device}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    return setting + "\n\n" + _report.markdown_table([*rows, ratio])


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def run_matrix(args: argparse.Namespace) -> None:
    compiled = [{"off": False, "on": True}[v] for v in args.compile.split(",")]
    cells = _fno_matrix.cells(
        _ints(args.grids),
        _ints(args.grids1d),
        _ints(args.batch),
        _ints(args.threads),
        args.device,
        args.precision.split(","),
        compiled,
    )
    if args.from_log:
        # Rendered here from rows measured elsewhere (a GPU lease): the header is this
        # machine's, so the measuring machine is stated from --measured-on.
        rows = _fno_matrix.read_log(Path(p) for p in args.from_log.split(","))
        kind = "gpu" if rows and rows[0]["device"].startswith("cuda") else "cpu"
        where = f"Measured on: {args.measured_on}\n\n" if args.measured_on else ""
        settings = f"Rendered from {args.from_log}.\n\n"
    else:
        log = Path(args.log) if args.log else None
        rows = _fno_matrix.run_matrix(cells, args.repeats, log)
        kind = "gpu" if args.device.startswith("cuda") else "cpu"
        where = ""
        settings = (
            f"torch {torch.__version__}, {args.repeats} repetitions per cell, alternated.\n\n"
        )
    text = _report.header(f"FNO timing matrix: pdeml against neuraloperator ({kind})")
    text += "\n" + where + (_fno_matrix.__doc__ or "").strip() + "\n\n" + settings
    text += _report.markdown_table(_fno_matrix.table(rows))
    print(text)
    if args.write:
        print("wrote", _report.write_report(f"fno_matrix_{kind}", text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="quick")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--matrix", action="store_true", help="the timing matrix instead")
    parser.add_argument("--grids", default="16,43,85,141", help="2D grids of the matrix")
    parser.add_argument("--grids1d", default="1024,8192", help="1D grids of the matrix")
    parser.add_argument("--batch", default="8,20,64", help="batch sizes of the matrix")
    parser.add_argument("--threads", default="1,2", help="torch threads of the matrix")
    parser.add_argument("--precision", default="fp32", help="fp32 and/or bf16 (GPU)")
    parser.add_argument("--compile", default="off", help="off and/or on (torch.compile)")
    parser.add_argument("--repeats", type=int, default=3, help="alternated repetitions")
    parser.add_argument("--log", default="", help="JSON-lines file, a row per finished cell")
    parser.add_argument("--write", action="store_true", help="write the matrix report")
    parser.add_argument("--from-log", default="", help="render the matrix from JSON-lines logs")
    parser.add_argument("--measured-on", default="", help="with --from-log: where it ran")
    args = parser.parse_args()
    if args.matrix:
        run_matrix(args)
        return
    body = run(args.size, args.device)
    text = _report.header(f"FNO training speed: pdeml against neuraloperator ({args.size})")
    text += "\n" + body
    print(text)
    kind = "gpu" if args.device.startswith("cuda") else "cpu"
    print("wrote", _report.write_report(f"fno_vs_neuraloperator_{args.size}_{kind}", text))


if __name__ == "__main__":
    main()
