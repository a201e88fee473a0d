"""Figures of a validation report, drawn off-screen with matplotlib's Agg backend.

Every function takes plain numbers and arrays (no files, no suite objects) and returns a
:class:`matplotlib.figure.Figure` with an Agg canvas attached; nothing is shown and no
global ``pyplot`` state is touched, so figures can be drawn from any thread or process.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

__all__ = [
    "accuracy_cost",
    "calibration",
    "error_histogram",
    "figure_png",
    "mesh_panels",
    "reduce_for_display",
    "sample_panels",
    "scalar_parity",
    "training_curves",
]

ROWS = ("best", "median", "worst")
FIELD_CMAP = "viridis"
ERROR_CMAP = "inferno"


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """Render ``fig`` to PNG bytes.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to render.
    dpi : int, optional
        Resolution in dots per inch.

    Returns
    -------
    bytes
        The PNG file's content.
    """
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _is_time(dim: str) -> bool:
    return dim == "t" or dim.startswith("t_")


def reduce_for_display(
    array: np.ndarray, dims: Sequence[str], coords: Mapping[str, np.ndarray] | None = None
) -> tuple[np.ndarray, tuple[str, ...], str]:
    """Cut one sample of a field down to something a single panel can show.

    Time-dependent fields keep their last time step; any other axis beyond the last two
    is cut at its last index too.

    Parameters
    ----------
    array : numpy.ndarray
        One sample of a field, shape given by ``dims``.
    dims : sequence of str
        Dimension names of ``array`` (e.g. ``("t_out", "x", "y")``).
    coords : mapping, optional
        Coordinates by dimension name, used to say which time is shown.

    Returns
    -------
    array : numpy.ndarray
        The field with at most two axes.
    dims : tuple of str
        The remaining dimension names.
    note : str
        What was cut, e.g. ``"last time step, t_out = 50"``; empty when nothing was.
    """
    array = np.asarray(array, dtype=np.float64)
    dims = tuple(dims) if len(dims) == array.ndim else tuple(f"axis{i}" for i in range(array.ndim))
    notes = []
    while array.ndim > 2 or (array.ndim > 1 and _is_time(dims[0])):
        dim = dims[0]
        label = "last time step" if _is_time(dim) else f"last {dim}"
        coord = (coords or {}).get(dim)
        if coord is not None and len(coord) == array.shape[0]:
            label += f", {dim} = {_short(float(coord[-1]))}"
        notes.append(label)
        array, dims = array[-1], dims[1:]
    return array, dims, "; ".join(notes)


def _short(value: float) -> str:
    return f"{value:.4g}"


def _coord(coords: Mapping[str, np.ndarray], dim: str, n: int) -> np.ndarray:
    value = coords.get(dim)
    if value is not None and np.ndim(value) == 1 and len(value) == n:
        return np.asarray(value, dtype=np.float64)
    return np.arange(n, dtype=np.float64)


def _image(ax: Any, field: np.ndarray, dims: Sequence[str], coords: Mapping[str, np.ndarray], **kw):
    """Draw a 2D field with its first axis horizontal, the second vertical."""
    x = _coord(coords, dims[0], field.shape[0])
    y = _coord(coords, dims[1], field.shape[1])
    extent = None
    if len(x) > 1 and len(y) > 1:  # pixels centred on the grid points
        dx, dy = (x[-1] - x[0]) / (len(x) - 1), (y[-1] - y[0]) / (len(y) - 1)
        extent = (x[0] - dx / 2, x[-1] + dx / 2, y[0] - dy / 2, y[-1] + dy / 2)
    aspect = "equal" if set(dims) == {"x", "y"} else "auto"
    image = ax.imshow(field.T, origin="lower", extent=extent, aspect=aspect, **kw)
    ax.set_xlabel(dims[0])
    ax.set_ylabel(dims[1])
    return image


def _draw(
    fig: Figure,
    ax: Any,
    field: np.ndarray,
    dims: Sequence[str],
    coords: Mapping[str, np.ndarray],
    *,
    cmap: str = FIELD_CMAP,
    vmin: float | None = None,
    vmax: float | None = None,
) -> None:
    """Draw one reduced field: a line for 1D, an image with a colour bar for 2D."""
    if field.ndim == 2:
        image = _image(ax, field, dims, coords, cmap=cmap, vmin=vmin, vmax=vmax)
        fig.colorbar(image, ax=ax, shrink=0.85)
    elif field.ndim == 1:
        ax.plot(_coord(coords, dims[0], field.shape[0]), field, color="C0", lw=1.2)
        ax.set_xlabel(dims[0])
        ax.grid(alpha=0.3)
    else:
        ax.text(0.5, 0.5, _short(float(field)), ha="center", va="center", fontsize=14)
        ax.set_axis_off()


def _relative_l2(reference: np.ndarray, prediction: np.ndarray) -> float:
    norm = float(np.linalg.norm(reference))
    diff = float(np.linalg.norm(prediction - reference))
    return diff / norm if norm > 0 else math.inf


def sample_panels(
    arrays: Mapping[str, np.ndarray],
    output: str,
    inputs: Sequence[str],
    dims: Mapping[str, Sequence[str]],
    title: str = "",
) -> Figure:
    """Best, median and worst test samples of one surrogate for one output field.

    One row per sample; columns: each input field, the reference, the prediction and the
    pointwise absolute error. 2D fields are images (reference and prediction share one
    colour scale); 1D fields are line plots with reference and prediction overlaid and the
    error in a small panel below. Time-dependent fields show their last time step.

    Parameters
    ----------
    arrays : mapping of str to numpy.ndarray
        The entry's arrays as the validation runner writes them: ``<row>__input__<I>``,
        ``<row>__reference__<F>``, ``<row>__prediction__<F>``, ``index__<row>``,
        ``errors__<F>`` and ``coord__<dim>`` (``<row>`` is ``best``, ``median`` or ``worst``).
    output : str
        The output field ``F`` to show.
    inputs : sequence of str
        Input field names to show in the first columns (missing ones are skipped).
    dims : mapping of str to sequence of str
        Dimension names of each field (no sample axis).
    title : str, optional
        Figure title, e.g. the entry's id.

    Returns
    -------
    matplotlib.figure.Figure
    """
    coords = {
        k[len("coord__") :]: np.asarray(v) for k, v in arrays.items() if k.startswith("coord__")
    }
    rows = [r for r in ROWS if f"{r}__reference__{output}" in arrays]
    inputs = [name for name in inputs if any(f"{r}__input__{name}" in arrays for r in rows)]
    errors = arrays.get(f"errors__{output}")
    if not rows:
        fig = _figure(6, 2)
        fig.text(0.5, 0.5, f"no samples stored for {output!r}", ha="center", va="center")
        return fig

    out_dims = tuple(dims.get(output, ()))
    probe, _, _ = reduce_for_display(arrays[f"{rows[0]}__reference__{output}"], out_dims, coords)
    one_d = probe.ndim <= 1
    n_cols = len(inputs) + (1 if one_d else 3)
    widths = [1.0] * len(inputs) + ([1.6] if one_d else [1.0, 1.0, 1.0])
    fig = _figure(3.3 * sum(widths) + 0.4, 2.9 * len(rows) + 0.5)
    grid = fig.add_gridspec(len(rows), n_cols, width_ratios=widths)
    note = ""
    for i, row in enumerate(rows):
        reference, r_dims, note = reduce_for_display(
            arrays[f"{row}__reference__{output}"], out_dims, coords
        )
        prediction, _, _ = reduce_for_display(
            arrays[f"{row}__prediction__{output}"], out_dims, coords
        )
        index = arrays.get(f"index__{row}")
        if errors is not None and index is not None and 0 <= int(index) < len(errors):
            rel = float(errors[int(index)])
        else:
            rel = _relative_l2(
                np.asarray(arrays[f"{row}__reference__{output}"], dtype=np.float64),
                np.asarray(arrays[f"{row}__prediction__{output}"], dtype=np.float64),
            )
        row_label = row if index is None else f"{row} (sample {int(index)})"
        # The error is the whole sample's, also when only the last time step is drawn.
        l2_label = "rel. L2 (all times)" if note else "rel. L2"
        for j, name in enumerate(inputs):
            ax = fig.add_subplot(grid[i, j])
            key = f"{row}__input__{name}"
            if key in arrays:
                field, f_dims, in_note = reduce_for_display(arrays[key], dims.get(name, ()), coords)
                _draw(fig, ax, field, f_dims, coords)
                ax.set_title(f"input {name}" + (f"\n({in_note})" if in_note else ""), fontsize=9)
            if j == 0:
                ax.set_ylabel(row_label, fontsize=11, fontweight="bold")
        error = np.abs(prediction - reference)
        if one_d:
            sub = grid[i, len(inputs)].subgridspec(2, 1, height_ratios=[3, 1])
            top = fig.add_subplot(sub[0])
            bottom = fig.add_subplot(sub[1], sharex=top)
            x = _coord(coords, r_dims[0], reference.shape[0]) if r_dims else np.arange(1)
            top.plot(x, reference, color="black", lw=1.6, label="reference")
            top.plot(x, prediction, color="C1", lw=1.2, ls="--", label="prediction")
            top.set_title(f"{output}: {l2_label} = {rel:.3g}", fontsize=10)
            top.legend(fontsize=8, loc="best")
            top.grid(alpha=0.3)
            top.tick_params(labelbottom=False)
            bottom.plot(x, error, color="C3", lw=1.0)
            bottom.set_ylabel("|error|", fontsize=8)
            bottom.set_xlabel(r_dims[0] if r_dims else "")
            bottom.grid(alpha=0.3)
            if not inputs:
                top.set_ylabel(row_label, fontsize=11, fontweight="bold")
            continue
        vmin = float(min(np.min(reference), np.min(prediction)))
        vmax = float(max(np.max(reference), np.max(prediction)))
        panels = [
            (reference, f"reference {output}", FIELD_CMAP, vmin, vmax),
            (prediction, f"prediction: {l2_label} = {rel:.3g}", FIELD_CMAP, vmin, vmax),
            (error, "|prediction − reference|", ERROR_CMAP, 0.0, None),
        ]
        for k, (field, label, cmap, lo, hi) in enumerate(panels):
            ax = fig.add_subplot(grid[i, len(inputs) + k])
            _draw(fig, ax, field, r_dims, coords, cmap=cmap, vmin=lo, vmax=hi)
            ax.set_title(label, fontsize=10)
            if k == 0 and not inputs:
                ax.set_ylabel(row_label, fontsize=11, fontweight="bold")
    heading = f"{title}: {output}" if title else output
    fig.suptitle(heading + (f" ({note})" if note else ""), fontsize=12)
    return fig


def _positive(values: Any) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).ravel()
    return array[np.isfinite(array) & (array > 0)]


def error_histogram(errors: Mapping[str, Sequence[float] | np.ndarray], title: str = "") -> Figure:
    """Histograms of per-sample relative L2 errors, one outline per surrogate, log-x axis.

    Parameters
    ----------
    errors : mapping of str to array
        Label (e.g. ``"fno · u"``) to per-sample relative L2 errors. Zero and non-finite
        values cannot be placed on a log axis and are left out (the count is shown).
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = _figure(7.5, 4.0)
    ax = fig.add_subplot()
    data = {label: _positive(v) for label, v in errors.items()}
    pooled = np.concatenate([v for v in data.values() if v.size] or [np.ones(1)])
    lo, hi = float(pooled.min()), float(pooled.max())
    if hi <= lo * 1.01:
        lo, hi = lo / 2.0, hi * 2.0
    # Few test samples make a coarse histogram: fewer bins, and a tick per sample below.
    largest = max((v.size for v in data.values()), default=1)
    bins = np.geomspace(lo, hi, int(np.clip(2 * np.sqrt(largest), 8, 30)) + 1)
    for i, (label, values) in enumerate(data.items()):
        dropped = int(np.size(errors[label]) - values.size)
        name = label + (f" ({dropped} not shown)" if dropped else "")
        if values.size:
            ax.hist(values, bins=bins, histtype="step", lw=1.8, color=f"C{i % 10}", label=name)
            if values.size <= 200:
                ax.plot(values, np.zeros_like(values), "|", color=f"C{i % 10}", ms=12, mew=1.2)
            ax.axvline(float(np.mean(values)), color=f"C{i % 10}", ls=":", lw=1.2)
    ax.set_xscale("log")
    ax.set_xlabel("relative L2 error per test sample (dotted: mean)")
    ax.set_ylabel("samples")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3, which="both")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    ax.set_title(title or "error distribution")
    return fig


