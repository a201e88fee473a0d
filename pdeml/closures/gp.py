"""A local Gaussian-process closure: ``c(X)_k`` = GP posterior mean at ``X_{k−w} … X_{k+w}``.

Exact GP regression (:class:`pdeml.gp.GaussianProcess`) costs O(m³) in the number of
training pairs ``m``, and every snapshot of ``K`` sites gives ``K`` pairs, so the pairs are
subsampled at random to ``max_points``. With ``window = 0`` this is a nonparametric
function of ``X_k`` alone, the GP analogue of the polynomial closure.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from pdeml._checks import check_int
from pdeml.closures.base import Closure, register_closure
from pdeml.gp import GaussianProcess


def neighbourhoods(X: np.ndarray, window: int) -> np.ndarray:
    """``[n, K]`` → ``[n·K, 2w+1]``: the periodic neighbourhood of every site, in order."""
    shifts = range(-window, window + 1)
    # np.roll(x, -d)[k] = x[k + d]
    return np.stack([np.roll(X, -d, axis=1) for d in shifts], axis=-1).reshape(-1, 2 * window + 1)


class GPMean:
    """The posterior mean of a fitted :class:`pdeml.gp.GaussianProcess` as float64 numpy.

    The mean is ``μ + s² Σ_i k(|x − x_i|/l) α_i`` with ``α = K⁻¹(y − μ)`` computed once at
    fit time by the GP; evaluating it needs only the kernel between the queries and the
    training inputs and one matrix-vector product, not the triangular solve that the
    variance of :meth:`GaussianProcess.predict` costs. Reads the GP's fitted posterior
    (``_xs``, ``_alpha``, ``_params``): those names belong to :mod:`pdeml.gp.exact`.
    """

    def __init__(self, gp: GaussianProcess, window: int) -> None:
        params = {k: v.detach().cpu().numpy() for k, v in gp._params.items()}
        scale = 1.0 / params["lengthscale"][0]  # [d]
        self.x_shift = gp.x_mean
        self.x_scale = scale / gp.x_std  # standardise, then divide by the lengthscales
        self.train = gp._xs.detach().cpu().numpy() * scale  # [m, d]
        self.train_sq = np.sum(self.train**2, axis=1)
        y_std, y_mean = float(gp.y_std[0]), float(gp.y_mean[0])
        # Output scale and target scaling folded into the weights.
        self.weights = gp._alpha.detach().cpu().numpy()[0] * float(params["outputscale"][0]) * y_std
        self.offset = float(params["constant"][0]) * y_std + y_mean
        self.kernel = gp.kernel
        self.window = window

    def __call__(self, x: np.ndarray) -> np.ndarray:
        q = (neighbourhoods(x, self.window) - self.x_shift) * self.x_scale
        # The expansion |a|² + |b|² − 2a·b, clamped at 0, as pdeml.gp.kernels does.
        r2 = np.sum(q * q, axis=1)[:, None] + self.train_sq - 2.0 * (q @ self.train.T)
        np.maximum(r2, 0.0, out=r2)
        if self.kernel == "matern52":
            r = np.sqrt(np.maximum(r2, 1e-36))
            k = (1.0 + math.sqrt(5.0) * r + (5.0 / 3.0) * r2) * np.exp(-math.sqrt(5.0) * r)
        else:
            k = np.exp(-0.5 * r2)
        return (k @ self.weights + self.offset).reshape(x.shape)


@register_closure
class GPClosure(Closure):
    """``c(X)_k = E[f(X_{k−w}, …, X_{k+w})]`` under a GP fitted to a subsample of pairs.

    Parameters
    ----------
    window : int
        Half-width of the neighbourhood (0: ``X_k`` alone).
    max_points : int
        Training pairs kept (drawn at random with ``seed``); exact GP is O(m³).
    kernel : {"matern52", "rbf"}
        Covariance of the GP.
    restarts : int
        Hyperparameter optimisation restarts.
    seed : int
        Seeds the subsample and the restarts.
    device : str, optional
        Torch device of the GP (default CUDA when present, else CPU).
    """

    name = "gp"

    def __init__(
        self,
        window: int = 0,
        max_points: int = 500,
        kernel: str = "matern52",
        restarts: int = 2,
        seed: int = 0,
        device: str | None = None,
    ) -> None:
        super().__init__()
        self.window = check_int("window", window, 0)
        self.max_points = check_int("max_points", max_points, 2)
        self.seed = check_int("seed", seed, 0)
        # Built now so that bad kernel/restarts/device fail at construction.
        self.gp = GaussianProcess(kernel=kernel, restarts=restarts, seed=self.seed, device=device)
        self._mean: GPMean | None = None
        self._set_hyperparameters(
            {
                "window": self.window,
                "max_points": self.max_points,
                "kernel": kernel,
                "restarts": restarts,
                "seed": self.seed,
                "device": device,
            }
        )

    def _fit(self, X: np.ndarray, coupling: np.ndarray) -> None:
        inputs = neighbourhoods(X, self.window)
        targets = coupling.reshape(-1)
        if inputs.shape[0] > self.max_points:
            rng = np.random.default_rng(self.seed)
            keep = rng.choice(inputs.shape[0], self.max_points, replace=False)
            inputs, targets = inputs[keep], targets[keep]
        self.gp.fit(inputs, targets[:, None])
        self._mean = None

    def _numpy_call(self, X: np.ndarray) -> np.ndarray:
        mean, _ = self.gp.predict(neighbourhoods(X, self.window))
        return mean.reshape(X.shape)

    def inference(self, K: int) -> Callable[[np.ndarray], np.ndarray]:
        """The posterior mean through :class:`GPMean` (no variance, numpy)."""
        super().inference(K)
        if self._mean is None:
            self._mean = GPMean(self.gp, self.window)
        return self._mean

    def predict_with_variance(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance of ``c(X)``, each ``[n, K]``."""
        self._require_fitted()
        from pdeml.closures.base import as_states

        x = as_states(X)
        mean, var = self.gp.predict(neighbourhoods(x, self.window))
        return mean.reshape(x.shape), var.reshape(x.shape)

    def _state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        state = self.gp.state_dict()
        tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
        tensors.update({f"raw.{k}": v for k, v in state["raw"].items()})
        return {"gp_config": state["config"]}, tensors

    def _set_state(self, state: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        raw = {k[4:]: v for k, v in tensors.items() if k.startswith("raw.")}
        plain = {k: v for k, v in tensors.items() if not k.startswith("raw.")}
        device = self.hyperparameters.get("device")
        self.gp = GaussianProcess.from_state_dict(
            {"config": state["gp_config"], "raw": raw, **plain}, device=device
        )
        self._mean = None
