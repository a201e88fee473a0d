"""The two-scale Lorenz96 system (Lorenz 1996), a test bed for learned closures.

    dX_k/dt = X_{k−1}(X_{k+1} − X_{k−2}) − X_k + F − (hc/b) Σ_j Y_{j,k}
    dY_{j,k}/dt = −cb Y_{j+1,k}(Y_{j+2,k} − Y_{j−1,k}) − c Y_{j,k} + (hc/b) X_k

``K`` slow variables on a ring, each driving ``J`` fast ones; the fast variables form one
ring of length ``J·K`` (``Y_{j,k}`` at position ``j + J·k``, so ``Y_{J,k} = Y_{0,k+1}``).
The operator to learn is the state's evolution, and in particular the closure
``−(hc/b) Σ_j Y_{j,k}`` as a function of ``X`` (Multiscale Neural Operator, Lütjens et al.).

This package holds all that pdeml knows about the system: the problem (here, no torch),
its reference solver (:mod:`.solver`, an adapter to the kernels of
:mod:`pdeml.solvers.ode`) and the trajectory statistics of the multiscale comparison
(:mod:`.statistics`). The hybrid model with a learned closure is the surrogate
``"l96-hybrid"`` (:mod:`pdeml.surrogates.l96_hybrid`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from pdeml._checks import (
    MAX_POINTS_1D,
    MAX_STEPS,
    check_count,
    check_memory,
    check_seed,
    check_steps,
    require_finite,
    require_int,
    require_positive,
)
from pdeml.problems.base import Problem, make_solver, register_problem, sample_rng

if TYPE_CHECKING:
    from pdeml.problems.lorenz96.solver import Lorenz96RK4Solver

_DIMS = {
    "X0": ("k",),
    "Y0": ("k", "j"),
    "X": ("t", "k"),
    "Y": ("t", "k", "j"),
    "coupling": ("t", "k"),
}


@register_problem
@dataclasses.dataclass(frozen=True)
class Lorenz96(Problem):
    """Two-scale Lorenz96: initial state to trajectory of both scales and the closure.

    Parameters
    ----------
    K : int
        Number of slow variables ``X_k`` (>= 4, the stencil spans four sites).
    J : int
        Fast variables per slow one.
    F : float
        Forcing of the slow variables.
    h : float
        Coupling strength (0 decouples the scales).
    b : float
        Ratio of slow to fast amplitudes.
    c : float
        Ratio of fast to slow time scales.
    dt : float
        RK4 step of the reference solver (and of the spin-up).
    T : float
        Horizon; must be a whole number of ``save_every·dt``.
    save_every : int
        RK4 steps between stored states.
    spinup : float
        Time integrated from a random state before the initial state, so that initial
        states lie on the attractor (0: use the random state itself).

    Fields
    ------
    inputs : ``X0`` ``[n, k]``, ``Y0`` ``[n, k, j]``
    outputs : ``X`` ``[n, t, k]``, ``Y`` ``[n, t, k, j]``, ``coupling`` ``[n, t, k]``
        at the times ``output_times()`` (``t = 0`` excluded); ``coupling`` is
        ``−(hc/b) Σ_j Y_{j,k}``, the closure term of the X equation.

    Notes
    -----
    There is no spatial grid to subsample: ``resolution`` and ``solver_resolution`` are
    both ``K``, and :meth:`restrict` is the identity.
    """

    name = "lorenz96"

    K: int = 36
    J: int = 10
    F: float = 10.0
    h: float = 1.0
    b: float = 10.0
    c: float = 10.0
    dt: float = 0.005
    T: float = 10.0
    save_every: int = 10
    spinup: float = 10.0

    def validate(self) -> None:
        require_int(self.name, "K", self.K, 4, MAX_POINTS_1D)
        require_int(self.name, "J", self.J, 1, MAX_POINTS_1D)
        require_finite(self.name, "F", self.F)
        require_finite(self.name, "h", self.h)
        require_positive(self.name, "b", self.b)
        require_positive(self.name, "c", self.c)
        require_positive(self.name, "dt", self.dt)
        require_positive(self.name, "T", self.T)
        require_int(self.name, "save_every", self.save_every, 1, MAX_STEPS)
        require_positive(self.name, "spinup", self.spinup, allow_zero=True)
        # Before rounding T/(save_every·dt): a tiny dt makes it huge or infinite.
        check_steps(
            self.name,
            f"dt = {self.dt!r} with T = {self.T!r} and spinup = {self.spinup!r}",
            (self.T + self.spinup) / self.dt,
            "use a larger dt or a shorter T/spinup",
        )
        ratio = self.T / self.save_interval
        if ratio < 1 - 1e-9 or abs(ratio - round(ratio)) > 1e-9 * ratio:
            raise ValueError(
                f"{self.name}: T = {self.T} must be a whole multiple (>= 1) of "
                f"save_every·dt = {self.save_interval:g}"
            )
        self.check_solver_memory(f"K = {self.K}, J = {self.J} and {self.n_save} stored states")

    def sample_nbytes(self, resolution: int | None = None) -> float:
        """The stored trajectory of both scales and the closure, plus RK4 work arrays."""
        return 8.0 * (self.n_save + 12) * self.K * (self.J + 2)

    # -- grid ---------------------------------------------------------------------------
    @property
    def resolution(self) -> int:
        """``K``: the slow ring is the only "grid", and it is never subsampled."""
        return self.K

    @property
    def solver_resolution(self) -> int:
        """``K``, as :attr:`resolution`."""
        return self.K

    def allowed_resolutions(self) -> tuple[int, ...]:
        return (self.K,)

    def spatial_dims(self) -> tuple[str, ...]:
        return ("k",)

    @property
    def save_interval(self) -> float:
        """Time between stored states, ``save_every·dt``."""
        return self.save_every * self.dt

    @property
    def n_save(self) -> int:
        """Number of stored states, ``T / (save_every·dt)``."""
        return max(1, round(self.T / self.save_interval))

    def output_times(self) -> np.ndarray:
        """Times of the stored states: ``save_interval, 2·save_interval, …, T``."""
        return self.save_interval * np.arange(1, self.n_save + 1)

    @property
    def input_names(self) -> tuple[str, ...]:
        return ("X0", "Y0")

    @property
    def output_names(self) -> tuple[str, ...]:
        return ("X", "Y", "coupling")

    def field_dims(self, name: str) -> tuple[str, ...]:
        if name not in _DIMS:
            raise ValueError(f"{self.name}: unknown field {name!r}; expected {self.field_names}")
        return _DIMS[name]

    def _check_resolution(self, resolution: int | None) -> None:
        if resolution is not None and resolution != self.K:
            raise ValueError(
                f"{self.name}: resolution {resolution} differs from K = {self.K}; Lorenz96 "
                "has no grid to subsample, so the only resolution is K"
            )

    def coords(self, resolution: int | None = None) -> dict[str, np.ndarray]:
        self._check_resolution(resolution)
        return {
            "k": np.arange(self.K),
            "j": np.arange(self.J),
            "t": self.output_times(),
        }

    def restrict(
        self, fields: Mapping[str, np.ndarray], from_resolution: int, to_resolution: int
    ) -> dict[str, np.ndarray]:
        """The identity (after checking both resolutions are ``K``): nothing to subsample."""
        self._check_resolution(from_resolution)
        self._check_resolution(to_resolution)
        return {k: np.asarray(v) for k, v in fields.items()}

    # -- physics ------------------------------------------------------------------------
    def coupling_term(self, Y: np.ndarray) -> np.ndarray:
        """The closure ``−(hc/b) Σ_j Y_{j,k}`` of fast variables ``Y [..., k, j]``."""
        return -(self.h * self.c / self.b) * np.asarray(Y).sum(axis=-1)

    def closure_pairs(self, outputs: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Training pairs of a closure from trajectories: ``(X, coupling)``, ``[m, K]`` each.

        Every stored state of every trajectory (``outputs["X"]`` and
        ``outputs["coupling"]``, ``[n, t, K]``) is one snapshot, in sample-then-time order.
        """
        pairs = tuple(np.asarray(outputs[name]) for name in ("X", "coupling"))
        for name, array in zip(("X", "coupling"), pairs):
            if array.ndim < 2 or array.shape[-1] != self.K:
                raise ValueError(
                    f"{self.name}: {name} must hold states of K = {self.K} sites [..., K], "
                    f"got shape {array.shape}"
                )
        return pairs[0].reshape(-1, self.K), pairs[1].reshape(-1, self.K)

    def sample_inputs(
        self, n: int, seed: int, *, start: int = 0, resolution: int | None = None
    ) -> dict[str, np.ndarray]:
        """Draw ``n`` initial states on the attractor.

        Each sample starts from its own random state, ``X_k ~ N(0, 1)`` and
        ``Y_{j,k} ~ N(0, 0.1²)``, and is integrated for ``spinup`` time units with the
        reference RK4 at step ``dt`` (the RK4 of each sample does not depend on the batch,
        so a sample depends only on ``(seed, index)``).
        """
        n, seed = check_count(n), check_seed(seed)
        start = check_count(start, "start", minimum=0)
        self._check_resolution(resolution)
        check_memory(
            self.name,
            f"a draw of n = {n} samples with K = {self.K}, J = {self.J}",
            n * 8.0 * 12 * self.K * (self.J + 2),
            "draw fewer samples at once",
        )
        x = np.empty((n, self.K))
        y = np.empty((n, self.K, self.J))
        for i in range(n):
            rng = sample_rng(seed, start + i)
            x[i] = rng.standard_normal(self.K)
            y[i] = 0.1 * rng.standard_normal((self.K, self.J))
        if self.spinup > 0:
            from pdeml.solvers.ode import lorenz96_rk4, steps_between

            steps = steps_between(self.spinup, self.dt)
            xs, ys = lorenz96_rk4(
                x,
                y,
                F=self.F,
                h=self.h,
                b=self.b,
                c=self.c,
                dt=self.spinup / steps,
                n_save=1,
                save_every=steps,
            )
            x, y = xs[:, 0], ys[:, 0]
            if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
                raise FloatingPointError(
                    f"{self.name}: the spin-up blew up; dt = {self.dt} is too large for "
                    "these parameters"
                )
        return {"X0": np.ascontiguousarray(x), "Y0": np.ascontiguousarray(y)}

    def reference_solver(self, **options: Any) -> Lorenz96RK4Solver:
        from pdeml.problems.lorenz96.solver import Lorenz96RK4Solver

        return make_solver(self, Lorenz96RK4Solver, options)
