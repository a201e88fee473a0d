"""Optional experiment tracking: the metrics log of a run also sent to TensorBoard or MLflow.

One switch, the training setting ``track`` (a field of
:class:`~pdeml.training.TrainerConfig` and of :class:`~pdeml.training.steps.StepConfig`,
so a ``fit`` option of every surrogate the :class:`~pdeml.training.Trainer` trains):

``None`` (default)
    Nothing beyond ``surrogate.history`` and ``metrics.jsonl``.
``"tensorboard"``
    Every record of the metrics log (:mod:`pdeml.training.log`) as scalars at its ``step``,
    and the run's settings as text, in ``<out_dir>/tensorboard``; without an ``out_dir``,
    in TensorBoard's default folder ``runs/<time>_<host>_<surrogate>_seed<seed>`` of the
    working directory. Needs the ``tensorboard`` package: ``pip install "pdeml[tensorboard]"``.
``"mlflow"``
    The same records as MLflow metrics and the settings as parameters, in a new run of the
    current tracking URI (nested in the active run when there is one). Needs ``mlflow``:
    ``pip install "pdeml[mlflow]"``.

The package is looked for when the setting is checked (before any training), so a missing
one is a ``ValueError`` that names the extra to install. Only the main process of a
``torchrun`` job writes, as for ``metrics.jsonl``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from pdeml._json import jsonable

#: The values of ``track`` besides None, each with the extra that installs its package.
TRACKERS = {"tensorboard": "tensorboard", "mlflow": "mlflow"}
#: Folder of the TensorBoard event files inside a run's ``out_dir``.
TENSORBOARD_DIR = "tensorboard"


class Tracker(Protocol):
    """Where the records of the metrics log also go."""

    def log(self, record: Mapping[str, float]) -> None:
        """Send one record of the metrics log (keys of :mod:`pdeml.training.log`)."""

    def close(self) -> None:
        """Flush and release the writer."""


def check_track(value: Any) -> str | None:
    """``value`` if it is a tracker whose package is installed, or None.

    Raises
    ------
    ValueError
        For a name other than those of :data:`TRACKERS`, or a tracker whose package is
        not installed (the message names the extra that installs it).
    """
    if value is None:
        return None
    if not isinstance(value, str) or value not in TRACKERS:
        raise ValueError(f"track must be one of {sorted(TRACKERS)} or None, got {value!r}")
    _package(value)
    return value


def _missing(track: str) -> ValueError:
    return ValueError(
        f"track={track!r} needs the {track} package, which is not installed: "
        f'pip install "pdeml[{TRACKERS[track]}]"'
    )


def _package(track: str) -> Any:
    """The module that writes for ``track`` (TensorBoard's ``SummaryWriter`` or ``mlflow``)."""
    try:
        if track == "tensorboard":
            # torch's writer; it raises ImportError itself when tensorboard is missing.
            from torch.utils.tensorboard import SummaryWriter

            return SummaryWriter
        import mlflow

        return mlflow
    except ImportError:
        raise _missing(track) from None


def _flat(values: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested settings as ``{"a.b": "value"}`` (MLflow parameters are flat strings): text
    as it is, other values as JSON."""
    out: dict[str, str] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{name}."))
        else:
            out[name] = value if isinstance(value, str) else json.dumps(jsonable(value))
    return out


class TensorBoardTracker:
    """Records as TensorBoard scalars (tag = key, global step = the record's ``step``)."""

    def __init__(self, out: Path | None, settings: Mapping[str, Any]) -> None:
        writer = _package("tensorboard")
        if out is not None:
            self.writer = writer(log_dir=str(out / TENSORBOARD_DIR))
        else:
            # TensorBoard's default folder, runs/<time>_<host>, plus the surrogate and the
            # seed: a PINN trains one network per query, several within one second.
            training = settings.get("training") or {}
            parts = [str(settings.get("surrogate") or ""), f"seed{training.get('seed', '')}"]
            self.writer = writer(comment="_" + "_".join(p for p in parts if p))
        text = json.dumps(jsonable(settings), indent=1)
        # Indented by four spaces: TensorBoard renders text as Markdown, this as code.
        self.writer.add_text("run", "\n".join("    " + line for line in text.splitlines()))

    def log(self, record: Mapping[str, float]) -> None:
        step = int(record["step"])
        for key, value in record.items():
            if key != "step":
                self.writer.add_scalar(key, float(value), step)

    def close(self) -> None:
        self.writer.close()


class MLflowTracker:
    """Records as MLflow metrics (at the record's ``step``) of a run of its own."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.mlflow = _package("mlflow")
        name = settings.get("surrogate")
        # A run of its own, nested in the caller's active run if any: settings logged twice
        # in one run with other values are refused by MLflow.
        nested = self.mlflow.active_run() is not None
        self.run = self.mlflow.start_run(run_name=name, nested=nested)
        self.mlflow.log_params(_flat(settings))

    def log(self, record: Mapping[str, float]) -> None:
        values = {k: float(v) for k, v in record.items() if k != "step"}
        self.mlflow.log_metrics(values, step=int(record["step"]))

    def close(self) -> None:
        self.mlflow.end_run()


def open_tracker(track: str, out: Path | None, settings: Mapping[str, Any]) -> Tracker:
    """A writer for ``track`` (see the module docstring); ``settings`` describe the run."""
    if track == "tensorboard":
        return TensorBoardTracker(out, settings)
    if track == "mlflow":
        return MLflowTracker(settings)
    raise ValueError(f"track must be one of {sorted(TRACKERS)} or None, got {track!r}")


@contextmanager
def tracking(
    track: str | None, out: Path | None, settings: Mapping[str, Any]
) -> Iterator[Tracker | None]:
    """The tracker of one training run (None without ``track`` or off the main process),
    closed when the run ends, whether it finishes, diverges or is interrupted."""
    # torchrun numbers its processes in RANK; the main one (rank 0) writes, as it writes
    # metrics.jsonl (read here, before the process group exists).
    if track is None or int(os.environ.get("RANK", "0")) != 0:
        yield None
        return
    tracker = open_tracker(track, out, settings)
    try:
        yield tracker
    finally:
        tracker.close()
