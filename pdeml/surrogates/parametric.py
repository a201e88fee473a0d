"""The parametric mode of a physics-informed surrogate: PDE parameters as network inputs.

With ``parametric={"nu": (lo, hi)}`` the named parameters become extra network inputs,
drawn uniformly in their ranges with every collocation point; ``fit`` trains one network
for one input instance over the whole range, ``solve`` evaluates it at the problem's own
parameter values and :meth:`ParametricMode.solve_parameters` at any others in the range.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from pdeml.protocols import ResidualLike
from pdeml.surrogates.collocation import DTYPES
from pdeml.surrogates.constrained import ConstrainedSolution, evaluate_outputs


def check_parametric(value: Any) -> dict[str, list[float]] | None:
    """``value`` as ``{name: [low, high]}`` with finite ``low < high``, or None."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or not value:
        raise ValueError(
            f"parametric must be a dict name -> (low, high), such as {{'nu': (0.003, 0.03)}}; "
            f"got {value!r}"
        )
    ranges = {}
    for key, bounds in value.items():
        try:
            low, high = (float(b) for b in bounds)
        except (TypeError, ValueError):
            raise ValueError(
                f"parametric[{key!r}] must be a pair (low, high) of numbers, got {bounds!r}"
            ) from None
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(f"parametric[{key!r}] must have finite low < high, got {bounds!r}")
        ranges[str(key)] = [low, high]
    return ranges


class ParametricMode:
    """Evaluation of a fitted parametric network (a mixin of the physics-informed base)."""

    name: str
    problem: Any
    hyperparameters: dict[str, Any]
    networks: list[Any]
    instance: dict[str, np.ndarray] | None
    uses_hard_constraints: bool
    parameter_names: tuple[str, ...]

    def _evaluate_at(
        self, physics: ResidualLike, resolution: int, values: Mapping[str, float]
    ) -> dict[str, np.ndarray]:
        """The fitted parametric network's outputs at parameter ``values``."""
        solution = ConstrainedSolution(self.networks[0], physics, self.uses_hard_constraints)
        row = [values[k] for k in self.parameter_names]
        dtype = DTYPES[self.hyperparameters["dtype"]]
        return evaluate_outputs(self.problem, solution, physics, resolution, dtype, row)

    def _solve_parametric(
        self, inputs: Mapping[str, np.ndarray], n: int, resolution: int
    ) -> dict[str, np.ndarray]:
        assert self.instance is not None
        for i in range(n):
            for key, value in inputs.items():
                if not np.allclose(value[i], self.instance[key][0], rtol=1e-6, atol=1e-9):
                    raise ValueError(
                        f"surrogate {self.name!r} is parametric and was fitted for one input "
                        f"instance; input {key!r} of sample {i} differs from it (refit with "
                        "fit(inputs=...) or drop parametric=...)"
                    )
        physics = self.problem.physics({k: v[0] for k, v in inputs.items()})
        own = {k: physics.parameters[k] for k in self.parameter_names}
        fields = self._evaluate_at(physics, resolution, own)
        return {k: np.repeat(v[None], n, axis=0) for k, v in fields.items()}

    def solve_parameters(
        self, resolution: int | None = None, **values: Any
    ) -> dict[str, np.ndarray]:
        """Evaluate a fitted parametric surrogate at other parameter values.

        Parameters
        ----------
        resolution : int, optional
            Output grid (default the problem's).
        **values : array_like
            One array per parametric name, all of the same length ``k``
            (e.g. ``nu=[0.003, 0.01]``).

        Returns
        -------
        dict
            ``name -> [k, ...]``, the outputs for each parameter value.
        """
        self._require_fitted()  # type: ignore[attr-defined]
        names = self.parameter_names
        if not names:
            raise ValueError(f"surrogate {self.name!r} is not parametric (set parametric=...)")
        if set(values) != set(names):
            raise ValueError(f"solve_parameters needs exactly {list(names)}, got {sorted(values)}")
        arrays = {k: np.atleast_1d(np.asarray(v, dtype=np.float64)) for k, v in values.items()}
        lengths = {a.shape for a in arrays.values()}
        if len(lengths) != 1 or len(next(iter(lengths))) != 1:
            raise ValueError("solve_parameters: give 1-D arrays of one common length")
        ranges = self.hyperparameters["parametric"]
        for k, a in arrays.items():
            low, high = ranges[k]
            if np.any(a < low) or np.any(a > high):
                raise ValueError(f"{k} must lie in the trained range [{low}, {high}], got {a}")
        resolution = self.problem.resolution if resolution is None else resolution
        assert self.instance is not None  # set by a parametric fit
        physics = self.problem.physics({k: v[0] for k, v in self.instance.items()})
        count = next(iter(arrays.values())).size
        out: dict[str, list[np.ndarray]] = {}
        for j in range(count):
            own = {k: float(a[j]) for k, a in arrays.items()}
            for name, v in self._evaluate_at(physics, resolution, own).items():
                out.setdefault(name, []).append(v)
        return {k: np.stack(v) for k, v in out.items()}
