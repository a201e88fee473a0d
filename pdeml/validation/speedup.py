"""Speed-up at equal accuracy: a surrogate's time against a reference solver's ladder.

A reference solver run at several settings (resolutions, time steps) gives a ladder of
(error against a finer truth, time per sample) points. The settings that no other setting
beats on both counts form the ladder's front; a surrogate of error ``e`` is placed on it
between the two settings whose errors bracket ``e``, and the reference's time at equal
accuracy is interpolated there, linearly in log(error) against log(time). Its speed-up is
that time over the surrogate's. Only where no two settings bracket ``e`` is the ratio a
bound: ``≤`` when the surrogate is less accurate than the cheapest setting (the ratio to
that setting; a cheaper, coarser one might match), ``≥`` when it is more accurate than
every setting (the ratio to the most accurate one). This is the one reading used by
validation reports; :func:`equal_accuracy_setting` (the cheapest setting at least as
accurate, no interpolation) serves the study scripts under ``validation/studies/``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pdeml.validation.records import number

#: Marks of :func:`equal_accuracy_setting`: the coarsest setting is already as accurate
#: (a cheaper one might be too: the speed-up is an upper bound), or no setting is as
#: accurate (the most accurate one is returned: the speed-up is a lower bound).
UPPER_BOUND, LOWER_BOUND = "≤", "≥"


def equal_accuracy_setting(
    error: float, ladder: Sequence[Mapping[str, Any]]
) -> tuple[Mapping[str, Any] | None, str]:
    """The ladder setting that a surrogate of error ``error`` is read against.

    Parameters
    ----------
    error : float
        The surrogate's error (mean relative L2).
    ladder : sequence of mapping
        Settings of the reference solver, each with ``"relative_l2"`` (its error against
        a finer ground truth) and ``"seconds_per_sample"``; other keys are kept. A setting
        with a missing (``None``) or non-finite value is left out.

    Returns
    -------
    setting : mapping or None
        The cheapest setting with ``relative_l2 <= error``; if none is that accurate, the
        most accurate setting; ``None`` when ``error`` is not finite or no setting is left.
    bound : str
        ``""`` for an exact reading, :data:`UPPER_BOUND` when the setting is the coarsest
        one, :data:`LOWER_BOUND` when no setting is as accurate as ``error``.
    """
    # Ladder points read back from JSON hold None where the solver's error was NaN.
    ladder = [
        p
        for p in ladder
        if np.isfinite(number(p.get("relative_l2")))
        and np.isfinite(number(p.get("seconds_per_sample")))
    ]
    if not ladder or not np.isfinite(error):
        return None, ""
    good = [p for p in ladder if p["relative_l2"] <= error]
    if not good:
        return min(ladder, key=lambda p: p["relative_l2"]), LOWER_BOUND
    cheapest = min(good, key=lambda p: p["seconds_per_sample"])
    coarsest = min(ladder, key=lambda p: p["seconds_per_sample"])
    return cheapest, UPPER_BOUND if cheapest is coarsest else ""


@dataclasses.dataclass(frozen=True)
class SpeedupReading:
    """A surrogate read against a reference ladder (see :func:`read_speedup`).

    Attributes
    ----------
    speedup : float or None
        Reference time at equal accuracy over the surrogate's time; ``None`` when there is
        nothing to read (no usable setting, non-finite error, no surrogate time).
    bound : str
        ``""`` when interpolated, :data:`UPPER_BOUND` or :data:`LOWER_BOUND` otherwise.
    reference_seconds : float or None
        The reference's time per sample at the surrogate's error (interpolated, or the
        bounding setting's).
    settings : tuple of str
        Labels of the two bracketing settings (interpolated), or of the one read.
    words : str
        One sentence saying how the ratio was read, e.g. "less accurate than every
        setting of the ladder".
    """

    speedup: float | None
    bound: str = ""
    reference_seconds: float | None = None
    settings: tuple[str, ...] = ()
    words: str = ""

    @property
    def note(self) -> str:
        """The report's footnote: ``"≤ ..."`` / ``"≥ ..."`` for a bound, else ``""``."""
        return f"{self.bound} {self.words}" if self.bound else ""

    def to_dict(self) -> dict[str, Any]:
        """Plain values for an entry's JSON record."""
        return {
            "speedup": self.speedup,
            "bound": self.bound,
            "reference_seconds": self.reference_seconds,
            "settings": list(self.settings),
            "words": self.words,
        }


def setting_label(point: Mapping[str, Any]) -> str:
    """A ladder point's name: its ``"setting"``, else its resolution (or grid)."""
    label = point.get("setting")
    if label is None:
        label = point.get("resolution", point.get("grid", "?"))
    return str(label)


def point_error(point: Mapping[str, Any], fields: Sequence[str] | None = None) -> float:
    """A ladder point's error: the mean over ``fields`` of its per-field ``"errors"`` when
    it has them all (so a surrogate scoring fewer outputs is read on the same ones), else
    its ``"relative_l2"`` (mean over every output)."""
    per_field = point.get("errors")
    if fields and isinstance(per_field, Mapping) and all(f in per_field for f in fields):
        return float(np.mean([number(per_field[f]) for f in fields]))
    return number(point.get("relative_l2"))


def ladder_front(
    ladder: Sequence[Mapping[str, Any]], fields: Sequence[str] | None = None
) -> list[tuple[float, float, Mapping[str, Any]]]:
    """The settings no other setting beats on both time and error, cheapest first.

    Returns ``(seconds, error, point)`` triples with times increasing and errors strictly
    decreasing; points with a missing or non-finite time or error are left out.
    """
    points = []
    for p in ladder:
        seconds, error = number(p.get("seconds_per_sample")), point_error(p, fields)
        if np.isfinite(seconds) and np.isfinite(error):
            points.append((seconds, error, p))
    points.sort(key=lambda t: (t[0], t[1]))
    front: list[tuple[float, float, Mapping[str, Any]]] = []
    for seconds, error, p in points:
        if not front or error < front[-1][1]:
            front.append((seconds, error, p))
    return front


def read_speedup(
    error: float,
    seconds: float | None,
    ladder: Sequence[Mapping[str, Any]],
    fields: Sequence[str] | None = None,
) -> SpeedupReading:
    """Read a surrogate of mean relative L2 ``error`` and time ``seconds`` against ``ladder``.

    Parameters
    ----------
    error : float
        The surrogate's error (mean relative L2 over its output fields).
    seconds : float or None
        The surrogate's time per sample.
    ladder : sequence of mapping
        Settings of the reference solver, each with ``"relative_l2"`` (error against a finer
        truth, mean over the outputs), ``"seconds_per_sample"``, optionally ``"errors"``
        (per output field) and ``"setting"`` (a label).
    fields : sequence of str, optional
        The surrogate's output fields, to read the settings' errors on the same fields.

    Returns
    -------
    SpeedupReading
        Interpolated (log error against log time) between the two settings of the front
        that bracket ``error``; a bound, said in words, where none do.
    """
    front = ladder_front(ladder, fields)
    if not front or not np.isfinite(error) or not seconds or not np.isfinite(seconds):
        return SpeedupReading(None)
    label = [setting_label(p) for _, _, p in front]
    errors = [e for _, e, _ in front]
    if error > errors[0]:
        worst = max(point_error(p, fields) for p in ladder if np.isfinite(point_error(p, fields)))
        if seconds > front[0][0]:
            words = (
                f"slower and less accurate than the cheapest setting, {label[0]}: the "
                "reference solver wins on both counts"
            )
            if error > worst:
                words += "; less accurate than every setting of the ladder"
        else:
            which = "every setting" if error > worst else "the cheapest setting"
            words = (
                f"less accurate than {which} of the ladder; read against the cheapest, "
                f"{label[0]}, and a cheaper, coarser setting might match"
            )
        return SpeedupReading(front[0][0] / seconds, UPPER_BOUND, front[0][0], (label[0],), words)
    if error < errors[-1]:
        words = (
            f"more accurate than every setting of the ladder; read against the most "
            f"accurate, {label[-1]}"
        )
        if seconds > front[-1][0]:
            words += ", which is also faster"
        return SpeedupReading(
            front[-1][0] / seconds, LOWER_BOUND, front[-1][0], (label[-1],), words
        )
    i = next(k for k in range(len(front)) if errors[k] <= error)
    if errors[i] == error or i == 0:  # on a setting: nothing to interpolate
        return SpeedupReading(front[i][0] / seconds, "", front[i][0], (label[i],), "")
    (t0, e0, _), (t1, e1, _) = front[i - 1], front[i]
    if e1 <= 0.0:  # an exact setting (error 0) has no logarithm: read it, an upper bound
        words = f"between {label[i - 1]} and the exact {label[i]}; read against the latter"
        return SpeedupReading(t1 / seconds, UPPER_BOUND, t1, (label[i],), words)
    weight = np.log(error / e0) / np.log(e1 / e0)
    reference = float(np.exp(np.log(t0) + weight * np.log(t1 / t0)))
    pair = (label[i - 1], label[i])
    return SpeedupReading(
        reference / seconds, "", reference, pair, f"interpolated between {pair[0]} and {pair[1]}"
    )


def speedup_at_equal_accuracy(
    error: float,
    seconds: float | None,
    ladder: Sequence[Mapping[str, Any]],
    fields: Sequence[str] | None = None,
) -> tuple[float | None, str]:
    """The speed-up of :func:`read_speedup` and its note.

    The note is ``""`` for an interpolated reading, ``"≤ ..."`` (upper bound) or
    ``"≥ ..."`` (lower bound) followed by the reading in words otherwise.
    """
    reading = read_speedup(error, seconds, ladder, fields)
    return reading.speedup, reading.note
