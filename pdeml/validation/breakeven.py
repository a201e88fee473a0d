"""Break-even accounting: after how many queries a surrogate pays for itself.

A data-driven surrogate costs its training data (the reference solver's time per sample
times the training samples) and its training before it answers a single query; after that,
each query costs its time per sample. The reference solver costs nothing up front and, per
query, its time at equal accuracy (read off the reference ladder, see
:mod:`pdeml.validation.speedup`). The break-even count is the smallest number of queries
``N`` for which

    data + training + N × (surrogate's time per query) < N × (reference's time per query)

and ∞ where the surrogate never gets there: slower per query than the reference at equal
accuracy, or less accurate than every reference setting (no setting of equal accuracy to
compare with). With the guard on, the surrogate's time per query is the guarded one.
This module is pure arithmetic on numbers; the runner feeds it each entry's record.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from pdeml.validation.records import number

#: Marks of a reference time read off the ladder (as :mod:`pdeml.validation.speedup` marks
#: its speed-up): an upper bound on the time at equal accuracy (read against a setting more
#: accurate than the surrogate), or a lower bound (the surrogate is more accurate than every
#: setting; read against the most accurate one).
UPPER_BOUND, LOWER_BOUND = "≤", "≥"
#: The reason of an ∞ count with no reference time of equal accuracy to compare with.
LESS_ACCURATE = "less accurate than every reference setting"


@dataclasses.dataclass(frozen=True)
class BreakEven:
    """The break-even count of one surrogate, with the numbers it was computed from.

    Attributes
    ----------
    queries : float
        The smallest number of queries after which the surrogate is cheaper in total (a whole
        number), ``math.inf`` where it never is, ``math.nan`` where it cannot be told.
    bound : str
        ``""`` for an exact count; ``"≤"`` when it is an upper bound (the reference time is
        a lower bound: the surrogate is more accurate than every reference setting), ``"≥"``
        when it is a lower bound (the reference time is an upper bound).
    reason : str
        A short sentence saying why the count is what it is (∞, unknown or bounded), or ``""``.
    data_seconds, train_seconds, setup_seconds : float or None
        Generating the training data, training, and their sum (``None`` where unknown).
    surrogate_seconds, reference_seconds : float or None
        Time per query of the surrogate and of the reference solver at equal accuracy.
    """

    queries: float
    bound: str = ""
    reason: str = ""
    data_seconds: float | None = None
    train_seconds: float | None = None
    setup_seconds: float | None = None
    surrogate_seconds: float | None = None
    reference_seconds: float | None = None

    def costs(self, queries: Any) -> tuple[Any, Any]:
        """Total cost in seconds of answering ``queries`` queries: (surrogate, reference).

        ``queries`` may be a number or a numpy array. The surrogate's cost includes its
        data and training; ``nan`` where a time is unknown.
        """
        setup = math.nan if self.setup_seconds is None else self.setup_seconds
        ours = math.nan if self.surrogate_seconds is None else self.surrogate_seconds
        theirs = math.nan if self.reference_seconds is None else self.reference_seconds
        return setup + queries * ours, queries * theirs

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready dict; ``queries`` is ``None`` (strict JSON) with ``infinite`` saying
        whether that means ∞ or unknown."""
        record = dataclasses.asdict(self)
        record["infinite"] = math.isinf(self.queries)
        record["queries"] = int(self.queries) if math.isfinite(self.queries) else None
        return record

    @classmethod
    def from_record(cls, record: Any) -> BreakEven | None:
        """The inverse of :meth:`to_record`; ``None`` for anything that is not such a record."""
        if not isinstance(record, dict) or "queries" not in record:
            return None
        queries = number(record.get("queries"))
        if not math.isfinite(queries):
            queries = math.inf if record.get("infinite") else math.nan
        known = {f.name for f in dataclasses.fields(cls)} - {"queries"}
        return cls(queries=queries, **{k: v for k, v in record.items() if k in known})


def _positive(value: Any) -> float | None:
    value = number(value)
    return value if math.isfinite(value) and value >= 0 else None


