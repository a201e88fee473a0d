"""Array helpers shared by the metric modules (shape checks, flattening, quiet maths)."""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike


def _quiet(function: Callable) -> Callable:
    """Silence floating-point warnings: non-finite inputs give non-finite outputs."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            return function(*args, **kwargs)

    return wrapper


def _per_sample(*names: str) -> Callable[[Callable], Callable]:
    """Make a per-sample metric quiet (see :func:`_quiet`) and give it checked arrays.

    The arguments ``names`` reach the metric as float64 arrays of one shape with a sample
    axis (:func:`_as_arrays`), a variance ``var`` checked non-negative, so each metric
    states its formula and not the checks.
    """

    def decorate(function: Callable) -> Callable:
        signature = inspect.signature(function)

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
                arrays = _as_arrays(names, *(bound.arguments[name] for name in names))
                bound.arguments.update(zip(names, arrays))
                if "var" in names:
                    _check_variance(bound.arguments["var"])
                return function(*bound.args, **bound.kwargs)

        return wrapper

    return decorate


def _as_arrays(names: Sequence[str], *arrays: ArrayLike) -> list[np.ndarray]:
    out = [np.asarray(a, dtype=np.float64) for a in arrays]
    shapes = [a.shape for a in out]
    if any(s != shapes[0] for s in shapes):
        got = ", ".join(f"{name} {shape}" for name, shape in zip(names, shapes))
        raise ValueError(f"{' and '.join(names)} must have the same shape, got {got}")
    if out[0].ndim < 1:
        raise ValueError(f"{names[0]} must have a leading sample axis, got a scalar")
    return out


def _flat(x: np.ndarray) -> np.ndarray:
    """``[n, ...] -> [n, points]`` (also for zero samples)."""
    return x.reshape(x.shape[0], math.prod(x.shape[1:]))


def _sum_squares(x: np.ndarray) -> np.ndarray:
    flat = _flat(x)
    return np.sum(flat * flat, axis=1)


def _mean_squares(x: np.ndarray) -> np.ndarray:
    flat = _flat(x)
    return np.mean(flat * flat, axis=1)


def _spatial_axes(x: np.ndarray, spatial_dims: int) -> tuple[int, ...]:
    if (
        isinstance(spatial_dims, bool)
        or not isinstance(spatial_dims, (int, np.integer))
        or not 1 <= spatial_dims <= x.ndim - 1
    ):
        raise ValueError(
            f"spatial_dims must be an integer from 1 to {x.ndim - 1} (the axes after the "
            f"sample axis of an array of shape {x.shape}), got {spatial_dims!r}"
        )
    return tuple(range(x.ndim - int(spatial_dims), x.ndim))


def _check_lengths(lengths: Sequence[float] | None, spatial_dims: int) -> tuple[float, ...]:
    if lengths is None:
        return (1.0,) * spatial_dims
    values = tuple(float(v) for v in np.atleast_1d(np.asarray(lengths, dtype=np.float64)))
    if len(values) != spatial_dims or not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(
            f"lengths must hold {spatial_dims} finite positive domain lengths (one per spatial "
            f"axis), got {lengths!r}"
        )
    return values


def _check_variance(var: np.ndarray) -> None:
    if np.any(var < 0):  # NaN compares False: a non-finite prediction is not a user error
        raise ValueError(f"var must be non-negative, got a minimum of {np.nanmin(var)!r}")


def _check_mask(mask: ArrayLike | None, shape: tuple[int, ...], name: str) -> np.ndarray:
    if mask is None:
        return np.ones(shape, dtype=bool)
    keep = np.asarray(mask)
    if keep.dtype != bool or keep.shape != shape:
        raise ValueError(
            f"{name} must be a boolean array of shape {shape}, got {keep.dtype} {keep.shape}"
        )
    return keep
