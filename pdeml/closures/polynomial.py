"""Local closures that the numba RK4 kernel evaluates itself: none, and a polynomial in X_k.

The polynomial is the classic deterministic parametrisation of the two-scale Lorenz96
system: ``c(X)_k = Σ_p a_p X_k^p``, the same coefficients at every site, fitted by least
squares to the coupling term recorded by the resolved model (Wilks 2005 uses degree 4;
Arnold et al. 2013 use degree 3).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from pdeml.closures.base import Closure, register_closure


def horner(coefficients: np.ndarray | list[float], x: Any) -> Any:
    """``Σ_p a_p x^p`` by Horner's rule (numpy arrays or torch tensors alike).

    The numba kernel of the hybrid solver uses the same order of operations, so all
    evaluation paths round alike.
    """
    acc = x * 0 + coefficients[-1]
    for a in coefficients[-2::-1]:
        acc = acc * x + a
    return acc


@register_closure
class ZeroClosure(Closure):
    """No closure, ``c(X) = 0``: the single-scale Lorenz96 model (a baseline).

    Needs no training; :meth:`fit` only checks its arguments.
    """

    name = "none"

    def __init__(self) -> None:
        super().__init__()
        self._set_hyperparameters({})
        self.fitted = True

    def _fit(self, X: np.ndarray, coupling: np.ndarray) -> None:
        pass

    def _numpy_call(self, X: np.ndarray) -> np.ndarray:
        return np.zeros_like(X)

    def torch_call(self, X: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(X)

    def polynomial_coefficients(self) -> np.ndarray:
        return np.zeros(1)

    def parameter_count(self) -> int:
        return 0

    def _state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        return {}, {}

    def _set_state(self, state: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        pass


@register_closure
class PolynomialClosure(Closure):
    """``c(X)_k = Σ_{p=0}^{degree} a_p X_k^p``, fitted by linear least squares.

    Parameters
    ----------
    degree : int
        Degree of the polynomial (>= 0); 4 is the choice of Wilks (2005).

    Attributes
    ----------
    coefficients : numpy.ndarray
        ``a_0 … a_degree`` after fitting (increasing powers).

    Notes
    -----
    The fit maps ``X`` to ``[-1, 1]`` before building the Vandermonde matrix
    (``numpy.polynomial.Polynomial.fit``), which keeps the least-squares problem well
    conditioned for ``|X|`` up to ~20, then converts back to plain powers of ``X``.
    """

    name = "polynomial"

    def __init__(self, degree: int = 4) -> None:
        super().__init__()
        if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or degree < 0:
            raise ValueError(f"degree must be an integer >= 0, got {degree!r}")
        self.degree = int(degree)
        self._set_hyperparameters({"degree": self.degree})
        self.coefficients = np.zeros(self.degree + 1)

    def _fit(self, X: np.ndarray, coupling: np.ndarray) -> None:
        x, y = X.ravel(), coupling.ravel()
        if np.unique(x).size <= self.degree:
            raise ValueError(
                f"need more than degree = {self.degree} distinct values of X to fit, "
                f"got {np.unique(x).size}"
            )
        fitted = np.polynomial.Polynomial.fit(x, y, self.degree).convert().coef
        coefficients = np.zeros(self.degree + 1)
        coefficients[: fitted.size] = fitted
        self.coefficients = coefficients

    def _numpy_call(self, X: np.ndarray) -> np.ndarray:
        return horner(self.coefficients, X)

    def torch_call(self, X: torch.Tensor) -> torch.Tensor:
        self._require_fitted()
        return horner(self.coefficients.tolist(), X)

    def polynomial_coefficients(self) -> np.ndarray:
        self._require_fitted()
        return self.coefficients.copy()

    def parameter_count(self) -> int:
        self._require_fitted()
        return self.coefficients.size

    def _state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        # JSON keeps float64 exactly (repr round-trips), so the loaded closure is identical.
        return {"coefficients": self.coefficients.tolist()}, {}

    def _set_state(self, state: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        coefficients = np.asarray(state["coefficients"], dtype=np.float64)
        if coefficients.shape != (self.degree + 1,):
            raise ValueError(
                f"coefficients: expected {self.degree + 1} values for degree {self.degree}, "
                f"got {coefficients.shape}"
            )
        self.coefficients = coefficients
