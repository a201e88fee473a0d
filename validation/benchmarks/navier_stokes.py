"""Speed and float32 accuracy of the Navier–Stokes reference solver, against the FNO authors'.

Three measurements, each written to ``validation/reports/navier_stokes.md``:

1. **Per step.** The CN–Heun pseudo-spectral step (ν = 1e-3, paper forcing, GRF initial
   vorticity) on 64² and 256², one sample and a batch of 8, in float64 and float32, with

   * the numba kernel (``numpy.fft`` through rocket-fft, samples over numba threads), the
     default backend;
   * the same scheme with ``scipy.fft`` on the whole batch and numpy for the pointwise work
     (float64 only: the alternative FFT route, kept to justify the choice);
   * pdeml's torch backend on the CPU;
   * ``navier_stokes_2d`` of the FNO authors' ``ns_2d.py`` (the generator of the paper's
     data; one explicit stage per step, full complex FFTs), in the same dtype.

   All at ``--threads`` threads (default 1: the machine is shared), the implementations
   alternated within each round, ``--rounds`` rounds; the table gives medians and the
   spread of the per-round ratio to the authors' solver.
2. **float32 against float64.** The stored trajectory (``w_in`` ++ ``w_out`` on the stored
   grid) made through the problem with ``dtype="float32"`` and with ``"float64"``, at the
   quick preset and on the paper's grid (256² → 64², dt = 1e-4) for a short ``T``.
3. **Equal accuracy.** The authors' scheme is first order in time, pdeml's second: from the
   same band-limited ``w0`` (both schemes then have the same spatial discretisation), the
   error of each at ``t = 1`` against a float64 run of pdeml with ``dt = 2.5e-5``, and the
   cost per unit time of the largest pdeml step that is at least as accurate as the
   authors' ``dt = 1e-4``.

The authors' file is not part of pdeml; fetch it once::

    curl -o data/ns_2d.py https://raw.githubusercontent.com/neuraloperator/neuraloperator/main/data_generation/navier_stokes/ns_2d.py

Only its function ``navier_stokes_2d`` is taken (its module-level script needs CUDA and
its ``random_fields`` module). Without the file the authors' rows are left out. Run::

    OMP_NUM_THREADS=1 python validation/benchmarks/navier_stokes.py [--quick] [--ns2d PATH]
"""

from __future__ import annotations

import argparse
import ast
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np
import scipy.fft
import torch

try:
    from validation.benchmarks._report import header, markdown_table, write_report
except ImportError:  # run as a script from anywhere: put the repository root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from validation.benchmarks._report import header, markdown_table, write_report

from pdeml.problems import NavierStokes2D
from pdeml.solvers.navier_stokes import integrate_vorticity, spectral_operators

NU = 1e-3
DT = 1e-4
AUTHORS = "FNO authors' ns_2d.py (torch)"
OURS = "pdeml numba (rocket-fft)"


def load_authors_solver(path: Path) -> Callable | None:
    """``navier_stokes_2d`` from the authors' ``ns_2d.py``, without running its script part."""
    if not path.is_file():
        print(f"{path} not found: the authors' rows are left out (see the docstring)")
        return None
    tree = ast.parse(path.read_text(), filename=str(path))
    function = [n for n in tree.body if getattr(n, "name", None) == "navier_stokes_2d"]
    if len(function) != 1:
        raise SystemExit(f"--ns2d {path}: expected one function navier_stokes_2d in it")
    namespace = {"torch": torch, "math": math}
    exec(compile(ast.Module(body=function, type_ignores=[]), str(path), "exec"), namespace)
    return namespace["navier_stokes_2d"]


def authors_run(solver: Callable, w0: np.ndarray, forcing: np.ndarray, dt: float, dtype: str):
    """Their solver from ``w0`` for the steps asked; returns ``run(steps) -> w`` [n, N, N]."""
    kind = getattr(torch, dtype)

    def run(steps: int) -> np.ndarray:
        default = torch.get_default_dtype()
        torch.set_default_dtype(kind)  # their symbols and output follow the default dtype
        try:
            sol, _ = solver(
                torch.as_tensor(w0, dtype=kind),
                torch.as_tensor(forcing, dtype=kind),
                NU,
                (steps - 0.5) * dt,  # they take ceil(T / delta_t) steps: exactly `steps`
                delta_t=dt,
                record_steps=1,
            )
        finally:
            torch.set_default_dtype(default)
        return sol[..., -1].numpy()

    return run


def scipy_fft_variant(w0: np.ndarray, forcing: np.ndarray, steps: int, workers: int) -> np.ndarray:
    """The same CN–Heun steps with batched ``scipy.fft`` and numpy arithmetic (float64)."""
    n = w0.shape[-1]
    ops = spectral_operators(n, NU, DT)
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


