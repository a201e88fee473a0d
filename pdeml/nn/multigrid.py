"""Multigrid layers and the MgNO network (He, Liu, Xu, ICLR 2024).

Tensors are channel-first, ``[batch, channels, *space]``, in 1 or 2 spatial dimensions.

A :class:`VCycle` is one multi-channel multigrid V-cycle whose smoothers, restrictions and
prolongations are learned convolutions. Read as a solver of ``A u = f``, level ``ℓ`` holds an
iterate ``u`` (``c_u`` channels) and a right-hand side ``f`` (``c_f`` channels):

* smoothing: ``u ← u + S(f − A u)`` with 3×3 convolutions ``A: c_u → c_f`` (one per level,
  shared by its smoothing steps and its residual) and ``S: c_f → c_u`` (one per step); the
  first step starts from ``u = 0``, i.e. ``u = S f``;
* restriction to level ``ℓ + 1``: ``u ← Π u`` and ``f ← R (f − A u)``, stride-2 3×3
  convolutions on the iterate and on the residual;
* prolongation back to level ``ℓ``: ``u_ℓ ← u_ℓ + P u_{ℓ+1}``, a stride-2 4×4 transposed
  convolution, followed by the post-smoothing steps of level ``ℓ``.

The :class:`MgNO` network stacks layers ``u ← σ(VCycle(u) + W u + b)`` (``W`` a 1×1
convolution) and ends with a 1×1 head: there is no lifting or projection MLP.

Grid sizes, odd ones included
-----------------------------
A stride-2 3×3 convolution with padding 1 maps ``n`` points to ``ceil(n / 2)``, coarse point
``i`` being centred on fine point ``2 i``. For a grid holding both ends with ``n = 2m − 1``
(85 → 43 → 22 → ...) that is exact vertex-centred coarsening: both ends stay on the coarse
grid. The 4×4 stride-2 transposed convolution with padding 1 maps ``m`` points to ``2 m``,
coarse point ``i`` feeding fine points ``2i − 1 .. 2i + 2``. For even ``n`` that is ``n``;
for odd ``n`` it is one point too many, and we crop the *last* one: cropping at the end keeps
coarse point ``i`` on fine point ``2 i``, the alignment the restriction set up (cropping at
the start would shift the whole correction by one fine cell). ``output_padding`` cannot do
this: it only adds points.

Boundary conditions
-------------------
``padding_mode="zeros"`` (Dirichlet problems such as Darcy) pads every convolution with
zeros; ``"circular"`` (periodic problems) wraps them. PyTorch's transposed convolutions only
pad with zeros, so the circular prolongation pads its coarse input circularly by one point
per side, applies the transposed convolution without padding and keeps the window that lines
up with the zero-padded case (offset 3 = 2·1 for the extra coarse point + 1 for the padding).
For even sizes divisible by ``2^(levels − 1)`` the circular V-cycle commutes with shifts by
multiples of ``2^(levels − 1)``; odd periodic sizes run (shapes are right) but the coarse
grids are then not uniform across the wrap.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from pdeml.nn.fourier import ACTIVATIONS, PointwiseLinear

PADDING_MODES = ("zeros", "circular")
_CONV = {1: nn.Conv1d, 2: nn.Conv2d}
_CONV_T = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d}


def coarse_size(n: int) -> int:
    """Points left after one stride-2 3×3 restriction with padding 1: ``ceil(n / 2)``."""
    return (n + 1) // 2


def level_sizes(n: int, levels: int) -> list[int]:
    """Grid sizes of the ``levels`` levels of a V-cycle that starts on ``n`` points."""
    sizes = [n]
    for _ in range(levels - 1):
        sizes.append(coarse_size(sizes[-1]))
    return sizes


def default_levels(n: int, coarsest: int = 3, cap: int = 5) -> int:
    """Most levels (at most ``cap``) whose coarsest grid keeps at least ``coarsest`` points."""
    levels, size = 1, n
    while levels < cap and coarse_size(size) >= coarsest:
        size = coarse_size(size)
        levels += 1
    return levels


def _conv3(dims: int, c_in: int, c_out: int, padding_mode: str, stride: int = 1) -> nn.Module:
    # bias=False as in the paper: the layer's bias lives in the 1x1 branch.
    return _CONV[dims](
        c_in, c_out, 3, stride=stride, padding=1, padding_mode=padding_mode, bias=False
    )


class Prolongation(nn.Module):
    """Stride-2 4×4 (4 in 1D) transposed convolution onto a given finer grid.

    Parameters
    ----------
    dims : int
        Spatial dimensions (1 or 2).
    channels : int
        Channels in and out.
    padding_mode : {"zeros", "circular"}
        How the coarse grid is extended beyond its ends.
    """

    def __init__(self, dims: int, channels: int, padding_mode: str) -> None:
        super().__init__()
        self.dims, self.padding_mode = dims, padding_mode
        # Zero mode lets PyTorch drop one point per side (padding=1); circular mode pads
        # the input itself and crops by hand, see the module docstring.
        padding = 1 if padding_mode == "zeros" else 0
        self.conv = _CONV_T[dims](channels, channels, 4, stride=2, padding=padding, bias=False)

    def forward(self, u: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
        """Prolong ``u`` ``[b, c, *coarse]`` onto the fine grid of shape ``size``."""
        if self.padding_mode == "circular":
            u = F.pad(u, (1, 1) * self.dims, mode="circular")
            out = self.conv(u)
            window = [slice(3, 3 + n) for n in size]
        else:
            out = self.conv(u)
            # 2m points for n = 2m or n = 2m - 1: drop the extra last point (odd n).
            window = [slice(0, n) for n in size]
        return out[(slice(None), slice(None), *window)]


class VCycle(nn.Module):
    """One learned multigrid V-cycle from ``c_f`` to ``c_u`` channels (the paper's MgConv).

    Parameters
    ----------
    dims : int
        Spatial dimensions (1 or 2).
    c_f : int
        Channels of the right-hand side ``f`` (the input).
    c_u : int
        Channels of the iterate ``u`` (the output).
    pre_smoothing, post_smoothing : sequence of int
        Smoothing steps per level, finest first; both of length ``levels``. On the
        coarsest level the post steps simply follow the pre steps.
    padding_mode : {"zeros", "circular"}
        Zero padding for Dirichlet boundaries, circular for periodic ones.
    """

    def __init__(
        self,
        dims: int,
        c_f: int,
        c_u: int,
        pre_smoothing: Sequence[int],
        post_smoothing: Sequence[int],
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        if dims not in _CONV:
            raise ValueError(f"dims must be 1 or 2, got {dims!r}")
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        if len(pre_smoothing) != len(post_smoothing) or not pre_smoothing:
            raise ValueError(
                "pre_smoothing and post_smoothing need one entry per level (same length >= 1), "
                f"got {list(pre_smoothing)} and {list(post_smoothing)}"
            )
        steps = [*pre_smoothing, *post_smoothing]
        if min(steps) < 0 or sum(steps) < 1:
            raise ValueError(
                "smoothing steps must be >= 0 with at least one step in the cycle, got "
                f"pre {list(pre_smoothing)}, post {list(post_smoothing)}"
            )
        self.dims, self.c_u = dims, c_u
        self.pre = tuple(int(k) for k in pre_smoothing)
        self.post = tuple(int(k) for k in post_smoothing)
        self.levels = len(self.pre)

        def conv(c_in: int, c_out: int, stride: int = 1) -> nn.Module:
            return _conv3(dims, c_in, c_out, padding_mode, stride)

        self.A = nn.ModuleList(conv(c_u, c_f) for _ in range(self.levels))
        self.S_pre = nn.ModuleList(
            nn.ModuleList(conv(c_f, c_u) for _ in range(k)) for k in self.pre
        )
        self.S_post = nn.ModuleList(
            nn.ModuleList(conv(c_f, c_u) for _ in range(k)) for k in self.post
        )
        self.restrict_u = nn.ModuleList(conv(c_u, c_u, 2) for _ in range(self.levels - 1))
        self.restrict_f = nn.ModuleList(conv(c_f, c_f, 2) for _ in range(self.levels - 1))
        self.prolong = nn.ModuleList(
            Prolongation(dims, c_u, padding_mode) for _ in range(self.levels - 1)
        )

    @staticmethod
    def _smooth(
        u: torch.Tensor | None, f: torch.Tensor, A: nn.Module, smoothers: nn.ModuleList
    ) -> torch.Tensor | None:
        for S in smoothers:
            # u = None stands for the zero iterate: skip the convolution of zeros.
            u = S(f) if u is None else u + S(f - A(u))
        return u

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        us: list[torch.Tensor | None] = []
        fs: list[torch.Tensor] = []
        u: torch.Tensor | None = None
        for level in range(self.levels):
            if level > 0:
                A = self.A[level - 1]
                residual = f if u is None else f - A(u)
                f = self.restrict_f[level - 1](residual)
                u = None if u is None else self.restrict_u[level - 1](u)
            u = self._smooth(u, f, self.A[level], self.S_pre[level])
            us.append(u)
            fs.append(f)
        u = self._smooth(us[-1], fs[-1], self.A[-1], self.S_post[-1])
        for level in range(self.levels - 2, -1, -1):
            fine = us[level]
            if u is not None:
                correction = self.prolong[level](u, fs[level].shape[2:])
                fine = correction if fine is None else fine + correction
            u = self._smooth(fine, fs[level], self.A[level], self.S_post[level])
        if u is None:  # unreachable: the constructor demands at least one step
            raise RuntimeError("V-cycle without smoothing steps")
        return u


class MgNO(nn.Module):
    """Multigrid neural operator: ``u ← σ(VCycle(u) + W u + b)`` layers and a 1×1 head.

    Parameters
    ----------
    c_in, c_out : int
        Input and output channels.
    dims : int
        Spatial dimensions (1 or 2).
    channels : int
        Channels of every layer (24 in the paper).
    layers : int
        Number of V-cycle layers (4 in the paper's Darcy set-up).
    pre_smoothing, post_smoothing : sequence of int
        Smoothing steps per level, finest first (the length fixes the number of levels).
    activation : str
        One of ``gelu`` (the paper), ``relu``, ``tanh``, ``silu``.
    padding_mode : {"zeros", "circular"}
        Zero padding for Dirichlet boundaries, circular for periodic ones.
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        dims: int = 2,
        channels: int = 24,
        layers: int = 4,
        pre_smoothing: Sequence[int] = (1, 1, 1, 1, 1),
        post_smoothing: Sequence[int] = (0, 0, 0, 0, 0),
        activation: str = "gelu",
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if layers < 1 or channels < 1:
            raise ValueError(f"layers and channels must be >= 1, got {layers} and {channels}")
        self.dims = dims
        widths = [c_in] + [channels] * layers
        # The first cycle's right-hand side is the input itself (c_in channels), as in the
        # paper: the operator needs no lifting layer.
        self.cycles = nn.ModuleList(
            VCycle(dims, widths[i], channels, pre_smoothing, post_smoothing, padding_mode)
            for i in range(layers)
        )
        self.pointwise = nn.ModuleList(PointwiseLinear(widths[i], channels) for i in range(layers))
        self.act = ACTIVATIONS[activation]()
        self.head = PointwiseLinear(channels, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != self.dims + 2:
            raise ValueError(
                f"MgNO expects [batch, channels, *space] with {self.dims} spatial axes, "
                f"got shape {tuple(x.shape)}"
            )
        u = x
        for cycle, pointwise in zip(self.cycles, self.pointwise):
            u = self.act(cycle(u) + pointwise(u))
        return self.head(u)