def accuracy_cost(
    ladders: Mapping[str, Sequence[Mapping[str, float]]],
    points: Mapping[str, tuple[float, float]],
    title: str = "",
) -> Figure:
    """Accuracy against cost: reference solver ladders as lines, surrogates as points.

    Parameters
    ----------
    ladders : mapping of str to sequence of mapping
        Reference solver label to its ladder, a list of
        ``{"resolution", "seconds_per_sample", "relative_l2"}``.
    points : mapping of str to (float, float)
        Surrogate label to ``(seconds per sample, mean relative L2)``.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Log-log axes; each ladder point is labelled with its resolution.
    """
    fig = _figure(7.5, 4.8)
    ax = fig.add_subplot()
    drawn = False
    for i, (label, ladder) in enumerate(ladders.items()):
        steps = sorted(
            (float(s["seconds_per_sample"]), float(s["relative_l2"]), s.get("resolution"))
            for s in ladder
            if _finite_positive(s.get("seconds_per_sample"))
            and _finite_positive(s.get("relative_l2"))
        )
        if not steps:
            continue
        t, e, _ = zip(*steps)
        ax.plot(t, e, "-o", color=f"C{i}", lw=1.5, ms=5, label=f"{label} (reference)")
        for ti, ei, ri in steps:
            if ri is not None:
                ax.annotate(
                    str(ri), (ti, ei), textcoords="offset points", xytext=(5, 5), fontsize=8
                )
        drawn = True
    markers = "sD^vP*Xh"
    for i, (label, (t, e)) in enumerate(points.items()):
        if _finite_positive(t) and _finite_positive(e):
            color = f"C{(i + len(ladders)) % 10}"
            ax.plot([t], [e], markers[i % len(markers)], ms=9, color=color, label=label)
            drawn = True
    if drawn:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "nothing to show", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("time per sample (s)")
    ax.set_ylabel("mean relative L2 error")
    ax.grid(alpha=0.3, which="both")
    ax.set_title(title or "accuracy against cost (lower left is better)")
    return fig


