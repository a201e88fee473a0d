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

import contextlib
import hashlib
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pdeml._threads import available_cores, limit_threads, threads_per_worker
from pdeml._version import __version__
from pdeml.validation.environment import environment
from pdeml.validation.suite import ProblemCase, Suite, SurrogateCase, load_suite

ENTRIES = "entries"


# -- small utilities ----------------------------------------------------------------------
def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as strict JSON, atomically (a temporary name, then ``os.replace``).

    NaN and infinities become ``null``: ``json.dumps`` would write the bare words ``NaN`` /
    ``Infinity``, which are not JSON and which other readers (browsers, ``jq``) reject.
    """
    text = json.dumps(_jsonable(data), indent=1, allow_nan=False)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _jsonable(value: Any) -> Any:
    """``value`` with numpy scalars and arrays made plain and non-finite numbers ``None``."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if value is None or isinstance(value, (str, int)):  # bool is an int
        return value
    return _json_default(value)


def _json_default(value: Any) -> Any:
    """Plain value for what ``json`` cannot write (numpy values; anything else as text)."""
    if isinstance(value, (np.ndarray, np.generic)):
        return _jsonable(value)
    return str(value)


def _number(value: Any) -> float:
    """A float from a JSON value: ``None`` (how a NaN is written) and non-numbers are NaN."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return float("nan")
    return float(value)


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
        # Local workers are started with OMP_NUM_THREADS etc. already (worker_environ);
        # this also caps a pool that was sized before (torch imported by an earlier task).
        limit_threads(threads)
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
    torch = sys.modules.get("torch")  # the threads the timings were taken with
    record["threads"] = torch.get_num_threads() if torch is not None else None
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
    # Ladder points read back from JSON hold None where the solver's error was NaN.
    ladder = [
        p
        for p in ladder
        if np.isfinite(_number(p.get("relative_l2")))
        and np.isfinite(_number(p.get("seconds_per_sample")))
    ]
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
    whose suite line was edited since (hyperparameters, training, goal) runs again; one
    whose file cannot be read (cut short, edited by hand) runs again too."""
    path = out / ENTRIES / f"{spec['id']}.json"
    if not path.is_file():
        return False
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # ValueError: bad JSON or bad UTF-8
        return False
    return (
        isinstance(record, dict)
        and record.get("status") == "ok"
        and record.get("spec") == spec_fingerprint(spec)
    )


#: Thread-count variables every local worker starts with: read by libgomp (torch's
#: intra-op pool), MKL / OpenBLAS and numba when they load, so the pools are sized at birth.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)


def worker_environ(threads: int = 1) -> dict[str, Any]:
    """Environment of the local Dask workers, each allowed ``threads`` threads.

    distributed's defaults, with the thread variables (:data:`THREAD_VARIABLES`) set to
    ``threads`` and without ``MALLOC_TRIM_THRESHOLD_``.

    distributed sets ``MALLOC_TRIM_THRESHOLD_`` to 64 KiB so that workers hand memory back
    to the system; glibc then trims on nearly every free of a torch buffer, and surrogate
    training in a worker ran 2.2x slower than in the main process (NSM on Poisson, 300
    steps, timed by a one-off script: 27 s against 12 s; 13 s with this environment).
    Training times and times per sample in the reports are measured in the workers, so
    they must not pay for it.

    ``OMP_WAIT_POLICY=PASSIVE`` makes an idle OpenMP thread sleep at once instead of
    spinning for a while first (libgomp's default), which on a core shared with other
    work takes time from whoever else runs there. Measured on 2 busy cores (load about 6,
    one more ``while True: pass`` beside it): a 2-epoch FNO fit on 32 Darcy samples at
    29 x 29 with 2 torch threads took 33 s and 35 s by default, 12 s and 8.5 s with
    ``PASSIVE`` (9.7 s with 1 thread).
    """
    import dask
    import distributed  # noqa: F401  (registers the distributed config)

    threads = max(1, int(threads))
    defaults = dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {}
    env = {k: v for k, v in defaults.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    env.update({name: threads for name in THREAD_VARIABLES})
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    return env


#: Seconds to wait for a Dask scheduler to answer before giving up (``scheduler=``).
SCHEDULER_TIMEOUT = 10.0
#: Seconds to wait for the client and the local cluster to close.
CLOSE_TIMEOUT = 20.0
#: Local worker processes allowed per core: more only wait for a core, each holding the
#: memory of a Python process with torch loaded (several hundred MB).
WORKERS_PER_CORE = 4
INTERRUPTED = (
    "validation interrupted; finished entries kept in {entries}; "
    "run the same command again to resume"
)


def check_workers(workers: Any) -> int | None:
    """Check ``workers`` (``None``: choose later); raise naming it when it is not usable."""
    if workers is None:
        return None
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)):
        raise TypeError(
            f"workers: expected a positive integer (worker processes), "
            f"got {workers!r} ({type(workers).__name__})"
        )
    workers = int(workers)
    cores = available_cores()
    limit = WORKERS_PER_CORE * cores
    if workers < 1:
        raise ValueError(
            f"workers: expected a positive integer (1 runs the entries in this process), "
            f"got {workers}"
        )
    if workers > limit:
        raise ValueError(
            f"workers: at most {limit} ({WORKERS_PER_CORE} per core on the {cores} cores "
            f"this process may use), got {workers}"
        )
    return workers


