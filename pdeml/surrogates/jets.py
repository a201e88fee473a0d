"""Second-order jets: a function's value, gradient and chosen second derivatives at points.

Physics-informed losses need derivatives of the candidate solution with respect to the
point coordinates, and then the gradient of the loss with respect to the network's
parameters. Taking the spatial derivatives with ``torch.autograd.grad(create_graph=True)``
builds a graph of the backward pass that the parameter gradient then has to differentiate
again (double backward), which is slow for wide, cheap layers such as PIG's Gaussians: each
derivative order re-traverses every ``[m, N]`` array. A *jet* computes the derivatives in
closed form in the forward pass, so the parameter gradient is a single backward pass.

To keep the problems' residuals unchanged (they are written with ``autograd.grad``), a jet
is handed to them as its **Taylor polynomial** around the points themselves:

    T(p) = v + Σ_i g_i δ_i + Σ_(i,j) c_ij s_ij δ_i δ_j,     δ = p − p.detach(),

with ``c_ii = 1/2`` and ``c_ij = 1`` for ``i < j``. Numerically ``δ = 0`` so ``T = v``, and
autograd sees ``∂_i T = g_i`` and ``∂_i ∂_j T = s_ij`` exactly; a residual that takes first
derivatives and the declared second derivatives gets the right numbers through cheap
``[m]``-sized operations. Derivatives of order three and undeclared second derivatives of
``T`` are zero, so the trick is only used for residuals that declare what they take
(:attr:`pdeml.problems.residual.PDEResidual.second_derivatives`).

The initial condition ``u0`` of the hard constraints, parameter-free and costly (a
trigonometric interpolant), gets its jet once per point set by autograd
(:class:`FrozenJets`); the cheap polynomial boundary factor stays on plain autograd.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import nn

#: Pairs ``(i, j)``, ``i <= j``, of the second derivatives a jet carries.
Pairs = tuple[tuple[int, int], ...]


class Jet(NamedTuple):
    """Value ``[m, k]``, gradient ``[m, d, k]`` and second derivatives ``[m, P, k]``.

    ``k`` outputs (features) per point, ``d`` differentiated coordinates, ``P`` pairs
    ``(i, j)`` in the order of the ``pairs`` the jet was built for.
    """

    value: torch.Tensor
    first: torch.Tensor
    second: torch.Tensor


def check_pairs(pairs: Sequence[Sequence[int]], dim: int) -> Pairs:
    """Pairs as sorted tuples ``(i, j)``, ``0 <= i <= j < dim``, each once.

    Raises
    ------
    ValueError
        If a pair is malformed, out of range or repeated.
    """
    out: list[tuple[int, int]] = []
    for pair in pairs:
        if len(pair) != 2 or not all(isinstance(i, int) and 0 <= i < dim for i in pair):
            raise ValueError(
                f"second_derivatives must hold pairs (i, j) of coordinate indices in "
                f"[0, {dim}), got {pair!r}"
            )
        ordered = (min(pair), max(pair))
        if ordered in out:
            raise ValueError(f"second_derivatives lists {ordered} twice")
        out.append(ordered)
    return tuple(out)


def taylor(jet: Jet, points: torch.Tensor, pairs: Pairs) -> torch.Tensor:
    """The jet's second-order Taylor polynomial, as a function of ``points`` ``[m, d+]``.

    Equal to ``jet.value`` in value; its autograd derivatives with respect to the first
    ``d`` columns of ``points`` are the jet's (see the module notes). Columns past ``d``
    (parameter values in parametric mode) enter with zero derivatives.
    """
    d = jet.first.shape[1]
    delta = points[:, :d] - points[:, :d].detach()
    out = jet.value + (jet.first * delta[:, :, None]).sum(1)
    for p, (i, j) in enumerate(pairs):
        weight = 0.5 if i == j else 1.0
        out = out + weight * jet.second[:, p] * (delta[:, i] * delta[:, j])[:, None]
    return out


def autograd_jet(
    fn: Callable[[torch.Tensor], torch.Tensor], points: torch.Tensor, d: int, pairs: Pairs
) -> Jet:
    """The jet of a function ``[m, D] -> [m]`` by nested autograd (exact).

    Used for parameter-free functions (:class:`FrozenJets`) and as the tests' reference.

    The result keeps the graph to ``fn``'s parameters when gradients are enabled.
    """
    points = points.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        value = fn(points)
        (grad,) = torch.autograd.grad(value.sum(), points, create_graph=True)
        second = [
            torch.autograd.grad(grad[:, i].sum(), points, create_graph=True)[0][:, j]
            for i, j in pairs
        ]
    first = grad[:, :d]
    second_t = torch.stack(second, 1) if second else first.new_zeros(first.shape[0], 0)
    return Jet(value[:, None], first[:, :, None], second_t[:, :, None])


class FrozenJets:
    """Jets of a parameter-free function, computed once per point tensor.

    The cache holds a weak reference to each point tensor and its in-place version counter,
    so a freed tensor or one changed in place never returns stale derivatives. It keeps the
    few most recent entries (the collocation set and, say, a resampling pool).

    Parameters
    ----------
    fn : callable
        Points ``[m, D]`` to values ``[m]``; no trainable parameters.
    d : int
        Number of leading coordinates to differentiate.
    pairs : tuple of (int, int)
        The second derivatives to keep.
    size : int
        Entries kept.
    """

    def __init__(
        self, fn: Callable[[torch.Tensor], torch.Tensor], d: int, pairs: Pairs, size: int = 4
    ) -> None:
        self.fn, self.d, self.pairs, self.size = fn, d, pairs, size
        self._entries: list[tuple[weakref.ref, int, Jet]] = []

    def __call__(self, points: torch.Tensor) -> torch.Tensor:
        """``fn`` at ``points`` ``[m]``, as a Taylor polynomial with the cached derivatives."""
        if not torch.is_grad_enabled():
            return self.fn(points)
        for ref, version, jet in self._entries:
            if ref() is points and version == points._version:
                return taylor(jet, points, self.pairs)[:, 0]
        jet = Jet(*(t.detach() for t in autograd_jet(self.fn, points, self.d, self.pairs)))
        live = [e for e in self._entries if e[0]() is not None]
        self._entries = live[len(live) - self.size + 1 :] if len(live) >= self.size else live
        self._entries.append((weakref.ref(points), points._version, jet))
        return taylor(jet, points, self.pairs)[:, 0]


def mlp_jet(layers: nn.Sequential, jet: Jet, pairs: Pairs) -> Jet:
    """Push a jet through ``Linear`` and ``Tanh`` layers (chain rule in closed form).

    Parameters
    ----------
    layers : torch.nn.Sequential
        ``nn.Linear`` and ``nn.Tanh`` modules (PIG's MLP).
    jet : Jet
        The input's jet: value ``[m, k]``, first ``[m, d, k]``, second ``[m, P, k]``.
    pairs : tuple of (int, int)
        The pairs ``jet.second`` holds.
    """
    value, first, second = jet
    for layer in layers:
        if isinstance(layer, nn.Linear):
            value = layer(value)
            first = first @ layer.weight.T
            second = second @ layer.weight.T
            continue
        if not isinstance(layer, nn.Tanh):
            raise TypeError(f"mlp_jet: no closed-form jet for layer {type(layer).__name__}")
        s = torch.tanh(value)
        d1 = 1 - s * s
        d2 = -2 * s * d1
        if pairs:
            products = torch.stack([first[:, i] * first[:, j] for i, j in pairs], 1)
            second = d1[:, None] * second + d2[:, None] * products
        first = d1[:, None] * first
        value = s
    return Jet(value, first, second)
