"""The ``pdeml`` commands: each parses nothing, calls the public API, and prints."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from pdeml._json import write_json
from pdeml.cli.history import describe_curve, validation_curve, write_metrics
from pdeml.cli.outputs import (
    TRAINING_RECORD,
    check_out_file,
    file_fingerprint,
    is_training_file,
    positions,
    prepare_run_folder,
    read_training_record,
    shown,
)
from pdeml.cli.settings import parse_assignment, split_settings

if TYPE_CHECKING:
    from pdeml.problems.base import Problem
    from pdeml.surrogates.base import Surrogate


def cmd_generate(args: argparse.Namespace) -> int:
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
        scheduler=args.scheduler,
        solver_options=solver_options,
        dtype=args.dtype,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    seconds = ds.attrs.get("seconds_wall", float("nan"))
    where = f"at resolution {problem.resolution}" if problem.resolution else "on meshes"
    print(f"wrote {args.out}: {len(ds)} samples of {problem.title} {where} in {seconds:.1f} s")
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
            "draw_seconds_per_sample",
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


def cmd_info(args: argparse.Namespace) -> int:
    status = 0
    for i, path in enumerate(args.paths):
        if i:
            print()
        text, finite = _describe_dataset(path)
        print(text)
        status = status if finite else 1
    return status


def cmd_import(args: argparse.Namespace) -> int:
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
        target_index=args.target_index,
        target_time=args.target_time,
    )
    where = f"at resolution {ds.problem.resolution}" if ds.problem.resolution else "on meshes"
    print(
        f"wrote {args.out}: {len(ds)} samples of {ds.problem.title} {where} "
        f"from {args.format} file {args.source}"
    )
    ds.close()
    return 0


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _track(track: str, surrogate: Surrogate, options: dict) -> str:
    """``--track``, checked before anything is trained or cleared."""
    from pdeml.training.tracking import check_track

    if "track" not in surrogate.fit_option_names():
        raise ValueError(
            f"--track: surrogate {surrogate.name!r} is not trained by the Trainer and writes "
            "no training log to track"
        )
    if options.get("track", track) != track:
        raise ValueError(f"--track {track} and --set track={options['track']}: give one")
    return str(check_track(track))


def _run_length(names: list[str], options: dict) -> object:
    """Epochs or steps of the run, as the options give them (epochs default to the
    Trainer's 500); None where unknown."""
    if "epochs" in names:
        return options.get("epochs", 500)
    for key in ("steps", "adam_steps"):
        if key in names and key in options:
            return options[key]
    return None


def _warm_start_from(args: argparse.Namespace, problem: Problem, hyper: dict) -> Surrogate:
    """``--from RUN``: the saved surrogate to train on, checked against the other
    arguments before anything is written."""
    from pdeml.surrogates.base import load_surrogate

    source = args.from_run
    if source.resolve() == args.out.resolve():
        raise ValueError(
            f"--from {shown(source)}: is also --out; write the new run to another folder "
            "(the saved run stays as it is)"
        )
    if hyper:
        raise ValueError(
            f"--from {shown(source)}: the architecture comes from the saved run; --set "
            f"{sorted(hyper)} are hyperparameters (give only training options)"
        )
    surrogate = load_surrogate(source)
    if surrogate.name != args.surrogate:
        raise ValueError(
            f"--from {shown(source)}: holds a {surrogate.name!r} surrogate, not "
            f"--surrogate {args.surrogate!r}"
        )
    if "warm_start" not in surrogate.fit_option_names():
        raise ValueError(f"--from: surrogate {surrogate.name!r} cannot train on from saved weights")
    if surrogate.problem.name != problem.name:
        raise ValueError(
            f"--from {shown(source)}: was trained on {surrogate.problem.name!r} data, "
            f"--data holds {problem.name!r} data"
        )
    # fit refuses other shapes too, but only after an --overwrite has cleared --out.
    saved = {n: surrogate.problem.field_shape(n) for n in problem.field_names}
    given = {n: problem.field_shape(n) for n in problem.field_names}
    if saved != given:
        raise ValueError(
            f"--from {shown(source)}: was trained on fields of shapes {saved}, --data holds "
            f"{given} (a warm start keeps the grid)"
        )
    return surrogate


class Diverged(Exception):
    """Training diverged: reported in one line, exit status 1 (not a usage error)."""


def cmd_train(args: argparse.Namespace) -> int:
    import numpy as np

    from pdeml.data.dataset import open_dataset
    from pdeml.problems.presets import load_problem
    from pdeml.surrogates.base import make_surrogate
    from pdeml.training.log import METRICS
    from pdeml.training.trainer import CHECKPOINT, TrainingDiverged

    hyper, options = split_settings(args.surrogate, args.set or [])
    prepare_run_folder(args.out, args.data, args.resume, args.overwrite)
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
    if args.from_run is not None:
        surrogate = _warm_start_from(args, ds.problem, hyper)
        options["warm_start"] = True
    else:
        surrogate = make_surrogate(args.surrogate, ds.problem, **hyper)
    capabilities = surrogate.capabilities
    options.setdefault("progress", not args.quiet)
    if args.track is not None:
        options["track"] = _track(args.track, surrogate, options)
    if capabilities.checkpoints:
        # Checkpoint every 5% of the run unless told otherwise: a Ctrl-C or a kill then
        # loses little, and --resume continues from there.
        length = _run_length(surrogate.fit_option_names(), options)
        if "checkpoint_every" in surrogate.fit_option_names() and _is_count(length):
            options.setdefault("checkpoint_every", max(1, length // 20))
    elif args.resume:
        raise ValueError(f"--resume: surrogate {args.surrogate!r} has no checkpoints to resume")
    # Check the training options before an --overwrite deletes anything.
    surrogate.check_fit_options(options)
    if capabilities.checkpoints:
        options.update(out_dir=args.out, resume=args.resume)
    prepare_run_folder(args.out, args.data, args.resume, args.overwrite, clear=True)
    try:
        surrogate.fit(train, valid, **options)
    except TrainingDiverged as error:
        lr = options.get("lr", 1e-3)
        hint = f" (e.g. --set lr={lr / 10:g})" if isinstance(lr, (int, float)) else ""
        raise Diverged(f"training diverged: {error}{hint}") from None
    except KeyboardInterrupt:
        checkpoint = args.out / CHECKPOINT
        if capabilities.checkpoints and checkpoint.is_file():
            raise KeyboardInterrupt(
                f"training interrupted; last checkpoint in {args.out}; run again with "
                "--resume to continue"
            ) from None
        raise KeyboardInterrupt(
            "training interrupted before its first checkpoint; nothing to resume"
        ) from None
    surrogate.save(args.out)
    n_train = len(train)
    write_json(
        args.out / TRAINING_RECORD,
        {
            **file_fingerprint(args.data, ds),
            "train_positions": [0, n_train],
            "valid_positions": [n_train, len(ds)],
        },
    )
    curve = validation_curve(surrogate.history)
    if surrogate.history and not (args.out / METRICS).exists():
        # Surrogates trained without a run folder keep their log in memory: write it, so
        # that every run folder has the same metrics log.
        write_metrics(args.out / METRICS, surrogate.history)
    error = curve[-1][2] if curve else None
    if error is None and capabilities.needs_data:
        # No training log (GP surrogates): score the held-out samples directly.
        from pdeml.validation.metrics import compute_metrics

        predictions = surrogate.solve(valid.inputs)
        # The fields the surrogate predicts (the Lorenz96 hybrid gives no fast variables Y).
        reference = {k: v for k, v in valid.outputs.items() if k in predictions}
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
    if len(curve) > 1:
        print(describe_curve(curve, args.out / METRICS))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np

    from pdeml.data.dataset import open_dataset
    from pdeml.data.store import write_dataset
    from pdeml.surrogates.base import load_surrogate

    if args.out is not None:
        check_out_file(args.out, args.overwrite, {"data": args.data, "run": args.run})
    surrogate = load_surrogate(args.run)
    record = read_training_record(args.run)
    with open_dataset(args.data) as ds:
        if ds.problem.name != surrogate.problem.name:
            raise ValueError(
                f"{args.data}: holds {ds.problem.name!r} data, but {args.run} is a surrogate "
                f"for {surrogate.problem.name!r}"
            )
        n = len(ds)
        selected = np.arange(n)
        trained_on = record is not None and is_training_file(record, args.data, ds)
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
                f"(positions {positions(held_out)}); --all to score all"
            )
        else:
            scope = f"all {n} samples of {args.data} (positions {positions(selected)})"
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


def cmd_validate(args: argparse.Namespace) -> int:
    from pdeml.validation.runner import validate

    written = validate(
        args.suite,
        args.out,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=not args.quiet,
    )

    entries = sorted((Path(args.out) / "entries").glob("*.json"))
    failed = [p.stem for p in entries if json.loads(p.read_text()).get("status") != "ok"]
    print(
        f"validated {len(entries)} entries ({len(failed)} failed); report: "
        f"{written['report_html']} and {written['report_md']}; results: {written['results']}"
    )
    for entry in failed:
        print(f"  failed: {entry}")
    return 1 if failed else 0


def cmd_problems(args: argparse.Namespace) -> int:
    from pdeml.problems.base import available_problems
    from pdeml.problems.presets import builtin_presets

    print("problems:", ", ".join(available_problems()))
    print("built-in presets:", ", ".join(builtin_presets()))
    from pdeml.surrogates.base import available_surrogates

    print("surrogates:", ", ".join(available_surrogates()))
    return 0
