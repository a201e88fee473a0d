"""How well the a-posteriori error indicators track the true errors of trained surrogates.

For Darcy, Navier–Stokes and Burgers at the quick suite's sizes (the same datasets, files
under ``data/suites`` named by their content, generated if missing, and the same FNO
recipes as ``validation/suites/quick.toml``), and for Darcy on meshes with the MMGP of
``validation/suites/darcy_mesh_quick.toml``, the script trains each surrogate (or loads it
from ``--runs``), predicts the test set and compares, sample by sample, the problem's error
indicator with the true relative L2 error against the stored reference (on meshes: on the
real nodes, never the padding):

* Spearman rank correlation; the median and largest ratio of estimate to true error;
* the worst 5 %: mean true error of the samples with the largest estimates against that of
  the truly worst, and how many of the truly worst are among them;
* the indicator's floor: its estimate for the stored reference outputs themselves;
* its cost per sample against the surrogate's and the reference solver's (on the solver
  grid the data were made on);
* the guard at a few tolerances: accepted fraction and the accepted samples' worst true
  error;
* Darcy: CG iterations of the reference solve warm-started from the FNO against cold;
* the out-of-distribution score (PCA Mahalanobis, fitted on the training inputs): its rank
  correlation with the true error on the test set, and how many inputs of a shifted
  distribution it flags, with the FNO's error on them.

Run (CPU, a few minutes on 2 cores; the surrogates train unless ``--runs`` holds them)::

    python validation/studies/indicators.py --runs runs/indicators

It prints the tables and writes ``validation/reports/indicators_quick.md``. With
``--cases`` naming some problems only, their rows replace theirs in the existing report and
the other problems' rows are kept as they were (the header says which, and from when).
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import pdeml
from pdeml.ood import InputDistance
from pdeml.validation.entry import dataset_path
from pdeml.validation.guarded import indicator_quality
from pdeml.validation.provenance import header, markdown_table, write_markdown
from pdeml.validation.suite import ProblemCase, Suite

REPORTS = Path(__file__).resolve().parents[1] / "reports"
#: Per case: whether its FNO was trained in this run or loaded (written into the report).
ORIGIN: dict[str, str] = {}

#: The quick suite's problems and surrogate recipes (``surrogate``: name, hyperparameters,
#: training options); ``shift``: parameters of a shifted input distribution for the
#: out-of-distribution check (None: no check); ``tols``: guard tolerances to tabulate.
CASES: dict[str, dict[str, Any]] = {
    "darcy": {
        "n_train": 200,
        "n_test": 40,
        "surrogate": (
            "fno",
            {"modes": 8, "width": 24},
            {"epochs": 40, "batch_size": 20, "step_size": 15},
        ),
        "shift": {"threshold": 0.2},
        "tols": (0.03, 0.05, 0.08, 0.1),
        "variants": {"grid_error=False": {"grid_error": False}},
    },
    "navier_stokes": {
        "n_train": 100,
        "n_test": 20,
        "surrogate": (
            "fno",
            {"modes": 8, "width": 20, "variant": "recurrent"},
            {"epochs": 20, "batch_size": 20, "step_size": 10},
        ),
        "shift": {"sigma": 2 * 7.0**1.5},
        "tols": (0.1, 0.15, 0.2),
        "variants": {},
    },
    "burgers": {
        "n_train": 200,
        "n_test": 40,
        "surrogate": (
            "fno",
            {"modes": 16, "width": 32},
            {"epochs": 60, "batch_size": 20, "step_size": 20},
        ),
        "shift": {"sigma": 50.0},
        "tols": (0.005, 0.01, 0.02),
        "variants": {},
    },
    # The darcy_mesh_quick suite's MMGP. No out-of-distribution check: the score's PCA of
    # the padded mesh arrays is not meant for meshes.
    "darcy_mesh": {
        "n_train": 200,
        "n_test": 50,
        "surrogate": ("mmgp", {"rings": 12}, {"seed": 0}),
        "shift": None,
        "tols": (0.002, 0.005, 0.01),
        "variants": {"norm=energy": {"norm": "energy"}},
    },
}


def relative_l2(pred: dict, ref: dict, problem: Any = None, inputs: Any = None) -> np.ndarray:
    """Per-sample relative L2 error, mean over fields (real values only, given the problem)."""
    out = []
    for k, r in ref.items():
        n = len(r)
        mask = None if problem is None else problem.output_mask(k, inputs)
        diff = pred[k] - r if mask is None else np.where(mask, pred[k] - r, 0.0)
        d = np.linalg.norm(diff.reshape(n, -1), axis=1)
        out.append(d / np.linalg.norm(r.reshape(n, -1), axis=1))
    return np.mean(out, axis=0)


def per_sample_ms(fn: Any, n: int) -> float:
    """Milliseconds per sample of ``fn()`` (after one warm-up call)."""
    fn()
    begin = time.perf_counter()
    fn()
    return 1e3 * (time.perf_counter() - begin) / n


def load(case: str, data_dir: Path, runs: Path | None) -> tuple[Any, Any, Any]:
    """Train and test sets of the quick suite and the surrogate trained on them."""
    spec = CASES[case]
    problem_case = ProblemCase(
        id=case, preset=case, size="quick", n_train=spec["n_train"], n_test=spec["n_test"]
    )
    suite = Suite("quick", "", data_dir, (), (), ())
    path = dataset_path(suite, problem_case)
    n = spec["n_train"] + spec["n_test"]
    problem = problem_case.problem()
    ds = pdeml.open_dataset(path) if path.exists() else pdeml.generate(problem, n, 0, path)
    train, test = ds.split(n_test=spec["n_test"])
    run = runs / case if runs is not None else None
    if run is not None and run.exists():
        ORIGIN[case] = f"loaded from {run} (trained there by an earlier run of this script)"
        return train, test, pdeml.load_surrogate(run)
    ORIGIN[case] = "trained in this run"
    name, hyper, training = spec["surrogate"]
    model = pdeml.make_surrogate(name, problem, **hyper).fit(
        train, test, progress=False, **training
    )
    if run is not None:
        model.save(run)
    return train, test, model


def shifted_set(problem: Any, changes: dict, n: int, folder: Path) -> Any:
    """``n`` samples of the problem with its input distribution changed."""
    shifted = problem.replace(**changes)
    return pdeml.generate(shifted, n, 1, folder / f"{problem.name}_shifted.h5", progress=False)


def study(case: str, data_dir: Path, runs: Path | None, folder: Path) -> dict[str, Any]:
    """Every measurement of one problem; rows of the report's tables."""
    spec = CASES[case]
    train, test, model = load(case, data_dir, runs)
    problem = train.problem
    inputs, reference = test.inputs, test.outputs
    pred = model.solve(inputs)
    errors = relative_l2(pred, reference, problem, inputs)
    estimates = problem.error_indicator(inputs, pred)
    fine = problem.sample_inputs(2, 7, resolution=problem.solver_resolution)
    solver = problem.reference_solver()
    quality = indicator_quality(estimates, errors)
    rows = [
        {
            "problem": case,
            "indicator": "default",
            "surrogate rel. L2 (mean)": float(errors.mean()),
            "Spearman": quality["spearman"],
            "est/true min": quality["ratio_min"],
            "est/true median": quality["ratio_median"],
            "est/true max": quality["ratio_max"],
            "worst 5 %: flagged err": quality["worst_flagged_error"],
            "true worst err": quality["worst_true_error"],
            "recall": f"{quality['worst_recall']:.2f} ({quality['worst_count']})",
            "floor (on data)": float(problem.error_indicator(inputs, reference).mean()),
            "ms/sample": per_sample_ms(lambda: problem.error_indicator(inputs, pred), len(errors)),
        }
    ]
    for label, options in spec["variants"].items():
        est = problem.error_indicator(inputs, pred, **options)
        q = indicator_quality(est, errors)
        rows.append(
            {
                **rows[0],
                "indicator": label,
                "Spearman": q["spearman"],
                "est/true min": q["ratio_min"],
                "est/true median": q["ratio_median"],
                "est/true max": q["ratio_max"],
                "worst 5 %: flagged err": q["worst_flagged_error"],
                "recall": f"{q['worst_recall']:.2f} ({q['worst_count']})",
                "floor (on data)": float(
                    problem.error_indicator(inputs, reference, **options).mean()
                ),
                "ms/sample": per_sample_ms(
                    lambda o=options: problem.error_indicator(inputs, pred, **o), len(errors)
                ),
            }
        )
    costs = {
        "problem": case,
        "surrogate ms/sample": per_sample_ms(lambda: model.solve(inputs), len(errors)),
        "indicator ms/sample": rows[0]["ms/sample"],
        "reference ms/sample": per_sample_ms(lambda: solver.solve(fine), 2),
        "reference grid": problem.solver_resolution or "the mesh",
    }
    guard_rows = []
    for tol in spec["tols"]:
        q = indicator_quality(estimates, errors, tol)
        worst = q["accepted_worst_error"]
        guard_rows.append(
            {
                "problem": case,
                "tol": tol,
                "accepted": f"{q['accepted_fraction']:.0%}",
                "accepted worst true error": "none accepted" if worst is None else worst,
                "below tol": "-" if worst is None else ("yes" if worst < tol else "no"),
            }
        )
    ood_row = None if spec["shift"] is None else ood_study(case, train, test, model, errors, folder)
    warm = None
    if case == "darcy":
        _, warm_it = problem.warm_start(inputs, pred)
        _, cold_it = problem.warm_start(inputs)
        warm = {
            "problem": case,
            "samples": len(errors),
            "CG iterations cold (mean)": float(cold_it.mean()),
            "warm from FNO (mean)": float(warm_it.mean()),
            "saved (mean)": float((cold_it - warm_it).mean()),
            "ms/sample cold": per_sample_ms(lambda: problem.warm_start(inputs), len(errors)),
            "ms/sample warm": per_sample_ms(lambda: problem.warm_start(inputs, pred), len(errors)),
        }
    return {"rows": rows, "costs": costs, "guard": guard_rows, "ood": ood_row, "warm": warm}