def _finite_positive(value: Any) -> bool:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return math.isfinite(number) and number > 0


def training_curves(
    histories: Mapping[str, Sequence[Mapping[str, float]]], title: str = ""
) -> Figure:
    """Training loss and validation metric against epoch, one line per surrogate, log-y.

    Parameters
    ----------
    histories : mapping of str to sequence of mapping
        Surrogate label to its per-epoch log: dicts with ``epoch``, ``train_loss`` and
        ``valid_metric`` (either may be missing).
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = _figure(10.0, 4.0)
    axes = fig.subplots(1, 2)
    for ax, key, label in (
        (axes[0], "train_loss", "training loss"),
        (axes[1], "valid_metric", "validation metric"),
    ):
        for i, (name, history) in enumerate(histories.items()):
            pairs = [
                (float(h["epoch"]), float(h[key]))
                for h in history
                if h.get("epoch") is not None and _finite_positive(h.get(key))
            ]
            if pairs:
                x, y = zip(*pairs)
                ax.plot(x, y, color=f"C{i % 10}", lw=1.4, label=name)
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, which="both")
        if ax.get_lines():
            ax.legend(fontsize=8)
    fig.suptitle(title or "training")
    return fig


# -- uncertainty and meshes ---------------------------------------------------------------
def calibration(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], title: str = ""
) -> Figure:
    """Observed against nominal coverage of central predictive intervals.

    Parameters
    ----------
    curves : mapping of str to (levels, observed)
        Label (e.g. ``"mmgp · u"``) to the nominal levels and the observed coverage at each
        (:func:`pdeml.validation.metrics.calibration_curve`).
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        The diagonal is perfect calibration; below it the intervals are too narrow.
    """
    fig = _figure(5.2, 5.0)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="0.5", lw=1.0, ls="--", label="calibrated")
    for i, (label, (levels, observed)) in enumerate(curves.items()):
        ax.plot(levels, observed, "-o", ms=4, lw=1.4, color=f"C{i % 10}", label=label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("nominal coverage of the central interval")
    ax.set_ylabel("observed coverage (test samples and values pooled)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(title or "calibration")
    return fig


def scalar_parity(
    reference: np.ndarray,
    prediction: np.ndarray,
    variance: np.ndarray | None = None,
    title: str = "",
) -> Figure:
    """A scalar output over the test set: prediction against reference (left) and the error
    with its 95 % predictive interval against the reference (right).

    Parameters
    ----------
    reference, prediction : numpy.ndarray, shape [n]
    variance : numpy.ndarray, shape [n], optional
        Predictive variance: error bars of ±1.96 standard deviations (95 %) on the right.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    reference = np.asarray(reference, dtype=np.float64).ravel()
    prediction = np.asarray(prediction, dtype=np.float64).ravel()
    fig = _figure(9.0, 4.2)
    left, right = fig.subplots(1, 2)
    left.plot(reference, prediction, "o", ms=3)
    finite = np.concatenate([reference, prediction])
    finite = finite[np.isfinite(finite)]
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        left.plot([lo, hi], [lo, hi], color="0.5", ls="--", lw=1.0, label="exact")
        left.legend(fontsize=8)
    left.set_xlabel("reference")
    left.set_ylabel("prediction")
    left.grid(alpha=0.3)
    error = prediction - reference
    if variance is not None:
        bar = 1.959964 * np.sqrt(np.clip(np.asarray(variance, dtype=np.float64).ravel(), 0, None))
        inside = np.abs(error) <= bar
        right.errorbar(reference, error, yerr=bar, fmt="none", lw=0.8, color="0.6")
        right.set_title(f"95 % intervals cover {inside.mean():.0%} of {inside.size}", fontsize=10)
    right.plot(reference, error, "o", ms=3, color="C0")
    right.axhline(0.0, color="0.3", lw=1.0)
    right.set_xlabel("reference")
    right.set_ylabel("prediction − reference")
    right.grid(alpha=0.3)
    fig.suptitle(title)
    return fig