def check_scheduler(scheduler: Any) -> str | None:
    """Check the form of a Dask scheduler address such as ``tcp://host:8786``.

    Raises ``TypeError`` / ``ValueError`` naming ``scheduler``; whether a scheduler answers
    there is checked when connecting (:func:`_connect`).
    """
    if scheduler is None:
        return None
    if not isinstance(scheduler, str):
        raise TypeError(
            f"scheduler: expected an address such as 'tcp://host:8786', "
            f"got {scheduler!r} ({type(scheduler).__name__})"
        )
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import backends

    address = scheduler.strip()
    expected = "expected an address such as 'tcp://host:8786'"
    if not address or any(c.isspace() for c in address):
        raise ValueError(f"scheduler: {expected}, got {scheduler!r}")
    try:
        protocol, location = parse_address(address)
    except ValueError as error:
        raise ValueError(f"scheduler: {expected}, got {scheduler!r} ({error})") from None
    if protocol not in backends:
        raise ValueError(
            f"scheduler {scheduler!r}: unknown protocol {protocol!r}; "
            f"expected one of {sorted(backends)}"
        )
    if protocol != "inproc":
        try:
            host, port = parse_host_port(location)
        except ValueError as error:
            raise ValueError(f"scheduler: {expected}, got {scheduler!r} ({error})") from None
        if not host or not 0 < int(port) < 65536:
            raise ValueError(
                f"scheduler: {expected} (a host and a port 1-65535), got {scheduler!r}"
            )
    return address


def _connect(scheduler: str) -> Any:
    """A client of the scheduler at ``scheduler``, or ``ValueError`` after a short wait."""
    from dask.distributed import Client

    try:
        with _quiet_distributed():  # the failed attempts are logged one by one
            return Client(scheduler, timeout=SCHEDULER_TIMEOUT)
    except (OSError, TimeoutError) as error:
        raise ValueError(
            f"scheduler {scheduler!r}: no Dask scheduler answered within "
            f"{SCHEDULER_TIMEOUT:g} s ({error}); start one with `dask scheduler` "
            "or leave --scheduler out to use local workers"
        ) from None


#: Loggers silenced while a cluster closes (tornado and asyncio run distributed's comms).
_DISTRIBUTED_LOGGERS = ("distributed", "tornado", "asyncio")


def _distributed_loggers() -> list[logging.Logger]:
    prefixes = tuple(name + "." for name in _DISTRIBUTED_LOGGERS)
    return [logging.getLogger(name) for name in _DISTRIBUTED_LOGGERS] + [
        logger
        for name, logger in list(logging.Logger.manager.loggerDict.items())
        if name.startswith(prefixes) and isinstance(logger, logging.Logger)
    ]


@contextlib.contextmanager
def _quiet_distributed() -> Iterator[None]:
    """Silence the loggers of distributed (and of tornado / asyncio under it) for a while.

    Closing a cluster makes workers, nannies and the scheduler log what they lose on the
    way (heartbeats that find no scheduler, workers killed after the grace time); on a
    successful run that is noise that looks like a failure.
    """
    saved = [(logger, logger.level) for logger in _distributed_loggers()]
    for logger, _ in saved:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


def _silence_worker_logs() -> None:
    """Run on each worker just before the cluster closes (see :func:`_quiet_distributed`)."""
    for logger in _distributed_loggers():
        logger.setLevel(logging.CRITICAL + 1)


