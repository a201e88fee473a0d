"""What the GP surrogates (``"pca-gp"``, ``"mmgp"``) share: the checks of the model
switches, and the start of ``fit``, where the marginal-likelihood settings are checked and
recorded.

The kernel and the variance switches are model hyperparameters (constructor); the
optimisation of the marginal likelihood (``restarts``, ``max_iter``, ``seed``, ``device``)
is a setting of ``fit``, recorded in ``training`` and saved with the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from pdeml.gp import GaussianProcess
from pdeml.problems.base import Problem
from pdeml.protocols import DatasetLike
from pdeml.surrogates.base import Capabilities, Surrogate, check_finite_data


class GPSurrogate(Surrogate):
    """Base of surrogates whose learned map is one batched exact GP (``self.gp``)."""

    capabilities = Capabilities(uncertainty=True, devices=("cpu", "cuda"))

    def __init__(self, problem: Problem, kernel: str, **switches: bool) -> None:
        super().__init__(problem)
        for flag, value in switches.items():
            if not isinstance(value, bool):
                raise TypeError(f"{flag} must be a bool, got {value!r}")
        self.gp = GaussianProcess(kernel=kernel)  # validates the kernel
        self.device = str(self.gp.device)
        #: The fit's optimisation settings (``restarts``, ``max_iter``, ``seed``, ...).
        self.training: dict[str, Any] = {}

    def _start_fit(
        self,
        train: DatasetLike,
        restarts: int,
        max_iter: int,
        seed: int,
        device: str | None,
        **more: Any,
    ) -> None:
        """Check the data and the settings before any work; set up a fresh GP and record
        the settings (and ``more`` of them) in ``training``."""
        self._check_train(train, {})
        gp = GaussianProcess(
            self.hyperparameters["kernel"],
            restarts=restarts,
            max_iter=max_iter,
            seed=seed,
            device=device,
        )
        check_finite_data(train, "train")  # NaN would reach the GP's factorisation
        self.gp, self.device = gp, str(gp.device)
        self.training = {"restarts": gp.restarts, "max_iter": gp.max_iter, **more, "seed": gp.seed}

    def _predict(
        self, inputs: Mapping[str, np.ndarray], uncertainty: bool
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None]:
        """Predictive mean, and variance when ``uncertainty`` (else None)."""
        self._require_fitted()
        # The problem's own checks first (names, shapes, finite real values), as every
        # Solver's solve does.
        return self._predict_checked(self.problem.check_inputs(inputs), uncertainty)

    def _predict_checked(
        self, inputs: dict[str, np.ndarray], uncertainty: bool
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None]:
        """:meth:`_predict` on inputs the problem has checked."""
        raise NotImplementedError

    def _mean_and_variance(
        self, inputs: Mapping[str, np.ndarray]
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        mean, variance = self._predict(inputs, uncertainty=True)
        assert variance is not None  # asked for
        return mean, variance

    def _load_training(self, config: dict[str, Any]) -> None:
        """Restore ``training`` and ``device`` after the GP was loaded."""
        self.training = dict(config.get("training") or {})
        self.device = str(self.gp.device)