def ood_study(
    case: str, train: Any, test: Any, model: Any, errors: np.ndarray, folder: Path
) -> dict[str, Any]:
    """The out-of-distribution score on the test set and on a shifted input distribution."""
    from scipy.stats import spearmanr

    spec, problem, inputs = CASES[case], train.problem, test.inputs
    ood = InputDistance().fit(train)
    scores = ood.score(inputs)
    shifted = shifted_set(problem, spec["shift"], 8, folder)
    shifted_errors = relative_l2(model.solve(shifted.inputs), shifted.outputs)
    shifted_scores = ood.score(shifted.inputs)
    return {
        "problem": case,
        "Spearman (score, true err) on test": float(spearmanr(scores, errors).statistic),
        "threshold (99 % of train)": ood.threshold,
        "test over threshold": f"{np.mean(scores > ood.threshold):.0%}",
        "shift": ", ".join(f"{k} = {v:g}" for k, v in spec["shift"].items()),
        "shifted over threshold": f"{np.mean(shifted_scores > ood.threshold):.0%}",
        "FNO err test / shifted": f"{errors.mean():.3g} / {shifted_errors.mean():.3g}",
        "indicator Spearman on shifted": float(
            spearmanr(
                problem.error_indicator(shifted.inputs, model.solve(shifted.inputs)), shifted_errors
            ).statistic
        ),
    }


