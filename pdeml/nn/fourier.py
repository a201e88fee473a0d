"""Fourier layers and the Fourier Neural Operator network (Li et al., ICLR 2021).

Tensors are channel-first, ``[batch, channels, *space]``, in 1, 2 or 3 spatial dimensions.

Speed notes (measured in ``validation/benchmarks/fno_vs_neuraloperator.py``): the spectral
weights are stored in the layout the contraction wants (``[modes, in, out]``), every kept
corner of the spectrum is gathered into one batch so that a layer does a single batched
complex matrix product instead of one ``einsum`` per corner, and the output spectrum is
written only where modes are kept.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from scipy.fft import next_fast_len
from torch import nn

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "tanh": nn.Tanh, "silu": nn.SiLU}


def _conv1x1(dims: int, c_in: int, c_out: int) -> nn.Module:
    return PointwiseLinear(c_in, c_out)


#: The weights of :func:`_pair_weights` made so far, by (kept, n, value, dtype, device).
_PAIR_WEIGHTS: dict[tuple[int, int, float, torch.dtype, torch.device], torch.Tensor] = {}


def _pair_weights(kept: int, n: int, value: float, like: torch.Tensor) -> torch.Tensor:
    """``value`` for each kept column of an ``n``-point real FFT that stands for a pair of
    conjugate frequencies, 1 for the zero frequency and the Nyquist frequency (even ``n``).

    Made on the host and copied to ``like``'s device once per shape, then reused: on a GPU,
    writing one element of a device tensor from Python (``weights[0] = 1.0``) is a blocking
    host-to-device copy, and the profile of a GPU training step
    (``validation/benchmarks/fno_step_profile.py``, 1D 8192 points, batch 64) showed eight
    such stalls a step, one per backward of a Fourier transform.
    """
    key = (kept, n, value, like.real.dtype, like.device)
    weights = _PAIR_WEIGHTS.get(key)
    if weights is None:
        host = torch.full((kept,), value, dtype=like.real.dtype)
        host[0] = 1.0
        if n % 2 == 0 and kept == n // 2 + 1:
            host[-1] = 1.0
        weights = _PAIR_WEIGHTS[key] = host.to(like.device)
    return weights


class _LowRFFT(torch.autograd.Function):
    """``rfft(x, dim=-1)[..., :kept]`` with a backward of one inverse real FFT.

    Torch's backward of a sliced ``rfft`` zero-fills the half spectrum, then a full complex
    spectrum, and runs a complex FFT on it; the gradient is also ``irfft`` of the kept
    columns (halved where they stand for a conjugate pair), half the work. Measured on one
    CPU thread, a whole FNO training step (batch 20): 15 % faster in 1D at 1024 points,
    12 % in 2D at 43², no change at 16² (where the FFTs are a small part of the step).
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, kept: int) -> torch.Tensor:
        ctx.n = x.shape[-1]
        return torch.fft.rfft(x, dim=-1)[..., :kept]

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        weights = _pair_weights(grad.shape[-1], ctx.n, 0.5, grad)
        return torch.fft.irfft(grad * weights, n=ctx.n, dim=-1, norm="forward"), None


class _LowIRFFT(torch.autograd.Function):
    """``irfft(spectrum, n, dim=-1)`` of the kept columns, with a backward that scales only
    those columns (torch's doubles the whole half spectrum, then slices it)."""

    @staticmethod
    def forward(ctx: Any, spectrum: torch.Tensor, n: int) -> torch.Tensor:
        ctx.kept = spectrum.shape[-1]
        return torch.fft.irfft(spectrum, n=n, dim=-1)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        kept = torch.fft.rfft(grad, dim=-1, norm="forward")[..., : ctx.kept]
        return kept * _pair_weights(ctx.kept, grad.shape[-1], 2.0, kept), None


