"""The classic U-Net (Ronneberger, Fischer, Brox, MICCAI 2015) in 1 and 2 dimensions.

Tensors are channel-first, ``[batch, channels, *space]``.

The form is the one PDEBench (Takamoto et al., NeurIPS 2022) and The Well (Ohana et al.,
NeurIPS 2024, ``UNetClassic``) use as their U-Net baseline: an encoder of blocks
(3×3 convolution, normalisation, activation, twice) with 2×2 max pooling between them, a
bottleneck block, a decoder that upsamples with stride-2 2×2 transposed convolutions,
concatenates the encoder block of the same level (the skip connection) and applies a
block, and a 1×1 head. Channels double at every level down: ``width * 2**level``.

Grid sizes and boundary conditions
----------------------------------
Every level halves the grid, so the network pads its input to a multiple of
``2**levels`` per direction and crops the output back: any grid size runs, odd ones
included. With ``padding_mode="zeros"`` (grids holding both ends, Dirichlet problems such
as Darcy) the grid is padded with zeros, split between both ends, and every convolution pads
with zeros. With ``"circular"`` (periodic problems) both the grid padding and the
convolutions wrap around. Pooling and the transposed convolutions need no padding, so on a
periodic grid whose size is a multiple of ``2**levels`` the network commutes with circular
shifts by multiples of ``2**levels`` (tested). On other periodic sizes the padded grid has
a seam where the wrapped values meet, and the symmetry is approximate.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from pdeml.nn.fourier import ACTIVATIONS

PaddingMode = Literal["zeros", "circular"]
PADDING_MODES: tuple[PaddingMode, ...] = ("zeros", "circular")
NORMS = ("batch", "group", "instance", "none")
#: The levels of the benchmarks' U-Net; fewer where the grid is too small for them.
DEFAULT_LEVELS = 4
_CONV = {1: nn.Conv1d, 2: nn.Conv2d}
_CONV_T = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d}
_POOL = {1: nn.MaxPool1d, 2: nn.MaxPool2d}
_BATCH_NORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}
#: Channels per group of ``norm="group"`` (GroupNorm's usual 32 groups would leave one
#: channel per group at the first level of a width-32 network: instance normalisation).
GROUP_CHANNELS = 8


def most_levels(n: int) -> int:
    """Most levels a grid of ``n`` points takes: the coarsest grid keeps >= 2 points.

    Level ``L`` works on ``ceil(n / 2**L)`` points once the grid is padded; one point is
    a grid no 3×3 stencil can see across, and batch normalisation of a one-point grid fails
    for a batch of one sample.
    """
    levels = 0
    while n > 2 ** (levels + 1):
        levels += 1
    return levels


def default_levels(n: int) -> int:
    """The benchmarks' 4 levels, or fewer where a grid of ``n`` points is too small."""
    return min(DEFAULT_LEVELS, most_levels(n))