def _trimmed(arrays: Mapping[str, np.ndarray], row: str) -> tuple[np.ndarray, np.ndarray]:
    nodes = np.asarray(arrays[f"{row}__input__nodes"], dtype=np.float64)
    triangles = np.asarray(arrays[f"{row}__input__triangles"])
    n_nodes = int(arrays.get(f"{row}__input__n_nodes", len(nodes)))
    n_triangles = int(arrays.get(f"{row}__input__n_triangles", len(triangles)))
    return nodes[:n_nodes, :2], triangles[:n_triangles].astype(np.int64)


def _render_pyvista(
    plotter: Any,
    nodes: np.ndarray,
    triangles: np.ndarray,
    values: np.ndarray,
    cmap: str,
    clim: tuple[float, float],
) -> np.ndarray:
    """One field on a triangle mesh rendered by an off-screen pyvista plotter: RGB image."""
    import pyvista as pv

    points = np.column_stack([nodes, np.zeros(len(nodes))])
    faces = np.column_stack([np.full(len(triangles), 3), triangles]).ravel()
    mesh = pv.PolyData(points, faces=faces)
    mesh.point_data["value"] = values
    plotter.clear()
    plotter.add_mesh(mesh, scalars="value", cmap=cmap, clim=clim, show_scalar_bar=False)
    plotter.view_xy()
    plotter.reset_camera()
    return np.asarray(plotter.screenshot(return_img=True))


