"""Speed of the Navier–Stokes reference solver: time steps per second, numba against torch.

Runs the CN–Heun pseudo-spectral step (ν = 1e-3, paper forcing, GRF initial vorticity) on
64² and 256², one sample and a batch of 8, with

* the numba kernel (``numpy.fft`` through rocket-fft, samples over numba threads), the
  default backend;
* the same scheme with ``scipy.fft(..., workers=cores)`` on the whole batch and numpy for
  the pointwise work (the alternative FFT route, kept here to justify the choice);
* the torch backend on the CPU with one thread and with all threads, and on CUDA when
  present.

Each entry is the best of a few repeats after a warm-up run (compilation, FFT plans).
Writes ``validation/reports/navier_stokes.md``::

    python validation/benchmarks/navier_stokes.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np
import scipy.fft

try:
    from validation.benchmarks._report import header, markdown_table, write_report
except ImportError:  # run as a script from anywhere: put the repository root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from validation.benchmarks._report import header, markdown_table, write_report

from pdeml.problems import NavierStokes2D
from pdeml.solvers.navier_stokes import integrate_vorticity, spectral_operators

NU = 1e-3
DT = 1e-4


def scipy_fft_variant(w0: np.ndarray, forcing: np.ndarray, steps: int) -> np.ndarray:
    """The same CN–Heun steps with batched ``scipy.fft`` (all cores) and numpy arithmetic."""
    n = w0.shape[-1]
    ops = spectral_operators(n, NU, DT)
    workers = os.cpu_count() or 1
    derivatives = ops.derivatives[:, None]
    forcing_hat = np.fft.rfft2(forcing)

    def explicit(wh: np.ndarray) -> np.ndarray:
        u, v, wx, wy = scipy.fft.irfft2(derivatives * wh, s=(n, n), workers=workers)
        return forcing_hat - ops.mask * scipy.fft.rfft2(u * wx + v * wy, workers=workers)

    wh = scipy.fft.rfft2(w0, workers=workers)
    for _ in range(steps):
        first = explicit(wh)
        second = explicit(ops.gain * wh + ops.step * first)
        wh = ops.gain * wh + (0.5 * ops.step) * (first + second)
    return scipy.fft.irfft2(wh, s=(n, n), workers=workers)


def best_seconds(run: Callable[[int], object], steps: int, repeats: int) -> float:
    run(1)  # warm-up: numba compilation or cache load, FFT plans, CUDA context
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run(steps)
        best = min(best, time.perf_counter() - start)
    return best


def implementations(w0: np.ndarray, forcing: np.ndarray) -> dict[str, Callable[[int], object]]:
    """Name -> function running ``steps`` steps on the batch ``w0``."""

    def with_backend(backend: str, device: str | None = None, threads: int | None = None):
        def run(steps: int) -> object:
            previous = None
            if threads is not None:
                import torch

                previous = torch.get_num_threads()
                torch.set_num_threads(threads)
            try:
                return integrate_vorticity(
                    w0,
                    nu=NU,
                    dt=DT,
                    n_snapshots=1,
                    steps_per_snapshot=steps,
                    forcing=forcing,
                    backend=backend,
                    device=device,
                )
            finally:
                if previous is not None:
                    torch.set_num_threads(previous)

        return run

    cores = os.cpu_count() or 1
    out = {
        f"numba + numpy.fft/rocket-fft ({numba.get_num_threads()} threads)": with_backend("numba"),
        f"numpy + scipy.fft (workers={cores})": lambda steps: scipy_fft_variant(w0, forcing, steps),
        "torch CPU (1 thread)": with_backend("torch", "cpu", threads=1),
        f"torch CPU ({cores} threads)": with_backend("torch", "cpu", threads=cores),
    }
    try:
        import torch

        if torch.cuda.is_available():
            out["torch CUDA"] = with_backend("torch", "cuda")
    except ImportError:
        pass
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats")
    args = parser.parse_args()
    repeats = 2 if args.quick else 3
    rows = []
    for n in (64, 256):
        problem = NavierStokes2D(resolution=n, solver_resolution=n, dt=DT)
        for batch in (1, 8):
            w0 = problem.sample_initial(batch, seed=0)
            # About a second per entry for the numba kernel on 2 cores.
            steps = (1000 if n == 64 else 60) // (1 if batch == 1 else 4)
            steps = max(4, steps // (4 if args.quick else 1))
            reference = None
            for name, run in implementations(w0, problem.forcing()).items():
                seconds = best_seconds(run, steps, repeats)
                rate = steps / seconds
                reference = rate if reference is None else reference
                rows.append(
                    {
                        "grid": f"{n}²",
                        "batch": batch,
                        "implementation": name,
                        "steps/s": rate,
                        "sample-steps/s": rate * batch,
                        "vs numba": rate / reference,
                    }
                )
                print(f"{n}² batch {batch:2d} {name:40s} {rate:10.1f} steps/s", flush=True)
    load = os.getloadavg()
    text = header("Navier–Stokes reference solver: time steps per second")
    text += (
        f"\nCN–Heun pseudo-spectral step with the 2/3 rule, ν = {NU}, dt = {DT}, float64, "
        f"GRF initial vorticity of the paper. Best of {repeats} after a warm-up. "
        "One step is two evaluations of the advection term, 10 FFTs of the grid per sample. "
        "`vs numba` is the rate divided by the numba kernel's at the same grid and batch. "
        f"Load average before writing: {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} "
        "(the machine is shared; treat the numbers as lower bounds).\n\n"
    )
    text += markdown_table(rows)
    path = write_report("navier_stokes", text)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
