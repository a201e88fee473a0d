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
    ds = generate(
        problem,
        n=n,
        seed=seed,
        path=args.out,
        workers=args.workers,
        dtype=args.dtype,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    seconds = ds.attrs.get("seconds_wall", float("nan"))
    print(
        f"wrote {args.out}: {len(ds)} samples of {problem.name} at resolution "
        f"{problem.resolution} in {seconds:.1f} s"
    )
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
            if key in attrs:
                lines.append(f"  {key}: {attrs[key]}")
    return "\n".join(lines)


def _cmd_info(args: argparse.Namespace) -> int:
    for i, path in enumerate(args.paths):
        if i:
            print()
        print(_describe_dataset(path))
    return 0


def _cmd_problems(args: argparse.Namespace) -> int:
    from pdeml.problems.base import available_problems
    from pdeml.problems.presets import builtin_presets

    print("problems:", ", ".join(available_problems()))
    print("built-in presets:", ", ".join(builtin_presets()))
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
        "--overwrite",
        action="store_true",
        help="replace an existing file and discard an unfinished run",
    )
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(func=_cmd_generate)

    info = sub.add_parser("info", help="describe one or more dataset files")
    info.add_argument("paths", nargs="+", help="dataset files")
    info.set_defaults(func=_cmd_info)

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
    except KeyboardInterrupt as interrupt:
        print(f"pdeml: {interrupt or 'interrupted'}", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
