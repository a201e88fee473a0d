"""The ``pdeml`` command line: parse, call the public API, print.

User mistakes (bad arguments, missing files, invalid parameters) print one line
``pdeml: error: ...`` on stderr and exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: Exceptions that mean "the user asked for something wrong", reported without traceback.
USER_ERRORS = (
    ValueError,
    TypeError,
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)
#: Kinds of other ``OSError`` that are about the user's paths or disk, not our code: a name
#: too long, a file where a folder should be, no permission, a full or read-only disk.
USER_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ENAMETOOLONG", "ENOTDIR", "EISDIR", "EACCES", "EPERM", "ENOSPC", "EROFS")
    if hasattr(errno, name)
)
#: Files a run folder may hold (written by ``pdeml train``); ``--overwrite`` removes only these.
RUN_FILES = frozenset(
    {
        "config.json",
        "model.pt",
        "pca_gp.pt",
        "mmgp.pt",
        "checkpoint.pt",
        "metrics.jsonl",
        "metrics.tmp",
        "training_data.json",
    }
)
#: Where ``pdeml train`` records which file and samples it trained on (for ``predict``).
TRAINING_RECORD = "training_data.json"
#: Longest file or folder name most file systems allow (bytes).
NAME_MAX = 255


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse ``key=value`` with the value read as a TOML value (bare words stay strings)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError(f"--set {text!r}: expected key=value")
    try:
        value = tomllib.loads(f"value = {raw.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key, value


def _cmd_generate(args: argparse.Namespace) -> int:
    from pdeml.data.generation import generate
    from pdeml.problems.base import problem_class
    from pdeml.problems.presets import read_preset

    preset = read_preset(args.preset)
    parameters = preset.problem_parameters(args.size)
    defaults = preset.generate_defaults(args.size)
    for assignment in args.set or []:
        key, value = parse_assignment(assignment)
        parameters[key] = value
    if args.resolution is not None:
        parameters["resolution"] = args.resolution
    problem = problem_class(preset.problem).from_parameters(parameters)
    n = args.n if args.n is not None else defaults.get("n")
    if n is None:
        raise ValueError("--n: no sample count given and the preset size sets none")
    seed = args.seed if args.seed is not None else defaults.get("seed", 0)
    solver_options = dict(parse_assignment(a) for a in args.solver_option or [])
    ds = generate(
        problem,
        n=n,
        seed=seed,
        path=args.out,
        workers=args.workers,
        solver_options=solver_options,
        dtype=args.dtype,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    seconds = ds.attrs.get("seconds_wall", float("nan"))
    where = f"at resolution {problem.resolution}" if problem.resolution else "on meshes"
    print(f"wrote {args.out}: {len(ds)} samples of {problem.name} {where} in {seconds:.1f} s")
    ds.close()
    return 0


def _describe_dataset(path: str) -> tuple[str, bool]:
    """The text ``pdeml info`` prints for one file, and whether all its values are finite."""
    from pdeml.data.dataset import open_dataset

    with open_dataset(path) as ds:
        attrs = ds.attrs
        lines = [f"{path}: pdeml dataset, problem {ds.problem.name!r}, {len(ds)} samples"]
        params = ", ".join(f"{k}={v}" for k, v in ds.problem.to_dict_fields().items())
        lines.append(f"  problem: {params}")
        solver = attrs.get("solver", {})
        if solver:
            options = ", ".join(f"{k}={v}" for k, v in solver.get("options", {}).items())
            lines.append(f"  solver: {solver.get('name')} ({options})")
        for role, names in (("input", ds.input_names), ("output", ds.output_names)):
            for name in names:
                var = ds.xr[name]
                values = var.values
                shape = "x".join(map(str, var.shape))
                lines.append(
                    f"  {role:6} {name:8} {shape:>16} {var.dtype!s:8} dims {var.dims}  "
                    f"min {values.min():.4g} max {values.max():.4g} mean {values.mean():.4g} "
                    f"std {values.std():.4g}"
                )
        for key in (
            "seed",
            "version",
            "created",
            "seconds_wall",
            "solve_seconds_per_sample",
            "workers",
            "source",
        ):
            if key not in attrs:
                continue
            value = attrs[key]
            if isinstance(value, dict):  # e.g. where imported data came from: one per line
                lines.append(f"  {key}:")
                lines.extend(f"    {k}: {v}" for k, v in value.items())
            else:
                lines.append(f"  {key}: {value}")
        try:
            ds.check_finite()
        except ValueError as error:
            # Still describe the file (that is what info is for), but say what is wrong
            # and exit non-zero so that scripts notice.
            lines.append(f"  values: NOT ALL FINITE: {error}")
            return "\n".join(lines), False
        lines.append("  values: all finite")
    return "\n".join(lines), True


def _cmd_info(args: argparse.Namespace) -> int:
    status = 0
    for i, path in enumerate(args.paths):
        if i:
            print()
        text, finite = _describe_dataset(path)
        print(text)
        status = status if finite else 1
    return status


def _cmd_import(args: argparse.Namespace) -> int:
    from pdeml.data.formats import import_dataset

    overrides = dict(parse_assignment(a) for a in args.set or [])
    ds = import_dataset(
        args.source,
        args.format,
        args.problem,
        path=args.out,
        size=args.size,
        resolution=args.resolution,
        n=args.n,
        overrides=overrides,
        dtype=args.dtype,
        overwrite=args.overwrite,
    )
    where = f"at resolution {ds.problem.resolution}" if ds.problem.resolution else "on meshes"
    print(
        f"wrote {args.out}: {len(ds)} samples of {ds.problem.name} {where} "
        f"from {args.format} file {args.source}"
    )
    ds.close()
    return 0


def _shown(path: Path) -> str:
    """A path short enough to read in a one-line message."""
    text = str(path)
    return text if len(text) <= 80 else text[:40] + "..." + text[-30:]


def _check_out_path(out: Path, option: str = "--out") -> None:
    """Refuse an output path no file system can hold, before any work is done: a name
    longer than the file system allows, or a file where a folder must be."""
    for part in out.parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise ValueError(
                f"{option} {_shown(out)}: the name {part[:24]!r}... is "
                f"{len(os.fsencode(part))} bytes long; file systems allow at most {NAME_MAX}"
            )
    for parent in out.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(
                    f"{option} {_shown(out)}: {_shown(parent)} is a file, not a folder"
                )
            break


def _check_out_file(out: Path, overwrite: bool, inputs: dict[str, Path]) -> None:
    """Checks of a file to write: never one of the inputs, an existing one only with
    ``--overwrite``, never a folder."""
    _check_out_path(out)
    for option, path in inputs.items():
        if out.exists() and path.exists() and os.path.samefile(out, path):
            raise ValueError(
                f"--out {_shown(out)}: is the input {option} {_shown(path)}; writing there "
                "would destroy it; choose another file"
            )
    if out.is_dir():
        raise ValueError(
            f"--out {_shown(out)}: is a folder; give a file name such as predictions.h5"
        )
    if out.exists() and not overwrite:
        raise FileExistsError(
            f"--out {_shown(out)}: the file exists; choose another name or pass --overwrite "
            "to replace it"
        )


def _prepare_run_folder(
    out: Path, data: Path, resume: bool, overwrite: bool, clear: bool = False
) -> None:
    """A fresh run writes into an empty or new folder; ``--overwrite`` clears a previous
    run's files (so nothing of it can be restored) when ``clear`` is set, which the caller
    does once every other argument has been checked; ``--resume`` keeps them."""
    _check_out_path(out)
    if resume and overwrite:
        raise ValueError("--resume and --overwrite: give one (continue a run, or replace it)")
    if not out.exists():
        return
    if not out.is_dir():
        raise ValueError(f"--out {_shown(out)}: is a file; give a folder for the run")
    if data.exists() and data.resolve().is_relative_to(out.resolve()):
        raise ValueError(
            f"--out {_shown(out)}: holds the training data {_shown(data)}; choose a new "
            "folder for the run"
        )
    entries = sorted(p.name for p in out.iterdir())
    foreign = [name for name in entries if name not in RUN_FILES and not name.endswith(".tmp")]
    if foreign:
        listed = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise ValueError(
            f"--out {_shown(out)}: the folder holds files that are not a pdeml run "
            f"({listed}); choose a new or empty folder"
        )
    if not entries or resume:
        return
    if not overwrite:
        raise FileExistsError(
            f"--out {_shown(out)}: holds a previous run; pass --resume to continue it or "
            "--overwrite to replace it"
        )
    if clear:
        for name in entries:
            (out / name).unlink()


def _file_fingerprint(path: Path, ds: Any) -> dict[str, Any]:
    """What identifies a data file: where it is, its size and time, pdeml's creation
    stamp and sample count (a copy of the file keeps the stamp)."""
    stat = path.stat()
    return {
        "path": str(path.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "created": ds.attrs.get("created"),
        "n": len(ds),
    }


def _write_json(path: Path, value: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=1))
    os.replace(tmp, path)


def _is_training_file(record: dict[str, Any], path: Path, ds: Any) -> bool:
    """Whether ``ds`` at ``path`` is the file (or a copy of it) a run was trained on."""
    now = _file_fingerprint(path, ds)
    if record.get("created") is not None:
        return record["created"] == now["created"] and record.get("n") == now["n"]
    same = record.get("path") is not None and Path(record["path"]).exists()
    same = same and os.path.samefile(record["path"], path)
    return bool(same and record.get("size") == now["size"] and record.get("n") == now["n"])


def _positions(indices: Any) -> str:
    """``0-7`` for a contiguous run of positions, else the first few."""
    indices = list(indices)
    if not indices:
        return "none"
    if indices == list(range(indices[0], indices[-1] + 1)):
        return f"{indices[0]}-{indices[-1]}" if len(indices) > 1 else str(indices[0])
    head = ", ".join(map(str, indices[:8]))
    return head + (", ..." if len(indices) > 8 else "")


def _split_settings(surrogate_name: str, assignments: list[str]) -> tuple[dict, dict]:
    """Sort ``--set key=value`` into surrogate hyperparameters and training options."""
    import dataclasses

    from pdeml.surrogates.base import surrogate_class
    from pdeml.training.trainer import TrainerConfig

    hyper_names = set(surrogate_class(surrogate_name).hyperparameter_names())
    train_names = {f.name for f in dataclasses.fields(TrainerConfig)}
    hyper, train = {}, {}
    for assignment in assignments:
        key, value = parse_assignment(assignment)
        if key in hyper_names:
            hyper[key] = value
        elif key in train_names:
            train[key] = value
        else:
            raise ValueError(
                f"--set {key}: not a hyperparameter of {surrogate_name!r} "
                f"({', '.join(sorted(hyper_names))}) nor a training option "
                f"({', '.join(sorted(train_names))})"
            )
    return hyper, train


def _cmd_train(args: argparse.Namespace) -> int:
    import numpy as np

    from pdeml.data.dataset import open_dataset
    from pdeml.problems.presets import load_problem
    from pdeml.surrogates.base import make_surrogate
    from pdeml.training.trainer import CHECKPOINT, TrainerConfig, TrainingDiverged, check_device

    hyper, options = _split_settings(args.surrogate, args.set or [])
    _prepare_run_folder(args.out, args.data, args.resume, args.overwrite)
    ds = open_dataset(args.data)
    if args.problem is not None:
        expected = load_problem(args.problem, size=args.size)
        if expected.name != ds.problem.name:
            raise ValueError(
                f"--problem: {args.problem} is a {expected.name!r} problem but {args.data} "
                f"holds {ds.problem.name!r} data"
            )
    n_test = args.n_valid if args.n_valid is not None else max(1, len(ds) // 10)
    train, valid = ds.split(n_test=n_test)
    surrogate = make_surrogate(args.surrogate, ds.problem, **hyper)
    options.setdefault("progress", not args.quiet)
    if surrogate.checkpoints:
        # Checkpoint every 5% of the run unless told otherwise: a Ctrl-C or a kill then
        # loses little, and --resume continues from there.
        epochs = options.get("epochs", 500)
        if isinstance(epochs, int) and not isinstance(epochs, bool) and epochs >= 1:
            options.setdefault("checkpoint_every", max(1, epochs // 20))
        options.update(out_dir=args.out, resume=args.resume)
    elif args.resume:
        raise ValueError(f"--resume: surrogate {args.surrogate!r} has no checkpoints to resume")
    if surrogate.checkpoints:
        # Check the training options before an --overwrite deletes anything.
        config = TrainerConfig.from_options(
            {k: v for k, v in options.items() if k not in ("out_dir", "resume")}
        )
        if config.device is not None:
            check_device(config.device, "--set device")
    _prepare_run_folder(args.out, args.data, args.resume, args.overwrite, clear=True)
    try:
        surrogate.fit(train, valid, **options)
    except TrainingDiverged as error:
        lr = options.get("lr", 1e-3)
        hint = f" (e.g. --set lr={lr / 10:g})" if isinstance(lr, (int, float)) else ""
        raise _Diverged(f"training diverged: {error}{hint}") from None
    except KeyboardInterrupt:
        checkpoint = args.out / CHECKPOINT
        if surrogate.checkpoints and checkpoint.is_file():
            raise KeyboardInterrupt(
                f"training interrupted; last checkpoint in {args.out}; run again with "
                "--resume to continue"
            ) from None
        raise KeyboardInterrupt(
            "training interrupted before its first checkpoint; nothing to resume"
        ) from None
    surrogate.save(args.out)
    n_train = len(train)
    _write_json(
        args.out / TRAINING_RECORD,
        {
            **_file_fingerprint(args.data, ds),
            "train_positions": [0, n_train],
            "valid_positions": [n_train, len(ds)],
        },
    )
    last = surrogate.history[-1] if surrogate.history else {}
    error = last.get("valid_metric")
    if error is None and surrogate.needs_data:
        # No training log (GP surrogates): score the held-out samples directly.
        from pdeml.validation.metrics import compute_metrics

        predictions = surrogate.solve(valid.inputs)
        reference = valid.outputs
        values = compute_metrics(
            "relative_l2",
            {k: predictions[k] for k in reference if k in predictions},
            reference,
            problem=ds.problem,
            mask={k: ds.problem.output_mask(k, valid.inputs) for k in reference},
        )["relative_l2"]
        error = float(np.mean([v.mean() for v in values.values()]))
    shown = "n/a" if error is None else f"{error:.4g}"
    print(
        f"trained {args.surrogate} on {len(train)} samples; validation relative L2 "
        f"{shown} on {len(valid)} samples; saved to {args.out}"
    )
    return 0


class _Diverged(Exception):
    """Training diverged: reported in one line, exit status 1 (not a usage error)."""


def _read_training_record(run: Path) -> dict[str, Any] | None:
    file = run / TRAINING_RECORD
    if not file.is_file():
        return None  # a run saved by the Python API, or before runs recorded their data
    try:
        record = json.loads(file.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{file}: not valid JSON ({error})") from None
    if not isinstance(record, dict):
        raise ValueError(f"{file}: expected a JSON object")
    return record


def _cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np

    from pdeml.data.dataset import open_dataset
    from pdeml.data.store import write_dataset
    from pdeml.surrogates.base import load_surrogate

    if args.out is not None:
        _check_out_file(args.out, args.overwrite, {"data": args.data, "run": args.run})
    surrogate = load_surrogate(args.run)
    record = _read_training_record(args.run)
    with open_dataset(args.data) as ds:
        if ds.problem.name != surrogate.problem.name:
            raise ValueError(
                f"{args.data}: holds {ds.problem.name!r} data, but {args.run} is a surrogate "
                f"for {surrogate.problem.name!r}"
            )
        n = len(ds)
        selected = np.arange(n)
        trained_on = record is not None and _is_training_file(record, args.data, ds)
        if trained_on:
            start, stop = record.get("valid_positions", [n, n])
            held_out = np.arange(int(start), min(int(stop), n))
            if not args.all:
                selected = held_out
            scope = (
                f"all {n} samples of the training file {args.data}, {n - len(held_out)} of "
                "them trained on"
                if args.all
                else f"the {len(held_out)} held-out samples of the training file {args.data} "
                f"(positions {_positions(held_out)}); --all to score all"
            )
        else:
            scope = f"all {n} samples of {args.data} (positions {_positions(selected)})"
        if not len(selected):
            raise ValueError(f"{args.data}: no held-out samples to score; --all to score all")
        part = ds if len(selected) == n else ds.subset(selected)
        inputs = part.inputs
        try:
            predictions = surrogate.solve(inputs)
        except KeyboardInterrupt:
            raise KeyboardInterrupt("prediction interrupted; nothing was written") from None
        reference = part.outputs
        problem = ds.problem
    missing = [k for k in problem.output_names if k not in predictions]
    if missing:
        raise ValueError(
            f"{args.run}: predicts {list(predictions)}, not all of "
            f"{list(problem.output_names)} (missing {missing})"
        )
    if args.out is not None:
        try:
            write_dataset(
                args.out,
                problem,
                inputs,
                predictions,
                sample_index=selected,
                attrs={"source": f"predicted by {surrogate.name} from {args.run}"},
            )
        except KeyboardInterrupt:
            # write_dataset writes under a temporary name and removes it when interrupted.
            raise KeyboardInterrupt(f"prediction interrupted; {args.out} was not written") from None
    print(f"scored {scope}")
    for name, pred in predictions.items():
        ref = reference[name]
        m = len(ref)
        err = np.linalg.norm((pred - ref).reshape(m, -1), axis=1) / np.maximum(
            np.linalg.norm(ref.reshape(m, -1), axis=1), 1e-300
        )
        print(
            f"{name}: relative L2 against {args.data}: mean {err.mean():.4g}, "
            f"std {err.std():.4g}, max {err.max():.4g} ({m} samples)"
        )
    if args.out is not None:
        print(f"wrote {args.out}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from pdeml.validation.runner import validate

    written = validate(
        args.suite,
        args.out,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=not args.quiet,
    )
    import json

    entries = sorted((Path(args.out) / "entries").glob("*.json"))
    failed = [p.stem for p in entries if json.loads(p.read_text()).get("status") != "ok"]
    print(
        f"validated {len(entries)} entries ({len(failed)} failed); report: "
        f"{written['report_html']} and {written['report_md']}; results: {written['results']}"
    )
    for entry in failed:
        print(f"  failed: {entry}")
    return 1 if failed else 0


def _cmd_problems(args: argparse.Namespace) -> int:
    from pdeml.problems.base import available_problems
    from pdeml.problems.presets import builtin_presets

    print("problems:", ", ".join(available_problems()))
    print("built-in presets:", ", ".join(builtin_presets()))
    from pdeml.surrogates.base import available_surrogates

    print("surrogates:", ", ".join(available_surrogates()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``pdeml`` command."""
    from pdeml._version import __version__

    parser = argparse.ArgumentParser(
        prog="pdeml",
        description="Surrogates for parametric PDEs, validated against classical solvers.",
    )
    parser.add_argument("--version", action="version", version=f"pdeml {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    gen = sub.add_parser("generate", help="generate a dataset with a problem's reference solver")
    gen.add_argument("preset", help="problem preset: a TOML file or a built-in name (darcy, ...)")
    gen.add_argument("--size", default="quick", help="preset size (default: quick)")
    gen.add_argument("--n", type=int, help="number of samples (default: the preset's)")
    gen.add_argument("--out", required=True, type=Path, help="HDF5 file to write")
    gen.add_argument("--resolution", type=int, help="stored resolution (overrides the preset)")
    gen.add_argument("--seed", type=int, help="seed of the draw (default: the preset's)")
    gen.add_argument("--workers", type=int, help="processes (default: all cores)")
    gen.add_argument(
        "--dtype",
        default="float32",
        choices=["float32", "float64"],
        help="storage type of the fields (default: float32)",
    )
    gen.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a problem parameter (repeatable)",
    )
    gen.add_argument(
        "--solver-option",
        action="append",
        metavar="KEY=VALUE",
        help='reference-solver option, e.g. backend="torch" (repeatable)',
    )
    gen.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing file and discard an unfinished run",
    )
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(func=_cmd_generate)

    info = sub.add_parser("info", help="describe one or more dataset files")
    info.add_argument("paths", nargs="+", help="dataset files")
    info.set_defaults(func=_cmd_info)

    imp = sub.add_parser(
        "import",
        help="convert a foreign file (FNO .mat, PDEBench, neuraloperator .pt, .npz, meshes)",
    )
    imp.add_argument("source", type=Path, help="the file (or folder of meshes) to import")
    imp.add_argument(
        "--format",
        required=True,
        choices=["fno-mat", "pdebench", "neuralop-pt", "arrays", "meshes"],
        help="layout of the file (docs/own_data.md); meshes: a folder of mesh files",
    )
    imp.add_argument(
        "--problem", required=True, help="what the data are: a preset name or TOML file"
    )
    imp.add_argument("--size", default="quick", help="preset size (default: quick)")
    imp.add_argument(
        "--resolution", type=int, help="store a coarser grid, by striding (default: the file's)"
    )
    imp.add_argument("--n", type=int, help="import only the first N samples")
    imp.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a problem parameter the file does not record, e.g. nu=1e-3 (repeatable)",
    )
    imp.add_argument("--out", required=True, type=Path, help="HDF5 dataset to write")
    imp.add_argument(
        "--dtype",
        default="float32",
        choices=["float32", "float64"],
        help="storage type of the fields (default: float32)",
    )
    imp.add_argument("--overwrite", action="store_true", help="replace an existing dataset")
    imp.set_defaults(func=_cmd_import)

    train = sub.add_parser("train", help="train a surrogate on a dataset and save it")
    train.add_argument("--data", required=True, type=Path, help="training dataset (HDF5)")
    train.add_argument("--surrogate", required=True, help="surrogate name (fno, ...)")
    train.add_argument("--out", required=True, type=Path, help="run directory to write")
    train.add_argument("--problem", help="preset the data must belong to (checked)")
    train.add_argument("--size", default="quick", help="size of --problem (default: quick)")
    train.add_argument(
        "--n-valid",
        type=int,
        help="validation samples taken from the end of the data (default: 10%%)",
    )
    train.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="hyperparameter or training option, e.g. modes=12, epochs=500",
    )
    train.add_argument(
        "--resume", action="store_true", help="continue an interrupted run from its last checkpoint"
    )
    train.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run already in --out (its checkpoint is deleted first)",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_cmd_train)

    predict = sub.add_parser("predict", help="predict a dataset's outputs with a saved run")
    predict.add_argument("run", type=Path, help="run directory written by pdeml train")
    predict.add_argument("data", type=Path, help="dataset whose inputs to use")
    predict.add_argument("--out", type=Path, help="write the predictions as a dataset")
    predict.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    predict.add_argument(
        "--all",
        action="store_true",
        help="on the file the run was trained on, score every sample, not only the held-out",
    )
    predict.set_defaults(func=_cmd_predict)

    val = sub.add_parser("validate", help="run a validation suite and write its report")
    val.add_argument("suite", type=Path, help="suite TOML file (validation/suites/*.toml)")
    val.add_argument("--out", required=True, type=Path, help="report folder")
    val.add_argument(
        "--workers",
        type=int,
        help="local dask worker processes (default: half the cores; 1 runs in this process)",
    )
    val.add_argument("--scheduler", help="address of a running dask.distributed scheduler")
    val.add_argument("--quiet", action="store_true", help="no progress bars")
    val.set_defaults(func=_cmd_validate)

    problems = sub.add_parser("problems", help="list the problems and built-in presets")
    problems.set_defaults(func=_cmd_problems)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pdeml`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except USER_ERRORS as error:
        return _report(error, 2)
    except _Diverged as error:
        return _report(error, 1)
    except BrokenPipeError:
        # Output piped into a command that stopped reading (e.g. `| head`): not an error.
        sys.stderr.close()
        return 0
    except OSError as error:
        if error.errno not in USER_ERRNOS:
            raise  # not about the user's paths or disk: a bug, keep the traceback
        return _report(error, 2)
    except MemoryError as error:
        detail = f" ({error})" if str(error) else ""
        return _report(
            f"not enough memory for {args.command}{detail}; use fewer or smaller samples, "
            "or a smaller model",
            1,
        )
    except KeyboardInterrupt as interrupt:
        print(f"pdeml: {str(interrupt) or 'interrupted'}", file=sys.stderr)
        return 130


def _report(error: BaseException | str, status: int) -> int:
    """Print one ``pdeml: error:`` line (the traceback with PDEML_DEBUG=1)."""
    if os.environ.get("PDEML_DEBUG") and isinstance(error, BaseException):
        raise error  # developers: PDEML_DEBUG=1 shows the traceback
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        message = f"{_shown(Path(os.fsdecode(error.filename)))}: {error.strerror}"
    else:
        message = " ".join(str(error).split()) or type(error).__name__
    print(f"pdeml: error: {message}", file=sys.stderr)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
