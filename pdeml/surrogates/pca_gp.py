"""PCA-GP, ``"pca-gp"``: Gaussian-process regression between principal components of the
input and output fields of a grid problem (Darcy, Burgers).

The input fields of a sample are flattened and concatenated, centred and projected on their
leading principal components; each output field likewise on its own. One exact GP per output
coefficient (:class:`pdeml.gp.GaussianProcess`, trained as one batch) maps the input
coefficients to the output coefficients (Bhattacharya, Hosseini, Kovachki & Stuart, *Model
reduction and neural networks for parametric PDEs*, SMAI J. Comput. Math. 7, 2021, use this
PCA encoding with networks; a GP in between is the classic emulator of Higdon et al., JASA
103, 2008). Back on the grid, the predictive mean is ``ū + Σ_k μ_k φ_k`` and the variance

.. math::

    \\mathrm{var}(x) = \\sum_k \\sigma_k^2\\, \\varphi_k(x)^2 \\; [+\\; r(x)],

exact for independent Gaussian coefficients; ``r(x)``, added when ``residual_variance`` is
set, is the mean square of the PCA truncation residual of the training outputs at ``x``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pdeml.gp import GaussianProcess
from pdeml.mesh.pod import POD, check_modes
from pdeml.problems.base import Problem
from pdeml.protocols import DatasetLike
from pdeml.surrogates.base import register_surrogate
from pdeml.surrogates.gp_base import GPSurrogate
from pdeml.training.checkpoint import load_checkpoint, save_checkpoint

STATE = "pca_gp.pt"


@register_surrogate
class PCAGPSurrogate(GPSurrogate):
    """GP regression between PCA coefficients of input and output fields on a grid.

    Parameters
    ----------
    problem : Problem
        A grid problem whose fields all end with its spatial dimensions (Darcy2D,
        Burgers1D, ...).
    input_modes, output_modes : int or float
        Principal components kept, as a number or as a fraction of the training variance.
    kernel : {"matern52", "rbf"}
        GP kernel (ARD: one lengthscale per input component).
    predictive_noise : bool
        Include the learned noise variance of the coefficients in the predictive variance.
    residual_variance : bool
        Add the mean square truncation residual of the training outputs (see module).

    Notes
    -----
    The marginal-likelihood optimisation (``restarts``, ``max_iter``, ``seed``) is set in
    :meth:`fit`.
    """

    name = "pca-gp"

    def __init__(
        self,
        problem: Problem,
        input_modes: int | float = 16,
        output_modes: int | float = 16,
        kernel: str = "matern52",
        predictive_noise: bool = True,
        residual_variance: bool = True,
    ) -> None:
        super().__init__(
            problem,
            kernel,
            predictive_noise=predictive_noise,
            residual_variance=residual_variance,
        )
        self.shapes = {k: self._grid_shape(problem, k) for k in problem.field_names}
        self._set_hyperparameters(
            {
                "input_modes": check_modes("input_modes", input_modes),
                "output_modes": check_modes("output_modes", output_modes),
                "kernel": kernel,
                "predictive_noise": predictive_noise,
                "residual_variance": residual_variance,
            }
        )

    @staticmethod
    def _grid_shape(problem: Problem, name: str) -> tuple[int, ...]:
        """Shape of one sample of ``name``; refuses fields not laid out on the grid."""
        try:
            spatial = tuple(problem.spatial_dims())
            dims = tuple(problem.field_dims(name))
        except (NotImplementedError, ValueError, AttributeError):
            spatial, dims = (), ()
        if not spatial or dims[len(dims) - len(spatial) :] != spatial:
            raise ValueError(
                f"pca-gp: field {name!r} of problem {problem.name!r} is not a field on the "
                "problem's grid; the pca-gp surrogate serves grid problems (darcy, burgers); "
                "use 'mmgp' for problems on varying meshes"
            )
        return problem.field_shape(name)

    def _flat(
        self, data: Mapping[str, np.ndarray], names: tuple[str, ...], argument: str
    ) -> np.ndarray:
        missing = [k for k in names if k not in data]
        if missing:
            raise ValueError(f"{argument}: missing fields {missing}")
        parts = []
        for k in names:
            array = np.asarray(data[k], dtype=np.float64)
            if array.shape[1:] != self.shapes[k]:
                raise ValueError(
                    f"{argument}[{k!r}]: expected shape (n, {', '.join(map(str, self.shapes[k]))})"
                    f", got {array.shape}; pca-gp predicts at the resolution it was trained at"
                )
            parts.append(array.reshape(len(array), -1))
        return np.hstack(parts)

    def fit(  # type: ignore[override]  # its options by name: fit_option_names()
        self,
        train: DatasetLike,
        valid: DatasetLike | None = None,
        *,
        restarts: int = 3,
        max_iter: int = 200,
        seed: int = 0,
        device: str | None = None,
        progress: bool = True,
    ) -> PCAGPSurrogate:
        """Learn from a :class:`pdeml.Dataset`. Returns ``self``.

        Parameters
        ----------
        train : pdeml.Dataset
            Training data.
        valid : pdeml.Dataset, optional
            Not used (a GP has no epochs to monitor); accepted for the common interface.
        restarts, max_iter : int
            Marginal-likelihood optimisation: restarts per output and L-BFGS iterations.
        seed : int
            Seed of the restarts.
        device : str, optional
            Torch device of the GP (default: CUDA when available, else CPU).
        progress : bool
            Accepted and ignored (the runner and the CLI pass it to every surrogate).
        """
        self._start_fit(train, restarts, max_iter, seed, device)
        h = self.hyperparameters
        x = self._flat(train.inputs, self.problem.input_names, "train")
        outputs = train.outputs
        self.input_pca = POD(h["input_modes"]).fit(x)
        self.output_pcas, self.residual_var, columns = {}, {}, []
        for k in self.problem.output_names:
            y = self._flat(outputs, (k,), "train")
            pca = POD(h["output_modes"]).fit(y)
            coefficients = pca.encode(y)
            self.residual_var[k] = np.mean((y - pca.decode(coefficients)) ** 2, axis=0)
            self.output_pcas[k] = pca
            columns.append(coefficients)
        self.gp.fit(self.input_pca.encode(x), np.hstack(columns))
        self.fitted = True
        return self

    def solve(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Predictive mean of every output field, ``[n, *field shape]``."""
        return self._predict(inputs, uncertainty=False)[0]

    def solve_with_uncertainty(
        self, inputs: Mapping[str, np.ndarray]
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Predictive mean and variance of every output field (see the module docstring)."""
        return self._mean_and_variance(inputs)

    def _predict_checked(
        self, inputs: dict[str, np.ndarray], uncertainty: bool
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None]:
        h = self.hyperparameters
        x = self.input_pca.encode(self._flat(inputs, self.problem.input_names, "inputs"))
        mean_c, var_c = self.gp.predict(x, noise=h["predictive_noise"])
        mean, var, start = {}, {}, 0
        for k in self.problem.output_names:
            pca = self.output_pcas[k]
            stop = start + pca.n_modes
            shape = (len(x), *self.shapes[k])
            mean[k] = pca.decode(mean_c[:, start:stop]).reshape(shape)
            if uncertainty:
                basis = pca.basis.reshape(pca.n_modes, -1)
                v = var_c[:, start:stop] @ (basis * basis)
                if h["residual_variance"]:
                    v = v + self.residual_var[k]
                var[k] = v.reshape(shape)
            start = stop
        return mean, (var if uncertainty else None)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        if self.fitted:
            out["modes"] = {
                "inputs": self.input_pca.n_modes,
                **{k: p.n_modes for k, p in self.output_pcas.items()},
            }
        return out

    def _save_state(self, folder: Path) -> dict[str, Any]:
        import torch

        def tensors(pca: POD) -> dict[str, Any]:
            return {k: torch.as_tensor(v) for k, v in pca.state().items()}

        state = {
            "gp": self.gp.state_dict(),
            "input_pca": tensors(self.input_pca),
            "output_pcas": {k: tensors(p) for k, p in self.output_pcas.items()},
            "residual_var": {k: torch.as_tensor(v) for k, v in self.residual_var.items()},
        }
        save_checkpoint(folder / STATE, state)
        return {
            "training": self.training,
            "modes": self.describe()["modes"],
            "grid_points": math.prod(self.shapes[self.problem.output_names[0]]),
        }

    def _load_state(self, folder: Path, config: dict[str, Any]) -> None:
        state = load_checkpoint(folder / STATE)
        try:
            self.gp = GaussianProcess.from_state_dict(state["gp"])
            self.input_pca = POD.from_state(state["input_pca"])
            names = self.problem.output_names
            self.output_pcas = {k: POD.from_state(state["output_pcas"][k]) for k in names}
            self.residual_var = {
                k: np.asarray(state["residual_var"][k], dtype=np.float64) for k in names
            }
        except KeyError as error:
            raise ValueError(f"{folder / STATE}: missing entry {error}") from None
        self._load_training(config)
