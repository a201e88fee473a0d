"""The answer first: one table across all problems and a one-sentence verdict per surrogate.

A reader of a validation report wants to know, per surrogate, how accurate it is, how much
faster than the reference solver at equal accuracy, after how many queries it pays for
itself, what the guard accepts, and whether its goals were met. This module reads those
numbers off the entry records (as the runner leaves them) and words them; the report puts
them at the top of the page, before the details.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pdeml.validation.breakeven import BreakEven
from pdeml.validation.render import Block, Heading, Items, Para, Table
from pdeml.validation.report_text import _bound, format_number


def metric_value(entry: Mapping[str, Any], metric: str, field: str, stat: str = "mean") -> Any:
    """A scalar summary of a metric, or ``None`` (missing, or per time step)."""
    by_field = ((entry.get("metrics") or {}).get(metric) or {}).get(field) or {}
    if not isinstance(by_field, Mapping):
        return None
    value = by_field.get(stat)
    if value is None and stat in by_field:
        return math.nan  # the runner writes a NaN as null (strict JSON): shown as "n/a"
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def mean_l2(entry: Mapping[str, Any]) -> float | None:
    """Mean relative L2 over the output fields, as the speed-up is computed."""
    fields = (entry.get("metrics") or {}).get("relative_l2") or {}
    values = [metric_value(entry, "relative_l2", f) for f in fields]
    values = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(values)) if values else None


def _error(entry: Mapping[str, Any]) -> float | None:
    """:func:`mean_l2`, but NaN (shown as "n/a") when a field's error is NaN: a summary must
    not hide a field that went wrong behind the others."""
    fields = (entry.get("metrics") or {}).get("relative_l2") or {}
    values = [metric_value(entry, "relative_l2", f) for f in fields]
    if any(v is not None and not math.isfinite(v) for v in values):
        return math.nan
    return mean_l2(entry)


def speedup_cell(ratio: Any, note: str) -> str:
    """``"4.5×"``, ``"≤ 0.27×"``, ``"≥ 12×"`` or ``"—"``."""
    return "—" if ratio is None else f"{_bound(str(note or ''))}{format_number(ratio, 3)}×"


def queries_cell(record: Any) -> str:
    """A break-even count: ``"1,234"``, ``"≤ 1,234"``, ``"∞"`` or ``"—"`` (unknown)."""
    found = BreakEven.from_record(record)
    if found is None or math.isnan(found.queries):
        return "—"
    if math.isinf(found.queries):
        return "∞"
    return f"{found.bound + ' ' if found.bound else ''}{int(found.queries):,}"


def _guard_met(guard: Mapping[str, Any]) -> bool | None:
    """Whether the accepted samples' worst true error is below ``tol`` (the guard's own
    ``met`` where it says; nothing accepted meets it), ``None`` where it cannot be told."""
    if isinstance(guard.get("met"), bool):
        return guard["met"]
    worst, tol = guard.get("accepted_worst_error"), guard.get("tol")
    if not isinstance(tol, (int, float)):
        return None
    if worst is None and guard.get("accepted_fraction") == 0:
        return True
    return bool(worst < tol) if isinstance(worst, (int, float)) else None


def guard_cell(entry: Mapping[str, Any]) -> str:
    """``"92 % accepted; worst 0.031 ≤ tol 0.05; 3.1×"`` for a guarded entry, else ``"—"``."""
    guard = entry.get("guard")
    if not isinstance(guard, Mapping):
        return "—"
    parts = []
    fraction = guard.get("accepted_fraction")
    if isinstance(fraction, (int, float)):
        parts.append(f"{format_number(100 * fraction, 3)} % accepted")
    worst, tol = guard.get("accepted_worst_error"), guard.get("tol")
    if isinstance(worst, (int, float)) and isinstance(tol, (int, float)):
        sign = "<" if worst < tol else "≥"
        parts.append(f"worst {format_number(worst, 3)} {sign} tol {format_number(tol, 3)}")
    elif worst is None and isinstance(tol, (int, float)):
        parts.append(f"none accepted at tol {format_number(tol, 3)}")
    if entry.get("guard_speedup") is not None:
        speed = speedup_cell(entry["guard_speedup"], entry.get("speedup_note", ""))
        parts.append(f"{speed} speed-up")
    return "; ".join(parts) or "—"


def goal_verdict(entry: Mapping[str, Any]) -> str:
    """``"met"``, ``"MISSED"`` or ``"—"`` (no goal): the suite's goals and, for a guarded
    entry, the accepted samples' worst error against ``tol``."""
    verdicts = [bool(g.get("met")) for g in (entry.get("goals") or {}).values()]
    guard = entry.get("guard")
    if isinstance(guard, Mapping) and _guard_met(guard) is not None:
        verdicts.append(bool(_guard_met(guard)))
    if entry.get("status") != "ok" and verdicts:
        return "MISSED"
    if not verdicts:
        return "—"
    return "met" if all(verdicts) else "MISSED"


