"""What every physics-informed surrogate shares: the training loop of PINN and PIG.

A physics-informed surrogate learns from the problem alone. For one input instance it
trains a network ``u_θ`` so that the PDE residual of :meth:`Problem.physics` vanishes at
collocation points and the boundary and initial conditions hold (exactly, through a
wrapper, where the geometry allows; otherwise as penalties), with Adam and then L-BFGS.
Subclasses only say which network to train (:meth:`PhysicsInformedSurrogate._make_network`):
an MLP for ``"pinn"`` (:mod:`pdeml.surrogates.pinn`), Gaussian features and a small MLP for
``"pig"`` (:mod:`pdeml.surrogates.pig`).

Two ways to use one
-------------------
*Per instance* (default): :meth:`~PhysicsInformedSurrogate.solve` trains one fresh network
per input sample; that time is the surrogate's inference cost in reports.

*Parametric* (``parametric={"nu": (lo, hi)}``): the named PDE parameters become extra
network inputs, drawn uniformly in their ranges with every collocation point, and
:meth:`~PhysicsInformedSurrogate.fit` trains one network for one input instance over the
whole range. :meth:`~PhysicsInformedSurrogate.solve` then only evaluates it (at the
problem's own parameter values) and :meth:`~PhysicsInformedSurrogate.solve_parameters`
at any others in the range.

Residual-based adaptive resampling
----------------------------------
With ``resampling="uniform"``, every ``resample_every`` Adam steps the collocation points
are drawn afresh (a stochastic residual: a network cannot fit the residual at a fixed set of
points only). With ``resampling="rad"``, every ``resample_every`` Adam steps they are
redrawn from a uniform pool of ``4 × n_collocation`` candidates with probability
proportional to ``|r|^k / mean(|r|^k) + c`` (the RAD scheme of Wu, Zhu, Tan, Kartha, Lu,
*CMAME* 403, 2023; ``k = resample_power``, ``c = resample_floor``), so points gather where
the current residual is large (the shock of Burgers).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pdeml._checks import check_choice, check_float, check_int
from pdeml.problems.base import Problem
from pdeml.problems.physics import SAMPLING_METHODS, PDEResidual
from pdeml.surrogates.base import Surrogate, check_bool
from pdeml.surrogates.jets import FrozenJets, check_pairs, taylor
from pdeml.training.checkpoint import load_checkpoint, save_checkpoint
from pdeml.training.config import default_device

DTYPES = {"float32": torch.float32, "float64": torch.float64}
RESAMPLING = ("none", "uniform", "rad")
#: Hyperparameters every physics-informed surrogate takes (besides its network's own).
COMMON_HYPERPARAMETERS = (
    "n_collocation",
    "n_boundary",
    "n_initial",
    "sampling",
    "resampling",
    "resample_every",
    "resample_power",
    "resample_floor",
    "lbfgs_resample_every",
    "adam_steps",
    "lr",
    "lr_decay",
    "lbfgs_steps",
    "weight_residual",
    "weight_boundary",
    "weight_initial",
    "hard_constraints",
    "parametric",
    "dtype",
    "seed",
    "device",
)
WEIGHTS = "model.pt"


def _check_parametric(value: Any) -> dict[str, list[float]] | None:
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


# -- the candidate solution ---------------------------------------------------------------
def _probe(physics: PDEResidual, dtype: torch.dtype) -> torch.Tensor:
    """A few points on the boundary, deterministic."""
    return physics.sample_boundary(16, 0, dtype=dtype)


def initial_condition(physics: PDEResidual) -> Callable[[torch.Tensor], torch.Tensor]:
    """``u0`` as a differentiable function of points ``[m, d]`` (time column ignored).

    Read from the problem's own initial mismatch: ``u0(x) = −(0 − u0(x))``, evaluated with a
    zero candidate that keeps the graph to the points, so derivatives of ``u0`` flow.
    """

    def zero(p: torch.Tensor) -> torch.Tensor:
        return 0.0 * p[:, :1]

    def u0(points: torch.Tensor) -> torch.Tensor:
        return -physics.initial_residual(zero, points)

    return u0


def hard_constraint_applies(physics: PDEResidual) -> bool:
    """Whether ``physics`` has homogeneous Dirichlet conditions that a wrapper can impose.

    True when no direction is periodic, the boundary mismatch is ``u`` itself (a single
    condition per point, checked on an affine probe function), and, for a time-dependent
    problem, the initial condition vanishes on the boundary (so ``u0 + t b N`` is
    consistent with ``u = 0`` there).
    """
    if any(physics.periodic):
        return False
    points = _probe(physics, torch.float64)
    with torch.enable_grad():

        def affine(p: torch.Tensor) -> torch.Tensor:
            return 1.0 + p.sum(dim=1, keepdim=True)

        mismatch = physics.boundary_residual(affine, points)
        if mismatch.ndim != 2 or mismatch.shape[1] != 1:
            return False
        expected = affine(points)
        if not torch.allclose(mismatch.detach(), expected, rtol=0.0, atol=1e-12):
            return False
        if physics.time_dependent:
            u0 = initial_condition(physics)(points.clone().requires_grad_(True)).detach()
            if u0.abs().max().item() > 1e-10:
                return False
    return True


class ConstrainedSolution(nn.Module):
    """The candidate solution trained by a physics-informed surrogate.

    A network ``N`` of the points (and, in parametric mode, of the parameter values),
    optionally wrapped so that homogeneous Dirichlet and initial conditions hold exactly:

        u(x, t) = u0(x) + (t − t0) · b(x) · N        (time-dependent)
        u(x)    = b(x) · N                            (steady)

    with ``b(x) = Π_i (x_i − a_i)(b_i − x_i) / ((b_i − a_i)/2)²``, zero on the boundary.

    Parameters
    ----------
    network : torch.nn.Module
        Maps ``[m, d + p]`` to ``[m, 1]`` (``p`` parameter columns, 0 if not parametric).
    physics : PDEResidual
        The instance (domain, initial condition).
    hard : bool
        Whether to impose the conditions exactly.
    jets : bool
        Whether to hand derivatives to the residual in closed form where the residual
        declares which it takes (``physics.second_derivatives``): ``u0`` differentiated once
        per point set, and the network's own jet when it has a ``jet`` method (PIG). The
        numbers are those of nested autograd (tested to round-off); only the cost differs.
        ``False`` forces plain autograd (the baseline of ``physics_informed_step.py``).
    """

    def __init__(
        self, network: nn.Module, physics: PDEResidual, hard: bool, jets: bool = True
    ) -> None:
        super().__init__()
        self.network = network
        self.hard = hard
        self.dim = physics.dim
        self.time_dependent = physics.time_dependent
        self.lower, self.upper = physics.lower, physics.upper
        declared = physics.second_derivatives
        self.pairs = None if (declared is None or not jets) else check_pairs(declared, self.dim)
        self.u0 = initial_condition(physics) if (hard and physics.time_dependent) else None
        if self.u0 is not None and self.pairs is not None:
            self.u0 = FrozenJets(self.u0, self.dim, self.pairs)
        #: Parameter columns ``[m, p]`` appended to the points (parametric mode).
        self.extra: torch.Tensor | None = None

    def bubble(self, points: torch.Tensor) -> torch.Tensor:
        """``b(x)``, zero on the spatial boundary, ``[m]``."""
        n_space = len(self.lower) - (1 if self.time_dependent else 0)
        b = torch.ones_like(points[:, 0])
        for i in range(n_space):
            lo, hi = self.lower[i], self.upper[i]
            b = b * (points[:, i] - lo) * (hi - points[:, i]) / ((hi - lo) / 2) ** 2
        return b

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """Values ``[m, 1]`` at ``points`` ``[m, d]``."""
        # Every residual builds its derived points (boundary pairs, t = 0 slices) row for
        # row from the points it is given, so row i always carries parameter row i.
        inputs = points if self.extra is None else torch.cat([points, self.extra], 1)
        if self.pairs is not None and hasattr(self.network, "jet") and torch.is_grad_enabled():
            # The jet is taken at the values of the points (no graph to them); its Taylor
            # polynomial in ``points`` carries the derivatives (pdeml.surrogates.jets).
            jet = self.network.jet(inputs.detach(), self.dim, self.pairs)
            n = taylor(jet, points, self.pairs)
        else:
            n = self.network(inputs)
        if not self.hard:
            return n
        scale = self.bubble(points)
        if not self.time_dependent:
            return (scale * n[:, 0])[:, None]
        t = points[:, -1] - self.lower[-1]
        return (self.u0(points) + t * scale * n[:, 0])[:, None]


# -- the surrogate ------------------------------------------------------------------------
class PhysicsInformedSurrogate(Surrogate):
    """Base class of surrogates trained on the problem's residual (PINN, PIG).

    Subclasses implement :meth:`_make_network` and call :meth:`_set_common` from their
    constructor with their own hyperparameters. The common ones are documented in
    :class:`pdeml.surrogates.pinn.PINNSurrogate`.
    """

    needs_data = False

    def _set_common(self, own: Mapping[str, Any], arguments: Mapping[str, Any]) -> None:
        """Check and store ``own`` and the common hyperparameters read from ``arguments``
        (the constructor's ``locals()``)."""
        c = {name: arguments[name] for name in COMMON_HYPERPARAMETERS}
        values = {
            **own,
            "n_collocation": check_int("n_collocation", c["n_collocation"], 1),
            "n_boundary": check_int("n_boundary", c["n_boundary"], 1),
            "n_initial": check_int("n_initial", c["n_initial"], 1),
            "sampling": check_choice("sampling", c["sampling"], SAMPLING_METHODS),
            "resampling": check_choice("resampling", c["resampling"], RESAMPLING),
            "resample_every": check_int("resample_every", c["resample_every"], 1),
            "resample_power": check_float("resample_power", c["resample_power"]),
            "resample_floor": check_float("resample_floor", c["resample_floor"]),
            "lbfgs_resample_every": check_int("lbfgs_resample_every", c["lbfgs_resample_every"], 0),
            "adam_steps": check_int("adam_steps", c["adam_steps"], 0),
            "lr": check_float("lr", c["lr"], positive=True),
            "lr_decay": check_float("lr_decay", c["lr_decay"], positive=True),
            "lbfgs_steps": check_int("lbfgs_steps", c["lbfgs_steps"], 0),
            "weight_residual": check_float("weight_residual", c["weight_residual"]),
            "weight_boundary": check_float("weight_boundary", c["weight_boundary"]),
            "weight_initial": check_float("weight_initial", c["weight_initial"]),
            "hard_constraints": check_bool("hard_constraints", c["hard_constraints"]),
            "parametric": _check_parametric(c["parametric"]),
            "dtype": check_choice("dtype", c["dtype"], tuple(DTYPES)),
            "seed": check_int("seed", c["seed"], 0),
            "device": c["device"],
        }
        if c["device"] is not None and not isinstance(c["device"], str):
            raise ValueError(
                f"device must be a string such as 'cpu' or 'cuda', got {c['device']!r}"
            )
        if values["lr_decay"] > 1:
            raise ValueError(f"lr_decay must be in (0, 1], got {values['lr_decay']!r}")
        if values["resample_power"] == 0 and values["resample_floor"] == 0:
            raise ValueError("resample_power and resample_floor must not both be 0")
        self._set_hyperparameters(values)
        physics = self._check_problem(self.problem)
        # The domain box is the same for every instance; kept so that load() need not draw
        # inputs again (for Navier–Stokes that runs the solver).
        self._box_of_problem = self._box(physics)
        if values["parametric"]:
            unknown = sorted(set(values["parametric"]) - set(physics.parameters))
            if unknown:
                raise ValueError(
                    f"parametric: {self.problem.name!r} has no PDE parameter {unknown}; "
                    f"its residual takes {sorted(physics.parameters) or 'none'}"
                )
        self.uses_hard_constraints = bool(c["hard_constraints"]) and hard_constraint_applies(
            physics
        )
        self.device = c["device"] or default_device()
        self.networks: list[nn.Module] = []
        self.last_solve_stats: list[dict[str, Any]] = []
        self.fit_options: dict[str, Any] = {}
        self.instance: dict[str, np.ndarray] | None = None
        # Per instance there is nothing to learn ahead of solve: usable (and savable) at
        # once. A parametric surrogate must be fitted first.
        self.fitted = not values["parametric"]

    def _check_problem(self, problem: Problem) -> PDEResidual:
        try:
            if type(problem).physics is Problem.physics:
                # Fail before drawing inputs, which can be costly (Navier–Stokes runs its
                # solver for the input snapshots); the base method raises with the reason.
                problem.physics({})
            physics = problem.physics(problem.sample_inputs(1, 0))
        except NotImplementedError as error:
            raise ValueError(
                f"surrogate {self.name!r} cannot serve this problem: {error}"
            ) from None
        for name in problem.output_names:
            dims = problem.field_dims(name)
            missing = [d for d in dims if d not in physics.coordinates]
            if missing:
                raise ValueError(
                    f"surrogate {self.name!r}: output {name!r} of {problem.name!r} has dims "
                    f"{missing} that are not coordinates of its residual {physics.coordinates}"
                )
        return physics

    @property
    def trains_in_solve(self) -> bool:
        """True per instance: :meth:`solve` trains (so a warm-up call would train too)."""
        return not self.hyperparameters["parametric"]

    # -- what subclasses provide ----------------------------------------------------------
    def _make_network(self, lower: tuple[float, ...], upper: tuple[float, ...]) -> nn.Module:
        """A fresh network on the box ``lower``–``upper`` (points plus parameter columns)."""
        raise NotImplementedError

    def _adam_groups(self, network: nn.Module) -> list[dict[str, Any]]:
        """Adam parameter groups (one group at ``lr`` unless a subclass splits them)."""
        return [{"params": list(network.parameters())}]

    # -- geometry of the network's inputs -------------------------------------------------
    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Names of the PDE parameters that are network inputs (parametric mode)."""
        return tuple(self.hyperparameters["parametric"] or ())

    def _box(self, physics: PDEResidual) -> tuple[tuple[float, ...], tuple[float, ...]]:
        ranges = self.hyperparameters["parametric"] or {}
        lower = tuple(physics.lower) + tuple(r[0] for r in ranges.values())
        upper = tuple(physics.upper) + tuple(r[1] for r in ranges.values())
        return lower, upper

    def _with_parameters(self, points: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """``points`` ``[m, d]`` with one uniform column per parametric range appended."""
        ranges = self.hyperparameters["parametric"]
        if not ranges:
            return points
        low = np.array([r[0] for r in ranges.values()])
        high = np.array([r[1] for r in ranges.values()])
        values = low + (high - low) * rng.random((points.shape[0], len(ranges)))
        return torch.cat([points, torch.as_tensor(values, dtype=points.dtype)], dim=1)

    def _draw_points(
        self, physics: PDEResidual, seed: int, dtype: torch.dtype, solution: ConstrainedSolution
    ) -> dict[str, torch.Tensor]:
        h = self.hyperparameters
        rng = np.random.default_rng([seed, 7])
        points = {
            "collocation": physics.sample_collocation(
                h["n_collocation"], seed, h["sampling"], dtype=dtype
            )
        }
        if not solution.hard:
            points["boundary"] = physics.sample_boundary(h["n_boundary"], seed, dtype=dtype)
            if physics.time_dependent:
                points["initial"] = physics.sample_initial(h["n_initial"], seed, dtype=dtype)
        device = torch.device(self.device)
        return {
            k: self._with_parameters(v, rng).to(device).requires_grad_(True)
            for k, v in points.items()
        }

    # -- losses ---------------------------------------------------------------------------
    def _split(
        self, physics: PDEResidual, augmented: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor] | None, torch.Tensor | None]:
        """Points, parameter values per point, and the parameter columns of ``augmented``."""
        d = physics.dim
        if augmented.shape[1] == d:
            return augmented, None, None
        extra = augmented[:, d:]
        values = {name: extra[:, i] for i, name in enumerate(self.parameter_names)}
        return augmented[:, :d], values, extra

    def _residual(
        self, solution: ConstrainedSolution, physics: PDEResidual, augmented: torch.Tensor
    ) -> torch.Tensor:
        points, values, extra = self._split(physics, augmented)
        solution.extra = extra
        try:
            return physics.residual(solution, points, values)
        finally:
            solution.extra = None

    def _condition(
        self,
        which: str,
        solution: ConstrainedSolution,
        physics: PDEResidual,
        augmented: torch.Tensor,
    ) -> torch.Tensor:
        points, _, extra = self._split(physics, augmented)
        solution.extra = extra
        try:
            if which == "boundary":
                return physics.boundary_residual(solution, points)
            return physics.initial_residual(solution, points)
        finally:
            solution.extra = None

    def _loss(
        self,
        solution: ConstrainedSolution,
        physics: PDEResidual,
        points: dict[str, torch.Tensor],
    ) -> tuple[torch.Tensor, dict[str, float]]:
        h = self.hyperparameters
        terms = {"residual": self._residual(solution, physics, points["collocation"]).pow(2).mean()}
        total = h["weight_residual"] * terms["residual"]
        if not solution.hard:
            terms["boundary"] = self._condition("boundary", solution, physics, points["boundary"])
            terms["boundary"] = terms["boundary"].pow(2).mean()
            total = total + h["weight_boundary"] * terms["boundary"]
            if physics.time_dependent:
                initial = self._condition("initial", solution, physics, points["initial"])
                terms["initial"] = initial.pow(2).mean()
                total = total + h["weight_initial"] * terms["initial"]
        return total, {k: float(v.detach()) for k, v in terms.items()}

    def _resample(
        self,
        solution: ConstrainedSolution,
        physics: PDEResidual,
        seed: int,
        dtype: torch.dtype,
    ) -> torch.Tensor:
        """Fresh collocation points: uniform, or drawn where the residual is large (RAD)."""
        h = self.hyperparameters
        m = h["n_collocation"]
        rng = np.random.default_rng([seed, 11])
        if h["resampling"] == "uniform":
            fresh = physics.sample_collocation(
                m, int(rng.integers(2**31)), h["sampling"], dtype=dtype
            )
            fresh = self._with_parameters(fresh, rng).to(torch.device(self.device))
            return fresh.requires_grad_(True)
        pool = physics.sample_collocation(4 * m, int(rng.integers(2**31)), "uniform", dtype=dtype)
        pool = self._with_parameters(pool, rng).to(torch.device(self.device))
        magnitude = self._residual(solution, physics, pool.requires_grad_(True))
        magnitude = magnitude.detach().abs().cpu().numpy().astype(np.float64)
        weight = magnitude ** h["resample_power"]
        weight = weight / max(weight.mean(), np.finfo(float).tiny) + h["resample_floor"]
        chosen = rng.choice(pool.shape[0], size=m, replace=False, p=weight / weight.sum())
        return pool[chosen].detach().requires_grad_(True)

    def _train_one(
        self,
        physics: PDEResidual,
        seed: int,
        monitor: Callable[[ConstrainedSolution], float] | None = None,
        record_every: int = 0,
    ) -> tuple[nn.Module, dict[str, Any]]:
        """Train one network for ``physics``; return it and its statistics.

        ``monitor(solution)``, if given, is called every ``record_every`` optimiser steps;
        its value and the training time so far (the monitor's own time excluded) go into
        ``stats["curve"]`` as ``[seconds, step, value]``.
        """
        h = self.hyperparameters
        dtype = DTYPES[h["dtype"]]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            network = self._make_network(*self._box(physics))
        network = network.to(device=torch.device(self.device), dtype=dtype)
        solution = ConstrainedSolution(network, physics, self.uses_hard_constraints)
        points = self._draw_points(physics, seed, dtype, solution)
        curve: list[list[float]] = []
        clock = _Clock(self.device)

        def record(step: int) -> None:
            if monitor is None or not record_every:
                return
            clock.pause()
            curve.append([clock.elapsed, float(step), float(monitor(solution))])
            clock.resume()

        record(0)
        params = list(network.parameters())
        step = 0
        if h["adam_steps"]:
            adam = torch.optim.Adam(self._adam_groups(network), lr=h["lr"])
            # Exponential decay to ``lr_decay`` times each group's rate at the last step, so
            # that where Adam stops (and L-BFGS starts) depends less on the last few steps.
            schedule = torch.optim.lr_scheduler.ExponentialLR(
                adam, gamma=h["lr_decay"] ** (1.0 / max(h["adam_steps"] - 1, 1))
            )
            for step in range(1, h["adam_steps"] + 1):
                if h["resampling"] != "none" and step > 1 and (step - 1) % h["resample_every"] == 0:
                    points["collocation"] = self._resample(solution, physics, seed + step, dtype)
                adam.zero_grad(set_to_none=True)
                loss, _ = self._loss(solution, physics, points)
                loss.backward()
                adam.step()
                schedule.step()
                if record_every and step % record_every == 0:
                    record(step)
        lbfgs_iterations = 0
        budget = h["lbfgs_steps"]
        # L-BFGS restarts (fresh history: the loss changed) on new points every
        # ``lbfgs_resample_every`` iterations when asked; otherwise one run on fixed points.
        restart = h["lbfgs_resample_every"] if h["resampling"] != "none" else 0
        # In chunks when recording a curve: LBFGS keeps its history in its state, so
        # consecutive step() calls continue the same run.
        chunk = record_every if (monitor is not None and record_every) else budget
        lbfgs = None
        while lbfgs_iterations < budget:
            if lbfgs is None:
                lbfgs = torch.optim.LBFGS(
                    params,
                    lr=1.0,
                    max_iter=budget,
                    history_size=50,
                    tolerance_grad=1e-12,
                    tolerance_change=1e-15,
                    line_search_fn="strong_wolfe",
                )
                started_at = lbfgs_iterations

                def closure(optimizer: torch.optim.LBFGS = lbfgs) -> torch.Tensor:
                    optimizer.zero_grad(set_to_none=True)
                    loss, _ = self._loss(solution, physics, points)
                    loss.backward()
                    return loss

            ask = min(chunk, budget - lbfgs_iterations)
            if restart:
                ask = min(ask, restart - (lbfgs_iterations - started_at))
            lbfgs.param_groups[0]["max_iter"] = ask
            # torch caps function evaluations per step() at 1.25 × max_iter by default; the
            # strong-Wolfe search can need more, which would end a long run early (and make
            # one long call differ from the same run in recorded chunks). The iteration
            # budget is the limit; 25 evaluations is the line search's own cap.
            lbfgs.param_groups[0]["max_eval"] = 25 * ask
            before = lbfgs_iterations
            lbfgs.step(closure)
            lbfgs_iterations = started_at + int(lbfgs.state[params[0]].get("n_iter", 0))
            record(h["adam_steps"] + lbfgs_iterations)
            stopped = lbfgs_iterations - before < ask  # converged or stalled on these points
            if (
                restart
                and lbfgs_iterations < budget
                and (stopped or lbfgs_iterations - started_at >= restart)
            ):
                if lbfgs_iterations == before:
                    break  # no progress even on fresh points
                step_seed = seed + h["adam_steps"] + lbfgs_iterations
                points["collocation"] = self._resample(solution, physics, step_seed, dtype)
                lbfgs = None
            elif stopped:
                break
        loss, terms = self._loss(solution, physics, points)
        stats: dict[str, Any] = {
            "loss": float(loss.detach()),
            "lbfgs_iterations": lbfgs_iterations,
            "train_s": clock.elapsed,
        }
        stats.update({f"loss_{k}": v for k, v in terms.items()})
        if curve:
            stats["curve"] = curve
        if not math.isfinite(stats["loss"]):
            raise FloatingPointError(
                f"surrogate {self.name!r}: training diverged (loss {stats['loss']})"
            )
        return network, stats

    # -- evaluation -----------------------------------------------------------------------
    def _grid_points(
        self, physics: PDEResidual, name: str, resolution: int
    ) -> tuple[np.ndarray, tuple[int, ...]]:
        """Points ``[m, d]`` of output ``name``'s grid (residual column order), and its shape.

        A coordinate the field lacks is fixed: time at the final time, as outputs without
        a time axis are final-time snapshots.
        """
        coords = self.problem.coords(resolution)
        dims = self.problem.field_dims(name)
        axes = [np.asarray(coords[d], dtype=np.float64) for d in dims]
        mesh = np.meshgrid(*axes, indexing="ij")
        shape = mesh[0].shape
        by_name = dict(zip(dims, mesh, strict=True))
        columns = []
        for i, coordinate in enumerate(physics.coordinates):
            if coordinate in by_name:
                columns.append(by_name[coordinate].ravel())
            elif physics.time_dependent and i == physics.dim - 1:
                columns.append(np.full(mesh[0].size, physics.upper[i]))
            else:  # pragma: no cover - refused at construction
                raise ValueError(f"output {name!r} lacks coordinate {coordinate!r}")
        return np.stack(columns, axis=1), shape

    def _evaluate(
        self,
        network: nn.Module,
        physics: PDEResidual,
        resolution: int,
        values: Mapping[str, float] | None = None,
    ) -> dict[str, np.ndarray]:
        """Every output field of the problem from one trained network."""
        dtype = DTYPES[self.hyperparameters["dtype"]]
        solution = ConstrainedSolution(network, physics, self.uses_hard_constraints)
        device = next(network.parameters()).device
        out = {}
        for name in self.problem.output_names:
            grid, shape = self._grid_points(physics, name, resolution)
            points = torch.as_tensor(grid, dtype=dtype, device=device)
            if values is not None:
                row = torch.as_tensor(
                    [values[k] for k in self.parameter_names], dtype=dtype, device=device
                )
                solution.extra = row.expand(points.shape[0], -1)
            with torch.enable_grad():  # u0's interpolant and observe() differentiate
                values_ = physics.output(solution, points)
            out[name] = values_.detach().cpu().numpy().reshape(shape)
        return out

    def _monitor(
        self, physics: PDEResidual, resolution: int, reference: Mapping[str, np.ndarray]
    ) -> Callable[[ConstrainedSolution], float]:
        """Relative L2 error of the first output against ``reference`` (one sample)."""
        name = self.problem.output_names[0]
        target = np.asarray(reference[name], dtype=np.float64)
        norm = np.linalg.norm(target)

        def error(solution: ConstrainedSolution) -> float:
            field = self._evaluate(solution.network, physics, resolution)[name]
            return float(np.linalg.norm(field - target) / norm)

        return error

    # -- the Solver contract --------------------------------------------------------------
    def fit(self, train: Any = None, valid: Any = None, **options: Any) -> PhysicsInformedSurrogate:
        """Per instance: record ``options`` (training happens in :meth:`solve`).

        Parametric mode: train the one network over the parameter ranges for the input
        instance ``options["inputs"]`` (one sample; default the problem's
        ``sample_inputs(1, seed)``). ``train`` and ``valid`` are accepted for a uniform
        interface and ignored: a physics-informed surrogate needs no data.
        """
        self.fit_options = {k: v for k, v in options.items() if k != "inputs"}
        if not self.hyperparameters["parametric"]:
            self.fitted = True
            return self
        inputs = options.get("inputs")
        if inputs is None:
            inputs = self.problem.sample_inputs(1, self.hyperparameters["seed"])
        resolution = self.problem.infer_resolution(inputs)
        inputs = self.problem.check_inputs(inputs, resolution)
        if next(iter(inputs.values())).shape[0] != 1:
            raise ValueError("fit(inputs=...): a parametric surrogate trains for one sample")
        physics = self.problem.physics({k: v[0] for k, v in inputs.items()})
        network, stats = self._train_one(physics, self.hyperparameters["seed"])
        self.networks, self.last_solve_stats = [network], [stats]
        self.instance = {k: np.array(v) for k, v in inputs.items()}
        self.fitted = True
        return self

    def solve(
        self,
        inputs: Mapping[str, np.ndarray],
        *,
        reference: Mapping[str, np.ndarray] | None = None,
        record_every: int = 0,
    ) -> dict[str, np.ndarray]:
        """Train one network per sample of ``inputs`` and evaluate it on the output grid.

        In parametric mode nothing is trained: the fitted network is evaluated at the
        problem's own parameter values (the inputs must be the fitted instance).

        Parameters
        ----------
        inputs : dict
            ``name -> [n, ...]`` arrays, the problem's inputs.
        reference : dict, optional
            Reference outputs ``[n, ...]``; with ``record_every > 0`` the relative L2 error
            of the first output is recorded during training in
            ``last_solve_stats[i]["curve"]`` as ``[seconds, step, error]`` rows.
        record_every : int
            Optimiser steps between two records (0: none).

        Returns
        -------
        dict
            ``name -> [n, ...]`` for every output of the problem, on
            ``problem.coords(resolution)``, the resolution read from the inputs.
        """
        self._require_fitted()
        resolution = self.problem.infer_resolution(inputs)
        inputs = self.problem.check_inputs(inputs, resolution)
        n = next(iter(inputs.values())).shape[0]
        if self.hyperparameters["parametric"]:
            return self._solve_parametric(inputs, n, resolution)
        record_every = check_int("record_every", record_every, 0)
        if record_every and reference is None:
            raise ValueError("record_every needs reference=... (the outputs to compare with)")
        out: dict[str, np.ndarray] = {}
        self.networks, self.last_solve_stats = [], []
        seed = self.hyperparameters["seed"]
        for i in range(n):
            start = time.perf_counter()
            physics = self.problem.physics({k: v[i] for k, v in inputs.items()})
            setup_s = time.perf_counter() - start
            monitor = None
            if record_every:
                one = {k: np.asarray(v)[i] for k, v in reference.items()}
                monitor = self._monitor(physics, resolution, one)
            network, stats = self._train_one(physics, seed + i, monitor, record_every)
            start = time.perf_counter()
            for name, values in self._evaluate(network, physics, resolution).items():
                out.setdefault(name, np.empty((n, *values.shape)))[i] = values
            if self.device.startswith("cuda"):
                torch.cuda.synchronize()
            # Set-up, training (monitoring left out) and evaluation: the inference cost.
            stats["time_s"] = setup_s + stats["train_s"] + time.perf_counter() - start
            self.networks.append(network)
            self.last_solve_stats.append(stats)
        return out

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
        fields = self._evaluate(self.networks[0], physics, resolution, own)
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
        self._require_fitted()
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
        physics = self.problem.physics({k: v[0] for k, v in self.instance.items()})
        count = next(iter(arrays.values())).size
        out: dict[str, list[np.ndarray]] = {}
        for j in range(count):
            fields = self._evaluate(
                self.networks[0], physics, resolution, {k: float(a[j]) for k, a in arrays.items()}
            )
            for name, v in fields.items():
                out.setdefault(name, []).append(v)
        return {k: np.stack(v) for k, v in out.items()}

    # -- persistence ----------------------------------------------------------------------
    def _save_state(self, folder: Path) -> dict[str, Any]:
        """Save the networks of the last :meth:`solve` or parametric :meth:`fit`.

        Loading restores the settings and these networks. Per instance, a later ``solve``
        trains afresh (loading restores settings, not a reusable solution operator); a
        parametric surrogate is restored ready to evaluate.
        """
        if not self.networks:
            return {"networks": 0}
        state = {
            f"{i}.{k}": v.detach().cpu()
            for i, net in enumerate(self.networks)
            for k, v in net.state_dict().items()
        }
        for key, value in (self.instance or {}).items():
            state[f"instance.{key}"] = torch.as_tensor(value)
        save_checkpoint(folder / WEIGHTS, state)
        stats = [{k: v for k, v in s.items() if k != "curve"} for s in self.last_solve_stats]
        return {
            "networks": len(self.networks),
            "last_solve_stats": stats,
            "fit_options": {k: v for k, v in self.fit_options.items() if _jsonable(v)},
        }

    def _load_state(self, folder: Path, config: dict[str, Any]) -> None:
        self.last_solve_stats = list(config.get("last_solve_stats", []))
        self.fit_options = dict(config.get("fit_options", {}))
        count = int(config.get("networks", 0))
        if not count:
            return
        state = load_checkpoint(folder / WEIGHTS)
        dtype = DTYPES[self.hyperparameters["dtype"]]
        self.networks = []
        for i in range(count):
            # In the training dtype before loading, so float64 weights are not rounded.
            net = self._make_network(*self._box_of_problem).to(dtype=dtype)
            prefix = f"{i}."
            own = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            try:
                net.load_state_dict(own)
            except RuntimeError as error:
                raise ValueError(
                    f"{folder / WEIGHTS}: weights do not match the saved hyperparameters ({error})"
                ) from None
            self.networks.append(net.to(device=self.device, dtype=dtype))
        instance = {k[9:]: v.numpy() for k, v in state.items() if k.startswith("instance.")}
        self.instance = instance or None


class _Clock:
    """Wall time that can be paused (to leave monitoring out of a training time)."""

    def __init__(self, device: str) -> None:
        self.cuda = device.startswith("cuda")
        self.total = 0.0
        self.start: float | None = time.perf_counter()

    def _sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def pause(self) -> None:
        self._sync()
        if self.start is not None:
            self.total += time.perf_counter() - self.start
            self.start = None

    def resume(self) -> None:
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        running = 0.0 if self.start is None else time.perf_counter() - self.start
        return self.total + running


def _jsonable(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None