def _norm(kind: str, dims: int, channels: int) -> nn.Module:
    if kind == "batch":
        return _BATCH_NORM[dims](channels)
    if kind == "group":
        return nn.GroupNorm(max(1, channels // GROUP_CHANNELS), channels)
    if kind == "instance":
        # GroupNorm with one channel per group is instance normalisation, with the affine
        # weights that InstanceNorm lacks by default (so every norm has the same count).
        return nn.GroupNorm(channels, channels)
    return nn.Identity()


class ConvBlock(nn.Sequential):
    """Two (3×3 convolution, normalisation, activation) stages from ``c_in`` to ``c_out``.

    The convolutions have no bias where a normalisation follows (it would be subtracted
    again, as in the benchmarks' U-Net), and a bias with ``norm="none"``.
    """

    def __init__(
        self,
        dims: int,
        c_in: int,
        c_out: int,
        norm: str,
        activation: str,
        padding_mode: PaddingMode,
    ) -> None:
        layers: list[nn.Module] = []
        for a in (c_in, c_out):
            conv = _CONV[dims](
                a, c_out, 3, padding=1, padding_mode=padding_mode, bias=norm == "none"
            )
            layers += [conv, _norm(norm, dims, c_out), ACTIVATIONS[activation]()]
        super().__init__(*layers)


def unet_parameter_count(
    c_in: int, c_out: int, dims: int, width: int, levels: int, norm: str = "batch"
) -> int:
    """Trainable parameters of :class:`UNet` with these sizes, without building it.

    Per block from ``a`` to ``b`` channels: two 3^d-point convolutions, ``(a + b) b 3^d``
    weights, and either the norms' scales and shifts (``4 b``) or the convolutions' biases
    (``2 b``). Per level up: a transposed 2^d-point convolution with bias. The head is a 1×1
    convolution with bias.
    """
    k = 3**dims
    per_channel = 2 if norm == "none" else 4

    def block(a: int, b: int) -> int:
        return (a + b) * b * k + per_channel * b

    widths = [width * 2**level for level in range(levels + 1)]
    count = block(c_in, widths[0])
    count += sum(block(widths[i - 1], widths[i]) for i in range(1, levels + 1))
    for i in range(levels):
        count += widths[i + 1] * widths[i] * 2**dims + widths[i]
        count += block(2 * widths[i], widths[i])
    return count + widths[0] * c_out + c_out


class UNet(nn.Module):
    """The classic U-Net from ``c_in`` to ``c_out`` channels on any grid size.

    Parameters
    ----------
    c_in, c_out : int
        Channels of the input and of the output.
    dims : {1, 2}
        Spatial dimensions.
    width : int
        Channels of the first level; level ``l`` has ``width * 2**l`` (32 in PDEBench and
        The Well).
    levels : int
        Poolings between the finest grid and the bottleneck (4 in the benchmarks).
    activation : str
        ``gelu``, ``relu``, ``tanh`` (the benchmarks) or ``silu``.
    norm : {"batch", "group", "instance", "none"}
        Normalisation after each convolution: ``batch`` as in the benchmarks; ``group``
        (groups of 8 channels) and ``instance`` do not depend on the batch.
    padding_mode : {"zeros", "circular"}
        Zeros for grids holding both ends (Dirichlet), circular for periodic grids.
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        dims: int = 2,
        width: int = 32,
        levels: int = DEFAULT_LEVELS,
        activation: str = "gelu",
        norm: str = "batch",
        padding_mode: PaddingMode = "zeros",
    ) -> None:
        super().__init__()
        for name, value, choices in (
            ("dims", dims, tuple(_CONV)),
            ("activation", activation, tuple(sorted(ACTIVATIONS))),
            ("norm", norm, NORMS),
            ("padding_mode", padding_mode, PADDING_MODES),
        ):
            if value not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {value!r}")
        if min(c_in, c_out, width, levels) < 1:
            raise ValueError(
                "c_in, c_out, width and levels must be >= 1, got "
                f"{c_in}, {c_out}, {width} and {levels}"
            )
        self.dims, self.levels, self.padding_mode = dims, levels, padding_mode
        widths = [width * 2**level for level in range(levels + 1)]

        def block(a: int, b: int) -> ConvBlock:
            return ConvBlock(dims, a, b, norm, activation, padding_mode)

        self.encoder = nn.ModuleList(
            block(c_in if i == 0 else widths[i - 1], widths[i]) for i in range(levels)
        )
        self.pool = _POOL[dims](2)
        self.bottleneck = block(widths[-2], widths[-1])
        # Finest level first, as the encoder; the forward pass walks them backwards.
        self.up = nn.ModuleList(
            _CONV_T[dims](widths[i + 1], widths[i], 2, stride=2) for i in range(levels)
        )
        self.decoder = nn.ModuleList(block(2 * widths[i], widths[i]) for i in range(levels))
        self.head = _CONV[dims](widths[0], c_out, 1)

    def _pads(self, sizes: tuple[int, ...]) -> list[int]:
        """``F.pad`` widths (last axis first) up to a multiple of ``2**levels``."""
        step = 2**self.levels
        pads: list[int] = []
        for n in reversed(sizes):
            extra = -n % step
            pads += [extra // 2, extra - extra // 2]
        return pads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != self.dims + 2:
            raise ValueError(
                f"UNet expects [batch, channels, *space] with {self.dims} spatial axes, "
                f"got shape {tuple(x.shape)}"
            )
        sizes = tuple(x.shape[2:])
        pads = self._pads(sizes)
        if any(pads):
            mode = "circular" if self.padding_mode == "circular" else "constant"
            x = F.pad(x, pads, mode=mode)
        skips = []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for level in reversed(range(self.levels)):
            x = self.decoder[level](torch.cat([self.up[level](x), skips[level]], dim=1))
        out = self.head(x)
        if any(pads):
            # pads lists the last axis first: axis d's left pad is pads[2 * (dims - 1 - d)].
            window = [
                slice(pads[2 * (self.dims - 1 - d)], pads[2 * (self.dims - 1 - d)] + n)
                for d, n in enumerate(sizes)
            ]
            out = out[(slice(None), slice(None), *window)]
        return out
