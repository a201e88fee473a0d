"""Moved to :mod:`pdeml._checks`; kept until the other parts move."""

from pdeml._checks import (  # noqa: F401
    FLOAT32_MAX,
    MAX_POINTS_1D,
    MAX_POINTS_2D,
    MAX_SNAPSHOTS,
    MAX_STEPS,
    available_memory,
    check_count,
    check_memory,
    check_seed,
    check_steps,
    check_values,
    format_bytes,
    grid_points,
    nonfinite_samples,
    numeric_array,
    require_finite,
    require_int,
    require_positive,
)
