"""The training log as ``pdeml train`` shows it: the validation curve of any surrogate.

Every surrogate's ``history`` holds records with the keys of :mod:`pdeml.training.log`
(``epoch``, ``step``, ``train_loss``, ``lr``, ``seconds`` and, with validation data,
``valid_metric``); the command reads the curve from there, whichever surrogate it trained.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: The record key the curve follows and the keys its position is read from, in order.
VALID_KEY = "valid_metric"
POSITION_KEYS = ("epoch", "step")


def validation_curve(history: Sequence[Mapping[str, Any]]) -> list[tuple[str, int, float]]:
    """``(position key, position, validation metric)`` of every record with a finite
    validation metric, in the log's order.

    Examples
    --------
    >>> validation_curve([{"epoch": 1, "valid_metric": 0.5}, {"epoch": 2, "train_loss": 1.0}])
    [('epoch', 1, 0.5)]
    """
    curve = []
    for record in history:
        value = record.get(VALID_KEY)
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            continue
        key = next((k for k in POSITION_KEYS if isinstance(record.get(k), int)), None)
        if key is not None:
            curve.append((key, int(record[key]), float(value)))
    return curve


def describe_curve(curve: Sequence[tuple[str, int, float]], log: Path) -> str:
    """One line: the first, best and last points of a validation curve, and the log file."""
    first, last = curve[0], curve[-1]
    best = min(curve, key=lambda point: point[2])
    points = ", ".join(
        f"{label} {value:.4g} at {key} {position}"
        for label, (key, position, value) in (("first", first), ("best", best), ("last", last))
    )
    return f"validation curve ({len(curve)} points): {points}; log in {log}"


def write_metrics(path: Path, history: Sequence[Mapping[str, Any]]) -> None:
    """Write ``history`` as a metrics log (one strict-JSON record per line)."""
    from pdeml.training.log import finite_json

    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(finite_json(dict(record)) + "\n" for record in history))
    tmp.replace(path)
