"""Proper orthogonal decomposition (POD) of snapshots with a mass-matrix inner product.

For snapshots ``u_1 .. u_n`` of a field on one mesh, centred by their mean, the POD modes
are orthonormal in ``<u, v>_M = uᵀ M v`` (M the P1 mass matrix, so that the modes are
orthonormal in L2 of the domain whatever the mesh density) and best approximate the
snapshots in that norm. They come from the method of snapshots (L. Sirovich, *Turbulence and
the dynamics of coherent structures*, Q. Appl. Math. 45, 1987): the eigenvectors ``v_k`` of
the ``n × n`` correlation matrix ``C_ij = <u_i, u_j>_M`` give ``φ_k = Σ_i v_ki u_i / √λ_k``.
With ``M = I`` this is the PCA of the snapshots.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse


def check_modes(name: str, value: Any) -> int | float:
    """Validate a number of modes (int >= 1) or an energy fraction (float in (0, 1])."""
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected an int >= 1 or a fraction in (0, 1], got {value!r}")
    if isinstance(value, (int, np.integer)) and value >= 1:
        return int(value)
    if isinstance(value, (float, np.floating)) and 0.0 < value <= 1.0:
        return float(value)
    raise ValueError(f"{name}: expected an int >= 1 or a fraction in (0, 1], got {value!r}")


class POD:
    """POD basis of a set of snapshots.

    Parameters
    ----------
    modes : int or float
        Number of modes kept, or (a float in (0, 1]) the smallest number whose eigenvalues
        hold that fraction of the snapshot variance. Capped by the rank of the snapshots.

    Attributes
    ----------
    mean : numpy.ndarray, [N, ...]
        Mean snapshot.
    basis : numpy.ndarray, [k, N, ...]
        M-orthonormal modes.
    eigenvalues : numpy.ndarray, [k]
        Variance of the snapshots along each mode (``λ_k / n``), decreasing.
    energy : float
        Fraction of the snapshot variance the kept modes hold.
    """

    def __init__(self, modes: int | float = 0.9999) -> None:
        self.modes = check_modes("modes", modes)

    def fit(self, snapshots: np.ndarray, mass: scipy.sparse.spmatrix | None = None) -> POD:
        """Compute the basis of ``snapshots [n, N]`` or ``[n, N, c]`` (c components, each with
        the same mass matrix ``[N, N]``; ``None`` is the identity)."""
        x = np.asarray(snapshots, dtype=np.float64)
        if x.ndim not in (2, 3) or len(x) < 2:
            raise ValueError(f"snapshots: expected shape (n >= 2, N) or (n, N, c), got {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("snapshots: contain NaN or infinite values")
        if mass is not None and mass.shape != (x.shape[1], x.shape[1]):
            raise ValueError(f"mass: expected shape {(x.shape[1],) * 2}, got {mass.shape}")
        self.mean = x.mean(0)
        centred = x - self.mean
        weighted = self._apply_mass(centred, mass)
        corr = centred.reshape(len(x), -1) @ weighted.reshape(len(x), -1).T
        values, vectors = np.linalg.eigh(0.5 * (corr + corr.T))
        values, vectors = values[::-1], vectors[:, ::-1]
        # Directions below round-off of the largest eigenvalue are not modes of the data.
        rank = int(np.sum(values > max(values[0], 0.0) * 1e-12)) if values[0] > 0 else 0
        if rank == 0:
            raise ValueError("snapshots: all equal; there is nothing to decompose")
        total = values[:rank].sum()
        if isinstance(self.modes, int):
            k = min(self.modes, rank)
        else:
            k = int(np.searchsorted(np.cumsum(values[:rank]) / total, self.modes - 1e-12) + 1)
            k = min(k, rank)
        self.eigenvalues = values[:k] / len(x)
        self.energy = float(values[:k].sum() / total)
        flat = vectors[:, :k].T @ centred.reshape(len(x), -1) / np.sqrt(values[:k])[:, None]
        self.basis = flat.reshape(k, *x.shape[1:])
        # Encoding is <u - mean, φ_k>_M = (u - mean) · (M φ_k): keep M φ_k.
        self.dual = self._apply_mass(self.basis, mass)
        return self

    @staticmethod
    def _apply_mass(x: np.ndarray, mass: scipy.sparse.spmatrix | None) -> np.ndarray:
        if mass is None:
            return x
        if x.ndim == 2:
            return (mass @ x.T).T
        n, size, c = x.shape
        return (
            (mass @ x.transpose(1, 0, 2).reshape(size, n * c))
            .reshape(size, n, c)
            .transpose(1, 0, 2)
        )

    @property
    def n_modes(self) -> int:
        return len(self.basis)

    def encode(self, fields: np.ndarray) -> np.ndarray:
        """Coefficients ``[n, k]`` of ``fields [n, N(, c)]``."""
        x = np.asarray(fields, dtype=np.float64) - self.mean
        return x.reshape(len(x), -1) @ self.dual.reshape(self.n_modes, -1).T

    def decode(self, coefficients: np.ndarray) -> np.ndarray:
        """Fields ``[n, N(, c)]`` from coefficients ``[n, k]``."""
        c = np.asarray(coefficients, dtype=np.float64)
        flat = c @ self.basis.reshape(self.n_modes, -1)
        return flat.reshape(len(c), *self.mean.shape) + self.mean

    def state(self) -> dict[str, np.ndarray]:
        """Arrays that rebuild the basis with :meth:`from_state`."""
        return {
            "mean": self.mean,
            "basis": self.basis,
            "dual": self.dual,
            "eigenvalues": self.eigenvalues,
            "energy": np.asarray(self.energy),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> POD:
        """Rebuild a fitted basis from :meth:`state` (arrays or tensors)."""
        pod = cls(len(state["basis"]))
        for key in ("mean", "basis", "dual", "eigenvalues"):
            setattr(pod, key, np.asarray(state[key], dtype=np.float64))
        pod.energy = float(np.asarray(state["energy"]))
        return pod