def _speed_words(entry: Mapping[str, Any]) -> str:
    ratio, note = entry.get("speedup"), str(entry.get("speedup_note") or "")
    if ratio is None:
        return "no reference ladder to compare its speed with"
    mark = _bound(note).strip()
    words = note.strip().lstrip("≤≥<=>").strip(" ()")
    if mark == "≥":
        text = f"at least {format_number(ratio, 3)}× the reference solver's speed"
    elif mark == "≤":
        text = f"at most {format_number(ratio, 3)}× the reference solver's speed"
    elif ratio >= 1:
        text = f"{format_number(ratio, 3)}× faster than the reference solver at equal accuracy"
    else:
        text = f"{format_number(1 / ratio, 3)}× slower than the reference solver at equal accuracy"
    return f"{text} ({words})" if mark and words else text


def _break_even_words(record: Any, guarded: bool = False) -> str:
    found = BreakEven.from_record(record)
    if found is None:
        return ""
    with_guard = " with the guard on" if guarded else ""
    if math.isinf(found.queries):
        return f"never pays for itself{with_guard} ({found.reason})"
    if math.isnan(found.queries):
        return f"break-even{with_guard} unknown ({found.reason})"
    how = {"≤": "at most ", "≥": "at least "}.get(found.bound, "")
    setup = format_number(found.setup_seconds, 3)
    return (
        f"pays for itself{with_guard} after {how}{int(found.queries):,} queries "
        f"(data and training: {setup} s)"
    )


def verdict(entry: Mapping[str, Any]) -> str:
    """One sentence on a surrogate entry: error, speed, break-even, guard, goals."""
    if entry.get("status") != "ok":
        message = str(entry.get("error") or "no error message recorded").splitlines()[0]
        if len(message) > 160:
            message = message[:157] + "..."
        return f"Failed ({message}); no numbers."
    error = _error(entry)
    parts = [
        f"Mean relative L2 error {format_number(error, 3)}"
        if error is not None
        else "No relative L2 error",
        _speed_words(entry),
    ]
    parts.append(_break_even_words(entry.get("break_even")))
    guard = entry.get("guard")
    if isinstance(guard, Mapping):
        text = f"guarded at tol {format_number(guard.get('tol'), 3)}: {guard_cell(entry)}"
        parts.append(text)
        parts.append(_break_even_words(entry.get("guard_break_even"), guarded=True))
    goal = goal_verdict(entry)
    if goal != "—":
        parts.append("goals met" if goal == "met" else "goal MISSED")
    return "; ".join(p for p in parts if p) + "."


def summary_blocks(
    entries: Sequence[Mapping[str, Any]], problem_titles: Mapping[str, str]
) -> list[Block]:
    """The report's opening: a table of every surrogate entry across problems, then verdicts.

    Parameters
    ----------
    entries : sequence of mapping
        Every entry record of the run (references are left out here).
    problem_titles : mapping of str to str
        Problem id to the name shown (e.g. ``"darcy (Darcy flow)"``).

    Returns
    -------
    list of Block
        A heading, the table (or a sentence when there is no surrogate) and the verdicts.
    """
    surrogates = [e for e in entries if e.get("kind") != "reference"]
    blocks: list[Block] = [Heading(2, "Summary")]
    if not surrogates:
        blocks.append(Para("No surrogate entries in this run; see the reference ladders below."))
        return blocks
    headers = [
        "Problem",
        "Surrogate",
        "rel. L2",
        "Speed-up at equal accuracy",
        "Break-even (queries)",
        "Guarded",
        "Goal",
    ]
    rows = []
    for e in surrogates:
        pid = str(e.get("problem_id"))
        ok = e.get("status") == "ok"
        queries = queries_cell(e.get("break_even"))
        if ok and e.get("guard_break_even") is not None:
            queries += f" (guarded: {queries_cell(e['guard_break_even'])})"
        rows.append(
            [
                problem_titles.get(pid, pid),
                f"{e.get('id')} ({e['surrogate']})" if e.get("surrogate") else str(e.get("id")),
                format_number(_error(e), 3) if ok else "failed",
                speedup_cell(e.get("speedup"), str(e.get("speedup_note") or "")) if ok else "—",
                queries if ok else "—",
                guard_cell(e) if ok else "—",
                goal_verdict(e),
            ]
        )
    numeric = [False, False, True, True, True, False, False]
    blocks.append(Table(headers, rows, numeric, status_column=len(headers) - 1))
    blocks.append(Items([(str(e.get("id")), verdict(e)) for e in surrogates]))
    return blocks
