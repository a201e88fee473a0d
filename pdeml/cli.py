"""The ``pdeml`` command line: parse, call the public API, print.

User mistakes (bad arguments, missing files, invalid parameters) print one line
``pdeml: error: ...`` on stderr and exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
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
    PermissionError,
)


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


def _describe_dataset(path: str) -> str:
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
    return "\n".join(lines)


def _cmd_info(args: argparse.Namespace) -> int:
    for i, path in enumerate(args.paths):
        if i:
            print()
        print(_describe_dataset(path))
    return 0


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

    hyper, options = _split_settings(args.surrogate, args.set or [])
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
        options.update(out_dir=args.out, resume=args.resume)
    elif args.resume:
        raise ValueError(f"--resume: surrogate {args.surrogate!r} has no checkpoints to resume")
    surrogate.fit(train, valid, **options)
    surrogate.save(args.out)
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


def _cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np

    from pdeml.data.dataset import open_dataset
    from pdeml.data.store import write_dataset
    from pdeml.surrogates.base import load_surrogate

    surrogate = load_surrogate(args.run)
    with open_dataset(args.data) as ds:
        if ds.problem.name != surrogate.problem.name:
            raise ValueError(
                f"{args.data}: holds {ds.problem.name!r} data, but {args.run} is a surrogate "
                f"for {surrogate.problem.name!r}"
            )
        inputs = ds.inputs
        predictions = surrogate.solve(inputs)
        reference = ds.outputs
        problem = ds.problem
    missing = [k for k in problem.output_names if k not in predictions]
    if missing:
        raise ValueError(
            f"{args.run}: predicts {list(predictions)}, not all of "
            f"{list(problem.output_names)} (missing {missing})"
        )
    if args.out is not None:
        write_dataset(
            args.out,
            problem,
            inputs,
            predictions,
            attrs={"source": f"predicted by {surrogate.name} from {args.run}"},
        )
    for name, pred in predictions.items():
        ref = reference[name]
        n = len(ref)
        err = np.linalg.norm((pred - ref).reshape(n, -1), axis=1) / np.maximum(
            np.linalg.norm(ref.reshape(n, -1), axis=1), 1e-300
        )
        print(
            f"{name}: relative L2 against {args.data}: mean {err.mean():.4g}, "
            f"std {err.std():.4g}, max {err.max():.4g} ({n} samples)"
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
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_cmd_train)

    predict = sub.add_parser("predict", help="predict a dataset's outputs with a saved run")
    predict.add_argument("run", type=Path, help="run directory written by pdeml train")
    predict.add_argument("data", type=Path, help="dataset whose inputs to use")
    predict.add_argument("--out", type=Path, help="write the predictions as a dataset")
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
        if os.environ.get("PDEML_DEBUG"):
            raise  # developers: PDEML_DEBUG=1 shows the traceback
        message = str(error).strip() or type(error).__name__
        print(f"pdeml: error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # Output piped into a command that stopped reading (e.g. `| head`): not an error.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt as interrupt:
        print(f"pdeml: {interrupt or 'interrupted'}", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
