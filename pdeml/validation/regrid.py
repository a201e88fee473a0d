"""Move a reference solution onto the stored grid, where every error of a report is measured.

A reference-ladder setting on a finer grid than the stored one is strided onto it (its
values there are exact samples of its solution, as in the datasets). A setting on a
coarser grid is interpolated onto it, which is what a user of the cheap solve gets:

* periodic grids (right end excluded): spectral (Fourier) interpolation, exact for a
  field whose modes the coarse grid holds;
* grids holding both ends (Dirichlet, Darcy): piecewise linear interpolation along each
  spatial axis (second order; ``"cubic"`` splines on request).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

#: Interpolations offered on bounded grids (periodic grids are always spectral).
BOUNDED_METHODS = ("linear", "cubic")


def fourier_interpolate(values: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Trigonometric interpolation of periodic samples onto ``size`` equispaced points.

    Parameters
    ----------
    values : numpy.ndarray
        Real samples at ``j / n``, ``j = 0 .. n-1``, along ``axis``.
    size : int
        Points of the finer grid, ``size >= n``.
    axis : int
        The periodic axis.

    Returns
    -------
    numpy.ndarray
        The trigonometric interpolant sampled at ``j / size``; exact for trigonometric
        polynomials of degree below ``n / 2``.
    """
    values = np.asarray(values, dtype=float)
    n = values.shape[axis]
    if size < n:
        raise ValueError(f"size must be at least the {n} points given, got {size}")
    if size == n:
        return values.copy()
    spectrum = np.fft.rfft(values, axis=axis)
    if n % 2 == 0:
        # The n/2 mode of an even grid stands for cos only; on the finer grid it becomes
        # the pair of modes +-n/2, each of half its weight.
        index: list[Any] = [slice(None)] * values.ndim
        index[axis] = n // 2
        spectrum[tuple(index)] *= 0.5
    return np.fft.irfft(spectrum, n=size, axis=axis) * (size / n)


def spline_interpolate(
    values: np.ndarray, x_from: np.ndarray, x_to: np.ndarray, axis: int, method: str = "linear"
) -> np.ndarray:
    """Interpolate ``values`` (on nodes ``x_from`` along ``axis``) at the nodes ``x_to``.

    ``method`` is ``"linear"`` (second order) or ``"cubic"`` (not-a-knot cubic spline).
    """
    from scipy.interpolate import make_interp_spline

    if method not in BOUNDED_METHODS:
        raise ValueError(f"method must be one of {BOUNDED_METHODS}, got {method!r}")
    degree = 1 if method == "linear" or len(x_from) < 4 else 3
    spline = make_interp_spline(np.asarray(x_from), np.asarray(values), k=degree, axis=axis)
    return np.asarray(spline(np.asarray(x_to)))


def interpolation_name(problem: Any, method: str = "linear") -> str:
    """How a coarser grid of ``problem`` is brought onto the stored one: ``"spectral
    (Fourier)"`` on periodic grids, ``method`` (``"linear"``) on grids with both ends."""
    return method if problem.grid_includes_right_end() else "spectral (Fourier)"


def to_stored_grid(
    problem: Any,
    fields: Mapping[str, np.ndarray],
    resolution: int,
    *,
    method: str = "linear",
) -> dict[str, np.ndarray]:
    """Fields solved on the grid of ``resolution`` points, on the problem's stored grid.

    Parameters
    ----------
    problem : pdeml.problems.base.Problem
        Its ``resolution`` is the stored grid; its ``spatial_dims``, ``field_dims`` and
        ``coords`` say which axes to move.
    fields : mapping of str to numpy.ndarray
        Arrays with the sample axis first, as the reference solver returns them.
    resolution : int
        Points per side of the grid the fields are on.
    method : {"linear", "cubic"}
        Interpolation on grids holding both ends; periodic grids are always spectral.

    Returns
    -------
    dict of str to numpy.ndarray
        Finer grids strided (:meth:`Problem.restrict`), coarser ones interpolated.
    """
    stored = problem.resolution
    if resolution >= stored:
        return problem.restrict(fields, resolution, stored)
    if not problem.grid_includes_right_end():
        return _along_space(
            problem, fields, lambda a, axis, dim: fourier_interpolate(a, stored, axis)
        )
    coarse, fine = problem.coords(resolution), problem.coords(stored)
    return _along_space(
        problem,
        fields,
        lambda a, axis, dim: spline_interpolate(a, coarse[dim], fine[dim], axis, method),
    )


def _along_space(
    problem: Any, fields: Mapping[str, np.ndarray], move: Any
) -> dict[str, np.ndarray]:
    """Apply ``move(array, axis, dim)`` along every spatial axis of every field."""
    spatial = set(problem.spatial_dims())
    out = {}
    for name, value in fields.items():
        array = np.asarray(value, dtype=float)
        for axis, dim in enumerate(problem.field_dims(name), start=1):
            if dim in spatial:
                array = move(array, axis, dim)
        out[name] = np.ascontiguousarray(array)
    return out


def from_coarser_draw(
    problem: Any, fields: Mapping[str, np.ndarray], resolution: int, target: int
) -> dict[str, np.ndarray]:
    """Periodic fields on ``resolution`` points spectrally interpolated to ``target`` points.

    For inputs that a problem can only make on its solver grid (Navier–Stokes: a
    trajectory computed there), so that a finer truth starts from the same functions.
    """
    if problem.grid_includes_right_end():
        raise ValueError(
            f"{problem.name}: inputs cannot be drawn on {target} points and are not periodic"
        )
    return _along_space(problem, fields, lambda a, axis, dim: fourier_interpolate(a, target, axis))
