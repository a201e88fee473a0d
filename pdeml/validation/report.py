"""The validation report: Markdown and a self-contained HTML page from a runner's output.

:func:`write_report` reads the folder the validation runner leaves (``suite.json`` and
``entries/<id>.json`` / ``entries/<id>.npz``), draws the figures into ``figures/`` and
writes ``report.md`` and ``report.html``. The page is built once as a list of blocks
(headings, paragraphs, tables, figures) and rendered twice, so both files say the same.
Failed entries and suites without surrogates still give a report.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pdeml.validation.render import (
    Block,
    FigureBlock,
    Heading,
    Items,
    Para,
    Pre,
    Table,
    render_html,
    render_markdown,
    write_atomic,
)

__all__ = ["format_number", "write_report"]

METRIC_LABELS = {
    "relative_l2": "rel. L2",
    "relative_h1": "rel. H1",
    "rmse": "RMSE",
    "nrmse": "nRMSE",
    "max_error": "max error",
    "fourier_low": "Fourier low",
    "fourier_mid": "Fourier mid",
    "fourier_high": "Fourier high",
    "boundary_error": "boundary error",
    "interval_coverage": "coverage",
    "mean_predictive_std": "mean pred. std",
    "gaussian_nll": "NLL",
    "gaussian_crps": "CRPS",
}
METRIC_HELP = {
    "relative_l2": "‖prediction − reference‖₂ / ‖reference‖₂ for each test sample, then the "
    "mean (± standard deviation) over the test set; 0.01 means 1 % error.",
    "relative_h1": "the same ratio in the H1 norm (values and first derivatives), which "
    "also penalises wrong gradients and small-scale noise.",
    "rmse": "root-mean-square pointwise error, in the field's own units.",
    "nrmse": "RMSE divided by the root-mean-square of the reference (PDEBench's nRMSE, the "
    "relative RMSE), per sample, then the mean; over a whole sample it equals the relative L2 "
    "error, and for a scalar output it is |prediction − reference| / |reference|.",
    "max_error": "the largest pointwise |prediction − reference| in a sample, in the "
    "field's own units (not relative).",
    "fourier_low": "RMSE of the error's Fourier modes with |k| from 0 to 3 (absolute).",
    "fourier_mid": "RMSE of the error's Fourier modes with |k| from 4 to 11 (absolute).",
    "fourier_high": "RMSE of the error's Fourier modes with |k| of 12 and more (absolute).",
    "boundary_error": "RMSE on the boundary nodes of the grid (absolute).",
    "interval_coverage": "fraction of reference values inside the surrogate's 95 % "
    "predictive interval; near 0.95 when its uncertainty is calibrated. Mesh problems count "
    "the real nodes only (never the padding).",
    "mean_predictive_std": "mean predicted standard deviation (field units).",
    "gaussian_nll": "mean negative log-likelihood of the reference under the predicted "
    "Gaussian; lower is better.",
    "gaussian_crps": "continuous ranked probability score of the predicted Gaussian, in "
    "field units; lower is better.",
}
ENVIRONMENT_LABELS = {
    "pdeml_version": "pdeml version",
    "commit": "Commit",
    "machine": "Machine",
    "cpu": "CPU",
    "cores": "CPU cores",
    "device": "Device",
    "python": "Python",
    "torch": "PyTorch",
    "date": "Date",
}
SPEEDUP_HELP = (
    "Speed-up at equal accuracy: the time per sample of the cheapest reference-solver setting "
    "that is at least as accurate as the surrogate (from the reference ladder, whose error is "
    "measured against a finer ground truth), divided by the surrogate's time per sample. "
    "Times are measured on the devices named in the tables; a speed-up across different "
    "devices compares the two setups, not the algorithms alone. “≥” marks a lower bound (no "
    "setting on the ladder is as accurate as the surrogate; the ratio is to the most accurate "
    "one), “≤” an upper bound (even the coarsest setting is as accurate; a cheaper one might be)."
)


# -- formatting --------------------------------------------------------------------------
def format_number(value: Any, digits: int = 4) -> str:
    """Format a number with ``digits`` significant digits; ``None`` becomes an em dash.

    Parameters
    ----------
    value : float, int or None
        The number.
    digits : int, optional
        Significant digits (4 by default).

    Returns
    -------
    str
        E.g. ``"0.01234"``, ``"1.235e-05"``, ``"n/a"`` (NaN), ``"—"``.
    """
    if value is None:
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return "n/a"
    if math.isinf(number):
        return "∞" if number > 0 else "−∞"
    if number == 0:
        return "0"
    return f"{number:.{digits}g}"


def _ms(seconds: Any) -> str:
    return "—" if seconds is None else format_number(float(seconds) * 1e3)


def _count(value: Any) -> str:
    return "—" if value is None else f"{int(value):,}"


def _bound(note: str) -> str:
    note = note.strip()
    if note.startswith(("≥", ">=")):
        return "≥ "
    if note.startswith(("≤", "<=")):
        return "≤ "
    return ""


def _read_json(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-.") or "figure"


def _problem(spec: Mapping[str, Any]) -> Any:
    from pdeml.problems.base import Problem

    try:
        return Problem.from_dict(spec["problem"])
    except Exception:  # an unknown or changed problem must not stop the report
        return None


def _guess_dims(array: np.ndarray) -> tuple[str, ...]:
    return {1: ("x",), 2: ("x", "y"), 3: ("t", "x", "y")}.get(
        array.ndim, tuple(f"axis{i}" for i in range(array.ndim))
    )


def _output_fields(problem: Any, entries: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: list[str] = list(problem.output_names) if problem is not None else []
    found = [f for e in entries for m in (e.get("metrics") or {}).values() for f in m]
    return [f for f in seen if f in found] + sorted(set(found) - set(seen))


def _metric(entry: Mapping[str, Any], metric: str, field: str, stat: str = "mean") -> Any:
    """A scalar summary of a metric, or ``None`` (missing, or per time step)."""
    by_field = ((entry.get("metrics") or {}).get(metric) or {}).get(field) or {}
    if not isinstance(by_field, Mapping):
        return None
    value = by_field.get(stat)
    if value is None and stat in by_field:
        return math.nan  # the runner writes a NaN as null (strict JSON): shown as "n/a"
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _mean_l2(entry: Mapping[str, Any]) -> float | None:
    """Mean relative L2 over the output fields, as the speed-up is computed."""
    fields = (entry.get("metrics") or {}).get("relative_l2") or {}
    values = [_metric(entry, "relative_l2", f) for f in fields]
    values = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(values)) if values else None


_CURVES = ("train_loss", "valid_metric")


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


# -- the report --------------------------------------------------------------------------
class _Builder:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.figures: dict[str, Path] = {}
        self.blocks: list[Block] = []

    def figure(self, name: str, caption: str, draw: Callable[[], Any]) -> None:
        from pdeml.validation.plots import figure_png

        stem, n = _slug(name), 1
        while f"figures/{stem}.png" in self.figures:
            n += 1
            stem = f"{_slug(name)}-{n}"
        relative = f"figures/{stem}.png"
        try:
            png = figure_png(draw())
        except Exception as error:  # a bad array must cost one figure, not the report
            self.blocks.append(Para(f"{type(error).__name__}: {error}", f"{name}: not drawn."))
            return
        write_atomic(self.out / relative, png)
        self.figures[relative] = self.out / relative
        self.blocks.append(FigureBlock(relative, caption, png))


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


def _goal_cell(goals: Mapping[str, Any]) -> str:
    """``met: rel. L2 < 0.005`` / ``MISSED: coverage (u) in [0.9, 0.98)`` per goal."""
    if not goals:
        return "—"
    parts = []
    for key, goal in goals.items():
        metric = str(goal.get("metric", key))
        label = METRIC_LABELS.get(metric, metric)
        if goal.get("field"):
            label += f" ({goal['field']})"
        verdict = "met" if goal.get("met") else "MISSED"
        value = format_number(goal.get("value"), 3)
        high = format_number(goal.get("bound"), 3)
        if goal.get("low") is not None:
            rule = f"{label} = {value} in [{format_number(goal['low'], 3)}, {high})"
        else:
            rule = f"{label} < {high}" + (f" ({value})" if goal.get("field") else "")
        parts.append(f"{verdict}: {rule}")
    return "; ".join(parts)


def _summary_table(entries: list[dict[str, Any]], fields: list[str]) -> tuple[Table, list[str]]:
    present = [m for e in entries for m in e.get("metrics") or {}]
    others = [m for m in METRIC_LABELS if m != "relative_l2"]
    others += sorted(set(present) - set(METRIC_LABELS))
    others = [
        m for m in others if any(_metric(e, m, f) is not None for e in entries for f in fields)
    ]
    headers = ["Entry", "Method", "Status", "Field", "rel. L2 (mean ± std)"]
    headers += [f"{METRIC_LABELS.get(m, m)} (mean)" for m in others]
    headers += ["Time / sample (ms)", "Device", "Training (s)", "Parameters", "Speed-up", "Goal"]
    numeric = [False] * 4 + [True] * (1 + len(others)) + [True, False, True, True, True, False]
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
            str(entry.get("device") or "—"),
            format_number(entry.get("train_seconds")),
            _count(entry.get("parameters")),
            cell,
            _goal_cell(entry.get("goals") or {}),
        ]
        own = [f for f in fields if any(f in m for m in (entry.get("metrics") or {}).values())]
        for i, field in enumerate(own or ["—"]):
            mean = _metric(entry, "relative_l2", field)
            std = _metric(entry, "relative_l2", field, "std")
            l2 = format_number(mean)
            if mean is not None and std is not None and math.isfinite(std):
                l2 += f" ± {format_number(std, 3)}"
            head = [str(entry.get("id")), method, str(entry.get("status", "?"))]
            metrics = [format_number(_metric(entry, m, field)) for m in others]
            rows.append(
                (head if i == 0 else [""] * 3)
                + [field, l2, *metrics]
                + (tail if i == 0 else [""] * len(tail))
            )
            groups.append(group)
    return Table(headers, rows, numeric, status_column=2, groups=groups), notes


def _problem_section(b: _Builder, pid: str, spec: Mapping[str, Any], entries: list[dict]) -> None:
    problem = _problem(spec)
    pdict = spec.get("problem") or {}
    b.blocks.append(Heading(2, f"Problem {pid}"))
    facts = [f"{pdict.get('problem', '?')}"]
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
            b.blocks.append(
                Para(
                    f"{entry.get('surrogate', '?')} on {entry.get('device') or '?'}; error "
                    "against a finer ground truth."
                )
            )
            rows = [
                [
                    str(s.get("resolution")),
                    _ms(s.get("seconds_per_sample")),
                    format_number(s.get("relative_l2")),
                ]
                for s in entry["ladder"]
            ]
            b.blocks.append(
                Table(["Resolution", "Time / sample (ms)", "rel. L2"], rows, [True] * 3)
            )

    ok = [e for e in entries if e.get("kind") != "reference" and e.get("status") == "ok"]
    points = {
        f"{e['id']} ({e.get('device') or '?'})": (e.get("time_per_sample"), _mean_l2(e)) for e in ok
    }
    points = {k: v for k, v in points.items() if v[0] is not None and v[1] is not None}
    arrays = {str(e["id"]): _arrays(e) for e in ok}
    histories = {
        str(e["id"]): e["history"]
        for e in ok
        if any(_positive(h.get(k)) for h in e.get("history") or [] for k in _CURVES)
    }
    errors = {
        f"{eid} · {key[len('errors__') :]}": a[key]
        for eid, a in arrays.items()
        if a is not None
        for key in a
        if key.startswith("errors__")
    }
    if ladders or points or errors or histories:
        b.blocks.append(Heading(3, "Figures"))
    from pdeml.validation import plots

    if ladders or points:
        devices = sorted({str(e.get("device") or "?") for e in entries if e.get("status") == "ok"})
        b.figure(
            f"{pid}-accuracy-cost",
            f"Accuracy against cost for {pid}: the reference solver's ladder (labelled by "
            "resolution, error against a finer ground truth) and each surrogate's mean relative "
            "L2 on the test set, averaged over its output fields as for the speed-up. Lower "
            f"left is better. Devices: {', '.join(devices)}.",
            lambda: plots.accuracy_cost(ladders, points, f"{pid}: accuracy against cost"),
        )
    if errors:
        b.figure(
            f"{pid}-errors",
            f"Distribution of per-sample relative L2 errors on the {pid} test set.",
            lambda: plots.error_histogram(errors, f"{pid}: per-sample relative L2"),
        )
    if histories:
        b.figure(
            f"{pid}-training",
            f"Training loss and validation metric per epoch for the {pid} surrogates.",
            lambda: plots.training_curves(histories, f"{pid}: training"),
        )
    curves = {
        f"{eid} · {f}": (levels, observed)
        for e in ok
        for eid in [str(e["id"])]
        if e.get("calibration")
        for levels in [e["calibration"].get("levels") or []]
        for f, observed in (e["calibration"].get("observed") or {}).items()
    }
    if curves:
        b.figure(
            f"{pid}-calibration",
            f"Calibration of the predictive intervals on the {pid} test set: observed "
            "coverage of the central Gaussian interval (mean ± z σ) against its nominal "
            "level, pooled over test samples and values (real mesh nodes only). On the "
            "dashed diagonal the uncertainty is calibrated; below it, over-confident.",
            lambda: plots.calibration(curves, f"{pid}: calibration"),
        )
    for eid, a in arrays.items():
        if a is None:
            continue
        if _is_mesh(a):
            _mesh_figures(b, eid, a, problem)
        else:
            _sample_figures(b, eid, a, problem)


def _is_mesh(arrays: Mapping[str, np.ndarray]) -> bool:
    return "best__input__nodes" in arrays and "best__input__triangles" in arrays


def _mesh_figures(b: _Builder, eid: str, arrays: dict[str, np.ndarray], problem: Any) -> None:
    """Nodal fields on the sample meshes; scalar outputs as parity plots."""
    from pdeml.validation import plots

    outputs = [k.split("__", 2)[2] for k in arrays if k.startswith("best__reference__")]
    for field in outputs:
        if np.ndim(arrays[f"best__reference__{field}"]) == 0:
            continue
        used: list[str] = []

        def draw(f: str = field, used: list[str] = used) -> Any:
            fig, renderer = plots.mesh_panels(arrays, f, eid)
            used.append(renderer)
            return fig

        caption = (
            f"{eid}, {field} on the sample meshes: best, median and worst test samples by "
            "relative L2 (rows); reference, predicted mean, |error| and predictive standard "
            "deviation (columns; the last only for surrogates with uncertainty). Error and "
            "standard deviation share one colour scale."
        )
        b.figure(f"{eid}-mesh-{field}", caption, draw)
        if used and isinstance(b.blocks[-1], FigureBlock):
            how = (
                "pyvista (off-screen)"
                if used[0] == "pyvista"
                else "matplotlib tripcolor (pyvista could not render here)"
            )
            block = b.blocks[-1]
            b.blocks[-1] = FigureBlock(block.path, f"{block.caption} Drawn with {how}.", block.png)
    for field in outputs:
        if f"test__reference__{field}" not in arrays:
            continue
        b.figure(
            f"{eid}-parity-{field}",
            f"{eid}, scalar output {field} on every test sample: prediction against "
            "reference (left) and the error against the reference (right), with the 95 % "
            "predictive interval as an error bar where the surrogate gives one.",
            lambda f=field: plots.scalar_parity(
                arrays[f"test__reference__{f}"],
                arrays[f"test__prediction__{f}"],
                arrays.get(f"test__variance__{f}"),
                f"{eid}: {f}",
            ),
        )


def _sample_figures(b: _Builder, eid: str, arrays: dict[str, np.ndarray], problem: Any) -> None:
    from pdeml.validation import plots

    found_in = [k.split("__", 2)[2] for k in arrays if k.startswith("best__input__")]
    found_out = [k.split("__", 2)[2] for k in arrays if k.startswith("best__reference__")]
    inputs = [n for n in (problem.input_names if problem else ()) if n in found_in]
    inputs += [n for n in found_in if n not in inputs]
    outputs = [n for n in (problem.output_names if problem else ()) if n in found_out]
    outputs += [n for n in found_out if n not in outputs]
    dims = {}
    for name in inputs + outputs:
        kind = "input" if name in inputs else "reference"
        try:
            dims[name] = tuple(problem.field_dims(name))
        except Exception:
            dims[name] = _guess_dims(np.asarray(arrays[f"best__{kind}__{name}"]))
    for field in outputs:
        b.figure(
            f"{eid}-samples-{field}",
            f"{eid}, {field}: best, median and worst test samples by relative L2 (rows); "
            "input, reference, prediction and pointwise error (columns). Time-dependent "
            "fields show their last time step.",
            lambda f=field: plots.sample_panels(arrays, f, inputs, dims, eid),
        )


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

    b = _Builder(out)
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
    env = suite.get("environment") or {}
    b.blocks.append(Heading(2, "Environment"))
    rows = [[ENVIRONMENT_LABELS.get(k, str(k)), str(v)] for k, v in env.items()]
    b.blocks.append(Table(["Item", "Value"], rows, [False, False]))
    b.blocks.append(Heading(2, "How to read this report"))
    present = {"relative_l2"} | {m for e in entries for m in e.get("metrics") or {}}
    b.blocks.append(
        Items([(METRIC_LABELS[m], METRIC_HELP[m]) for m in METRIC_HELP if m in present])
    )
    b.blocks.append(Para(SPEEDUP_HELP))
    b.blocks.append(
        Para(
            "Time per sample is the wall-clock time to solve one input, in milliseconds; "
            "training time is the surrogate's whole fit, in seconds."
        )
    )
    if unreadable:
        b.blocks.append(Heading(2, "Unreadable entry files"))
        b.blocks.append(Items(unreadable))
    for pid, spec in problems.items():
        own = [e for e in entries if str(e.get("problem_id")) == pid]
        _problem_section(b, pid, spec, own)

    md_path, html_path = out / "report.md", out / "report.html"
    write_atomic(md_path, render_markdown(b.blocks).encode("utf-8"))
    write_atomic(html_path, render_html(b.blocks, title).encode("utf-8"))
    return {"markdown": md_path, "html": html_path, **b.figures}