#: The report's tables, by the heading above each.
SECTIONS = {
    "indicator": "## Tracking",
    "costs": "## Cost per sample",
    "guard": "## The guard at a few tolerances",
    "warm": "## Warm start (Darcy)",
    "ood": "## Out-of-distribution score",
}


def kept_rows(text: str, rerun: set[str]) -> dict[str, list[dict[str, str]]]:
    """Per table of a written report, the rows of the problems not in ``rerun`` (as text)."""
    kept: dict[str, list[dict[str, str]]] = {}
    for table, heading in SECTIONS.items():
        section = text.split(heading + "\n", 1)[1].split("\n## ", 1)[0]
        lines = [line for line in section.splitlines() if line.startswith("|")]
        if len(lines) < 2:
            kept[table] = []
            continue
        cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
        keys = cells[0]
        kept[table] = [dict(zip(keys, row)) for row in cells[2:] if row[0] not in rerun]
    return kept


def merged(new: list[dict[str, Any]], old: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Rows of one table: the old rows under the new column names, in the order of CASES."""
    if new and old and len(old[0]) == len(new[0]):
        old = [dict(zip(new[0], row.values())) for row in old]
    elif new and old:
        raise ValueError("the report's tables changed columns: rerun every case")
    order = list(CASES)
    return sorted([*new, *old], key=lambda row: order.index(row["problem"]))


def provenance(old: str, cases: list[str]) -> str:
    """Header lines of kept problems: the report their rows come from, and their surrogate."""
    stamp = dict(re.findall(r"^- (date|commit): (.*)$", old, flags=re.M))
    lines = []
    for case in cases:
        earlier = re.search(rf"^- rows of {case}: .*$", old, flags=re.M)
        origin = re.search(rf"^- (\w+ on {case}: .*)$", old, flags=re.M)
        if earlier:  # kept already by an earlier partial run
            lines.append(earlier.group(0) + "\n")
        else:
            lines.append(
                f"- rows of {case}: kept from the report of {stamp.get('date')} (commit "
                f"{stamp.get('commit')}); {origin.group(1) if origin else 'surrogate unrecorded'}\n"
            )
    return "".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), default=list(CASES))
    parser.add_argument("--data", type=Path, default=Path("data/suites"))
    parser.add_argument(
        "--runs", type=Path, help="folder of trained surrogates (saved there if new)"
    )
    parser.add_argument("--out", type=Path, default=REPORTS)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases:
            begin = time.perf_counter()
            results[case] = study(case, args.data, args.runs, Path(tmp))
            print(f"{case}: {time.perf_counter() - begin:.0f} s", flush=True)
    tables = {
        "indicator": [r for c in results.values() for r in c["rows"]],
        "costs": [c["costs"] for c in results.values()],
        "guard": [r for c in results.values() for r in c["guard"]],
        "warm": [c["warm"] for c in results.values() if c["warm"]],
        "ood": [c["ood"] for c in results.values() if c["ood"]],
    }
    import torch

    threads = f"- threads: torch {torch.get_num_threads()}, OMP_NUM_THREADS="
    threads += f"{os.environ.get('OMP_NUM_THREADS', 'unset')}\n"
    for case, origin in ORIGIN.items():
        threads += f"- {CASES[case]['surrogate'][0].upper()} on {case}: {origin}\n"
    previous = args.out / "indicators_quick.md"
    others = [case for case in CASES if case not in results]
    if others and previous.exists():
        # A partial run: the other problems' rows stay as the last full report measured them.
        old = previous.read_text(encoding="utf-8")
        kept = kept_rows(old, set(results))
        tables = {k: merged(v, kept[k]) for k, v in tables.items()}
        others = [c for c in others if any(r["problem"] == c for v in kept.values() for r in v)]
        threads += provenance(old, others)
    text = (
        header("Error indicators against the true error (quick size)")
        + threads
        + TEXT.format(**{k: markdown_table(v) for k, v in tables.items()})
    )
    print(text)
    print("wrote", write_markdown(args.out, "indicators_quick", text))


TEXT = """
The FNOs of the quick suite (same data, same recipes as `validation/suites/quick.toml`)
and the MMGP of `validation/suites/darcy_mesh_quick.toml`: each test sample's estimate
from `problem.error_indicator(inputs, prediction)` against its true relative L2 error.
Darcy: the finite-difference residual solved for the error on the stored grid plus the
estimated gap to the solver grid (`grid_error=False`: without it); Navier–Stokes and
Burgers: the defects of the reference stepper started from the predicted states, summed
(Burgers here predicts only `u(T)`, so its one defect is a coarse reference solve);
Darcy on meshes: the P1 finite-element residual solved exactly for the error on each
sample's own mesh, the mesh and FEM the data were solved with, so there the estimate is
the true error up to round-off (a check of consistency, not of an approximation; it costs
a reference solve), averaged like the true error over `u` (real nodes only), `u_mean` and
`u_neumann_mean`; `norm=energy` estimates another quantity, the relative energy error of
`u` alone, so its ratios to the true error are not near 1. *Worst 5 %*: the mean true
error of the samples with the largest estimates against that of the truly worst ones, and
how many of those the estimate ranks there (of how many). *Floor*: the estimate for the
stored reference outputs themselves.

## Tracking

{indicator}
## Cost per sample

The indicator against the surrogate and the reference solver on the grid the data are
made on (two fresh samples drawn there).

{costs}
## The guard at a few tolerances

Accept a prediction where its estimate is at most `tol`; the true worst error of the
accepted ones.

{guard}
## Warm start (Darcy)

The reference solve by AMG-preconditioned CG (relative residual 1e-10) from the FNO's
prediction against from zero, on the stored grid.

{warm}
## Out-of-distribution score

Mahalanobis distance in the 16 leading principal components of the training inputs (plus
the PCA residual), 1 for a typical training input; the threshold is the 99th percentile
of the training inputs' scores. Eight inputs drawn from a shifted distribution.

{ood}"""


if __name__ == "__main__":
    main()
