"""How far inputs lie from the training inputs: a Mahalanobis distance in PCA coordinates.

A surrogate is trusted where it was trained. :class:`InputDistance` learns the training
inputs' leading principal components and scores a new input by its Mahalanobis distance
in them, plus the part of it the components do not explain (the PCA residual, measured in
units of the training inputs' own residual), normalised so that a typical training input
scores about 1. It needs no surrogate and no solver: it complements the problems' error
indicators, which need a prediction, by saying when the input itself is unlike anything
the surrogate saw (a different correlation length, amplitude or regime).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

#: Default number of principal components.
DEFAULT_COMPONENTS = 16
#: Default quantile of the training scores that sets :attr:`InputDistance.threshold`.
DEFAULT_QUANTILE = 0.99
#: Folds of the cross-validated training scores behind the threshold.
_FOLDS = 5


def _flatten(inputs: Any, names: tuple[str, ...] | None = None) -> tuple[np.ndarray, tuple]:
    """``[n, features]`` from a mapping of fields (or an object with ``.inputs``)."""
    if not isinstance(inputs, Mapping):
        inputs = getattr(inputs, "inputs", inputs)
    if not isinstance(inputs, Mapping) or not inputs:
        raise TypeError(
            "inputs must be a dict mapping field name to array (sample axis first) or a "
            f"dataset, got {type(inputs).__name__}"
        )
    if names is None:
        names = tuple(sorted(inputs))
    missing = [k for k in names if k not in inputs]
    if missing:
        raise ValueError(f"inputs: missing field(s) {missing}; expected {list(names)}")
    arrays = [np.asarray(inputs[k], dtype=np.float64) for k in names]
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError("inputs: every field must have the same number of samples")
    flat = np.concatenate([a.reshape(n, -1) for a in arrays], axis=1)
    if not np.all(np.isfinite(flat)):
        raise ValueError("inputs contain NaN or infinite values; expected finite")
    return flat, names


class InputDistance:
    """Out-of-distribution score of inputs against training inputs (see the module).

    Parameters
    ----------
    components : int
        Leading principal components kept (at most ``n_train − 1``).
    quantile : float
        Quantile of the training inputs' own scores that :attr:`threshold` is set to.

    Attributes
    ----------
    threshold : float
        After :meth:`fit`: the ``quantile`` of the training inputs' scores, each scored
        by a fit without it (5-fold cross-validation; in-sample below 10 inputs), so that
        inputs from the training distribution exceed it about ``1 − quantile`` of the time.

    Examples
    --------
    >>> ood = InputDistance().fit(train)  # doctest: +SKIP
    >>> ood.score(test.inputs) > ood.threshold  # doctest: +SKIP
    """

    def __init__(
        self, components: int = DEFAULT_COMPONENTS, quantile: float = DEFAULT_QUANTILE
    ) -> None:
        if isinstance(components, bool) or not isinstance(components, (int, np.integer)):
            raise ValueError(f"components must be an integer >= 1, got {components!r}")
        if components < 1:
            raise ValueError(f"components must be an integer >= 1, got {components!r}")
        if isinstance(quantile, bool) or not isinstance(quantile, (int, float)):
            raise ValueError(f"quantile must be a number in (0, 1), got {quantile!r}")
        if not 0.0 < float(quantile) < 1.0:
            raise ValueError(f"quantile must be a number in (0, 1), got {quantile!r}")
        self.components = int(components)
        self.quantile = float(quantile)
        self.threshold = float("nan")
        self._names: tuple[str, ...] | None = None

    def fit(self, inputs: Any) -> InputDistance:
        """Learn the training inputs' distribution; returns ``self``.

        Parameters
        ----------
        inputs : dict or Dataset
            Training inputs, ``name -> [n, ...]`` (at least 3 samples), or a dataset.
        """
        flat, names = _flatten(inputs)
        n = len(flat)
        if n < 3:
            raise ValueError(f"inputs: expected at least 3 training samples, got {n}")
        self._names = names
        if n >= _FOLDS * 2:
            # In-sample scores are small where the components were fitted to the very
            # inputs scored (with 16 components and 20 inputs, much smaller): set the
            # threshold from scores of inputs each fit has not seen.
            held_out = np.empty(n)
            for fold in np.array_split(np.random.default_rng(0).permutation(n), _FOLDS):
                rest = np.setdiff1d(np.arange(n), fold)
                self._fit_arrays(flat[rest])
                held_out[fold] = self._score_arrays(flat[fold])
            self._fit_arrays(flat)
        else:
            self._fit_arrays(flat)
            held_out = self._score_arrays(flat)
        self.threshold = float(np.quantile(held_out, self.quantile))
        return self

    def _fit_arrays(self, flat: np.ndarray) -> None:
        n = len(flat)
        self._mean = flat.mean(axis=0)
        centred = flat - self._mean
        _, singular, vt = np.linalg.svd(centred, full_matrices=False)
        k = min(self.components, n - 1, len(singular))
        variances = singular[:k] ** 2 / (n - 1)
        keep = variances > 1e-12 * max(variances[0], 1e-300)
        self._basis = vt[:k][keep]
        self._variances = variances[keep]
        residual = centred - (centred @ self._basis.T) @ self._basis
        self._residual_scale = max(float(np.mean(np.sum(residual**2, axis=1))), 1e-300)

    def _score_arrays(self, flat: np.ndarray) -> np.ndarray:
        centred = flat - self._mean
        coords = centred @ self._basis.T
        residual = centred - coords @ self._basis
        squared = np.sum(coords**2 / self._variances, axis=1)
        squared += np.sum(residual**2, axis=1) / self._residual_scale
        return np.sqrt(squared / (len(self._variances) + 1))

    def score(self, inputs: Any) -> np.ndarray:
        """Distance of each input from the training inputs; about 1 for typical ones.

        ``sqrt((Σ z_i²/λ_i + ‖residual‖²/ρ) / (k + 1))`` with ``z`` the input's first ``k``
        principal coordinates, ``λ`` their training variances, and ``ρ`` the training
        inputs' mean squared PCA residual.
        """
        if self._names is None:
            raise RuntimeError("InputDistance: call fit(train_inputs) before score")
        flat, _ = _flatten(inputs, self._names)
        if flat.shape[1] != self._mean.shape[0]:
            raise ValueError(
                f"inputs: {flat.shape[1]} values per sample, expected {self._mean.shape[0]} "
                "as in the training inputs (same fields on the same grid)"
            )
        return self._score_arrays(flat)
