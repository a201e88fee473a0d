"""Gaussian normalisers fitted on the training set and saved with the model.

``PointwiseGaussian`` keeps a mean and a standard deviation per channel and grid point (the
FNO paper's ``UnitGaussianNormalizer``); ``ChannelGaussian`` keeps one per channel. Both are
``torch.nn.Module`` s whose statistics are buffers, so they travel in the model's
``state_dict`` and load with ``weights_only=True``.

A pointwise normaliser fitted at one resolution is applied at another by interpolating its
statistics linearly onto the new grid, which keeps a trained operator usable across
resolutions (the statistics of these data sets are smooth fields).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-6


def _resample(field: torch.Tensor, shape: tuple[int, ...], periodic: bool) -> torch.Tensor:
    """Linear interpolation of ``field`` [c, *space] onto ``shape`` (same number of dims)."""
    if tuple(field.shape[1:]) == tuple(shape):
        return field
    dims = field.dim() - 1
    if dims > 3:
        raise ValueError(f"cannot resample a normaliser with {dims} spatial dimensions")
    mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[dims]
    x = field.unsqueeze(0)
    if periodic:
        # Append the wrap-around sample so that the right end (excluded from periodic
        # grids) is interpolated between the last point and the first.
        for axis in range(2, 2 + dims):
            x = torch.cat([x, x.narrow(axis, 0, 1)], dim=axis)
        target = [s + 1 for s in shape]
        y = F.interpolate(x, size=target, mode=mode, align_corners=True)
        index = (slice(None), slice(None), *[slice(0, s) for s in shape])
        return y[index][0]
    return F.interpolate(x, size=list(shape), mode=mode, align_corners=True)[0]


class PointwiseGaussian(nn.Module):
    """Normalise ``[n, c, *space]`` tensors by a per-point mean and standard deviation.

    Parameters
    ----------
    shape : tuple of int
        ``(c, *space)`` of the training data.
    periodic : bool
        Whether the grid is periodic (right end excluded); used when resampling.
    """

    # Buffers (register_buffer), declared for the type checker.
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, shape: tuple[int, ...], periodic: bool = False) -> None:
        super().__init__()
        self.periodic = periodic
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("std", torch.ones(shape))

    @torch.no_grad()
    def fit(self, data: torch.Tensor) -> PointwiseGaussian:
        """Set the statistics from training data ``[n, c, *space]``."""
        self.mean.copy_(data.mean(dim=0))
        self.std.copy_(data.std(dim=0, unbiased=False))
        return self

    def _stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = tuple(x.shape[2:])
        mean = _resample(self.mean, shape, self.periodic)
        std = _resample(self.std, shape, self.periodic)
        return mean.to(x.dtype), std.to(x.dtype)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(x − mean) / (std + eps)``."""
        mean, std = self._stats(x)
        return (x - mean) / (std + EPS)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`encode`."""
        mean, std = self._stats(x)
        return x * (std + EPS) + mean


class ChannelGaussian(nn.Module):
    """Normalise ``[n, c, *space]`` tensors by one mean and standard deviation per channel."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, channels: int, spatial_dims: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros((channels,) + (1,) * spatial_dims))
        self.register_buffer("std", torch.ones((channels,) + (1,) * spatial_dims))

    @torch.no_grad()
    def fit(self, data: torch.Tensor) -> ChannelGaussian:
        """Set the statistics from training data ``[n, c, *space]``."""
        dims = [0, *range(2, data.dim())]
        self.mean.copy_(data.mean(dim=dims).reshape(self.mean.shape))
        self.std.copy_(data.std(dim=dims, unbiased=False).reshape(self.std.shape))
        return self

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean.to(x.dtype)) / (self.std.to(x.dtype) + EPS)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        return x * (self.std.to(x.dtype) + EPS) + self.mean.to(x.dtype)


class Identity(nn.Module):
    """No normalisation (same interface)."""

    def fit(self, data: torch.Tensor) -> Identity:
        return self

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        return x


NORMALIZERS = ("pointwise", "channel", "none")
#: What :func:`make_normalizer` builds.
Normalizer = PointwiseGaussian | ChannelGaussian | Identity


def make_normalizer(kind: str, shape: tuple[int, ...], periodic: bool) -> Normalizer:
    """Build an unfitted normaliser for data of per-sample shape ``shape`` = ``(c, *space)``."""
    if kind == "pointwise":
        return PointwiseGaussian(shape, periodic)
    if kind == "channel":
        return ChannelGaussian(shape[0], len(shape) - 1)
    if kind == "none":
        return Identity()
    raise ValueError(f"normalizer must be one of {NORMALIZERS}, got {kind!r}")