@contextlib.contextmanager
def _quiet_vtk() -> Iterator[None]:
    """Keep VTK from printing on stderr for a while, then restore its settings.

    Off-screen rendering without a display makes VTK log warnings such as ``bad X server
    connection. DISPLAY=`` while it falls back to another context; the picture comes out
    right, and a report run should not print what looks like a failure.
    """
    try:
        from vtkmodules.vtkCommonCore import vtkLogger, vtkObject
    except ImportError:  # pragma: no cover - pyvista always brings vtk
        yield
        return
    verbosity = vtkLogger.GetCurrentVerbosityCutoff()
    warnings = vtkObject.GetGlobalWarningDisplay()
    vtkLogger.SetStderrVerbosity(vtkLogger.VERBOSITY_OFF)
    vtkObject.GlobalWarningDisplayOff()  # vtkOutputWindow: warnings of the filters
    try:
        yield
    finally:
        vtkObject.SetGlobalWarningDisplay(warnings)
        vtkLogger.SetStderrVerbosity(vtkLogger.ConvertToVerbosity(int(verbosity)))


def _pyvista_images(panels: list, value_lim: tuple, spread_lim: tuple) -> list[list[np.ndarray]]:
    with _quiet_vtk():
        return _pyvista_render(panels, value_lim, spread_lim)


