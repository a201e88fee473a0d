"""The figures of a validation report: which to draw for a problem and its entries.

:class:`ReportBuilder` collects the page's blocks and writes each figure to ``figures/``
as it is drawn (a figure that fails costs one paragraph, not the report); the functions
below choose and caption the figures of one problem, drawn by :mod:`pdeml.validation.plots`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from pdeml.validation.render import Block, FigureBlock, Heading, Para, write_atomic

_CURVES = ("train_loss", "valid_metric")


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-.") or "figure"


class ReportBuilder:
    """The blocks of a report page and the figures written so far (relative path -> file)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.figures: dict[str, Path] = {}
        self.blocks: list[Block] = []

    def figure(self, name: str, caption: str, draw: Callable[[], Any]) -> None:
        """Draw a figure, write it to ``figures/<name>.png`` and add it (or why not) to the page."""
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


def _guess_dims(array: np.ndarray) -> tuple[str, ...]:
    return {1: ("x",), 2: ("x", "y"), 3: ("t", "x", "y")}.get(
        array.ndim, tuple(f"axis{i}" for i in range(array.ndim))
    )


def problem_figures(
    b: ReportBuilder,
    pid: str,
    problem: Any,
    entries: list[dict[str, Any]],
    ladders: Mapping[str, Any],
    points: Mapping[str, tuple[float, float]],
    arrays: Mapping[str, dict[str, np.ndarray] | None],
) -> None:
    """The figures of one problem: accuracy against cost, errors, training, calibration, samples.

    Parameters
    ----------
    b : ReportBuilder
        The page to add to.
    pid : str
        The problem's id in the suite.
    problem : Problem or None
        The problem, for field names and axes (``None`` when it could not be rebuilt).
    entries : list of dict
        The problem's entries as read from ``entries/<id>.json``.
    ladders : mapping
        Reference solver label to its ladder (resolution, time and error per setting).
    points : mapping
        Surrogate label to (time per sample, mean relative L2).
    arrays : mapping
        Entry id to its stored arrays (``entries/<id>.npz``), ``None`` where there are none.
    """
    ok = [e for e in entries if e.get("kind") != "reference" and e.get("status") == "ok"]
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
            f"Accuracy against cost for {pid}: the reference solver's ladder (the line joins "
            "the settings no other beats on both counts, labelled by setting; dots: the "
            "others; error against a finer ground truth) and each surrogate's mean relative "
            "L2 on the test set, averaged over its output fields as for the speed-up. Lower "
            f"left is better. Devices: {', '.join(devices)}.",
            lambda: plots.accuracy_cost(ladders, points, f"{pid}: accuracy against cost"),
        )
    _break_even_figure(b, pid, ok)
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


def _break_even_figure(b: ReportBuilder, pid: str, ok: list[dict[str, Any]]) -> None:
    """Cost against number of queries, for the entries whose costs are all known."""
    from pdeml.validation.breakeven import LESS_ACCURATE, BreakEven
    from pdeml.validation.plots.breakeven import break_even_chart

    curves = {}
    for e in ok:
        plain = BreakEven.from_record(e.get("break_even"))
        if plain is None or plain.setup_seconds is None or plain.reference_seconds is None:
            continue
        if plain.reason == LESS_ACCURATE:  # no reference line at its accuracy to draw
            continue
        curve = {
            "setup": plain.setup_seconds,
            "surrogate": plain.surrogate_seconds,
            "reference": plain.reference_seconds,
            "queries": plain.queries,
        }
        guarded = BreakEven.from_record(e.get("guard_break_even"))
        if guarded is not None:
            curve |= {"guarded": guarded.surrogate_seconds, "guarded_queries": guarded.queries}
        curves[str(e["id"])] = curve
    if not curves:
        return
    b.figure(
        f"{pid}-break-even",
        f"Break-even for {pid}: total time to answer N queries. Solid: the surrogate, starting "
        "at the cost of its training data and training; dashed, same colour: the reference "
        "solver at that surrogate's accuracy; dotted: the guarded surrogate. A marker sits "
        "where the surrogate becomes cheaper (the break-even count in the tables).",
        lambda: break_even_chart(curves, f"{pid}: cost against number of queries"),
    )


def _is_mesh(arrays: Mapping[str, np.ndarray]) -> bool:
    return "best__input__nodes" in arrays and "best__input__triangles" in arrays


def _mesh_figures(b: ReportBuilder, eid: str, arrays: dict[str, np.ndarray], problem: Any) -> None:
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

        def parity(f: str = field) -> Any:
            return plots.scalar_parity(
                arrays[f"test__reference__{f}"],
                arrays[f"test__prediction__{f}"],
                arrays.get(f"test__variance__{f}"),
                f"{eid}: {f}",
            )

        b.figure(
            f"{eid}-parity-{field}",
            f"{eid}, scalar output {field} on every test sample: prediction against "
            "reference (left) and the error against the reference (right), with the 95 % "
            "predictive interval as an error bar where the surrogate gives one.",
            parity,
        )


def _sample_figures(
    b: ReportBuilder, eid: str, arrays: dict[str, np.ndarray], problem: Any
) -> None:
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
            partial(plots.sample_panels, arrays, field, inputs, dims, eid),
        )
