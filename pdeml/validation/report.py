"""The validation report: Markdown and a self-contained HTML page from a runner's output.

:func:`write_report` reads the folder the validation runner leaves (``suite.json`` and
``entries/<id>.json`` / ``entries/<id>.npz``), draws the figures into ``figures/`` and
writes ``report.md`` and ``report.html``. The page is built once as a list of blocks
(headings, paragraphs, tables, figures) and rendered twice, so both files say the same.
It opens with the answer (:mod:`pdeml.validation.report_summary`: one table across all
problems and a verdict per surrogate); the details per problem and the environment follow.
Failed entries and suites without surrogates still give a report. This module reads the
run and assembles the page; its wording is :mod:`pdeml.validation.report_text`, its figures
:mod:`pdeml.validation.report_figures`, and :mod:`pdeml.validation.render` writes the files.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pdeml.validation.ladder import ladder_words
from pdeml.validation.render import (
    Heading,
    Items,
    Para,
    Pre,
    Table,
    render_html,
    render_markdown,
    write_atomic,
)
from pdeml.validation.report_figures import ReportBuilder, problem_figures
from pdeml.validation.report_summary import mean_l2, metric_value, queries_cell, summary_blocks
from pdeml.validation.report_text import (
    BREAK_EVEN_HELP,
    ENVIRONMENT_LABELS,
    MEASURED_HELP,
    METRIC_HELP,
    METRIC_LABELS,
    SPEEDUP_HELP,
    TIMING_HELP,
    _bound,
    _count,
    _goal_cell,
    _ms,
    environment_value,
    format_number,
    spread_cell,
    threads_text,
)

__all__ = ["format_number", "write_report"]


def _read_json(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _problem(spec: Mapping[str, Any]) -> Any:
    from pdeml.problems.base import Problem

    try:
        return Problem.from_dict(spec["problem"])
    except Exception:  # an unknown or changed problem must not stop the report
        return None


def _output_fields(problem: Any, entries: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: list[str] = list(problem.output_names) if problem is not None else []
    found = [f for e in entries for m in (e.get("metrics") or {}).values() for f in m]
    return [f for f in seen if f in found] + sorted(set(found) - set(seen))


# -- the report --------------------------------------------------------------------------
def _load_entries(out: Path) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    entries, bad = [], []
    folder = out / "entries"
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            entry = _read_json(path)
            entry.setdefault("id", path.stem)
            entry["_npz"] = path.with_suffix(".npz")
            entries.append(entry)
        except (OSError, ValueError) as error:
            bad.append((path.name, str(error)))
    entries.sort(key=lambda e: (e.get("kind") != "reference", str(e.get("id"))))
    return entries, bad


def _arrays(entry: Mapping[str, Any]) -> dict[str, np.ndarray] | None:
    path = entry["_npz"]
    if entry.get("status") != "ok" or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError):
        return None


def _summary_table(entries: list[dict[str, Any]], fields: list[str]) -> tuple[Table, list[str]]:
    present = [m for e in entries for m in e.get("metrics") or {}]
    others = [m for m in METRIC_LABELS if m != "relative_l2"]
    others += sorted(set(present) - set(METRIC_LABELS))
    others = [
        m for m in others if any(metric_value(e, m, f) is not None for e in entries for f in fields)
    ]
    headers = ["Entry", "Method", "Status", "Field", "rel. L2 (mean ± std)"]
    headers += [f"{METRIC_LABELS.get(m, m)} (mean)" for m in others]
    headers += ["Time / sample (ms)", "min–max (ms)", "Device", "Training (s)", "Parameters"]
    headers += ["Speed-up", "Break-even (queries)", "Goal"]
    numeric = [False] * 4 + [True] * (1 + len(others))
    numeric += [True, True, False, True, True, True, True, False]
    rows, notes, groups = [], [], []
    for group, entry in enumerate(entries):
        method = str(entry.get("surrogate", ""))
        if entry.get("kind") == "reference":
            method += " (reference)"
        speed = entry.get("speedup")
        note = str(entry.get("speedup_note") or "")
        cell = "—" if speed is None else f"{_bound(note)}{format_number(speed, 3)}×"
        if note:
            notes.append(note)
            cell += f" [{len(notes)}]"
        tail = [
            _ms(entry.get("time_per_sample")),
            spread_cell(entry.get("time_per_sample_spread")),
            str(entry.get("device") or "—"),
            format_number(entry.get("train_seconds")),
            _count(entry.get("parameters")),
            cell,
            "—" if entry.get("kind") == "reference" else queries_cell(entry.get("break_even")),
            _goal_cell(entry.get("goals") or {}),
        ]
        own = [f for f in fields if any(f in m for m in (entry.get("metrics") or {}).values())]
        for i, field in enumerate(own or ["—"]):
            mean = metric_value(entry, "relative_l2", field)
            std = metric_value(entry, "relative_l2", field, "std")
            l2 = format_number(mean)
            if mean is not None and std is not None and math.isfinite(std):
                l2 += f" ± {format_number(std, 3)}"
            head = [str(entry.get("id")), method, str(entry.get("status", "?"))]
            metrics = [format_number(metric_value(entry, m, field)) for m in others]
            rows.append(
                (head if i == 0 else [""] * 3)
                + [field, l2, *metrics]
                + (tail if i == 0 else [""] * len(tail))
            )
            groups.append(group)
    return Table(headers, rows, numeric, status_column=2, groups=groups), notes


def _problem_section(
    b: ReportBuilder, pid: str, spec: Mapping[str, Any], entries: list[dict]
) -> None:
    problem = _problem(spec)
    pdict = spec.get("problem") or {}
    b.blocks.append(Heading(2, f"Problem {pid}"))
    facts = [f"{problem.title}" if problem is not None else f"{pdict.get('problem', '?')}"]
    if "resolution" in pdict:
        facts.append(f"resolution {pdict['resolution']}")
    facts += [f"{spec.get('n_train', '?')} training / {spec.get('n_test', '?')} test samples"]
    if spec.get("dataset"):
        facts.append(f"dataset {spec['dataset']}")
    b.blocks.append(Para(", ".join(facts) + "."))
    if not entries:
        b.blocks.append(Para("No entries ran for this problem."))
        return
    fields = _output_fields(problem, entries)
    table, notes = _summary_table(entries, fields)
    b.blocks.append(table)
    if notes:
        b.blocks.append(Items([(f"[{i + 1}]", n) for i, n in enumerate(notes)]))
    skipped = [(str(e["id"]), str(m)) for e in entries for m in e.get("metrics_skipped") or []]
    if skipped:
        b.blocks.append(Para("Metrics that do not apply and were not computed:"))
        b.blocks.append(Items(skipped))
    failed = [e for e in entries if e.get("status") != "ok"]
    if failed:
        b.blocks.append(Heading(3, "Failed entries"))
        for entry in failed:
            b.blocks.append(Para(f"({entry.get('surrogate', '?')}) failed with:", str(entry["id"])))
            b.blocks.append(Pre(str(entry.get("error") or "no error message recorded")))

    ladders = {}
    for entry in entries:
        if entry.get("kind") == "reference" and entry.get("ladder"):
            ladders[str(entry.get("surrogate") or entry["id"])] = entry["ladder"]
            b.blocks.append(Heading(3, f"Reference ladder: {entry['id']}"))
            b.blocks.append(Para(ladder_words(entry)))
            rows = [
                [
                    str(s.get("setting", s.get("resolution"))),
                    _ms(s.get("seconds_per_sample")),
                    _ms(s.get("seconds_per_sample_single")),
                    "diverged" if s.get("failed") else format_number(s.get("relative_l2")),
                ]
                for s in entry["ladder"]
            ]
            headers = ["Setting", "Time / sample, batched (ms)", "One sample per call (ms)"]
            b.blocks.append(Table([*headers, "rel. L2"], rows, [False] + [True] * 3))

    ok = [e for e in entries if e.get("kind") != "reference" and e.get("status") == "ok"]
    points: dict[str, tuple[float, float]] = {}
    for e in ok:
        seconds, l2 = e.get("time_per_sample"), mean_l2(e)
        if seconds is not None and l2 is not None:
            points[f"{e['id']} ({e.get('device') or '?'})"] = (seconds, l2)
    arrays = {str(e["id"]): _arrays(e) for e in ok}
    problem_figures(b, pid, problem, entries, ladders, points, arrays)


def _problem_title(pid: str, spec: Mapping[str, Any]) -> str:
    """The suite's id of a problem, with its name where that says more."""
    problem = _problem(spec)
    if problem is None or problem.title == pid:
        return pid
    return f"{pid} ({problem.title})"


