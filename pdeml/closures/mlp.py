"""A local network closure: a small MLP of the neighbourhood ``X_{k−w} … X_{k+w}``.

The same network at every site (weights shared around the ring), so the closure commutes
with shifts of the ring, as the true one does statistically, and works for any ``K``.
``window = 0`` gives a nonlinear function of ``X_k`` alone, the network analogue of the
polynomial closure.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from pdeml._checks import check_int
from pdeml.closures.base import register_closure
from pdeml.closures.neural import NUMPY_ACTIVATIONS, NeuralClosure
from pdeml.nn.fourier import ACTIVATIONS


class NeighbourhoodMLP(nn.Module):
    """``[n, K] -> [n, K]``: an MLP applied to each site's periodic neighbourhood."""

    def __init__(self, window: int, hidden: Sequence[int], activation: str) -> None:
        super().__init__()
        self.window = window
        sizes = [2 * window + 1, *hidden]
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(sizes):
            layers += [nn.Linear(a, b), ACTIVATIONS[activation]()]
        layers.append(nn.Linear(sizes[-1], 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # roll(x, -d)[k] = x[k + d]: the neighbours k − w … k + w, in order.
        shifts = range(-self.window, self.window + 1)
        features = torch.stack([torch.roll(x, -d, dims=1) for d in shifts], dim=-1)
        return self.net(features).squeeze(-1)


class MLPInference:
    """The neighbourhood MLP as float64 numpy for rings of ``K`` sites.

    One gather builds every site's neighbourhood ``[n, K, 2w+1]``; then plain matrix
    products over the ``n·K`` sites. The input normalisation is folded into the first
    layer and the output scaling into the last, so nothing else is done per call.
    """

    def __init__(self, state: dict[str, np.ndarray], K: int, window: int, activation: str):
        self.K = int(K)
        self.act = NUMPY_ACTIVATIONS[activation]
        # neighbours[k] = (k − w … k + w) mod K, the order of NeighbourhoodMLP.forward.
        self.neighbours = (np.arange(K)[:, None] + np.arange(-window, window + 1)) % K
        indices = sorted({int(k.split(".")[2]) for k in state if k.startswith("core.net.")})
        weights = [state[f"core.net.{i}.weight"].T for i in indices]
        biases = [state[f"core.net.{i}.bias"] for i in indices]
        x_mean, x_std = float(state["x_mean"]), float(state["x_std"])
        y_mean, y_std = float(state["y_mean"]), float(state["y_std"])
        biases[0] = biases[0] - (x_mean / x_std) * weights[0].sum(axis=0)
        weights[0] = weights[0] / x_std
        weights[-1] = weights[-1] * y_std
        biases[-1] = biases[-1] * y_std + y_mean
        self.layers = [(np.ascontiguousarray(w), b) for w, b in zip(weights, biases)]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        k = x.shape[1]
        neighbours = self.neighbours
        if k != self.K:
            w = (self.neighbours.shape[1] - 1) // 2
            neighbours = (np.arange(k)[:, None] + np.arange(-w, w + 1)) % k
        v = x[:, neighbours]
        matrix, bias = self.layers[0]
        v = v @ matrix + bias
        for matrix, bias in self.layers[1:]:
            v = self.act(v) @ matrix + bias
        return v[..., 0]


@register_closure
class MLPClosure(NeuralClosure):
    """``c(X)_k = MLP(X_{k−w}, …, X_{k+w})``, one MLP shared by every site.

    Parameters
    ----------
    window : int
        Half-width ``w`` of the neighbourhood (``2w + 1`` inputs per site).
    hidden : sequence of int
        Widths of the hidden layers.
    epochs, batch_size, lr, max_samples, seed, device
        Training, see :class:`pdeml.closures.neural.NeuralClosure`.
    activation : str
        ``gelu``, ``relu``, ``tanh`` or ``silu`` (smooth ones keep RK4 fourth order).
    """

    name = "mlp"

    def __init__(
        self,
        window: int = 2,
        hidden: Sequence[int] = (32, 32),
        activation: str = "gelu",
        epochs: int = 50,
        batch_size: int = 64,
        lr: float = 3e-3,
        max_samples: int | None = None,
        seed: int = 0,
        device: str | None = None,
    ) -> None:
        super().__init__(activation, epochs, batch_size, lr, max_samples, seed, device)
        if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence) or not hidden:
            raise TypeError(f"hidden must be a non-empty sequence of ints, got {hidden!r}")
        widths = [check_int("hidden", h, 1) for h in hidden]
        self._store({"window": check_int("window", window, 0), "hidden": widths})

    def _fast_path(self, state: dict[str, np.ndarray], K: int) -> MLPInference:
        return MLPInference(state, K, self.window, self.activation)

    def _build(self) -> nn.Module:
        return NeighbourhoodMLP(self.window, self.hidden, self.activation)
