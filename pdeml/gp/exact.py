"""Exact Gaussian-process regression in torch, batched over independent outputs.

Model, for each output ``j`` separately (targets standardised to mean 0 and variance 1,
inputs standardised per column):

.. math::

    y_j(x) = c_j + f_j(x) + \\varepsilon, \\quad
    f_j \\sim GP(0, s_j^2 k(|x - x'|_{\\ell_j})), \\quad
    \\varepsilon \\sim N(0, \\sigma_j^2), \\ \\sigma_j^2 \\ge \\sigma_{\\min}^2,

with one lengthscale per input (ARD) and ``k`` Matérn-5/2 or RBF (Rasmussen & Williams,
*Gaussian Processes for Machine Learning*, 2006, ch. 2, 4 and 5). Hyperparameters maximise
the log marginal likelihood

.. math::

    \\log p(y) = -\\tfrac12 (y - c)^T K_\\sigma^{-1} (y - c) - \\sum_i \\log L_{ii}
    - \\tfrac n2 \\log 2\\pi, \\qquad K_\\sigma = L L^T = s^2 K + \\sigma^2 I,

from several starting points (restarts). All outputs and all restarts form one batch of
``[b, n, n]`` matrices, factorised by one batched Cholesky per optimiser step; the batch is cut
into chunks so that memory stays bounded. The best restart of each output (highest marginal
likelihood) is kept.

Why not GPyTorch: above 800 training points its exact GP switches by default to conjugate
gradients with stochastic log-determinant estimates, which makes the marginal likelihood
approximate and random; the batched restarts, the noise floor and the joint posterior draws
needed here take a few lines on top of ``torch.linalg.cholesky``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from pdeml.gp.kernels import KERNELS, covariance
from pdeml.training.config import check_device, default_device

MEANS = ("constant", "zero")
OPTIMIZERS = ("lbfgs", "adam")
#: Bounds of the log hyperparameters (inputs and targets are standardised): a lengthscale of
#: e^7 ≈ 1100 standard deviations already makes an input irrelevant, and bounding keeps a flat
#: direction from drifting to overflow.
_LOG_LENGTHSCALE = (-7.0, 7.0)
_LOG_OUTPUTSCALE = (-12.0, 8.0)
_LOG_NOISE = (-30.0, 2.0)
#: Elements of the ``[b, n, n]`` kernel batch per optimisation chunk (float64: 8 bytes each;
#: autograd keeps a few copies, so about 1 GB at most).
_CHUNK_ELEMENTS = 2 * 10**7


def _cholesky(matrix: torch.Tensor) -> torch.Tensor:
    """Batched Cholesky factor; adds growing jitter to the matrices that are not positive
    definite in floating point (relative to their mean diagonal) instead of failing."""
    factor, info = torch.linalg.cholesky_ex(matrix)
    if not bool((info > 0).any()):
        return factor
    scale = matrix.diagonal(dim1=-2, dim2=-1).mean(-1).abs().clamp_min(1e-300)
    eye = torch.eye(matrix.shape[-1], dtype=matrix.dtype, device=matrix.device)
    for jitter in (1e-10, 1e-8, 1e-6, 1e-4):
        failed = (info > 0).to(matrix.dtype)
        shifted = matrix + (failed * jitter * scale)[:, None, None] * eye
        factor, info2 = torch.linalg.cholesky_ex(shifted)
        if not bool((info2 > 0).any()):
            return factor
    raise ValueError("kernel matrix is not positive definite even with jitter 1e-4")


def negative_log_marginal_likelihood(
    kernel: str,
    x: torch.Tensor,
    y: torch.Tensor,
    lengthscale: torch.Tensor,
    outputscale: torch.Tensor,
    noise: torch.Tensor,
    constant: torch.Tensor,
) -> torch.Tensor:
    """``-log p(y)`` of each GP in a batch (the formula in the module docstring).

    Parameters
    ----------
    kernel : {"matern52", "rbf"}
    x : torch.Tensor, shape [n, d]
        Training inputs (shared by the batch).
    y : torch.Tensor, shape [b, n]
        Targets of each GP.
    lengthscale : torch.Tensor, shape [b, d]
    outputscale, noise, constant : torch.Tensor, shape [b]
        Signal variance ``s²``, noise variance ``σ²`` and constant mean ``c``.

    Returns
    -------
    torch.Tensor, shape [b]
    """
    n = x.shape[0]
    k = covariance(kernel, x, x, lengthscale, outputscale)
    k = k + noise[:, None, None] * torch.eye(n, dtype=x.dtype, device=x.device)
    factor = _cholesky(k)
    residual = (y - constant[:, None]).unsqueeze(-1)
    white = torch.linalg.solve_triangular(factor, residual, upper=False)
    fit = 0.5 * (white * white).sum((-1, -2))
    logdet = torch.log(factor.diagonal(dim1=-2, dim2=-1)).sum(-1)
    return fit + logdet + 0.5 * n * math.log(2.0 * math.pi)


def _check_array(name: str, value: Any, ndim: tuple[int, ...]) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a numeric array, got {type(value).__name__}") from None
    if array.ndim not in ndim:
        raise ValueError(f"{name}: expected {' or '.join(map(str, ndim))} axes, got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return array


class GaussianProcess:
    """Exact GP regression with independent outputs and marginal-likelihood training.

    Parameters
    ----------
    kernel : {"matern52", "rbf"}
        Anisotropic (ARD) Matérn-5/2 or squared-exponential kernel.
    mean : {"constant", "zero"}
        Learned constant mean per output, or zero mean (targets are standardised first).
    restarts : int
        Optimisation runs from different starting points per output; the best is kept.
        The first starts from lengthscales ``√d``, unit signal and noise 1e-2 (standardised
        units), the others from seeded random values around it.
    max_iter : int
        Iterations of the optimiser per run.
    noise_floor : float
        Smallest noise variance, in standardised target units (keeps ``K`` invertible).
    seed : int
        Seed of the random restarts.
    device : str, optional
        Torch device; default CUDA when present, else CPU. Computations are float64.
    optimizer : {"lbfgs", "adam"}
        L-BFGS with strong Wolfe line search, or Adam (learning rate 0.05).

    Attributes
    ----------
    nlml : numpy.ndarray, shape [m]
        Negative log marginal likelihood per training point of each output at the optimum
        (standardised units).

    Examples
    --------
    >>> import numpy as np
    >>> from pdeml.gp import GaussianProcess
    >>> x = np.linspace(0, 1, 20)[:, None]
    >>> gp = GaussianProcess(restarts=1).fit(x, np.sin(6 * x))
    >>> mean, var = gp.predict(np.array([[0.5]]))
    >>> bool(abs(mean[0, 0] - np.sin(3.0)) < 1e-2)
    True
    """

    def __init__(
        self,
        kernel: str = "matern52",
        mean: str = "constant",
        restarts: int = 3,
        max_iter: int = 200,
        noise_floor: float = 1e-8,
        seed: int = 0,
        device: str | None = None,
        optimizer: str = "lbfgs",
    ) -> None:
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
        if mean not in MEANS:
            raise ValueError(f"mean must be one of {MEANS}, got {mean!r}")
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
        for name, value, low in (("restarts", restarts, 1), ("max_iter", max_iter, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if not isinstance(noise_floor, (int, float)) or not 0.0 < noise_floor < 1.0:
            raise ValueError(f"noise_floor must be a number in (0, 1), got {noise_floor!r}")
        self.kernel, self.mean, self.optimizer = kernel, mean, optimizer
        self.restarts, self.max_iter, self.seed = int(restarts), int(max_iter), int(seed)
        self.noise_floor = float(noise_floor)
        # A device this machine lacks is one clear line here, not a CUDA traceback later.
        self.device = check_device(device) if device is not None else torch.device(default_device())
        self.fitted = False

    # -- training -------------------------------------------------------------------------
    def fit(self, X: Any, Y: Any) -> GaussianProcess:
        """Fit hyperparameters and the posterior to inputs ``X [n, d]``, targets ``Y [n, m]``
        (a 1D ``Y`` is one output); return ``self``."""
        x = _check_array("X", X, (2,))
        y = _check_array("Y", Y, (1, 2))
        y = y[:, None] if y.ndim == 1 else y
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"X and Y: expected the same number of rows, got {len(x)}, {len(y)}")
        if x.shape[0] < 2:
            raise ValueError(f"X: expected at least 2 training points, got {x.shape[0]}")
        self.x_mean = x.mean(0)
        self.x_std = np.where(x.std(0) > 0, x.std(0), 1.0)
        self.y_mean = y.mean(0)
        self.y_std = np.where(y.std(0) > 0, y.std(0), 1.0)
        xs = self._tensor((x - self.x_mean) / self.x_std)
        ys = self._tensor((y - self.y_mean) / self.y_std).T.contiguous()
        n = xs.shape[0]
        m = ys.shape[0]
        per_chunk = max(1, _CHUNK_ELEMENTS // (self.restarts * n * n))
        parts = [self._optimise(xs, ys[j : j + per_chunk], j) for j in range(0, m, per_chunk)]
        params = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
        self._set_posterior(xs, ys, params)
        return self

    def _initial(self, m: int, d: int, first: int) -> dict[str, torch.Tensor]:
        """Starting raw parameters ``[restarts * m, ...]``, restart-major; output ``first + j``
        gets the same starts whatever the chunking (its own seeded stream)."""
        values = np.zeros((self.restarts, m, d + 3))
        values[0, :, :d] = 0.5 * math.log(d)
        values[0, :, d + 1] = math.log(1e-2)
        for j in range(m):
            rng = np.random.default_rng([self.seed, first + j])
            for r in range(1, self.restarts):
                values[r, j, :d] = 0.5 * math.log(d) + rng.uniform(-1.5, 1.5, d)
                values[r, j, d] = rng.uniform(-1.0, 1.0)
                values[r, j, d + 1] = rng.uniform(math.log(1e-6), math.log(1e-1))
        flat = self._tensor(values.reshape(self.restarts * m, d + 3))
        return {
            "log_lengthscale": flat[:, :d].clone(),
            "log_outputscale": flat[:, d].clone(),
            "log_noise": flat[:, d + 1].clone(),
            "constant": flat[:, d + 2].clone(),
        }

    def _constrained(self, raw: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        constant = raw["constant"] if self.mean == "constant" else torch.zeros_like(raw["constant"])
        return {
            "lengthscale": raw["log_lengthscale"].clamp(*_LOG_LENGTHSCALE).exp(),
            "outputscale": raw["log_outputscale"].clamp(*_LOG_OUTPUTSCALE).exp(),
            "noise": self.noise_floor + raw["log_noise"].clamp(*_LOG_NOISE).exp(),
            "constant": constant,
        }

    def _loss(self, xs: torch.Tensor, ys: torch.Tensor, raw: Mapping[str, torch.Tensor]):
        return (
            negative_log_marginal_likelihood(self.kernel, xs, ys, **self._constrained(raw))
            / xs.shape[0]
        )

    def _optimise(self, xs: torch.Tensor, ys: torch.Tensor, first: int) -> dict[str, torch.Tensor]:
        m, (_, d) = ys.shape[0], xs.shape
        raw = self._initial(m, d, first)
        for value in raw.values():
            value.requires_grad_(True)
        targets = ys.repeat(self.restarts, 1)
        params = list(raw.values()) if self.mean == "constant" else list(raw.values())[:3]
        if self.optimizer == "lbfgs":
            # The objectives of the batch members are independent, so their sum has a
            # block-diagonal Hessian and one L-BFGS run minimises all of them.
            opt = torch.optim.LBFGS(
                params,
                lr=1.0,
                max_iter=self.max_iter,
                history_size=20,
                tolerance_grad=1e-9,
                tolerance_change=1e-12,
                line_search_fn="strong_wolfe",
            )

            def closure() -> torch.Tensor:
                opt.zero_grad()
                loss = self._loss(xs, targets, raw).sum()
                loss.backward()
                return loss

            opt.step(closure)
        else:
            opt = torch.optim.Adam(params, lr=0.05)
            for _ in range(self.max_iter):
                opt.zero_grad()
                self._loss(xs, targets, raw).sum().backward()
                opt.step()
        with torch.no_grad():
            final = self._loss(xs, targets, raw).reshape(self.restarts, m)
            final = torch.where(torch.isfinite(final), final, torch.inf)
            best = final.argmin(0)
            pick = best * m + torch.arange(m, device=best.device)
            return {k: v.detach()[pick] for k, v in raw.items()} | {"nlml": final.min(0).values}

    # -- posterior ------------------------------------------------------------------------
    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(array), dtype=torch.float64, device=self.device)

    def _set_posterior(
        self, xs: torch.Tensor, ys: torch.Tensor, params: Mapping[str, torch.Tensor]
    ) -> None:
        self._xs, self._ys = xs, ys
        self._raw = {k: v for k, v in params.items() if k != "nlml"}
        self.nlml = params["nlml"].cpu().numpy()
        p = self._constrained(self._raw)
        self._params = p
        n = xs.shape[0]
        k = covariance(self.kernel, xs, xs, p["lengthscale"], p["outputscale"])
        k = k + p["noise"][:, None, None] * torch.eye(n, dtype=xs.dtype, device=xs.device)
        self._factor = _cholesky(k)
        residual = (ys - p["constant"][:, None]).unsqueeze(-1)
        self._alpha = torch.cholesky_solve(residual, self._factor).squeeze(-1)
        self.fitted = True

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise ValueError("GaussianProcess is not fitted; call fit(X, Y) first")

    def _query(self, X: Any) -> torch.Tensor:
        self._require_fitted()
        x = _check_array("X", X, (2,))
        if x.shape[1] != len(self.x_mean):
            raise ValueError(f"X: expected {len(self.x_mean)} columns, got {x.shape[1]}")
        return self._tensor((x - self.x_mean) / self.x_std)

    def _latent(self, xq: torch.Tensor, covariances: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Standardised latent mean ``[m, q]`` and variance ``[m, q]`` (or covariance
        ``[m, q, q]``) at standardised queries."""
        p = self._params
        cross = covariance(self.kernel, self._xs, xq, p["lengthscale"], p["outputscale"])
        mean = p["constant"][:, None] + (cross * self._alpha.unsqueeze(-1)).sum(-2)
        v = torch.linalg.solve_triangular(self._factor, cross, upper=False)
        if covariances:
            prior = covariance(self.kernel, xq, xq, p["lengthscale"], p["outputscale"])
            return mean, prior - v.transpose(-1, -2) @ v
        return mean, (p["outputscale"][:, None] - (v * v).sum(-2)).clamp_min(0.0)

    @torch.no_grad()
    def predict(
        self, X: Any, noise: bool = False, batch_size: int = 2048
    ) -> tuple[np.ndarray, np.ndarray]:
        """Predictive mean and variance at ``X [q, d]``, each ``[q, m]``, in target units.

        Parameters
        ----------
        X : array_like, shape [q, d]
        noise : bool
            False (default): variance of the latent function ``f``; True: of a new noisy
            observation ``y = f + ε`` (adds the learned noise variance).
        batch_size : int
            Query points per batch (bounds the ``[m, n, q]`` cross-covariance).
        """
        xq = self._query(X)
        means, variances = [], []
        for start in range(0, xq.shape[0], batch_size):
            mean, var = self._latent(xq[start : start + batch_size], covariances=False)
            if noise:
                var = var + self._params["noise"][:, None]
            means.append(mean)
            variances.append(var)
        mean = torch.cat(means, 1).T.cpu().numpy() if means else np.zeros((0, len(self.y_mean)))
        var = torch.cat(variances, 1).T.cpu().numpy() if variances else np.zeros_like(mean)
        return mean * self.y_std + self.y_mean, var * self.y_std**2

    @torch.no_grad()
    def sample(self, X: Any, n_samples: int, seed: int = 0, noise: bool = False) -> np.ndarray:
        """Joint draws from the posterior at ``X [q, d]``: array ``[n_samples, q, m]``.

        Draws are joint over the query points of each output (outputs are independent).
        ``noise=True`` draws noisy observations instead of the latent function.
        """
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
        if n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
        xq = self._query(X)
        q = xq.shape[0]
        mean, cov = self._latent(xq, covariances=True)
        eye = torch.eye(q, dtype=cov.dtype, device=cov.device)
        if noise:
            cov = cov + self._params["noise"][:, None, None] * eye
        # The posterior covariance is positive semi-definite but often singular in floating
        # point: _cholesky adds jitter (from 1e-10 of its mean diagonal) only where needed,
        # so the draws keep the predictive variance even when it is tiny.
        factor = _cholesky(0.5 * (cov + cov.transpose(-1, -2)))
        generator = torch.Generator(device="cpu").manual_seed(int(seed))
        z = torch.randn(n_samples, *mean.shape, 1, generator=generator, dtype=torch.float64)
        draws = mean.unsqueeze(0) + (factor.unsqueeze(0) @ z.to(self.device)).squeeze(-1)
        draws = draws.transpose(1, 2).cpu().numpy()
        return draws * self.y_std + self.y_mean

    # -- inspection and persistence -------------------------------------------------------
    def hyperparameters(self) -> dict[str, np.ndarray]:
        """Fitted hyperparameters in the units of ``X`` and ``Y``: ``lengthscale [m, d]``,
        ``outputscale [m]`` (signal variance), ``noise [m]`` (variance), ``constant [m]``."""
        self._require_fitted()
        p = {k: v.cpu().numpy() for k, v in self._params.items()}
        return {
            "lengthscale": p["lengthscale"] * self.x_std,
            "outputscale": p["outputscale"] * self.y_std**2,
            "noise": p["noise"] * self.y_std**2,
            "constant": p["constant"] * self.y_std + self.y_mean,
        }

    def state_dict(self) -> dict[str, Any]:
        """Tensors and plain values only: saves with ``torch.save`` and loads back with
        ``torch.load(..., weights_only=True)``."""
        self._require_fitted()
        arrays = {
            "x_mean": self.x_mean,
            "x_std": self.x_std,
            "y_mean": self.y_mean,
            "y_std": self.y_std,
            "nlml": self.nlml,
        }
        return {
            "config": {
                "kernel": self.kernel,
                "mean": self.mean,
                "restarts": self.restarts,
                "max_iter": self.max_iter,
                "noise_floor": self.noise_floor,
                "seed": self.seed,
                "optimizer": self.optimizer,
            },
            "x_train": self._xs.cpu(),
            "y_train": self._ys.cpu(),
            "raw": {k: v.cpu() for k, v in self._raw.items()},
            **{k: torch.as_tensor(v) for k, v in arrays.items()},
        }

    @classmethod
    def from_state_dict(
        cls, state: Mapping[str, Any], device: str | None = None
    ) -> GaussianProcess:
        """Rebuild a fitted GP from :meth:`state_dict` (the posterior is refactorised)."""
        try:
            gp = cls(**state["config"], device=device)
            for key in ("x_mean", "x_std", "y_mean", "y_std"):
                setattr(gp, key, np.asarray(state[key], dtype=np.float64))
            xs, ys = gp._tensor(state["x_train"]), gp._tensor(state["y_train"])
            raw = {k: gp._tensor(v) for k, v in state["raw"].items()}
            raw["nlml"] = torch.as_tensor(np.asarray(state["nlml"]))
        except KeyError as error:
            raise ValueError(f"GaussianProcess state: missing entry {error}") from None
        gp._set_posterior(xs, ys, raw)
        return gp
