"""The network of the Neural Spectral Method: layers that act on spectral coefficients.

Each layer mixes channels mode by mode on the lowest modes (learned weights per mode, like a
spectral convolution) and adds a pointwise linear map; the activation is applied at
collocation points (coefficients to values, nonlinearity, values to coefficients).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from pdeml.spectral import Fourier

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "gelu": nn.functional.gelu,
    "relu": nn.functional.relu,
    "tanh": torch.tanh,
    "silu": nn.functional.silu,
}


class ModeMixing(nn.Module):
    """Per-mode channel mixing on the lowest ``kept`` modes: ``out_k = W_k h_k``."""

    def __init__(self, width: int, kept: Sequence[int], complex_: bool) -> None:
        super().__init__()
        self.kept = tuple(kept)
        shape = (math.prod(self.kept), width, width)
        scale = 1.0 / width
        if complex_:
            weight = scale * torch.complex(torch.randn(shape), torch.randn(shape)) / math.sqrt(2)
        else:
            weight = scale * torch.randn(shape)
        self.weight = nn.Parameter(weight)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        b, c = h.shape[:2]
        index = (slice(None), slice(None), *[slice(0, k) for k in self.kept])
        block = h[index]  # [b, c, *kept]
        d = len(self.kept)
        lhs = block.permute(*range(2, 2 + d), 0, 1).reshape(-1, b, c)
        out = torch.bmm(lhs, self.weight.to(h.dtype)).reshape(*self.kept, b, c)
        out = out.permute(d, d + 1, *range(d))
        full = torch.zeros_like(h)
        full[index] = out
        return full


class PointwiseCoefficients(nn.Module):
    """A pointwise affine map ``W h + b`` written in coefficient space.

    ``W`` acts on every mode alike; the bias is a constant function, so it enters the
    first mode only (``T_0 = 1`` and the Fourier mean).
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(c_in)
        self.weight = nn.Parameter(torch.empty(c_out, c_in).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(c_out).uniform_(-bound, bound))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        w = self.weight.to(h.dtype)
        out = torch.einsum("oi,bi...->bo...", w, h)
        corner: tuple[slice | int, ...] = (slice(None), slice(None), *([0] * (h.ndim - 2)))
        out[corner] = out[corner] + self.bias.to(h.dtype)
        return out


class NSMNetwork(nn.Module):
    """The NSM network: lift, spectral layers with activations at collocation points, project.

    Parameters
    ----------
    bases : sequence of Fourier or Chebyshev
        Bases of the network's coefficients (one per direction, at most one Fourier).
    c_in : int
        Input channels (the spectral form's features).
    width, layers : int
        Channels and number of layers.
    kept : sequence of int
        Modes mixed by the per-mode weights in each direction.
    activation : str
        ``gelu``, ``tanh`` or ``silu``.
    """

    output_scale: torch.Tensor  # a buffer (register_buffer)

    def __init__(
        self,
        bases: Sequence[Any],
        c_in: int,
        width: int,
        layers: int,
        kept: Sequence[int],
        activation: str,
    ) -> None:
        super().__init__()
        self.bases = tuple(bases)
        self.complex = any(isinstance(b, Fourier) for b in self.bases)
        # Collocation grids of the activation: twice the modes (exact transforms, and
        # room for the nonlinearity's first harmonics before truncation).
        self.points = tuple(2 * b.modes for b in self.bases)
        self.act = ACTIVATIONS[activation]
        self.lift = PointwiseCoefficients(c_in, width)
        self.mixing = nn.ModuleList(ModeMixing(width, kept, self.complex) for _ in range(layers))
        self.pointwise = nn.ModuleList(PointwiseCoefficients(width, width) for _ in range(layers))
        self.hidden = PointwiseCoefficients(width, 2 * width)
        self.head = PointwiseCoefficients(2 * width, 1)
        # The size of the solution's free coefficients (set by ``fit``): the network
        # predicts them in units of this scale, so its weights stay O(1).
        self.register_buffer("output_scale", torch.ones(()))

    def _rank(self, i: int) -> int:
        basis = self.bases[i]
        if not isinstance(basis, Fourier):
            return 0
        return 2 if basis.half else 1

    def to_values(self, h: torch.Tensor) -> torch.Tensor:
        # Chebyshev directions first, then two-sided Fourier, the one-sided Fourier
        # direction last: it takes the real part, which must come after all the others.
        order = sorted(range(len(self.bases)), key=self._rank)
        for i in order:
            h = self.bases[i].to_values(h, self.points[i], axis=2 + i)
        return h

    def to_coefficients(self, v: torch.Tensor) -> torch.Tensor:
        order = sorted(range(len(self.bases)), key=self._rank, reverse=True)
        for i in order:
            v = self.bases[i].to_coefficients(v, axis=2 + i)
        return v

    def activate(self, h: torch.Tensor) -> torch.Tensor:
        """The nonlinearity applied at collocation points, back to coefficients."""
        return self.to_coefficients(self.act(self.to_values(h)))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        h = self.lift(features)
        for i, (mixing, pointwise) in enumerate(zip(self.mixing, self.pointwise)):
            h = mixing(h) + pointwise(h)
            if i < len(self.mixing) - 1:
                h = self.activate(h)
        h = self.activate(self.hidden(h))
        return self.head(h)[:, 0] * self.output_scale.to(h.real.dtype)
