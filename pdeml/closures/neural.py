"""What the network closures share: normalisation inside the model, training by the Trainer.

A network closure holds one ``nn.Module`` that maps raw slow states ``[n, K]`` to raw
closure terms ``[n, K]``. The normalisation (one mean and one standard deviation for ``X``
and for the coupling: every site of the ring is statistically alike) is kept as buffers of
that module, so the saved weights are the whole learned state and nothing else needs to
be stored. Training is :class:`pdeml.training.Trainer` with a mean-squared error divided by
the variance of the target (a loss near 1 means "no better than the mean").
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from scipy.special import erf, expit
from torch import nn

from pdeml._checks import check_float, check_int
from pdeml.closures.base import Closure
from pdeml.nn.fourier import ACTIVATIONS
from pdeml.training import Trainer, TrainerConfig


def _gelu(x: np.ndarray) -> np.ndarray:
    # The exact (erf) GELU, as torch.nn.GELU() computes by default: 0.5 x (1 + erf(x/√2)),
    # in place on one temporary (the erf dominates the fast paths' cost; fewer
    # temporaries saved a third of the rest, measured).
    t = x * (1.0 / math.sqrt(2.0))
    erf(t, out=t)
    t += 1.0
    t *= x
    t *= 0.5
    return t


#: NumPy twins of :data:`pdeml.nn.fourier.ACTIVATIONS`, for the inference fast paths.
NUMPY_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "gelu": _gelu,
    "relu": lambda x: np.maximum(x, 0.0),
    "tanh": np.tanh,
    "silu": lambda x: x * expit(x),
}


#: Activation codes of the compiled (numba) network kernel in
#: :mod:`pdeml.solvers.hybrid`: index in this tuple.
KERNEL_ACTIVATIONS = ("gelu", "relu", "tanh", "silu")


def float64_state(model: nn.Module) -> dict[str, np.ndarray]:
    """The module's parameters and buffers as float64 (complex128) numpy arrays."""
    out = {}
    for key, value in model.state_dict().items():
        value = value.detach().cpu()
        value = value.to(torch.complex128 if value.is_complex() else torch.float64)
        out[key] = value.numpy()
    return out


