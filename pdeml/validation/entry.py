"""One validation entry: train or load a surrogate (or run the reference ladder), time it,
score it against the reference, and record the result. Never raises: a failure is recorded
and the suite goes on."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pdeml._json import write_json
from pdeml._threads import available_cores, limited_threads
from pdeml.validation.records import ENTRIES, spec_fingerprint
from pdeml.validation.suite import ProblemCase, Suite, SurrogateCase
from pdeml.validation.timing import (
    TIMING_REPEATS,
    load_average,
    spread,
    thread_settings,
    timed_calls,
)


def dataset_path(suite: Suite, case: ProblemCase) -> Path:
    """Where the dataset of a problem case lives (named by its content, so it is reused).

    The name hashes the problem, the sample count and seed, and the reference solver with
    its options: a changed solver default (Darcy's face averages became harmonic) makes a
    new dataset instead of reusing one solved the old way.
    """
    problem = case.problem()
    try:
        solver: Any = problem.reference_solver().describe()
    except NotImplementedError:  # a problem without a solver: its data come from elsewhere
        solver = None
    key = json.dumps(
        {
            "problem": problem.to_dict(),
            "n": case.n_train + case.n_test,
            "seed": case.seed,
            "solver": solver,
        },
        sort_keys=True,
        default=str,
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
    record["measured"] = where_measured()
    begin = time.perf_counter()
    # Entries running side by side must not each start a thread per core: OpenMP threads
    # that wait for a busy core made small trainings 50x slower (measured). Local workers
    # are started with OMP_NUM_THREADS etc. already (worker_environ); this also caps a pool
    # sized before, and in this process gives the caller's settings back afterwards.
    threads = int(spec.get("threads", 0)) or available_cores()
    try:
        with limited_threads(threads) as used:
            record["threads"] = used  # the threads the timings were taken with
            if spec["kind"] == "reference":
                record.update(_run_reference(spec))
            else:
                record.update(_run_surrogate(spec, out))
        record["status"] = "ok"
    except Exception as error:  # record any failure; the suite goes on
        record["error"] = f"{type(error).__name__}: {error}"
        record["traceback"] = traceback.format_exc(limit=6)
    record["seconds"] = time.perf_counter() - begin
    record["measured"]["load_end"] = load_average()
    write_json(out / f"{spec['id']}.json", record)
    return record


#: What :func:`where_measured` keeps of :func:`~pdeml.validation.environment.environment`.
MEASURED_KEYS = ("commit", "machine", "cpu", "cores", "device", "date")


def where_measured() -> dict[str, Any]:
    """Where and when an entry runs: commit, machine, device, date and the load average.

    Kept in the entry's own record because the suite's environment describes the last
    invocation, which may only have reused finished entries (a re-render, a resumed run on
    another machine) and measured none of them.
    """
    from pdeml.validation.environment import environment

    env = environment()
    return {**{k: env.get(k) for k in MEASURED_KEYS}, "load_start": env.get("load_average")}


def has_uncertainty(surrogate: Any) -> bool:
    """Whether ``surrogate`` declares a predictive variance (``capabilities.uncertainty``)."""
    return surrogate.capabilities.uncertainty


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


#: Most checkpoints one suite training writes (one every ``epochs // CHECKPOINTS`` epochs):
#: an interruption loses at most that share of the training, and a fast GPU epoch (half a
#: second for the paper's Darcy FNO on an H200) is not slowed by writing each one.
CHECKPOINTS = 50
#: Where the runner keeps the checkpoints of the trainings under way, inside ``out``.
TRAINING = "training"


def training_folder(spec: Mapping[str, Any]) -> Path | None:
    """The checkpoint folder of a surrogate entry's training, named by its fingerprint, so
    that only a run of the same spec resumes from it (None without an ``out``)."""
    if not spec.get("out"):
        return None
    return Path(spec["out"]) / TRAINING / f"{spec['id']}-{spec_fingerprint(spec)[:12]}"


def resumable(options: Mapping[str, Any], folder: Path) -> dict[str, Any]:
    """Fit options that checkpoint the training into ``folder`` and resume from it.

    An interrupted ``pdeml validate`` (Ctrl-C, a lease's time limit) then continues a long
    training where it stopped instead of starting it over. Checkpoints left by an earlier
    spec of the same entry (a suite line edited since) are removed.
    """
    from pdeml.training.config import TrainerConfig

    entry_id = folder.name.rsplit("-", 1)[0]
    for stale in folder.parent.glob(f"{entry_id}-*"):
        # Exact id only: "fno-*" also matches another entry's "fno-3d-<fingerprint>".
        if stale != folder and stale.name.rsplit("-", 1)[0] == entry_id:
            shutil.rmtree(stale, ignore_errors=True)

    epochs = options.get("epochs", TrainerConfig.epochs)
    every = options.get("checkpoint_every")
    if every is None:
        every = max(1, epochs // CHECKPOINTS) if isinstance(epochs, int) and epochs > 0 else 1
    return {"out_dir": folder, "resume": True, "checkpoint_every": every}


def _run_surrogate(spec: dict[str, Any], out: Path) -> dict[str, Any]:
    import pdeml
    from pdeml.validation.ladder import time_single
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
        folder = training_folder(spec)
        if folder is not None and "out_dir" in type(surrogate).fit_option_names():
            options |= resumable(options, folder)
        start = time.perf_counter()
        surrogate.fit(train, test, **options)
        train_seconds = time.perf_counter() - start
        if folder is not None:
            # Finished: the entry's record is what a later run reuses, not the checkpoint.
            shutil.rmtree(folder, ignore_errors=True)
    inputs, reference = test.inputs, test.outputs
    uncertain = has_uncertainty(surrogate)
    # The inference cost is that of the call the report scores: with variances if given.
    call = surrogate.solve_with_uncertainty if uncertain else surrogate.solve
    if not surrogate.capabilities.trains_per_query:  # a PINN would train once more
        call({k: v[:1] for k, v in inputs.items()})  # warm-up (allocations, caches)
    # One timing on a shared machine is one draw (4x apart with load, measured): repeat,
    # keep the median, record the spread and the thread pools (a PINN would retrain each time).
    repeats = 1 if surrogate.capabilities.trains_per_query else TIMING_REPEATS
    result, times = timed_calls(lambda: call(inputs), repeats)
    predictions, variances = result if uncertain else (result, None)
    timing = spread(times, len(test))
    seconds = timing["median"]
    # The latency a single query sees, beside the batched throughput above (the speed-up's).
    single = None if surrogate.capabilities.trains_per_query else time_single(call, inputs)
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
    calibration: dict[str, Any] | None = None
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
    guard = None
    if case.guard:
        from pdeml.validation.guarded import run_guard

        guard = run_guard(surrogate, case.guard, train, inputs, reference, overall)
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
            mask = masks[f]
            if mask is not None:
                arrays[f"{label}__mask__{f}"] = mask[index]
    for dim, axis in problem.coords().items():
        arrays[f"coord__{dim}"] = np.asarray(axis)
    tmp = out / f"{spec['id']}.tmp.npz"
    np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]  # (not allow_pickle)
    os.replace(tmp, out / f"{spec['id']}.npz")
    parameters = surrogate.parameter_count()
    ds.close()
    return {
        "surrogate": case.name,
        "device": surrogate.device,
        "time_per_sample": seconds,
        "time_per_sample_spread": timing,
        "timing": "batched",
        "time_per_sample_single": single,
        "timing_threads": thread_settings(),
        "needs_data": surrogate.capabilities.needs_data,
        "train_seconds": train_seconds,
        "parameters": parameters,
        "n_train": len(train),
        "n_test": len(test),
        "metrics": metrics,
        "metrics_skipped": skipped,
        "goals": goals,
        "uncertainty": uncertain,
        "calibration": calibration,
        "history": list(surrogate.history),
        "guard": guard,
    }


def _run_reference(spec: dict[str, Any]) -> dict[str, Any]:
    """Time the reference solver on its ladder of settings; score against a finer truth
    (:mod:`pdeml.validation.ladder`)."""
    from pdeml.problems.base import Problem
    from pdeml.validation.ladder import run_ladder

    return run_ladder(
        Problem.from_dict(spec["problem"]),
        spec["ladder"],
        n_train=spec["n_train"],
        n_test=spec["n_test"],
        seed=int(spec["seed"]),
    )
