"""Figures of fields on a grid: best, median and worst test samples side by side.

A sample's field is cut down to one or two axes (:func:`reduce_for_display`) and drawn as
a line (1D) or an image (2D) next to its inputs, the reference and the pointwise error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from pdeml.validation.plots.canvas import ERROR_CMAP, FIELD_CMAP, ROWS, new_figure


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


def _image(
    ax: Any, field: np.ndarray, dims: Sequence[str], coords: Mapping[str, np.ndarray], **kw: Any
) -> Any:
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
        fig = new_figure(6, 2)
        fig.text(0.5, 0.5, f"no samples stored for {output!r}", ha="center", va="center")
        return fig

    out_dims = tuple(dims.get(output, ()))
    probe, _, _ = reduce_for_display(arrays[f"{rows[0]}__reference__{output}"], out_dims, coords)
    one_d = probe.ndim <= 1
    n_cols = len(inputs) + (1 if one_d else 3)
    widths = [1.0] * len(inputs) + ([1.6] if one_d else [1.0, 1.0, 1.0])
    fig = new_figure(3.3 * sum(widths) + 0.4, 2.9 * len(rows) + 0.5)
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
