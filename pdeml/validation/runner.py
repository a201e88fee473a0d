"""Run a validation suite: make datasets, train or load surrogates, time and score them.

Each entry (one reference-solver ladder per problem, one per surrogate) runs on its own,
in parallel through Dask, and leaves ``entries/<id>.json`` (and ``.npz`` with per-sample
errors and the best / median / worst samples) in the output folder, written atomically.
A failing entry is recorded with its error and the others go on; a second run skips
entries that finished with the same spec (an edited entry runs again). The runner then
fills in the speed-up at equal accuracy, writes ``results.nc`` and the Markdown and HTML
reports.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pdeml._version import __version__
from pdeml.validation.environment import environment
from pdeml.validation.suite import ProblemCase, Suite, SurrogateCase, load_suite

ENTRIES = "entries"


# -- small utilities ----------------------------------------------------------------------
def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=_json_default))
    os.replace(tmp, path)


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def dataset_path(suite: Suite, case: ProblemCase) -> Path:
    """Where the dataset of a problem case lives (named by its content, so it is reused)."""
    problem = case.problem()
    key = json.dumps(
        {"problem": problem.to_dict(), "n": case.n_train + case.n_test, "seed": case.seed},
        sort_keys=True,
    )
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    return suite.data_dir / f"{case.id}_{digest}.h5"


def _relative_l2(pred: np.ndarray, ref: np.ndarray) -> np.ndarray:
    n = len(ref)
    return np.linalg.norm((pred - ref).reshape(n, -1), axis=1) / np.maximum(
        np.linalg.norm(ref.reshape(n, -1), axis=1), 1e-300
    )


# -- one entry ------------------------------------------------------------------------------
def run_entry(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one entry described by plain values; never raises (failures are recorded)."""
    out = Path(spec["out"]) / ENTRIES
    record: dict[str, Any] = {
        "id": spec["id"],
        "spec": spec_fingerprint(spec),
        "kind": spec["kind"],
        "problem_id": spec["problem_id"],
        "status": "failed",
        "error": None,
        "time_per_sample": None,
        "train_seconds": None,
        "parameters": None,
        "metrics": {},
        "history": [],
        "speedup": None,
        "speedup_note": "",
        "ladder": [],
    }
    begin = time.perf_counter()
    threads = int(spec.get("threads", 0))
    if threads:
        # Entries running side by side must not each start a thread per core: OpenMP
        # threads that wait for a busy core made small trainings 50x slower (measured).
        import numba
        import torch

        torch.set_num_threads(threads)
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        if spec["kind"] == "reference":
            record.update(_run_reference(spec))
        else:
            record.update(_run_surrogate(spec, out))
        record["status"] = "ok"
    except Exception as error:  # record any failure; the suite goes on
        record["error"] = f"{type(error).__name__}: {error}"
        record["traceback"] = traceback.format_exc(limit=6)
    record["seconds"] = time.perf_counter() - begin
    _write_json(out / f"{spec['id']}.json", record)
    return record


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def has_uncertainty(surrogate: Any) -> bool:
    """Whether ``surrogate`` overrides :meth:`Surrogate.solve_with_uncertainty`."""
    from pdeml.surrogates.base import Surrogate

    method = getattr(type(surrogate), "solve_with_uncertainty", None)
    return method is not None and method is not Surrogate.solve_with_uncertainty


