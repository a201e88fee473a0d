"""The canvas every report figure is drawn on, and its PNG bytes.

Figures are made off-screen with matplotlib's Agg backend: nothing is shown and no global
``pyplot`` state is touched, so figures can be drawn from any thread or process.
"""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

#: The stored test samples a report draws, one row each.
ROWS = ("best", "median", "worst")
#: Colour maps of field values and of errors (or spreads).
FIELD_CMAP = "viridis"
ERROR_CMAP = "inferno"


def new_figure(width: float, height: float) -> Figure:
    """A constrained-layout figure of ``width`` × ``height`` inches on its own Agg canvas."""
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