def _pyvista_render(panels: list, value_lim: tuple, spread_lim: tuple) -> list[list[np.ndarray]]:
    import pyvista as pv

    pv.OFF_SCREEN = True
    # One plotter for every panel: making one costs ~0.5 s (2 s the first time), a panel 0.05 s.
    plotter = pv.Plotter(off_screen=True, window_size=(360, 360))
    try:
        plotter.set_background("white")
        return [
            [
                _render_pyvista(
                    plotter,
                    nodes,
                    tri,
                    values,
                    FIELD_CMAP if k < 2 else ERROR_CMAP,
                    value_lim if k < 2 else spread_lim,
                )
                for k, (_, values) in enumerate(columns)
            ]
            for _, nodes, tri, columns in panels
        ]
    finally:
        plotter.close()


def mesh_panels(
    arrays: Mapping[str, np.ndarray], output: str, title: str = "", renderer: str = "pyvista"
) -> tuple[Figure, str]:
    """Best, median and worst test samples of a nodal field on their own meshes.

    One row per sample; columns: reference, predicted mean, |error| and, when the entry
    stored variances, the predictive standard deviation. Reference and mean share a colour
    scale; error and standard deviation share another (so the two can be compared).

    Parameters
    ----------
    arrays : mapping of str to numpy.ndarray
        The entry's arrays as the runner writes them: ``<row>__input__nodes``,
        ``<row>__input__triangles`` (with ``n_nodes``, ``n_triangles`` for padded meshes),
        ``<row>__reference__<F>``, ``<row>__prediction__<F>``, optionally
        ``<row>__variance__<F>`` and ``errors__<F>``, ``index__<row>``.
    output : str
        The nodal output field ``F``.
    title : str, optional
        Figure title.
    renderer : {"pyvista", "matplotlib"}
        ``"pyvista"`` renders each panel off-screen with pyvista (``Plotter(off_screen=True)``)
        and falls back to matplotlib's ``tripcolor`` if that fails.

    Returns
    -------
    figure : matplotlib.figure.Figure
    used : str
        The renderer that drew the panels, ``"pyvista"`` or ``"matplotlib"``.
    """
    if renderer not in ("pyvista", "matplotlib"):
        raise ValueError(f"renderer must be 'pyvista' or 'matplotlib', got {renderer!r}")
    rows = [
        r for r in ROWS if f"{r}__reference__{output}" in arrays and f"{r}__input__nodes" in arrays
    ]
    if not rows:
        raise ValueError(f"no mesh samples stored for {output!r}")
    has_var = all(f"{r}__variance__{output}" in arrays for r in rows)
    panels = []
    for row in rows:
        nodes, triangles = _trimmed(arrays, row)
        n = len(nodes)
        ref = np.asarray(arrays[f"{row}__reference__{output}"], dtype=np.float64)[:n]
        mean = np.asarray(arrays[f"{row}__prediction__{output}"], dtype=np.float64)[:n]
        columns = [("reference", ref), ("mean", mean), ("|error|", np.abs(mean - ref))]
        if has_var:
            var = np.asarray(arrays[f"{row}__variance__{output}"], dtype=np.float64)[:n]
            columns.append(("std", np.sqrt(np.clip(var, 0.0, None))))
        panels.append((row, nodes, triangles, columns))
    # Colour ranges from the finite values: NaN predictions must not make the limits NaN.
    shown = np.concatenate([values.ravel() for p in panels for _, values in p[3][:2]])
    shown = shown[np.isfinite(shown)]
    value_lim = (float(shown.min()), float(shown.max())) if shown.size else (0.0, 1.0)
    spread = np.concatenate([c[1].ravel() for p in panels for c in p[3][2:]])
    spread = spread[np.isfinite(spread)]
    spread_lim = (0.0, max(float(spread.max()) if spread.size else 0.0, 1e-300))
    used = renderer
    images: list[list[np.ndarray]] | None = None
    if renderer == "pyvista":
        try:
            images = _pyvista_images(panels, value_lim, spread_lim)
        except Exception:  # no OpenGL context on this machine: draw with matplotlib
            images, used = None, "matplotlib"
    n_cols = len(panels[0][3])
    fig = _figure(3.1 * n_cols + 0.8, 2.9 * len(panels) + 0.6)
    axes = fig.subplots(len(panels), n_cols, squeeze=False)
    import matplotlib.cm
    import matplotlib.colors

    for i, (row, nodes, tri, columns) in enumerate(panels):
        index = arrays.get(f"index__{row}")
        errors = arrays.get(f"errors__{output}")
        label = row if index is None else f"{row} (sample {int(index)})"
        if errors is not None and index is not None and 0 <= int(index) < len(errors):
            label += f"\nrel. L2 {float(errors[int(index)]):.3g}"
        for k, (name, values) in enumerate(columns):
            ax = axes[i, k]
            cmap, lim = (FIELD_CMAP, value_lim) if k < 2 else (ERROR_CMAP, spread_lim)
            if images is not None:
                ax.imshow(images[i][k])
                ax.set_xticks([])
                ax.set_yticks([])
                norm = matplotlib.colors.Normalize(*lim)
                fig.colorbar(matplotlib.cm.ScalarMappable(norm, cmap), ax=ax, shrink=0.85)
            else:
                art = ax.tripcolor(
                    nodes[:, 0],
                    nodes[:, 1],
                    tri,
                    values,
                    shading="gouraud",
                    cmap=cmap,
                    vmin=lim[0],
                    vmax=lim[1],
                )
                ax.set_aspect("equal")
                fig.colorbar(art, ax=ax, shrink=0.85)
            ax.set_title(f"{output}: {name}", fontsize=10)
            if k == 0:
                ax.set_ylabel(label, fontsize=10, fontweight="bold")
    fig.suptitle(f"{title}: {output} ({used})" if title else f"{output} ({used})", fontsize=12)
    return fig, used
