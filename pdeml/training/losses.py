"""Training losses: relative Lp and relative H1, per sample, averaged over the batch.

Both are scale-free, so one learning rate serves problems whose solutions differ in size
by orders of magnitude, and the training loss reads as the relative error reported by
validation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

LOSSES = ("l2", "l1", "h1")


def relative_lp(pred: torch.Tensor, target: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """Mean over samples of ‖pred − target‖_p / ‖target‖_p (norms over all but axis 0)."""
    n = pred.shape[0]
    diff = (pred - target).reshape(n, -1)
    ref = target.reshape(n, -1)
    return (
        torch.linalg.vector_norm(diff, p, dim=1)
        / torch.linalg.vector_norm(ref, p, dim=1).clamp_min(1e-12)
    ).mean()


def _difference(x: torch.Tensor, axis: int, periodic: bool, spacing: float) -> torch.Tensor:
    if periodic:
        return (torch.roll(x, -1, dims=axis) - x) / spacing
    return torch.diff(x, dim=axis) / spacing


def h1_seminorm_squared(
    x: torch.Tensor, spatial_dims: int, periodic: bool, lengths: Sequence[float] | None = None
) -> torch.Tensor:
    """Per-sample Σ_d ‖∂_d x‖² by forward differences on a uniform grid.

    Periodic grids (right end excluded) difference across the wrap; grids with both ends
    (Dirichlet) take only interior differences, so nothing is assumed beyond the data.
    """
    n = x.shape[0]
    total = torch.zeros(n, dtype=x.dtype, device=x.device)
    lengths = lengths or [1.0] * spatial_dims
    for d in range(spatial_dims):
        axis = x.dim() - spatial_dims + d
        points = x.shape[axis]
        spacing = lengths[d] / (points if periodic else points - 1)
        total = total + _difference(x, axis, periodic, spacing).reshape(n, -1).pow(2).sum(1)
    return total


def relative_h1(
    pred: torch.Tensor,
    target: torch.Tensor,
    spatial_dims: int,
    periodic: bool,
    lengths: Sequence[float] | None = None,
) -> torch.Tensor:
    """Mean over samples of ‖pred − target‖_H1 / ‖target‖_H1, ‖v‖²_H1 = ‖v‖² + |v|²_H1."""
    n = pred.shape[0]
    diff = pred - target
    num = diff.reshape(n, -1).pow(2).sum(1) + h1_seminorm_squared(
        diff, spatial_dims, periodic, lengths
    )
    den = target.reshape(n, -1).pow(2).sum(1) + h1_seminorm_squared(
        target, spatial_dims, periodic, lengths
    )
    return (num.sqrt() / den.sqrt().clamp_min(1e-12)).mean()


def make_loss(
    name: str, spatial_dims: int, periodic: bool
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The loss function ``(pred, target) -> scalar`` called ``name`` (l2, l1 or h1)."""
    if name == "l2":
        return lambda pred, target: relative_lp(pred, target, 2.0)
    if name == "l1":
        return lambda pred, target: relative_lp(pred, target, 1.0)
    if name == "h1":
        return lambda pred, target: relative_h1(pred, target, spatial_dims, periodic)
    raise ValueError(f"loss must be one of {LOSSES}, got {name!r}")