def break_even(
    *,
    surrogate_seconds: float | None,
    reference_seconds: float | None,
    train_seconds: float | None,
    data_seconds_per_sample: float | None,
    n_train: int,
    needs_data: bool = True,
    reference_bound: str = "",
    less_accurate: bool = False,
) -> BreakEven:
    """The number of queries after which a surrogate costs less than the reference solver.

    Parameters
    ----------
    surrogate_seconds : float or None
        The surrogate's time per query (per sample), plain or guarded.
    reference_seconds : float or None
        The reference solver's time per sample at the surrogate's accuracy, as read off
        its ladder by :mod:`pdeml.validation.speedup` (the speed-up times the unguarded
        surrogate's time per sample).
    train_seconds : float or None
        The surrogate's training time; ``None`` when unknown (a surrogate loaded from a
        finished run).
    data_seconds_per_sample : float or None
        The reference solver's time per training sample when the data were generated (the
        dataset's ``solve_seconds_per_sample`` plus ``draw_seconds_per_sample``); ``None``
        when unknown.
    n_train : int
        Training samples.
    needs_data : bool
        Whether the surrogate learns from data (``capabilities.needs_data``); a
        physics-informed one costs no data.
    reference_bound : str
        How ``reference_seconds`` was read off the ladder: ``""`` at equal accuracy,
        :data:`UPPER_BOUND` (``"≤"``, an upper bound on the time at equal accuracy: the
        count is a lower bound) or :data:`LOWER_BOUND` (``"≥"``, a lower bound: the
        surrogate is more accurate than every setting, so the count is an upper bound).
    less_accurate : bool
        The surrogate is less accurate than every reference setting: no setting of equal
        accuracy is known and the count is ∞ (the surrogate does not answer at the
        accuracy the reference gives at any cost on the ladder).

    Returns
    -------
    BreakEven
        ``queries`` is the smallest whole ``N`` with ``setup + N·surrogate < N·reference``.

    Raises
    ------
    ValueError
        For a negative ``n_train`` or an unknown ``reference_bound``.
    """
    if isinstance(n_train, bool) or not isinstance(n_train, int) or n_train < 0:
        raise ValueError(f"n_train: expected a non-negative integer, got {n_train!r}")
    marks = ("", UPPER_BOUND, LOWER_BOUND)
    if reference_bound not in marks:
        raise ValueError(f"reference_bound: expected one of {marks}, got {reference_bound!r}")
    ours, theirs = _positive(surrogate_seconds), _positive(reference_seconds)
    train = _positive(train_seconds)
    per_sample = _positive(data_seconds_per_sample)
    data = (per_sample * n_train if per_sample is not None else None) if needs_data else 0.0
    setup = None if data is None or train is None else data + train
    known = {
        "data_seconds": data,
        "train_seconds": train,
        "setup_seconds": setup,
        "surrogate_seconds": ours,
        "reference_seconds": theirs,
    }

    def result(queries: float, reason: str = "", bound: str = "") -> BreakEven:
        return BreakEven(queries=queries, bound=bound, reason=reason, **known)

    if ours is None:
        return result(math.nan, "no time per query was measured")
    if less_accurate:
        return result(math.inf, LESS_ACCURATE)
    if theirs is None:
        return result(math.nan, "no reference ladder to compare with")
    if theirs <= ours:
        if reference_bound == LOWER_BOUND:
            # A setting as accurate as the surrogate would be slower than the most accurate
            # one on the ladder; how much is unknown.
            return result(
                math.nan,
                "more accurate than every reference setting but slower per query than the "
                "most accurate one; a finer setting is needed to tell",
            )
        return result(math.inf, "slower per query than the reference at equal accuracy")
    if setup is None:
        what = "training time" if train is None else "data generation time"
        return result(math.nan, f"{what} unknown")
    queries = float(math.floor(setup / (theirs - ours)) + 1)
    if reference_bound == LOWER_BOUND:
        return result(queries, "at most: more accurate than every reference setting", bound="≤")
    if reference_bound == UPPER_BOUND:
        return result(
            queries, "at least: read against a more accurate reference setting", bound="≥"
        )
    return result(queries)


def reading_of(note: str) -> tuple[str, bool]:
    """How a speed-up was read, from its note (:mod:`pdeml.validation.speedup`).

    Returns the mark at the note's start (``"≤"``, ``"≥"``, or ``""`` for a reading at
    equal accuracy) and whether the note says the surrogate is less accurate than the
    ladder's settings (the ``"≤"`` reading against the cheapest setting).
    """
    note = str(note or "").strip()
    mark = UPPER_BOUND if note.startswith(("≤", "<=")) else ""
    mark = LOWER_BOUND if note.startswith(("≥", ">=")) else mark
    words = note.lower()
    less = mark == UPPER_BOUND and ("less accurate" in words or "already as accurate" in words)
    return mark, less


def entry_break_even(
    record: dict[str, Any], data_seconds_per_sample: float | None, *, guarded: bool = False
) -> BreakEven:
    """:func:`break_even` of a surrogate entry record as the validation runner writes it.

    The reference time at equal accuracy is the entry's speed-up times its time per sample
    (the speed-up is that time's ratio); with ``guarded`` both are the guarded ones
    (``record["guard_speedup"]``, read at the guarded answers' error, and
    ``record["guard"]["time_per_sample"]``).
    """
    seconds = number(record.get("time_per_sample"))
    ratio = number(record.get("speedup"))
    note = record.get("speedup_note")
    if guarded:
        guard = record.get("guard")
        seconds = number(guard.get("time_per_sample")) if isinstance(guard, dict) else math.nan
        ratio = number(record.get("guard_speedup"))
        note = record.get("guard_speedup_note")
    reference = ratio * seconds if math.isfinite(ratio * seconds) else None
    ours: Any = seconds if math.isfinite(seconds) else None
    n_train = record.get("n_train")
    mark, less = reading_of(str(note or ""))
    return break_even(
        surrogate_seconds=ours,
        reference_seconds=reference,
        train_seconds=record.get("train_seconds"),
        data_seconds_per_sample=data_seconds_per_sample,
        n_train=n_train if isinstance(n_train, int) and n_train >= 0 else 0,
        needs_data=bool(record.get("needs_data", True)),
        reference_bound=mark,
        less_accurate=less,
    )