def pdeml_run(w0, forcing, dtype: str, backend: str = "numba", dt: float = DT):
    def run(steps: int) -> np.ndarray:
        out = integrate_vorticity(
            w0,
            nu=NU,
            dt=dt,
            n_snapshots=1,
            steps_per_snapshot=steps,
            forcing=forcing,
            backend=backend,
            device="cpu" if backend == "torch" else None,
            dtype=dtype,
        )
        return out[:, 0]

    return run


def implementations(w0, forcing, dtype: str, authors: Callable | None, threads: int) -> dict:
    """Name -> function running ``steps`` steps on the batch ``w0`` in ``dtype``."""
    out = {OURS: pdeml_run(w0, forcing, dtype)}
    if dtype == "float64":
        out[f"numpy + scipy.fft (workers={threads})"] = lambda steps: scipy_fft_variant(
            w0, forcing, steps, threads
        )
    out["pdeml torch CPU"] = pdeml_run(w0, forcing, dtype, backend="torch")
    if authors is not None:
        out[AUTHORS] = authors_run(authors, w0, forcing, DT, dtype)
    return out


def seconds(run: Callable[[int], object], steps: int) -> float:
    start = time.perf_counter()
    run(steps)
    return time.perf_counter() - start


def per_step_rows(args, authors: Callable | None) -> list[dict]:
    rows = []
    for n in (64, 256):
        problem = NavierStokes2D(resolution=n, solver_resolution=n, dt=DT)
        forcing = problem.forcing()
        for batch in (1, 8):
            w0 = problem.sample_initial(batch, seed=0)
            for dtype in ("float64", "float32"):
                runs = implementations(w0, forcing, dtype, authors, args.threads)
                for run in runs.values():
                    run(2)  # warm-up: numba compilation or cache load, FFT plans
                # Steps for about --seconds of the numba kernel, the same for every entry.
                rate = 20 / seconds(runs[OURS], 20)
                steps = max(4, round(args.seconds * rate))
                names = list(runs)
                rates: dict[str, list[float]] = {name: [] for name in names}
                for r in range(args.rounds):
                    order = names[r % len(names) :] + names[: r % len(names)]  # alternate
                    for name in order:
                        rates[name].append(steps / seconds(runs[name], steps))
                for name in names:
                    row = {
                        "grid": f"{n}²",
                        "batch": batch,
                        "dtype": dtype,
                        "implementation": name,
                        "sample-steps/s": batch * statistics.median(rates[name]),
                        "vs numba": statistics.median(
                            a / b for a, b in zip(rates[name], rates[OURS], strict=True)
                        ),
                    }
                    if authors is not None:
                        ratios = [a / b for a, b in zip(rates[name], rates[AUTHORS], strict=True)]
                        row["vs authors (median)"] = statistics.median(ratios)
                        row["vs authors (min–max)"] = f"{min(ratios):.2f}–{max(ratios):.2f}"
                    rows.append(row)
                    print(
                        f"{n}² b{batch} {dtype} {name:34s} {row['sample-steps/s']:9.1f}", flush=True
                    )
    return rows