class SpectralConv(nn.Module):
    """Multiply the lowest Fourier modes of each channel by learned complex matrices.

    Parameters
    ----------
    c_in, c_out : int
        Channels in and out.
    modes : sequence of int
        Modes kept per spatial direction. All directions but the last keep ``modes[d]``
        positive and ``modes[d]`` negative frequencies; the last (halved by ``rfft``)
        keeps the first ``modes[-1]``.
    """

    def __init__(self, c_in: int, c_out: int, modes: Sequence[int]) -> None:
        super().__init__()
        self.c_in, self.c_out = c_in, c_out
        self.modes = tuple(int(m) for m in modes)
        self.dims = len(self.modes)
        corners = 2 ** (self.dims - 1)
        scale = 1.0 / (c_in * c_out)
        shape = (corners, *self.modes, c_in, c_out)
        weight = scale * torch.complex(torch.rand(shape), torch.rand(shape))
        self.weight = nn.Parameter(weight)

    def _corners(self, sizes: Sequence[int], modes: Sequence[int]) -> list[tuple[slice, ...]]:
        low_high = [(slice(0, m), slice(n - m, n)) for n, m in zip(sizes[:-1], modes[:-1])]
        last = (slice(0, modes[-1]),)
        return [(*combo, *last) for combo in itertools.product(*low_high)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sizes = tuple(x.shape[2:])
        d = self.dims
        # Keep no more modes than the grid has (evaluation on coarser grids).
        modes = [min(m, n // 2) for m, n in zip(self.modes[:-1], sizes[:-1])]
        modes.append(min(self.modes[-1], sizes[-1] // 2 + 1))
        b = x.shape[0]
        # FFTs in float32 even under bf16 autocast: cuFFT has no bf16 transforms.
        with torch.autocast(device_type=x.device.type, enabled=False):
            # Pruned transform: the real FFT along the last axis, then keep its lowest
            # modes before transforming the other axes, which then act on
            # modes[-1] columns instead of n/2 + 1 (4x less work at 85x85 with 12 modes).
            x_ft = _LowRFFT.apply(x.float(), modes[-1])
            for axis in range(2, 1 + d):
                x_ft = torch.fft.fft(x_ft, dim=axis)
            spectrum = (*sizes[:-1], modes[-1])
            corners = self._corners(spectrum, modes)
            gathered = torch.stack([x_ft[(slice(None), slice(None), *c)] for c in corners])
            # [corner, b, i, *m] -> [corner * prod(m), b, i]: one batched complex matmul.
            perm = (0, *range(3, 3 + d), 1, 2)
            count = math.prod(modes)
            lhs = gathered.permute(perm).reshape(len(corners) * count, b, self.c_in)
            w = self.weight[(slice(None), *[slice(0, m) for m in modes])]
            rhs = w.reshape(len(corners) * count, self.c_in, self.c_out)
            product = torch.bmm(lhs, rhs).reshape(len(corners), *modes, b, self.c_out)
            product = product.permute(0, d + 1, d + 2, *range(1, d + 1))
            if d == 1:
                out_ft = product[0]
            else:
                out_ft = x_ft.new_zeros((b, self.c_out, *spectrum))
                for k, corner in enumerate(corners):
                    out_ft[(slice(None), slice(None), *corner)] = product[k]
            for axis in range(2, 1 + d):
                out_ft = torch.fft.ifft(out_ft, dim=axis)
            # irfft zero-pads the kept modes up to n // 2 + 1.
            return _LowIRFFT.apply(out_ft, sizes[-1])


class PointwiseLinear(nn.Module):
    """A 1x1 convolution written as one batched matrix product over the flattened grid.

    On CPU this is several times faster than ``nn.Conv2d(kernel_size=1)``, whose backward
    falls back to a slow generic path for these shapes (profiled). It is a ``baddbmm`` of
    the weight against each sample's ``[c_in, points]`` block, so the output comes out
    channels-first and contiguous: ``torch.matmul(weight, x)`` instead folds the batch into
    one ``mm`` on ``[batch * points, c_in]``, which costs a transposed copy of the input and
    returns a transposed view that makes the activation and its backward several times
    slower. Measured on one CPU thread, a whole FNO training step: 1.8x faster (1D 1024
    points, 111 -> 61 ms at batch 8; 2D 85², 1.90 -> 1.07 s at batch 20).
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(c_in)
        self.weight = nn.Parameter(torch.empty(c_out, c_in).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(c_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, *space = x.shape
        y = torch.baddbmm(
            self.bias[None, :, None], self.weight.expand(b, -1, -1), x.reshape(b, c, -1)
        )
        return y.reshape(b, -1, *space)


class FNO(nn.Module):
    """Fourier Neural Operator: lift, Fourier layers with a pointwise skip, project.

    ``v ← σ(K v + W v)`` in every layer but the last, which has no activation, as in the
    paper. Coordinates are appended to the input channels when ``positional`` is set, and
    non-periodic directions are zero-padded on the right by ``padding[d]`` points after
    lifting (and cropped before projecting) so the spectral layers do not wrap them.

    Parameters
    ----------
    c_in, c_out : int
        Input and output channels.
    modes : sequence of int
        Fourier modes per direction (the length fixes the dimension).
    width : int
        Channels inside the Fourier layers.
    layers : int
        Number of Fourier layers.
    activation : str
        One of ``gelu``, ``relu``, ``tanh``, ``silu``.
    padding : sequence of int or float
        Zero padding per direction: points (int) or a fraction of the grid (float); 0 for
        periodic directions.
    periodic : sequence of bool
        Whether each direction is periodic (sets the appended coordinates' spacing).
    positional : bool
        Append coordinate channels.
    projection : int
        Hidden channels of the projection.
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        modes: Sequence[int],
        width: int = 32,
        layers: int = 4,
        activation: str = "gelu",
        padding: Sequence[int | float] | None = None,
        periodic: Sequence[bool] | None = None,
        positional: bool = True,
        projection: int = 128,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.dims = len(modes)
        self.padding = tuple(padding or (0,) * self.dims)
        self.periodic = tuple(periodic if periodic is not None else (True,) * self.dims)
        self.positional = positional
        lift_in = c_in + (self.dims if positional else 0)
        self.lift = _conv1x1(self.dims, lift_in, width)
        self.spectral = nn.ModuleList(SpectralConv(width, width, modes) for _ in range(layers))
        self.pointwise = nn.ModuleList(_conv1x1(self.dims, width, width) for _ in range(layers))
        self.act = ACTIVATIONS[activation]()
        self.project = nn.Sequential(
            _conv1x1(self.dims, width, projection),
            ACTIVATIONS[activation](),
            _conv1x1(self.dims, projection, c_out),
        )

    def coordinates(self, x: torch.Tensor) -> torch.Tensor:
        """Coordinate channels ``[b, dims, *space]`` on [0, 1) (periodic) or [0, 1]."""
        sizes = x.shape[2:]
        axes = []
        for n, periodic in zip(sizes, self.periodic):
            end = (n - 1) / n if periodic else 1.0
            axes.append(torch.linspace(0.0, end, n, device=x.device, dtype=x.dtype))
        grids = torch.meshgrid(*axes, indexing="ij")
        return torch.stack(grids).unsqueeze(0).expand(x.shape[0], -1, *sizes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.positional:
            x = torch.cat([x, self.coordinates(x)], dim=1)
        v = self.lift(x)
        sizes = v.shape[2:]
        # Pad at least the requested amount, rounded up to a length with small prime
        # factors: 85 + 9 = 94 = 2 x 47 transforms several times slower than 96.
        padding = [padded_size(n, p) - n for n, p in zip(sizes, self.padding)]
        if any(padding):
            # F.pad takes (last dim left, last dim right, previous dim left, ...).
            v = F.pad(v, [p for d in reversed(padding) for p in (0, d)])
        for i, (spectral, pointwise) in enumerate(zip(self.spectral, self.pointwise)):
            v = spectral(v) + pointwise(v)
            if i < len(self.spectral) - 1:
                v = self.act(v)
        if any(padding):
            v = v[(slice(None), slice(None), *[slice(0, n) for n in sizes])]
        return self.project(v)


def _points(padding: float, n: int) -> int:
    """Padding in points: ints are points, floats a fraction of the ``n`` grid points."""
    if isinstance(padding, float):
        return math.ceil(padding * n)
    return int(padding)


def padded_size(n: int, padding: int | float) -> int:
    """Grid points along a direction after the FNO's padding (rounded to a fast FFT size)."""
    return next_fast_len(n + _points(padding, n)) if padding else n


def supported_modes(
    sizes: Sequence[int], padding: Sequence[int | float] | None = None
) -> list[int]:
    """Most modes per direction a grid trains without touching its Nyquist frequency.

    On the padded grid of ``p`` points a full FFT axis keeps ``(p - 1) // 2`` modes and the
    last, real-FFT, axis ``(p + 1) // 2``. The Nyquist frequency (``p / 2`` for even ``p``)
    is left out: on the training grid it is one real mode, on a finer grid it is two
    frequencies, so its learned weight does not carry over and the zero-shot error grows.

    Parameters
    ----------
    sizes : sequence of int
        Grid points per spatial direction (before padding).
    padding : sequence of int or float, optional
        The FNO's padding per direction (points or a fraction of the grid); none by default.

    Returns
    -------
    list of int
        The largest ``modes`` per direction whose weights all see data at this grid.
    """
    padded = _padded_sizes(sizes, padding)
    return [(p - 1) // 2 for p in padded[:-1]] + [(padded[-1] + 1) // 2]


def dealiased_modes(
    sizes: Sequence[int], padding: Sequence[int | float] | None = None
) -> list[int]:
    """Modes per direction below a third of the padded grid: the FNO's default on coarse grids.

    The 2/3 rule of spectral methods: the activations between Fourier layers fold
    frequencies above ``p / 3`` back onto the kept ones on a grid of ``p`` points, and the
    folding differs at a finer grid. Measured on the FNO authors' Darcy files trained at 16²
    (padded to 18², ``validation/reports/resolution_invariance.md``): modes 6 (this rule)
    gave a zero-shot error at 32² of 1.2x the 16² error, the :func:`supported_modes` [8, 9]
    1.3x, at the same 16² error. Arguments as :func:`supported_modes`; returns
    ``max(1, p // 3)`` per direction, ``p`` the padded size.
    """
    return [max(1, p // 3) for p in _padded_sizes(sizes, padding)]


def _padded_sizes(sizes: Sequence[int], padding: Sequence[int | float] | None) -> list[int]:
    return [padded_size(n, p) for n, p in zip(sizes, padding or (0,) * len(sizes))]


def count_parameters(model: nn.Module) -> int:
    """Trainable real parameters (a complex weight counts twice)."""
    return sum(
        p.numel() * (2 if p.is_complex() else 1) for p in model.parameters() if p.requires_grad
    )
