"""Stationary covariance kernels with one lengthscale per input (ARD), batched over outputs.

Every function takes inputs already divided by the lengthscales, so one kernel serves a batch
of independent GPs: ``x1`` has shape ``[b, n, d]``, ``x2`` ``[b, m, d]`` and the result
``[b, n, m]`` holds ``k(r)`` for the scaled distance ``r = |x1 - x2|`` (output scale 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

KERNELS = ("matern52", "rbf")
_SQRT5 = math.sqrt(5.0)


def scaled_sq_dist(x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances ``[b, n, m]`` between rows of ``x1`` and ``x2``.

    The expansion ``|a|² + |b|² - 2 a·b`` is clamped at zero: round-off makes it slightly
    negative on the diagonal, and a negative argument would give NaN under the square root.
    """
    sq1 = (x1 * x1).sum(-1, keepdim=True)
    sq2 = (x2 * x2).sum(-1, keepdim=True).transpose(-1, -2)
    return (sq1 + sq2 - 2.0 * x1 @ x2.transpose(-1, -2)).clamp_min(0.0)


def matern52(r2: torch.Tensor) -> torch.Tensor:
    """Matérn-5/2 correlation ``(1 + √5 r + 5 r²/3) exp(-√5 r)`` of squared distances ``r2``.

    ``r`` is taken as ``sqrt(max(r2, 1e-36))``: the kernel is smooth in ``r²`` (its derivative
    ``-5/6 (1 + √5 r) exp(-√5 r)`` is finite at 0) but autograd through ``sqrt`` at exactly 0
    would give ``0 · ∞ = NaN``.
    """
    r = r2.clamp_min(1e-36).sqrt()
    return (1.0 + _SQRT5 * r + (5.0 / 3.0) * r2) * torch.exp(-_SQRT5 * r)


def rbf(r2: torch.Tensor) -> torch.Tensor:
    """Squared-exponential correlation ``exp(-r²/2)`` of squared distances ``r2``."""
    return torch.exp(-0.5 * r2)


def kernel_function(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The correlation function called ``name`` (one of :data:`KERNELS`)."""
    if name == "matern52":
        return matern52
    if name == "rbf":
        return rbf
    raise ValueError(f"kernel must be one of {KERNELS}, got {name!r}")


def covariance(
    name: str,
    x1: torch.Tensor,
    x2: torch.Tensor,
    lengthscale: torch.Tensor,
    outputscale: torch.Tensor,
) -> torch.Tensor:
    """Kernel matrices ``s² k(|x1 - x2| / l)`` for a batch of GPs.

    Parameters
    ----------
    name : {"matern52", "rbf"}
        Correlation function.
    x1 : torch.Tensor, shape [n, d] or [b, n, d]
    x2 : torch.Tensor, shape [m, d] or [b, m, d]
    lengthscale : torch.Tensor, shape [b, d]
        One lengthscale per input dimension and GP.
    outputscale : torch.Tensor, shape [b]
        Signal variance ``s²`` of each GP.

    Returns
    -------
    torch.Tensor, shape [b, n, m]
    """
    inverse = (1.0 / lengthscale).unsqueeze(-2)
    r2 = scaled_sq_dist(x1 * inverse, x2 * inverse)
    return outputscale[:, None, None] * kernel_function(name)(r2)
