"""Files the command line writes: output paths checked before work, run folders, and the
record of which data a run was trained on (so that ``predict`` scores held-out samples)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from pdeml._json import read_json_object
from pdeml.data.store import existing_ancestor, name_max

#: Files a run folder may hold (written by ``pdeml train``); ``--overwrite`` removes only these.
RUN_FILES = frozenset(
    {
        "config.json",
        "model.pt",
        "pca_gp.pt",
        "mmgp.pt",
        "closure_weights.pt",
        "checkpoint.pt",
        "metrics.jsonl",
        "metrics.tmp",
        "training_data.json",
        "tensorboard",  # the event files of --track tensorboard (a folder)
    }
)
#: Where ``pdeml train`` records which file and samples it trained on (for ``predict``).
TRAINING_RECORD = "training_data.json"


def shown(path: Path) -> str:
    """A path short enough to read in a one-line message."""
    text = str(path)
    return text if len(text) <= 80 else text[:40] + "..." + text[-30:]


def check_out_path(out: Path, option: str = "--out") -> None:
    """Refuse an output path no file system can hold, before any work is done: a name
    longer than the file system allows, or a file where a folder must be."""
    folder = existing_ancestor(out)
    if not folder.is_dir():
        raise ValueError(f"{option} {shown(out)}: {shown(folder)} is a file, not a folder")
    limit = name_max(folder)
    for part in out.parts:
        if len(os.fsencode(part)) > limit:
            raise ValueError(
                f"{option} {shown(out)}: the name {part[:24]!r}... is "
                f"{len(os.fsencode(part))} bytes long; this file system allows at most {limit}"
            )


def check_out_file(out: Path, overwrite: bool, inputs: dict[str, Path]) -> None:
    """Checks of a file to write: never one of the inputs, an existing one only with
    ``--overwrite``, never a folder."""
    check_out_path(out)
    for option, path in inputs.items():
        if out.exists() and path.exists() and os.path.samefile(out, path):
            raise ValueError(
                f"--out {shown(out)}: is the input {option} {shown(path)}; writing there "
                "would destroy it; choose another file"
            )
    if out.is_dir():
        raise ValueError(
            f"--out {shown(out)}: is a folder; give a file name such as predictions.h5"
        )
    if out.exists() and not overwrite:
        raise FileExistsError(
            f"--out {shown(out)}: the file exists; choose another name or pass --overwrite "
            "to replace it"
        )


def prepare_run_folder(
    out: Path, data: Path, resume: bool, overwrite: bool, clear: bool = False
) -> None:
    """A fresh run writes into an empty or new folder; ``--overwrite`` clears a previous
    run's files (so nothing of it can be restored) when ``clear`` is set, which the caller
    does once every other argument has been checked; ``--resume`` keeps them."""
    check_out_path(out)
    if resume and overwrite:
        raise ValueError("--resume and --overwrite: give one (continue a run, or replace it)")
    if not out.exists():
        return
    if not out.is_dir():
        raise ValueError(f"--out {shown(out)}: is a file; give a folder for the run")
    if data.exists() and data.resolve().is_relative_to(out.resolve()):
        raise ValueError(
            f"--out {shown(out)}: holds the training data {shown(data)}; choose a new "
            "folder for the run"
        )
    entries = sorted(p.name for p in out.iterdir())
    foreign = [name for name in entries if name not in RUN_FILES and not name.endswith(".tmp")]
    if foreign:
        listed = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise ValueError(
            f"--out {shown(out)}: the folder holds files that are not a pdeml run "
            f"({listed}); choose a new or empty folder"
        )
    if not entries or resume:
        return
    if not overwrite:
        raise FileExistsError(
            f"--out {shown(out)}: holds a previous run; pass --resume to continue it or "
            "--overwrite to replace it"
        )
    if clear:
        for name in entries:
            path = out / name
            if name == "tensorboard" and path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()


def file_fingerprint(path: Path, ds: Any) -> dict[str, Any]:
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


def is_training_file(record: dict[str, Any], path: Path, ds: Any) -> bool:
    """Whether ``ds`` at ``path`` is the file (or a copy of it) a run was trained on."""
    now = file_fingerprint(path, ds)
    if record.get("created") is not None:
        return record["created"] == now["created"] and record.get("n") == now["n"]
    same = record.get("path") is not None and Path(record["path"]).exists()
    same = same and os.path.samefile(record["path"], path)
    return bool(same and record.get("size") == now["size"] and record.get("n") == now["n"])


def positions(indices: Any) -> str:
    """``0-7`` for a contiguous run of positions, else the first few."""
    indices = list(indices)
    if not indices:
        return "none"
    if indices == list(range(indices[0], indices[-1] + 1)):
        return f"{indices[0]}-{indices[-1]}" if len(indices) > 1 else str(indices[0])
    head = ", ".join(map(str, indices[:8]))
    return head + (", ..." if len(indices) > 8 else "")


def read_training_record(run: Path) -> dict[str, Any] | None:
    """What ``pdeml train`` recorded of its data in ``run``, or None for runs without it."""
    file = run / TRAINING_RECORD
    if not file.is_file():
        return None  # a run saved by the Python API, or before runs recorded their data
    return read_json_object(file)