@contextlib.contextmanager
def _children_ignore_sigint() -> Iterator[None]:
    """Processes started inside ignore SIGINT (Ctrl-C); this one gets it back after.

    Ctrl-C reaches every process of the terminal's process group: local Dask workers
    would each die with a traceback of their own. An ignored SIGINT is inherited through
    fork and exec, and Python keeps it ignored, so the workers leave Ctrl-C to this
    process, which closes the cluster. (A Ctrl-C while the workers start is lost.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _close(client: Any, cluster: Any) -> None:
    """Close the client, then the cluster it talks to, quietly and within timeouts."""
    with _quiet_distributed():
        if cluster is not None:
            try:  # the workers are children of this process and log on its stderr
                client.run(_silence_worker_logs)
            except Exception:  # best effort: a dead worker must not block the close
                pass
        try:
            client.close(timeout=CLOSE_TIMEOUT)
        finally:
            if cluster is not None:
                cluster.close(timeout=CLOSE_TIMEOUT)


def _execute(specs: list[dict[str, Any]], workers: int, progress: bool, client: Any = None) -> None:
    """Run ``specs``: on ``client`` if given, else in local workers or in this process."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(specs), desc="validate", unit="entry", disable=not progress)
    if not specs:
        bar.close()
        if client is not None:
            _close(client, None)
        return
    if client is None and (workers <= 1 or len(specs) == 1):
        if "torch" not in sys.modules:  # libgomp reads it once, when torch loads it
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see worker_environ
        try:
            for spec in specs:
                run_entry(spec)
                bar.update()
        finally:
            bar.close()
        return
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if client is None:
        import dask

        environ = worker_environ(threads_per_worker(workers))
        with (
            dask.config.set({"distributed.nanny.pre-spawn-environ": environ}),
            _children_ignore_sigint(),
        ):
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
        client = Client(cluster)
    try:
        futures = client.map(run_entry, specs, pure=False)
        by_key = {future.key: spec for future, spec in zip(futures, specs)}
        for future in as_completed(futures):
            spec = by_key[future.key]
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
        _close(client, cluster)


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
        ``1`` runs the entries one after another in this process. Each worker may use
        ``cores // workers`` threads (:func:`pdeml._threads.threads_per_worker`).
    scheduler : str, optional
        Address of a running ``dask.distributed`` scheduler to send the entries to, such
        as ``"tcp://host:8786"``.
    progress : bool
        Progress bars.

    Returns
    -------
    dict
        Paths of ``results``, ``report_md``, ``report_html``.

    Raises
    ------
    TypeError, ValueError
        For a ``workers`` or ``scheduler`` that cannot be used (a scheduler that does not
        answer within :data:`SCHEDULER_TIMEOUT` seconds included) and for mistakes in the
        suite, naming the suite file and the key.
    FileNotFoundError
        If the suite file does not exist.
    KeyboardInterrupt
        On Ctrl-C, with a one-line message: the finished entries are kept in
        ``<out>/entries`` and running the same call again resumes from them.
    """
    workers = check_workers(workers)
    scheduler = check_scheduler(scheduler)
    suite = load_suite(suite)
    out = Path(out)
    entries = out / ENTRIES
    try:
        return _validate(suite, out, workers, scheduler, progress)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(INTERRUPTED.format(entries=entries)) from None


def _validate(
    suite: Suite, out: Path, workers: int | None, scheduler: str | None, progress: bool
) -> dict[str, Path]:
    from pdeml.data.dataset import open_dataset
    from pdeml.data.generation import generate
    from pdeml.validation.report import write_report

    # A scheduler that does not answer is found before minutes of data generation.
    client = _connect(scheduler) if scheduler is not None else None
    try:
        (out / ENTRIES).mkdir(parents=True, exist_ok=True)
        if workers is None:
            workers = max(1, available_cores() // 2)
        paths = {}
        for case in suite.problems:
            path = dataset_path(suite, case)
            if not path.exists():
                generate(
                    case.problem(), case.n_train + case.n_test, case.seed, path, progress=progress
                )
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
                spec["threads"] = threads_per_worker(workers)
    except BaseException:
        if client is not None:
            _close(client, None)
        raise
    _execute(specs, workers, progress, client)
    results = assemble(out)
    written = write_report(out)
    return {"results": results, "report_md": written["markdown"], "report_html": written["html"]}


def assemble(out: str | Path) -> Path:
    """Fill in speed-ups and write ``results.nc``: one row per entry and metric."""
    import xarray as xr

    out = Path(out)
    records = []
    for path in sorted((out / ENTRIES).glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # the report lists unreadable entries
            continue
        if isinstance(record, dict) and {"id", "kind", "problem_id", "status"} <= set(record):
            records.append(record)
    ladders = {
        r["problem_id"]: r.get("ladder") or []
        for r in records
        if r["kind"] == "reference" and r["status"] == "ok"
    }
    for record in records:
        if record["kind"] != "surrogate" or record["status"] != "ok":
            continue
        l2 = (record.get("metrics") or {}).get("relative_l2", {})
        means = [_number(v.get("mean")) for v in l2.values()]  # null: a NaN written as JSON
        error = float(np.mean(means)) if means else float("nan")
        ratio, note = speedup_at_equal_accuracy(
            error, record.get("time_per_sample"), ladders.get(record["problem_id"], [])
        )
        record["speedup"], record["speedup_note"] = ratio, note
        _write_json(out / ENTRIES / f"{record['id']}.json", record)

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
            "time_per_sample": ("entry", [_number(r.get("time_per_sample")) for r in records]),
            "train_seconds": ("entry", [_number(r.get("train_seconds")) for r in records]),
            "parameters": ("entry", [_number(r.get("parameters")) for r in records]),
            "speedup": ("entry", [_number(r.get("speedup")) for r in records]),
            "row_entry": ("row", [row[0] for row in rows]),
            "row_metric": ("row", [row[1] for row in rows]),
            "row_field": ("row", [row[2] for row in rows]),
            **{
                stat: ("row", [_number(row[3].get(stat)) for row in rows])
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