def _environment_section(
    b: ReportBuilder, env: Mapping[str, Any], entries: list[dict[str, Any]]
) -> None:
    """Where the numbers were measured: the suite's environment and the thread pools that
    the entries reported while they were timed."""
    b.blocks.append(Heading(2, "Environment"))
    known = list(ENVIRONMENT_LABELS)  # the load at start and at end side by side
    keys = sorted(env, key=lambda k: known.index(k) if k in known else len(known))
    rows = [[ENVIRONMENT_LABELS.get(k, str(k)), environment_value(k, env[k])] for k in keys]
    seen = sorted(
        {
            threads_text(e["timing_threads"])
            for e in entries
            if isinstance(e.get("timing_threads"), Mapping)
        }
    )
    if seen:
        rows.append([ENVIRONMENT_LABELS["timing_threads"], "; ".join(seen)])
    b.blocks.append(Table(["Item", "Value"], rows, [False, False]))
    _measured_table(b, entries)


def _measured_table(b: ReportBuilder, entries: list[dict[str, Any]]) -> None:
    """Where and when each entry was measured (its own record), beside the suite's table,
    which describes the invocation that wrote the report."""
    measured = [e for e in entries if isinstance(e.get("measured"), Mapping)]
    if not measured:
        return  # records written before entries kept this
    b.blocks.append(Para(MEASURED_HELP))
    rows = []
    for e in measured:
        m = e["measured"]
        machine = ", ".join(
            str(v) for v in (m.get("machine"), m.get("cpu"), m.get("cores")) if v is not None
        )
        pools = e.get("timing_threads")
        rows.append(
            [
                str(e["id"]),
                environment_value("date", m.get("date")),
                environment_value("commit", m.get("commit")),
                machine or "—",
                environment_value("device", m.get("device")),
                environment_value("load_start", m.get("load_start")),
                environment_value("load_end", m.get("load_end")),
                threads_text(pools) if isinstance(pools, Mapping) else "—",
            ]
        )
    headers = ["Entry", "Started", "Commit", "Machine, CPU, cores", "Device"]
    headers += ["Load at start", "Load at end", "Thread pools while timing"]
    b.blocks.append(Table(headers, rows, [False] * len(headers)))