class Normalized(nn.Module):
    """``core`` wrapped in fixed affine maps: ``y = core((x − μx)/σx)·σy + μy``."""

    def __init__(self, core: nn.Module) -> None:
        super().__init__()
        self.core = core
        for name in ("x_mean", "y_mean"):
            self.register_buffer(name, torch.zeros(()))
        for name in ("x_std", "y_std"):
            self.register_buffer(name, torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.core((x - self.x_mean) / self.x_std) * self.y_std + self.y_mean


class NeuralClosure(Closure):
    """Base of closures that are torch networks; subclasses implement :meth:`_build`.

    Parameters
    ----------
    activation : str
        ``gelu``, ``relu``, ``tanh`` or ``silu`` (of :data:`pdeml.nn.fourier.ACTIVATIONS`).
    epochs : int
        Passes over the training snapshots.
    batch_size : int
        Snapshots per optimiser step.
    lr : float
        Peak learning rate of Adam (cosine schedule to zero).
    max_samples : int, optional
        Train on at most this many snapshots, drawn at random with ``seed`` (default: all).
    seed : int
        Seeds the initial weights, the subsample and the sample order.
    device : str, optional
        Where to train and evaluate (default: CUDA when available, else CPU).
    """

    def __init__(
        self,
        activation: str,
        epochs: int,
        batch_size: int,
        lr: float,
        max_samples: int | None,
        seed: int,
        device: str | None,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.activation = activation
        self.epochs = check_int("epochs", epochs, 1)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.lr = check_float("lr", lr, positive=True)
        self.max_samples = None if max_samples is None else check_int("max_samples", max_samples, 1)
        self.seed = check_int("seed", seed, 0)
        if device is not None and not str(device).startswith(("cpu", "cuda")):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")
        self.device = device
        self.model: Normalized | None = None
        # Inference fast paths, one per ring length K (built on first use, see inference).
        self._fast: dict[int, Callable[[np.ndarray], np.ndarray]] = {}

    def _training_hyperparameters(self) -> dict[str, Any]:
        """The activation and the training settings, as stored hyperparameters."""
        return {
            "activation": self.activation,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "max_samples": self.max_samples,
            "seed": self.seed,
            "device": self.device,
        }

    @abc.abstractmethod
    def _build(self) -> nn.Module:
        """The network on normalised data, ``[n, K] -> [n, K]`` (any ``K``)."""

    def _store(self, own: dict[str, Any]) -> None:
        """Keep the checked network hyperparameters ``own`` as attributes and store them,
        with the activation and the training settings, as the hyperparameters."""
        for key, value in own.items():
            setattr(self, key, value)
        self._set_hyperparameters({**own, **self._training_hyperparameters()})

    def _fast_path(
        self, state: dict[str, np.ndarray], K: int
    ) -> Callable[[np.ndarray], np.ndarray] | None:
        """The network as float64 numpy from its ``state`` on rings of ``K`` sites (None:
        no fast path, torch evaluates)."""
        return None

    def _build_inference(self, K: int) -> Callable[[np.ndarray], np.ndarray]:
        """A float64 numpy evaluator of the network on rings of ``K`` sites."""
        assert self.model is not None
        return self._fast_path(float64_state(self.model), K) or self._numpy_call

    def inference(self, K: int) -> Callable[[np.ndarray], np.ndarray]:
        """Float64 numpy evaluator built from the weights once per ``K`` and cached.

        It equals the torch forward up to round-off (the torch model runs in float32,
        this in float64; the tests compare them) and skips torch's per-call overhead,
        which dominates on the ``[members, K]`` batches of the hybrid solver.
        """
        super().inference(K)
        K = int(K)
        if K not in self._fast:
            self._fast[K] = self._build_inference(K)
        return self._fast[K]

    def _new_model(self) -> Normalized:
        torch.manual_seed(self.seed)
        return Normalized(self._build())

    def _fit(self, X: np.ndarray, coupling: np.ndarray) -> None:
        if self.max_samples is not None and X.shape[0] > self.max_samples:
            rng = np.random.default_rng(self.seed)
            keep = np.sort(rng.choice(X.shape[0], self.max_samples, replace=False))
            X, coupling = X[keep], coupling[keep]
        model = self._new_model()
        x = torch.as_tensor(X, dtype=torch.float32)
        y = torch.as_tensor(coupling, dtype=torch.float32)
        model.x_mean.fill_(float(x.mean()))
        model.x_std.fill_(max(float(x.std()), 1e-12))
        model.y_mean.fill_(float(y.mean()))
        model.y_std.fill_(max(float(y.std()), 1e-12))
        variance = float(model.y_std) ** 2

        def loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return torch.mean((pred - target) ** 2) / variance

        config = TrainerConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=0.0,
            scheduler="cosine",
            device=self.device,
            seed=self.seed,
            progress=False,
        )
        trainer = Trainer(config)
        self.history = trainer.fit(model, loss, (x, y))
        model.eval()
        self.model = model
        self._fast = {}

    def torch_call(self, X: torch.Tensor) -> torch.Tensor:
        self._require_fitted()
        assert self.model is not None
        device = next(self.model.parameters()).device
        with torch.no_grad():
            out = self.model(X.to(device=device, dtype=torch.float32))
        return out.to(device=X.device, dtype=X.dtype)

    def to(self, device: str | torch.device) -> NeuralClosure:
        if self.model is not None:
            self.model.to(device)
        return self

    def _state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        assert self.model is not None
        return {}, dict(self.model.state_dict())

    def _set_state(self, state: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        model = self._new_model()
        try:
            model.load_state_dict(tensors)
        except RuntimeError as error:
            raise ValueError(f"{self.name} closure: saved weights do not fit ({error})") from None
        model.eval()
        if self.device is not None or torch.cuda.is_available():
            model.to(self.device or "cuda")
        self.model = model
        self._fast = {}
