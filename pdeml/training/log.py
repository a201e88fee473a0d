"""The metrics log every training run writes: one record per epoch or logged step.

Every surrogate trained by :class:`pdeml.training.Trainer` (FNO, MgNO, PINN, PIG, NSM,
the neural closures) logs records with the same keys, which ``surrogate.history`` holds
and ``metrics.jsonl`` in a run directory stores (one strict-JSON object per line):

``epoch`` : int
    Passes over the batch source completed (a data set, the NSM's drawn inputs; one
    optimiser step on a full collocation set counts as one pass).
``step`` : int
    Optimiser steps completed (first-order steps, then L-BFGS iterations).
``train_loss`` : float
    Training loss of the record's interval (mean over the epoch's batches, or the loss
    of the last step); NaN (``null`` in the file) where nothing was trained yet.
``lr`` : float
    Learning rate of the first parameter group after the interval (1.0 in the L-BFGS
    phase, whose step length the line search sets).
``seconds`` : float
    Training time of the interval since the previous record, validation excluded.
``valid_metric`` : float, present when validation data was given
    The validation metric at the end of the interval (relative L2 error for every
    surrogate of this package).

With the training setting ``track`` the same records also go to TensorBoard or MLflow
(:mod:`pdeml.training.tracking`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pdeml._json import strict_dumps

if TYPE_CHECKING:
    from pdeml.training.tracking import Tracker

METRICS = "metrics.jsonl"
#: Keys of every record (``valid_metric`` only where there is validation data).
RECORD_KEYS = ("epoch", "step", "train_loss", "lr", "seconds")
VALID_KEY = "valid_metric"


def finite_json(record: dict[str, Any]) -> str:
    """One strict-JSON line of the metrics log: NaN and infinities are written as ``null``."""
    return strict_dumps(record)


class MetricsLog:
    """The records of one run, kept in memory and appended to ``out/metrics.jsonl``.

    Parameters
    ----------
    out : Path, optional
        Run directory (no file is written without one).
    write : bool
        Whether this process writes the file (only the main one under DDP).
    tracker : Tracker, optional
        Where each new record also goes (TensorBoard, MLflow: the ``track`` setting).
        Records reloaded by :meth:`resume` are not sent again.
    """

    def __init__(
        self, out: Path | None, write: bool = True, tracker: Tracker | None = None
    ) -> None:
        self.path = out / METRICS if out is not None else None
        self.write = write
        self.tracker = tracker
        self.records: list[dict[str, Any]] = []

    def fresh(self) -> None:
        """Start a new run: what an earlier run left in the file is not ours."""
        if self.path is not None and self.write:
            self.path.unlink(missing_ok=True)

    def resume(self, key: str, upto: int) -> list[dict[str, Any]]:
        """Reload the records up to ``key == upto`` (those after the checkpoint are dropped)."""
        if self.path is not None:
            self.records = read_history(self.path, upto, key)
        return self.records

    def append(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        if self.path is not None and self.write:
            with open(self.path, "a") as log:
                log.write(finite_json(record) + "\n")
        if self.tracker is not None and self.write:
            self.tracker.log(record)


def read_history(path: Path, upto: int, key: str = "epoch") -> list[dict[str, Any]]:
    """Metrics records with ``record[key] <= upto``; the file is rewritten to hold only those."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a kill during the write
        if isinstance(record, dict) and isinstance(record.get(key), int):
            records.append(record)
    records = [r for r in records if r[key] <= upto]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(finite_json(r) + "\n" for r in records))
    os.replace(tmp, path)
    return records
