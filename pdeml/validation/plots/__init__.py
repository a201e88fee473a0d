"""Figures of a validation report, drawn off-screen with matplotlib's Agg backend.

Every function takes plain numbers and arrays (no files, no suite objects) and returns a
:class:`matplotlib.figure.Figure` with an Agg canvas attached; nothing is shown and no
global ``pyplot`` state is touched, so figures can be drawn from any thread or process.
Fields on a grid (:mod:`.grid`) and on meshes (:mod:`.mesh`) are drawn apart from the
summary charts of a run (:mod:`.charts`).
"""

from pdeml.validation.plots.canvas import figure_png
from pdeml.validation.plots.charts import (
    accuracy_cost,
    calibration,
    error_histogram,
    scalar_parity,
    training_curves,
)
from pdeml.validation.plots.grid import reduce_for_display, sample_panels
from pdeml.validation.plots.mesh import mesh_panels

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
