"""Checkpoints: written atomically, read with ``weights_only=True`` (nothing is unpickled),
and refused for a resume when they were written with other settings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Save ``state`` (tensors, numbers, strings, lists, dicts) to ``path`` atomically.

    The file is written under a temporary name and renamed, so a kill during the write
    leaves the previous checkpoint intact.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a checkpoint saved by :func:`save_checkpoint` with ``weights_only=True``.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If the file is not a loadable weights-only checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r}: no such file")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises several types for damaged or foreign files
        raise ValueError(
            f"checkpoint {str(path)!r}: cannot be loaded as weights only "
            f"({type(error).__name__}: {error})"
        ) from None


def _flatten(values: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(values, dict):
        return {prefix: values}
    out: dict[str, Any] = {}
    for key, value in values.items():
        out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def check_same_run(path: Path, stored: Any, current: dict[str, Any]) -> None:
    """Refuse to resume from a checkpoint written with other settings, naming them."""
    if stored is None:
        return  # written before checkpoints recorded their settings: the weights decide
    old, new = _flatten(stored), _flatten(current)
    differ = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    if differ:
        shown = "; ".join(f"{k}: {old.get(k)!r} then, {new.get(k)!r} now" for k in differ[:6])
        more = f" (and {len(differ) - 6} more)" if len(differ) > 6 else ""
        raise ValueError(
            f"resume: {path} was written with other settings ({shown}{more}); resume with "
            "the same settings and data, or train afresh without --resume"
        )
