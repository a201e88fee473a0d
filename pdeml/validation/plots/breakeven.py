"""The break-even chart: total cost against the number of queries, surrogate against solver.

Takes plain numbers (see :mod:`pdeml.validation.breakeven`) and returns a
:class:`matplotlib.figure.Figure` with an Agg canvas attached.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeGuard

import numpy as np
from matplotlib.figure import Figure

from pdeml.validation.plots.canvas import new_figure


def _finite(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def break_even_chart(curves: Mapping[str, Mapping[str, Any]], title: str = "") -> Figure:
    """Cost of answering N queries: each surrogate (data + training + N × its time) as a solid
    line, the reference solver at the surrogate's accuracy (N × its time) dashed in the same
    colour, the guarded surrogate dotted; each crossing (the break-even count) is marked.

    Parameters
    ----------
    curves : mapping of str to mapping
        Surrogate label to ``setup`` (seconds of data and training), ``surrogate`` and
        ``reference`` (seconds per query), ``queries`` (the break-even count, ``inf`` or
        ``nan``), and optionally ``guarded`` (guarded seconds per query) and
        ``guarded_queries``. A curve without finite positive times is left out.
    title : str, optional
        Figure title ("break-even" when empty).

    Returns
    -------
    matplotlib.figure.Figure
        Log-log axes: number of queries against total seconds.
    """
    fig = new_figure(7.5, 4.5)
    ax = fig.add_subplot()
    counts = [
        float(c[k])
        for c in curves.values()
        for k in ("queries", "guarded_queries")
        if _finite(c.get(k))
    ]
    top = max(1e3, 10 * max(counts, default=1.0))
    n = np.geomspace(1.0, top, 200)
    drawn = labels = 0
    for i, (label, c) in enumerate(curves.items()):
        setup, ours, theirs = c.get("setup"), c.get("surrogate"), c.get("reference")
        if not (_finite(ours) and _finite(theirs)) or not isinstance(setup, (int, float)):
            continue
        colour = f"C{i % 10}"
        ax.plot(n, setup + n * ours, color=colour, lw=1.8, label=f"{label}")
        ax.plot(n, n * theirs, color=colour, lw=1.2, ls="--", label=f"reference at {label}'s error")
        marks = [("queries", ours, "o")]
        if _finite(c.get("guarded")):
            ax.plot(
                n, setup + n * c["guarded"], color=colour, lw=1.4, ls=":", label=f"{label}, guarded"
            )
            marks.append(("guarded_queries", c["guarded"], "s"))
        for key, per_query, marker in marks:
            crossing = c.get(key)
            if _finite(crossing) and _finite(per_query):
                ax.plot([crossing], [setup + crossing * per_query], marker, color=colour, ms=7)
                # Labels of crossings that fall close together are stacked, not overprinted.
                ax.annotate(
                    f"N = {int(crossing):,}",
                    (crossing, setup + crossing * per_query),
                    textcoords="offset points",
                    xytext=(8, -14 - 11 * (labels % 4)),
                    fontsize=8,
                    color=colour,
                )
                labels += 1
        drawn += 1
    if not drawn:
        ax.text(0.5, 0.5, "no surrogate with known costs", ha="center", transform=ax.transAxes)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("number of queries N")
    ax.set_ylabel("total time (s)")
    ax.grid(alpha=0.3, which="both")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    ax.set_title(title or "break-even")
    return fig
