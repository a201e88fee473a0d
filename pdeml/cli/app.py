"""The ``pdeml`` argument parser and entry point: parse, dispatch, report mistakes in one line.

User mistakes (bad arguments, missing files, invalid parameters) print one line
``pdeml: error: ...`` on stderr and exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pdeml._signals import ignore_sigint_from_now, interrupt_outside_finalisers
from pdeml.cli.commands import (
    Diverged,
    cmd_generate,
    cmd_import,
    cmd_info,
    cmd_predict,
    cmd_problems,
    cmd_train,
    cmd_validate,
)
from pdeml.cli.outputs import shown

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
        "--scheduler",
        metavar="ADDRESS",
        help="run the chunks on a running dask.distributed scheduler (tcp://host:8786)",
    )
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
    gen.set_defaults(func=cmd_generate)

    info = sub.add_parser("info", help="describe one or more dataset files")
    info.add_argument("paths", nargs="+", help="dataset files")
    info.set_defaults(func=cmd_info)

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
    target = imp.add_mutually_exclusive_group()
    target.add_argument(
        "--target-time",
        type=float,
        metavar="T",
        help="pdebench Burgers: the snapshot at time T is the target u (default: the last)",
    )
    target.add_argument(
        "--target-index",
        type=int,
        metavar="K",
        help="pdebench Burgers: snapshot K (negative: from the end) is the target u",
    )
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
    imp.set_defaults(func=cmd_import)

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
        help="a constructor hyperparameter (modes=12) or an option of fit (epochs=500); repeatable",
    )
    train.add_argument(
        "--resume", action="store_true", help="continue an interrupted run from its last checkpoint"
    )
    train.add_argument(
        "--from",
        dest="from_run",
        type=Path,
        metavar="RUN",
        help="train on from the model saved in RUN (a warm start: its architecture, weights "
        "and normalisers, a fresh optimiser and schedule); RUN itself is left as it is",
    )
    train.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run already in --out (its checkpoint is deleted first)",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument(
        "--track",
        choices=["tensorboard", "mlflow"],
        help="also send the training log to TensorBoard (<out>/tensorboard) or MLflow",
    )
    train.set_defaults(func=cmd_train)

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
    predict.set_defaults(func=cmd_predict)

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
    val.set_defaults(func=cmd_validate)

    problems = sub.add_parser("problems", help="list the problems and built-in presets")
    problems.set_defaults(func=cmd_problems)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pdeml`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except USER_ERRORS as error:
        return _report(error, 2)
    except Diverged as error:
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
        message = f"{shown(Path(os.fsdecode(error.filename)))}: {error.strerror}"
    else:
        message = " ".join(str(error).split()) or type(error).__name__
    print(f"pdeml: error: {message}", file=sys.stderr)
    return status


def run() -> None:
    """The ``pdeml`` console command: :func:`main`, then exit with its status.

    Once the command has answered, a late Ctrl-C (during the interpreter's shutdown) is
    ignored instead of printing a traceback after the one-line message; before that, one
    landing in a finaliser is delivered a moment later (see
    :func:`pdeml._signals.interrupt_outside_finalisers`).
    """
    interrupt_outside_finalisers()
    status = main()
    ignore_sigint_from_now()
    sys.exit(status)