def relative_l2(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def stored_trajectory(problem: NavierStokes2D, n: int, dtype: str) -> tuple[np.ndarray, float]:
    """``w_in`` ++ ``w_out`` of ``n`` samples on the stored grid, made in ``dtype``; seconds."""
    start = time.perf_counter()
    x = problem.sample_inputs(n, seed=0, resolution=problem.solver_resolution, dtype=dtype)
    y = problem.reference_solver(dtype=dtype).solve(x)
    elapsed = time.perf_counter() - start
    stored = problem.restrict({**x, **y}, problem.solver_resolution, problem.resolution)
    return np.concatenate([stored["w_in"], stored["w_out"]], axis=1), elapsed


def float32_rows(args) -> list[dict]:
    quick = NavierStokes2D(T=20, resolution=32, solver_resolution=64, dt=5e-3)
    settings = [("quick preset", quick, 2)]
    if not args.quick:  # 20 000 steps on 256²: minutes per sample on one core
        settings.append(("paper grid, short T", NavierStokes2D(T=2, t_in=1, dt=1e-4), 1))
    rows = []
    for label, problem, n in settings:
        reference, t64 = stored_trajectory(problem, n, "float64")
        single, t32 = stored_trajectory(problem, n, "float32")
        steps = problem.T * problem.steps_per_unit_time
        per_time = [relative_l2(single[:, k], reference[:, k]) for k in range(problem.T)]
        rows.append(
            {
                "setting": label,
                "samples": n,
                "grid (solver → stored)": f"{problem.solver_resolution}² → {problem.resolution}²",
                "dt": problem.dt,
                "T": problem.T,
                "steps": steps,
                "rel. L2, whole trajectory": relative_l2(single, reference),
                "rel. L2 at t = 1": per_time[0],
                "rel. L2 at t = T": per_time[-1],
                "steps × 2⁻²⁴": steps * 2.0**-24,
                "s/sample float64": t64 / n,
                "s/sample float32": t32 / n,
                "speed-up": t64 / t32,
            }
        )
        print(rows[-1], flush=True)
    return rows


def equal_accuracy_rows(args, authors: Callable) -> list[dict]:
    """Errors at t = 1 against a dt = 2.5e-5 run, from a w0 inside the 2/3 band (64²).

    pdeml's own error at dt = 2.5e-5 is about 16² times below its error at 1e-4 (second
    order), far below every error compared here.
    """
    n, t_end = 64, 1.0
    problem = NavierStokes2D(resolution=n, solver_resolution=n, dt=DT)
    ops = spectral_operators(n, NU, DT)
    w0 = np.fft.irfft2(np.fft.rfft2(problem.sample_initial(2, seed=1)) * ops.mask, s=(n, n))
    forcing = problem.forcing()

    def ours(dt: float) -> Callable[[int], np.ndarray]:
        return pdeml_run(w0, forcing, "float64", dt=dt)

    reference = ours(2.5e-5)(round(t_end / 2.5e-5))
    cases = [(AUTHORS, 1e-4, authors_run(authors, w0, forcing, 1e-4, "float64"))]
    cases += [(OURS, dt, ours(dt)) for dt in (1e-4, 1e-3, 2e-3, 5e-3, 1e-2)]
    rows = []
    for name, dt, run in cases:
        steps = round(t_end / dt)
        start = time.perf_counter()
        error = relative_l2(run(steps), reference)
        cost = time.perf_counter() - start  # warm: both were compiled in the per-step part
        rows.append(
            {
                "implementation": name,
                "dt": dt,
                "steps to t = 1": steps,
                "rel. L2 at t = 1": error,
                "s per unit time (2 samples)": cost,
            }
        )
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter timings, quick preset only")
    parser.add_argument("--threads", type=int, default=1, help="numba and torch threads")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds")
    parser.add_argument("--ns2d", type=Path, default=Path("data/ns_2d.py"), help="authors' file")
    args = parser.parse_args()
    args.seconds = 0.25 if args.quick else 0.6
    numba.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    authors = load_authors_solver(args.ns2d)
    load_before = os.getloadavg()
    step_rows = per_step_rows(args, authors)
    accuracy = float32_rows(args)
    equal = equal_accuracy_rows(args, authors) if authors is not None else []
    load = os.getloadavg()
    text = header("Navier–Stokes reference solver: speed per step, float32, the authors' solver")
    text += (
        f"\nThreads: {args.threads} (numba and torch). Load average at the start "
        f"{load_before[0]:.2f}, {load_before[1]:.2f}, {load_before[2]:.2f}; at the end "
        f"{load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} (a shared machine: compare the ratios, "
        "which come from runs alternated within each round, rather than the rates).\n"
        "\n## Per step, at equal dtype\n\n"
        f"ν = {NU}, dt = {DT}, GRF initial vorticity of the paper, paper forcing. pdeml's step "
        "is CN–Heun (two advection evaluations, 10 real FFTs of the grid per sample); the "
        "authors' is one explicit stage (5 complex FFTs). Median of "
        f"{args.rounds} alternated rounds of the same number of steps (about {args.seconds} s "
        "of the numba kernel each). `vs numba` and `vs authors` are medians of the per-round "
        "rate ratios (> 1: that row is faster).\n\n"
    )
    text += markdown_table(step_rows)
    text += (
        "\n## float32 against float64\n\n"
        "The stored trajectory (`w_in` ++ `w_out`, 2 samples, strided to the stored grid) "
        'made through `NavierStokes2D` with `dtype="float32"` (inputs and solve) against '
        '`dtype="float64"`. `steps × 2⁻²⁴` is what one uncancelled float32 rounding of the '
        "state per step would add up to: the error of a plain float32 update grows so "
        "(about 0.2 of it), the compensated update of both backends keeps a few 2⁻²⁴ "
        "whatever the step count. Seconds include the inputs.\n\n"
    )
    text += markdown_table(accuracy)
    if equal:
        text += (
            "\n## Equal accuracy\n\n"
            "64², 2 samples from a GRF `w0` projected onto the 2/3 band (then the two schemes "
            "discretise space identically), float64, error at t = 1 against pdeml with "
            "dt = 2.5e-5. The authors' dt = 1e-4 is their data recipe.\n\n"
        )
        text += markdown_table(equal)
    path = write_report("navier_stokes", text)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