def _masked_relative_l2(pred: np.ndarray, ref: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    if mask is None:
        return _relative_l2(pred, ref)
    return _relative_l2(np.where(mask, pred, 0.0), np.where(mask, ref, 0.0))


def evaluate_goals(
    goal: Mapping[str, Any], metrics: Mapping[str, Mapping[str, Any]], fields: list[str]
) -> dict[str, dict[str, Any]]:
    """Check a surrogate's goals (see :mod:`pdeml.validation.suite`) against its metrics.

    A goal on a metric as a whole compares the mean over the fields; ``{field: bound}``
    gives one verdict per field, keyed ``"<metric>/<field>"``. A bound ``[low, high]`` is met
    by a value in ``[low, high)``. A missing or non-finite value is not met.
    """
    out: dict[str, dict[str, Any]] = {}
    for metric, spec in goal.items():
        per_field = spec.items() if isinstance(spec, Mapping) else [(None, spec)]
        for field, bound in per_field:
            if field is None:
                means = [metrics.get(metric, {}).get(f, {}).get("mean") for f in fields]
                means = [m for m in means if m is not None]
                value = float(np.mean(means)) if means else None
            else:
                value = metrics.get(metric, {}).get(field, {}).get("mean")
                value = None if value is None else float(value)
            low, high = bound if isinstance(bound, (list, tuple)) else (None, bound)
            met = (
                value is not None
                and bool(np.isfinite(value))
                and value < high
                and (low is None or value >= low)
            )
            record: dict[str, Any] = {"bound": high, "value": value, "met": met}
            if low is not None:
                record["low"] = low
            if field is not None:
                record |= {"metric": metric, "field": field}
            out[metric if field is None else f"{metric}/{field}"] = record
    return out


def _run_surrogate(spec: dict[str, Any], out: Path) -> dict[str, Any]:
    import pdeml
    from pdeml.validation.metrics import (
        CALIBRATION_LEVELS,
        UNCERTAINTY_METRICS,
        calibration_curve,
        compute_metrics,
        summarize,
    )

    case = SurrogateCase(**spec["surrogate"])
    ds = pdeml.open_dataset(spec["dataset"])
    problem = ds.problem
    train, test = ds.split(n_test=spec["n_test"])
    train_seconds = None
    if case.run:
        surrogate = pdeml.load_surrogate(case.run)
    else:
        surrogate = pdeml.make_surrogate(case.name, problem, **dict(case.hyperparameters))
        options = {"progress": False, **dict(case.training)}
        start = time.perf_counter()
        surrogate.fit(train, test, **options)
        train_seconds = time.perf_counter() - start
    inputs, reference = test.inputs, test.outputs
    uncertain = has_uncertainty(surrogate)
    # The inference cost is that of the call the report scores: with variances if given.
    call = surrogate.solve_with_uncertainty if uncertain else surrogate.solve
    if not getattr(surrogate, "trains_in_solve", False):  # a PINN would train once more
        call({k: v[:1] for k, v in inputs.items()})  # warm-up (allocations, caches)
    start = time.perf_counter()
    predictions, variances = call(inputs) if uncertain else (call(inputs), None)
    seconds = (time.perf_counter() - start) / len(test)
    variances = dict(variances or {})
    fields = [k for k in predictions if k in reference]
    # Padded layouts (meshes of different sizes): metrics count the real values only.
    masks = {f: problem.output_mask(f, inputs) for f in fields}
    metrics: dict[str, dict[str, Any]] = {}
    skipped: list[str] = []
    for metric in spec["metrics"]:
        for f in fields:
            var = {f: variances[f]} if f in variances else None
            if metric in UNCERTAINTY_METRICS and var is None:
                skipped.append(f"{metric}/{f}: the surrogate gives no predictive variance")
                continue
            try:
                values = compute_metrics(
                    metric,
                    {f: predictions[f]},
                    {f: reference[f]},
                    problem=problem,
                    var=var,
                    mask={f: masks[f]},
                )
            except ValueError as error:  # e.g. boundary_error on a periodic grid
                skipped.append(f"{metric}/{f}: {error}")
                continue
            for name, by_field in values.items():
                metrics.setdefault(name, {})[f] = summarize(by_field[f])
    calibration = None
    if variances:
        observed = {
            f: calibration_curve(
                predictions[f], variances[f], reference[f], CALIBRATION_LEVELS, masks[f]
            ).tolist()
            for f in fields
            if f in variances
        }
        calibration = {"levels": list(CALIBRATION_LEVELS), "observed": observed}
    goals = evaluate_goals(dict(case.goal), metrics, fields)
    errors = {f: _masked_relative_l2(predictions[f], reference[f], masks[f]) for f in fields}
    overall = np.mean([errors[f] for f in fields], axis=0)
    order = np.argsort(overall)
    picks = {"best": int(order[0]), "median": int(order[len(order) // 2]), "worst": int(order[-1])}
    arrays: dict[str, np.ndarray] = {}
    for f in fields:
        arrays[f"errors__{f}"] = errors[f]
        if np.ndim(reference[f]) == 1:  # scalar outputs: keep the whole test set (parity plot)
            arrays[f"test__reference__{f}"] = np.asarray(reference[f])
            arrays[f"test__prediction__{f}"] = np.asarray(predictions[f])
            if f in variances:
                arrays[f"test__variance__{f}"] = np.asarray(variances[f])
        time_dims = [d for d in problem.field_dims(f) if d == "t" or d.startswith("t_")]
        if time_dims:
            over_time = compute_metrics(
                "error_over_time", {f: predictions[f]}, {f: reference[f]}, problem=problem
            )
            arrays[f"error_over_time__{f}"] = over_time["error_over_time"][f].mean(axis=0)
    for f, observed in (calibration or {}).get("observed", {}).items():
        arrays["calibration__levels"] = np.asarray(CALIBRATION_LEVELS)
        arrays[f"calibration__{f}"] = np.asarray(observed)
    for label, index in picks.items():
        arrays[f"index__{label}"] = np.array(index)
        for name, value in inputs.items():
            arrays[f"{label}__input__{name}"] = value[index]
        for f in fields:
            arrays[f"{label}__reference__{f}"] = reference[f][index]
            arrays[f"{label}__prediction__{f}"] = predictions[f][index]
            if f in variances:
                arrays[f"{label}__variance__{f}"] = np.asarray(variances[f])[index]
            if masks[f] is not None:
                arrays[f"{label}__mask__{f}"] = masks[f][index]
    for dim, values in problem.coords().items():
        arrays[f"coord__{dim}"] = np.asarray(values)
    tmp = out / f"{spec['id']}.tmp.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, out / f"{spec['id']}.npz")
    parameters = None
    if hasattr(surrogate, "parameter_count"):
        parameters = surrogate.parameter_count()
    ds.close()
    return {
        "surrogate": case.name,
        "device": getattr(surrogate, "device", "cpu"),
        "time_per_sample": seconds,
        "train_seconds": train_seconds,
        "parameters": parameters,
        "n_train": len(train),
        "n_test": len(test),
        "metrics": metrics,
        "metrics_skipped": skipped,
        "goals": goals,
        "uncertainty": uncertain,
        "calibration": calibration,
        "history": list(getattr(surrogate, "history", [])),
    }


def _run_reference(spec: dict[str, Any]) -> dict[str, Any]:
    """Time the reference solver on a ladder of grids; score against a finer ground truth."""
    from pdeml.problems.base import Problem

    problem = Problem.from_dict(spec["problem"])
    ladder = spec["ladder"]
    stored = problem.resolution
    first = spec["n_train"]  # the test samples are the last n_test of the dataset
    n = min(ladder["samples"], spec["n_test"])

    def solve_at(resolution: int) -> tuple[dict[str, np.ndarray], float]:
        # The same input functions (same seed, same test indices, same random modes),
        # evaluated on the grid of `resolution` and solved there.
        inputs = problem.sample_inputs(n, int(spec["seed"]), start=first, resolution=resolution)
        solver = problem.reference_solver()
        solver.solve({k: v[:1] for k, v in inputs.items()})  # compile / warm caches
        start = time.perf_counter()
        outputs = solver.solve(inputs)
        seconds = (time.perf_counter() - start) / n
        return problem.restrict(outputs, resolution, stored), seconds

    truth, _ = solve_at(ladder["truth_resolution"])
    points = []
    for resolution in sorted(ladder["resolutions"]):
        outputs, seconds = solve_at(resolution)
        error = float(np.mean([_relative_l2(outputs[k], truth[k]).mean() for k in truth]))
        points.append(
            {"resolution": resolution, "seconds_per_sample": seconds, "relative_l2": error}
        )
    data_setting = [p for p in points if p["resolution"] == problem.solver_resolution]
    return {
        "surrogate": problem.reference_solver().name,
        "device": "cpu",
        "ladder": points,
        "time_per_sample": data_setting[0]["seconds_per_sample"] if data_setting else None,
        "n_train": 0,
        "n_test": n,
        "metrics": {
            "relative_l2": {
                "all": {
                    "mean": data_setting[0]["relative_l2"] if data_setting else float("nan"),
                    "std": float("nan"),
                    "median": float("nan"),
                    "max": float("nan"),
                }
            }
        },
    }


# -- the whole suite ------------------------------------------------------------------------
def speedup_at_equal_accuracy(
    error: float, seconds: float, ladder: list[dict[str, float]]
) -> tuple[float | None, str]:
    """Time of the cheapest ladder setting at least as accurate as ``error``, over ``seconds``.

    Returns the ratio and a note: ``"≤"`` when even the coarsest setting is more accurate
    (a cheaper setting might match, so the ratio is an upper bound), ``"≥"`` when no
    setting is as accurate (the ratio to the most accurate setting is a lower bound).
    """
    if not ladder or not seconds or not np.isfinite(error):
        return None, ""
    good = [p for p in ladder if p["relative_l2"] <= error]
    if good:
        cheapest = min(good, key=lambda p: p["seconds_per_sample"])
        coarsest = min(ladder, key=lambda p: p["seconds_per_sample"])
        note = (
            "≤ (upper bound: the coarsest setting is already as accurate)"
            if (cheapest is coarsest)
            else ""
        )
        return cheapest["seconds_per_sample"] / seconds, note
    best = min(ladder, key=lambda p: p["relative_l2"])
    return best["seconds_per_sample"] / seconds, (
        "≥ (lower bound: the surrogate beats every setting; ratio to the most accurate)"
    )


def _specs(suite: Suite, out: Path, paths: dict[str, Path]) -> list[dict[str, Any]]:
    specs = []
    for case in suite.problems:
        base = {
            "problem_id": case.id,
            "dataset": str(paths[case.id]),
            "out": str(out),
            "n_train": case.n_train,
            "n_test": case.n_test,
            "seed": case.seed,
            "metrics": list(suite.metrics),
            "problem": case.problem().to_dict(),
        }
        if case.reference is not None:
            specs.append(
                {
                    **base,
                    "id": f"{case.id}__reference",
                    "kind": "reference",
                    "ladder": {
                        "resolutions": list(case.reference.resolutions),
                        "truth_resolution": case.reference.truth_resolution,
                        "samples": case.reference.samples,
                    },
                }
            )
        for s in suite.surrogates:
            if s.problem == case.id:
                specs.append(
                    {
                        **base,
                        "id": f"{case.id}__{s.id}",
                        "kind": "surrogate",
                        "surrogate": {
                            "id": s.id,
                            "problem": s.problem,
                            "name": s.name,
                            "hyperparameters": dict(s.hyperparameters),
                            "training": dict(s.training),
                            "run": s.run,
                            "goal": dict(s.goal),
                        },
                    }
                )
    return specs


def spec_fingerprint(spec: Mapping[str, Any]) -> str:
    """A digest of what an entry computes: problem, dataset, surrogate and its training.

    Where it runs (``out``) and with how many threads do not change the result, so they are
    left out; everything else does.
    """
    what = {k: v for k, v in spec.items() if k not in ("out", "threads")}
    return hashlib.sha1(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


def _finished(out: Path, spec: Mapping[str, Any]) -> bool:
    """Whether ``spec``'s entry finished in an earlier run *with the same spec*: an entry
    whose suite line was edited since (hyperparameters, training, goal) runs again."""
    path = out / ENTRIES / f"{spec['id']}.json"
    if not path.exists():
        return False
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError:
        return False
    return record.get("status") == "ok" and record.get("spec") == spec_fingerprint(spec)


def worker_environ() -> dict[str, Any]:
    """Environment of the local Dask workers: distributed's defaults without
    ``MALLOC_TRIM_THRESHOLD_``.

    distributed sets it to 64 KiB so that workers hand memory back to the system; glibc
    then trims on nearly every free of a torch buffer, and surrogate training in a worker
    ran 2.2x slower than in the main process (NSM on Poisson, 300 steps, timed by a
    one-off script: 27 s against 12 s; 13 s with this environment). Training times and
    times per sample in the reports are measured in the workers, so they must not pay
    for it.
    """
    import dask
    import distributed  # noqa: F401  (registers the distributed config)

    defaults = dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {}
    return {k: v for k, v in defaults.items() if k != "MALLOC_TRIM_THRESHOLD_"}


def _execute(
    specs: list[dict[str, Any]], workers: int, scheduler: str | None, progress: bool
) -> None:
    from tqdm.auto import tqdm

    bar = tqdm(total=len(specs), desc="validate", unit="entry", disable=not progress)
    if not specs:
        bar.close()
        return
    if scheduler is None and (workers <= 1 or len(specs) == 1):
        for spec in specs:
            run_entry(spec)
            bar.update()
        bar.close()
        return
    from dask.distributed import Client, LocalCluster, as_completed

    if scheduler is not None:
        client, cluster = Client(scheduler), None
    else:
        import dask

        with dask.config.set({"distributed.nanny.pre-spawn-environ": worker_environ()}):
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
        client = Client(cluster)
    try:
        futures = client.map(run_entry, specs, pure=False)
        for future, spec in zip(as_completed(futures), specs):
            if future.status == "error":  # a worker died: record it, go on
                _write_json(
                    Path(spec["out"]) / ENTRIES / f"{spec['id']}.json",
                    {
                        "id": spec["id"],
                        "kind": spec["kind"],
                        "problem_id": spec["problem_id"],
                        "status": "failed",
                        "error": repr(future.exception()),
                    },
                )
            bar.update()
    finally:
        bar.close()
        client.close()
        if cluster is not None:
            cluster.close()


def validate(
    suite: str | Path | Mapping[str, Any],
    out: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
) -> dict[str, Path]:
    """Run a validation suite and write ``results.nc``, ``report.md`` and ``report.html``.

    Parameters
    ----------
    suite : path or mapping
        A suite TOML file (see :mod:`pdeml.validation.suite`) or its parsed contents.
    out : path
        Output folder. Finished entries found there are not run again.
    workers : int, optional
        Dask worker processes on this machine (default: half the cores, at least 1);
        ``1`` runs the entries one after another in this process.
    scheduler : str, optional
        Address of a running ``dask.distributed`` scheduler to send the entries to.
    progress : bool
        Progress bars.

    Returns
    -------
    dict
        Paths of ``results``, ``report_md``, ``report_html``.
    """
    from pdeml.data.dataset import open_dataset
    from pdeml.data.generation import generate
    from pdeml.validation.report import write_report

    suite = load_suite(suite)
    out = Path(out)
    (out / ENTRIES).mkdir(parents=True, exist_ok=True)
    if workers is None:
        workers = max(1, (os.cpu_count() or 1) // 2)
    paths = {}
    for case in suite.problems:
        path = dataset_path(suite, case)
        if not path.exists():
            generate(case.problem(), case.n_train + case.n_test, case.seed, path, progress=progress)
        with open_dataset(path) as ds:
            if len(ds) != case.n_train + case.n_test:
                raise ValueError(
                    f"{path}: holds {len(ds)} samples, expected {case.n_train + case.n_test}"
                )
        paths[case.id] = path
    _write_json(
        out / "suite.json",
        {
            "name": suite.name,
            "description": suite.description,
            "environment": environment(),
            "metrics": list(suite.metrics),
            "problems": {
                c.id: {
                    "problem": c.problem().to_dict(),
                    "n_train": c.n_train,
                    "n_test": c.n_test,
                    "dataset": str(paths[c.id]),
                }
                for c in suite.problems
            },
        },
    )
    specs = [s for s in _specs(suite, out, paths) if not _finished(out, s)]
    if scheduler is None and workers > 1:
        for spec in specs:
            spec["threads"] = max(1, (os.cpu_count() or 1) // workers)
    _execute(specs, workers, scheduler, progress)
    results = assemble(out)
    written = write_report(out)
    return {"results": results, "report_md": written["markdown"], "report_html": written["html"]}


def assemble(out: str | Path) -> Path:
    """Fill in speed-ups and write ``results.nc``: one row per entry and metric."""
    import xarray as xr

    out = Path(out)
    records = [json.loads(p.read_text()) for p in sorted((out / ENTRIES).glob("*.json"))]
    ladders = {
        r["problem_id"]: r.get("ladder") or []
        for r in records
        if r["kind"] == "reference" and r["status"] == "ok"
    }
    for record in records:
        if record["kind"] != "surrogate" or record["status"] != "ok":
            continue
        l2 = record["metrics"].get("relative_l2", {})
        error = float(np.mean([v["mean"] for v in l2.values()])) if l2 else float("nan")
        ratio, note = speedup_at_equal_accuracy(
            error, record["time_per_sample"], ladders.get(record["problem_id"], [])
        )
        record["speedup"], record["speedup_note"] = ratio, note
        _write_json(out / ENTRIES / f"{record['id']}.json", record)

    def number(value: Any) -> float:
        return float("nan") if value is None else float(value)

    rows = [
        (r["id"], m, f, s)
        for r in records
        for m, by_field in r.get("metrics", {}).items()
        for f, s in by_field.items()
    ]
    data = xr.Dataset(
        {
            "kind": ("entry", [r["kind"] for r in records]),
            "problem_id": ("entry", [r["problem_id"] for r in records]),
            "surrogate": ("entry", [str(r.get("surrogate", "")) for r in records]),
            "status": ("entry", [r["status"] for r in records]),
            "error": ("entry", [str(r.get("error") or "") for r in records]),
            "time_per_sample": ("entry", [number(r.get("time_per_sample")) for r in records]),
            "train_seconds": ("entry", [number(r.get("train_seconds")) for r in records]),
            "parameters": ("entry", [number(r.get("parameters")) for r in records]),
            "speedup": ("entry", [number(r.get("speedup")) for r in records]),
            "row_entry": ("row", [row[0] for row in rows]),
            "row_metric": ("row", [row[1] for row in rows]),
            "row_field": ("row", [row[2] for row in rows]),
            **{
                stat: ("row", [number(row[3].get(stat)) for row in rows])
                for stat in ("mean", "std", "median", "max")
            },
        },
        coords={"entry": [r["id"] for r in records]},
        attrs={"pdeml_version": __version__},
    )
    path = out / "results.nc"
    tmp = out / "results.nc.tmp"
    data.to_netcdf(tmp, engine="h5netcdf")
    os.replace(tmp, path)
    return path
