"""The neural-operator closure: a 1D periodic FNO from the whole X field to the closure field.

This is the closure of the Multiscale Neural Operator (Lütjens et al., 2022): the
coupling term at every site is a function of the whole slow field, learned with a Fourier
Neural Operator (Li et al., ICLR 2021) on the ring. No coordinate channels are appended,
so the network commutes with shifts of the ring (the two-scale system does), and it takes
a ring of any length ``K``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pdeml._checks import check_int
from pdeml.closures.base import register_closure
from pdeml.closures.neural import KERNEL_ACTIVATIONS, NUMPY_ACTIVATIONS, NeuralClosure
from pdeml.nn.fourier import FNO

#: Largest ``K · width`` for which a Fourier layer is stored as one dense matrix (2 MB in
#: float64); longer rings use the FFT form, whose cost grows as K log K instead of K².
#: Measured with width 16 and 32 members: dense 5.5x faster at K = 8, as fast at K = 32,
#: 2x slower at K = 64 (K · width = 1024).
DENSE_LIMIT = 512


class RingFNO(nn.Module):
    """``[n, K] -> [n, K]``: a one-channel periodic 1D FNO."""

    def __init__(self, modes: int, width: int, layers: int, projection: int, activation: str):
        super().__init__()
        self.fno = FNO(
            1,
            1,
            (modes,),
            width=width,
            layers=layers,
            activation=activation,
            padding=(0,),
            periodic=(True,),
            positional=False,
            projection=projection,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fno(x.unsqueeze(1)).squeeze(1)


def spectral_numpy(v: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The 1D spectral convolution of :class:`pdeml.nn.fourier.SpectralConv` in numpy.

    ``v [b, K, c_in]`` real, ``weight [modes, c_in, c_out]`` complex; keeps the lowest
    ``min(modes, K//2 + 1)`` modes of the real FFT along the ring and zero-pads the rest,
    as the torch layer does.
    """
    k = v.shape[1]
    m = min(weight.shape[0], k // 2 + 1)
    spectrum = np.fft.rfft(v, axis=1)[:, :m]
    product = np.einsum("bki,kio->bko", spectrum, weight[:m])
    return np.fft.irfft(product, n=k, axis=1)


class FNOInference:
    """The ring FNO of an :class:`FNOClosure` as float64 numpy, for one ring length ``K``.

    On a fixed ring every Fourier layer, spectral convolution plus pointwise linear map,
    is one linear map of the flattened ``[K·width]`` field, so (for ``K·width ≤``
    :data:`DENSE_LIMIT`) it is precomputed as a dense matrix by pushing the unit vectors
    through the layer. The input normalisation and the lifting are folded into the first
    matrix, the output scaling into the projection: an evaluation is then ``layers`` matrix
    products, the activations and a per-site projection. Longer rings run the same
    network with FFTs (:meth:`fft_forward`, also the reference the tests use).
    """

    def __init__(self, state: dict[str, np.ndarray], K: int, layers: int, activation: str):
        self.K = int(K)
        self.act = NUMPY_ACTIVATIONS[activation]
        self.activation = activation
        pre = "core.fno."
        self.x_mean, self.x_std = float(state["x_mean"]), float(state["x_std"])
        self.y_mean, self.y_std = float(state["y_mean"]), float(state["y_std"])
        self.lift_w = state[pre + "lift.weight"][:, 0]  # [W]
        self.lift_b = state[pre + "lift.bias"]
        self.spectral = [state[f"{pre}spectral.{i}.weight"][0] for i in range(layers)]
        self.point_w = [state[f"{pre}pointwise.{i}.weight"] for i in range(layers)]
        self.point_b = [state[f"{pre}pointwise.{i}.bias"] for i in range(layers)]
        self.p1_w, self.p1_b = state[pre + "project.0.weight"], state[pre + "project.0.bias"]
        # Output scaling folded into the last projection.
        self.p2_w = state[pre + "project.2.weight"][0] * self.y_std
        self.p2_b = float(state[pre + "project.2.bias"][0]) * self.y_std + self.y_mean
        width = self.lift_w.shape[0]
        self.dense: list[tuple[np.ndarray, np.ndarray]] | None = None
        if self.K * width <= DENSE_LIMIT:
            self.dense = [self._dense_layer(i) for i in range(layers)]
            # Normalisation and lifting, x -> v = x @ L + l, folded into the first layer.
            lift = np.kron(np.eye(self.K), self.lift_w[None, :]) / self.x_std
            offset = np.tile(self.lift_b, self.K) - self.x_mean * lift.sum(axis=0)
            m0, b0 = self.dense[0]
            self.dense[0] = (lift @ m0, offset @ m0 + b0)

    def _layer(self, i: int, v: np.ndarray) -> np.ndarray:
        """Fourier layer ``i`` (before its activation) on ``v [b, K, W]``."""
        return spectral_numpy(v, self.spectral[i]) + v @ self.point_w[i].T + self.point_b[i]

    def _dense_layer(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        k, width = self.K, self.lift_w.shape[0]
        basis = np.eye(k * width).reshape(k * width, k, width)
        bias = np.tile(self.point_b[i], k)
        # The layer is affine: its linear part is the layer minus its bias.
        matrix = (self._layer(i, basis) - self.point_b[i]).reshape(k * width, k * width)
        return np.ascontiguousarray(matrix), bias

    def compiled_form(self) -> tuple | None:
        """The dense form as arrays for the hybrid solver's numba RK4 kernel, or None.

        ``(first [K, K·W], first_bias [K·W], hidden [layers−1, K·W, K·W],
        hidden_bias [layers−1, K·W], p1 [W, P], p1_bias [P], p2 [P], p2_bias, activation)``,
        the activation as its index in :data:`pdeml.closures.neural.KERNEL_ACTIVATIONS`;
        None on rings too long for the dense form. The kernel evaluates exactly the
        arithmetic of :meth:`__call__` (the tests compare them to round-off).
        """
        if self.dense is None:
            return None
        kw = self.dense[0][0].shape[1]
        hidden = self.dense[1:]
        return (
            np.ascontiguousarray(self.dense[0][0]),
            np.ascontiguousarray(self.dense[0][1]),
            np.ascontiguousarray(np.array([m for m, _ in hidden]).reshape(len(hidden), kw, kw)),
            np.ascontiguousarray(np.array([b for _, b in hidden]).reshape(len(hidden), kw)),
            np.ascontiguousarray(self.p1_w.T),
            np.ascontiguousarray(self.p1_b),
            np.ascontiguousarray(self.p2_w),
            self.p2_b,
            KERNEL_ACTIVATIONS.index(self.activation),
        )

    def _project(self, v: np.ndarray) -> np.ndarray:
        return self.act(v @ self.p1_w.T + self.p1_b) @ self.p2_w + self.p2_b

    def fft_forward(self, x: np.ndarray) -> np.ndarray:
        """The network with FFTs, layer by layer as the torch module, in float64."""
        z = (x - self.x_mean) / self.x_std
        v = z[:, :, None] * self.lift_w + self.lift_b
        for i in range(len(self.spectral)):
            v = self._layer(i, v)
            if i < len(self.spectral) - 1:
                v = self.act(v)
        return self._project(v)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.dense is None or x.shape[1] != self.K:
            return self.fft_forward(x)
        matrix, bias = self.dense[0]
        v = x @ matrix + bias
        for matrix, bias in self.dense[1:]:
            v = self.act(v) @ matrix + bias
        return self._project(v.reshape(x.shape[0], self.K, -1))


@register_closure
class FNOClosure(NeuralClosure):
    """``c(X) = FNO(X)`` on the periodic ring of slow variables.

    Parameters
    ----------
    modes : int
        Fourier modes kept per layer (at most ``K/2 + 1`` are used on a ring of ``K``).
    width : int
        Channels inside the Fourier layers.
    layers : int
        Fourier layers.
    projection : int
        Hidden channels of the pointwise projection.
    activation : str
        ``gelu``, ``relu``, ``tanh`` or ``silu``.

    Notes
    -----
    The defaults (width 8, 2 layers, projection 16, ReLU) come from a grid at the Wilks
    setting (docs/problems/lorenz96_hybrid.md, "Choosing the FNO size"): the closure error
    of width 16 / 3 layers / GELU within 17 %, half that of the degree-4 polynomial,
    at ~20× the resolved model's speed in the compiled RK4 kernel; GELU and tanh cost
    a libm call per activation there and were 5-8× slower.
    epochs, batch_size, lr, max_samples, seed, device
        Training, see :class:`pdeml.closures.neural.NeuralClosure`.
    """

    name = "fno"

    def __init__(
        self,
        modes: int = 8,
        width: int = 8,
        layers: int = 2,
        projection: int = 16,
        activation: str = "relu",
        epochs: int = 50,
        batch_size: int = 32,
        lr: float = 3e-3,
        max_samples: int | None = None,
        seed: int = 0,
        device: str | None = None,
    ) -> None:
        super().__init__(activation, epochs, batch_size, lr, max_samples, seed, device)
        own = {"modes": modes, "width": width, "layers": layers, "projection": projection}
        self._store({key: check_int(key, value, 1) for key, value in own.items()})

    def _fast_path(self, state: dict[str, np.ndarray], K: int) -> FNOInference:
        return FNOInference(state, K, self.layers, self.activation)

    def _build(self) -> nn.Module:
        return RingFNO(self.modes, self.width, self.layers, self.projection, self.activation)
