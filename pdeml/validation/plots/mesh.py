"""Figures of fields on unstructured meshes: the best, median and worst test samples.

Each panel is rendered off-screen by pyvista when it can, else drawn by matplotlib's
``tripcolor``; either way the panels end up in one matplotlib figure.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from pdeml.validation.plots.canvas import ERROR_CMAP, FIELD_CMAP, ROWS, new_figure


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
    fig = new_figure(3.1 * n_cols + 0.8, 2.9 * len(panels) + 0.6)
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