def write_report(out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write the figures, ``report.md`` and ``report.html`` of a validation run.

    Parameters
    ----------
    out_dir : path
        The folder the validation runner wrote: ``suite.json`` and ``entries/``.

    Returns
    -------
    dict of str to pathlib.Path
        ``"markdown"`` and ``"html"`` to the two reports, and each figure by its path
        relative to ``out_dir`` (``"figures/<name>.png"``).

    Raises
    ------
    FileNotFoundError
        If ``out_dir`` holds no ``suite.json``.
    """
    out = Path(out_dir)
    if not (out / "suite.json").is_file():
        raise FileNotFoundError(
            f"{out / 'suite.json'} not found; expected the output folder of pdeml.validate"
        )
    suite = _read_json(out / "suite.json")
    entries, unreadable = _load_entries(out)
    problems: dict[str, Any] = dict(suite.get("problems") or {})
    for entry in entries:
        problems.setdefault(str(entry.get("problem_id")), {})

    b = ReportBuilder(out)
    title = f"Validation report: {suite.get('name', out.name)}"
    b.blocks.append(Heading(1, title))
    if suite.get("description"):
        b.blocks.append(Para(str(suite["description"])))
    n_failed = sum(e.get("status") != "ok" for e in entries)
    n_sur = sum(e.get("kind") != "reference" for e in entries)
    b.blocks.append(
        Para(
            f"{len(problems)} problem(s), {len(entries)} entries ({n_sur} surrogate, "
            f"{len(entries) - n_sur} reference), {len(entries) - n_failed} ok, {n_failed} failed."
        )
    )
    titles = {
        pid: _problem_title(pid, spec) for pid, spec in problems.items() if isinstance(spec, dict)
    }
    order = {pid: i for i, pid in enumerate(problems)}  # the suite's order of problems
    ranked = sorted(entries, key=lambda e: order.get(str(e.get("problem_id")), len(order)))
    b.blocks.extend(summary_blocks(ranked, titles))
    b.blocks.append(Heading(2, "How to read this report"))
    present = {"relative_l2"} | {m for e in entries for m in e.get("metrics") or {}}
    b.blocks.append(
        Items([(METRIC_LABELS[m], METRIC_HELP[m]) for m in METRIC_HELP if m in present])
    )
    b.blocks.append(Para(SPEEDUP_HELP))
    b.blocks.append(Para(BREAK_EVEN_HELP))
    b.blocks.append(Para(TIMING_HELP))
    if unreadable:
        b.blocks.append(Heading(2, "Unreadable entry files"))
        b.blocks.append(Items(unreadable))
    for pid, spec in problems.items():
        own = [e for e in entries if str(e.get("problem_id")) == pid]
        _problem_section(b, pid, spec, own)
    _environment_section(b, suite.get("environment") or {}, entries)

    md_path, html_path = out / "report.md", out / "report.html"
    write_atomic(md_path, render_markdown(b.blocks).encode("utf-8"))
    write_atomic(html_path, render_html(b.blocks, title).encode("utf-8"))
    return {"markdown": md_path, "html": html_path, **b.figures}
