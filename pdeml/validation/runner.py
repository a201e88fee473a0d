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

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pdeml._json import write_json
from pdeml._threads import idle_cores, threads_per_worker
from pdeml._version import __version__
from pdeml.validation.breakeven import entry_break_even
from pdeml.validation.cluster import (
    INTERRUPTED,
    check_scheduler,
    check_workers,
    close_quietly,
    connect,
    execute,
)
from pdeml.validation.entry import dataset_path
from pdeml.validation.environment import environment
from pdeml.validation.records import ENTRIES, number, spec_fingerprint
from pdeml.validation.speedup import speedup_at_equal_accuracy
from pdeml.validation.suite import Suite, load_suite
from pdeml.validation.timing import load_average


# -- the whole suite ------------------------------------------------------------------------
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
                    "ladder": case.reference.spec(),
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
                            # Only when set: other entries keep their fingerprints.
                            **({"guard": dict(s.guard)} if s.guard else {}),
                        },
                    }
                )
    return specs


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
    checked = load_suite(suite)
    out = Path(out)
    entries = out / ENTRIES
    try:
        return _validate(checked, out, workers, scheduler, progress)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(INTERRUPTED.format(entries=entries)) from None


def _validate(
    suite: Suite, out: Path, workers: int | None, scheduler: str | None, progress: bool
) -> dict[str, Path]:
    from pdeml.data.dataset import open_dataset
    from pdeml.data.generation import generate
    from pdeml.validation.report import write_report

    # A scheduler that does not answer is found before minutes of data generation.
    client = connect(scheduler) if scheduler is not None else None
    # Idle OpenMP threads should sleep, not spin on cores that other work needs; libgomp
    # reads this once, when torch or numba first load it (see cluster.worker_environ).
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # The cores not kept busy by other programs now: every entry is sized from them.
    cores = idle_cores()
    try:
        (out / ENTRIES).mkdir(parents=True, exist_ok=True)
        if workers is None:
            workers = max(1, cores // 2)
        paths, solve_seconds = {}, {}
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
                # What one training sample cost (break-even accounting): its solve, and its
                # drawing where that is a solver run too (Navier–Stokes, Lorenz96 spin-up).
                solve = ds.attrs.get("solve_seconds_per_sample")
                draw = ds.attrs.get("draw_seconds_per_sample", 0.0)
                solve_seconds[case.id] = None if solve is None else solve + draw
            paths[case.id] = path
        env = environment()
        env["load_start"] = env.pop("load_average", None)
        env["threads"] = (
            f"{workers} local worker process(es), torch, numba and BLAS capped at "
            f"{threads_per_worker(workers, cores)} thread(s) each"
            if scheduler is None
            else f"set by the workers of the scheduler at {scheduler}"
        )
        write_json(
            out / "suite.json",
            {
                "name": suite.name,
                "description": suite.description,
                "environment": env,
                "metrics": list(suite.metrics),
                "problems": {
                    c.id: {
                        "problem": c.problem().to_dict(),
                        "n_train": c.n_train,
                        "n_test": c.n_test,
                        "dataset": str(paths[c.id]),
                        "data_seconds_per_sample": solve_seconds[c.id],
                    }
                    for c in suite.problems
                },
            },
        )
        specs = [s for s in _specs(suite, out, paths) if not _finished(out, s)]
        if scheduler is None:
            for spec in specs:
                spec["threads"] = threads_per_worker(workers, cores)
    except BaseException:
        if client is not None:
            close_quietly(client, None)
        raise
    execute(specs, workers, progress, client)
    _record_load_at_end(out)
    results = assemble(out)
    written = write_report(out)
    return {"results": results, "report_md": written["markdown"], "report_html": written["html"]}


def _record_load_at_end(out: Path) -> None:
    """Add the load average after the entries ran to ``suite.json``'s environment."""
    path = out / "suite.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # the report says what is missing
        return
    if isinstance(data, dict) and isinstance(data.get("environment"), dict):
        data["environment"]["load_end"] = load_average()
        write_json(path, data)


def _data_seconds(out: Path, records: list[dict[str, Any]]) -> dict[str, float | None]:
    """Per problem, the reference solver's time per training sample: the dataset's own
    (``suite.json``), else the reference ladder's time at the data's setting."""
    try:
        suite = json.loads((out / "suite.json").read_text(encoding="utf-8"))
        problems = suite.get("problems") or {}
    except (OSError, ValueError, AttributeError):
        problems = {}
    seconds: dict[str, float | None] = {}
    for r in records:
        if r["kind"] == "reference" and r["status"] == "ok":
            seconds[r["problem_id"]] = r.get("time_per_sample")
    for pid, spec in problems.items():
        value = number((spec or {}).get("data_seconds_per_sample"))
        if np.isfinite(value) and value > 0:
            seconds[pid] = value
    return seconds


def _account(
    record: dict[str, Any],
    data_seconds: float | None,
    ladder: list[dict[str, Any]],
    fields: list[str],
) -> None:
    """Break-even counts (plain and guarded) and the guarded speed-up of one entry.

    The guarded speed-up is read off the ladder at the guarded answers' own mean error
    (accepted predictions and fallback solves together), so it compares the guard with the
    reference setting of the accuracy the guard delivers, not of the bare surrogate's.
    """
    record["break_even"] = entry_break_even(record, data_seconds).to_record()
    guard = record.get("guard")
    if not isinstance(guard, dict):
        return
    ratio, note = speedup_at_equal_accuracy(
        number(guard.get("mean_error")), guard.get("time_per_sample"), ladder, fields
    )
    record["guard_speedup"] = ratio
    record["guard_speedup_note"] = note if ratio is not None else ""
    record["guard_break_even"] = entry_break_even(record, data_seconds, guarded=True).to_record()


def _queries(record: Any) -> float:
    """A break-even record's count as a float: ``inf`` for never, ``nan`` for unknown."""
    if not isinstance(record, dict):
        return float("nan")
    value = number(record.get("queries"))
    return float("inf") if not np.isfinite(value) and record.get("infinite") else value


def assemble(out: str | Path) -> Path:
    """Fill in speed-ups and break-even counts and write ``results.nc``: one row per entry
    and metric."""
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
    data_seconds = _data_seconds(out, records)
    for record in records:
        if record["kind"] != "surrogate" or record["status"] != "ok":
            continue
        l2 = (record.get("metrics") or {}).get("relative_l2", {})
        means = [number(v.get("mean")) for v in l2.values()]  # null: a NaN written as JSON
        error = float(np.mean(means)) if means else float("nan")
        ratio, note = speedup_at_equal_accuracy(
            error, record.get("time_per_sample"), ladders.get(record["problem_id"], []), list(l2)
        )
        record["speedup"], record["speedup_note"] = ratio, note
        _account(
            record,
            data_seconds.get(record["problem_id"]),
            ladders.get(record["problem_id"], []),
            list(l2),
        )
        write_json(out / ENTRIES / f"{record['id']}.json", record)

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
            "break_even_queries": ("entry", [_queries(r.get("break_even")) for r in records]),
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
