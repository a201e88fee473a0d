"""The physics-informed neural network surrogate, ``"pinn"`` (Raissi, Perdikaris, Karniadakis,
J. Comput. Phys. 378, 2019).

A PINN learns from the problem alone: for one input instance it trains a fully connected
network ``u_θ(x, t)`` so that the PDE residual vanishes at random collocation points and the
boundary and initial conditions hold, first with Adam, then with L-BFGS (strong-Wolfe line
search). There is no operator to learn ahead of time, so :meth:`PINNSurrogate.fit` only
records its options and :meth:`PINNSurrogate.solve` trains one fresh network per input
sample; that training time *is* the inference cost a validation report should charge.

Hard constraints
----------------
For a problem whose :class:`~pdeml.problems.physics.PDEResidual` has homogeneous Dirichlet
conditions on every side of a box (no periodic direction), the network output is wrapped as

    u(x, t) = u0(x) + (t − t0) · b(x) · N(x, t)        (time-dependent)
    u(x)    = b(x) · N(x)                               (steady)

with ``b(x) = Π_i (x_i − a_i)(b_i − x_i) / ((b_i − a_i)/2)²``, which vanishes on the boundary,
and ``u0`` read from the problem's own initial condition. The initial and boundary
conditions then hold exactly and only the residual is trained. For BurgersDirichlet this is
``u = −sin(πx) + t (1 − x²) N(x, t)``. Other problems (periodic Burgers, say) get the soft
penalty terms.
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

from pdeml.problems.base import Problem
from pdeml.problems.physics import SAMPLING_METHODS, PDEResidual
from pdeml.surrogates.base import Surrogate, register_surrogate
from pdeml.training.checkpoint import load_checkpoint, save_checkpoint
from pdeml.training.trainer import default_device

ACTIVATIONS = ("tanh", "sin")
DTYPES = {"float32": torch.float32, "float64": torch.float64}
WEIGHTS = "model.pt"


class Sine(nn.Module):
    """``sin(x)`` as a module."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(x)


class MLP(nn.Module):
    """Fully connected network on points scaled from the domain box to ``[−1, 1]^d``.

    Parameters
    ----------
    lower, upper : sequence of float
        The domain box (used to scale inputs).
    width : int
        Neurons per hidden layer.
    depth : int
        Number of hidden layers.
    activation : {"tanh", "sin"}
        Nonlinearity between layers.
    """

    def __init__(
        self,
        lower: tuple[float, ...],
        upper: tuple[float, ...],
        width: int,
        depth: int,
        activation: str,
    ) -> None:
        super().__init__()
        lo = torch.as_tensor(lower, dtype=torch.float64)
        hi = torch.as_tensor(upper, dtype=torch.float64)
        self.register_buffer("center", (lo + hi) / 2)
        self.register_buffer("half_width", (hi - lo) / 2)
        layers: list[nn.Module] = []
        size = len(lower)
        for _ in range(depth):
            linear = nn.Linear(size, width)
            nn.init.xavier_normal_(linear.weight)
            nn.init.zeros_(linear.bias)
            layers += [linear, nn.Tanh() if activation == "tanh" else Sine()]
            size = width
        head = nn.Linear(size, 1)
        nn.init.xavier_normal_(head.weight)
        nn.init.zeros_(head.bias)
        layers.append(head)
        self.net = nn.Sequential(*layers)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """Values ``[m, 1]`` at ``points`` ``[m, d]``."""
        return self.net((points - self.center) / self.half_width)


def _probe(physics: PDEResidual, dtype: torch.dtype) -> torch.Tensor:
    """A few points on the boundary, deterministic."""
    return physics.sample_boundary(16, 0, dtype=dtype)


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


class ConstrainedSolution(nn.Module):
    """The candidate solution trained by a PINN: a network, optionally wrapped.

    Parameters
    ----------
    network : MLP
        The trainable network ``N``.
    physics : PDEResidual
        The instance (domain, initial condition).
    hard : bool
        Whether to impose the conditions exactly (see the module docstring).
    """

    def __init__(self, network: MLP, physics: PDEResidual, hard: bool) -> None:
        super().__init__()
        self.network = network
        self.hard = hard
        self.time_dependent = physics.time_dependent
        self.lower, self.upper = physics.lower, physics.upper
        self.u0 = initial_condition(physics) if (hard and physics.time_dependent) else None

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
        n = self.network(points)
        if not self.hard:
            return n
        scale = self.bubble(points)
        if not self.time_dependent:
            return (scale * n[:, 0])[:, None]
        t = points[:, -1] - self.lower[-1]
        return (self.u0(points) + t * scale * n[:, 0])[:, None]


def _int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _float(name: str, value: Any, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}")
    return value


def _choice(name: str, value: Any, options: tuple[str, ...]) -> str:
    if value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value


@register_surrogate
class PINNSurrogate(Surrogate):
    """Physics-informed neural network, trained per input instance.

    Parameters
    ----------
    problem : Problem
        A problem with a PDE residual (:meth:`Problem.physics`) whose output fields have
        dims among the residual's coordinates (BurgersDirichlet, Burgers1D, Darcy2D). An
        output without the time dim (Burgers1D's ``u``) is the solution at the final time.
    width : int
        Neurons per hidden layer (20).
    depth : int
        Hidden layers (8).
    activation : {"tanh", "sin"}
        Nonlinearity.
    n_collocation, n_boundary, n_initial : int
        Points for the residual, boundary and initial terms (10000, 200, 200); drawn once
        per instance, seeded.
    sampling : {"uniform", "latin"}
        How collocation points are drawn.
    adam_steps : int
        Adam iterations (2000), full batch.
    lr : float
        Adam learning rate (1e-3).
    lbfgs_steps : int
        L-BFGS iterations after Adam (500; 0 skips L-BFGS).
    weight_residual, weight_boundary, weight_initial : float
        Loss weights (1 each); the latter two are unused under hard constraints.
    hard_constraints : bool
        Impose homogeneous Dirichlet and initial conditions exactly where the problem's
        physics allows (see the module docstring); otherwise soft penalties.
    dtype : {"float64", "float32"}
        Precision of training (float64 default: L-BFGS stalls early in float32).
    seed : int
        Seed of the initial weights and the points (sample ``i`` uses ``seed + i``).
    device : str, optional
        Torch device; default CUDA when available, else CPU.

    Raises
    ------
    ValueError
        If the problem has no PDE residual, or a hyperparameter is invalid.

    Notes
    -----
    :meth:`fit` learns nothing; :meth:`solve` trains. After ``solve``,
    ``last_solve_stats`` holds per sample ``time_s`` (training plus evaluation),
    ``loss`` (final total loss) and the loss terms.
    """

    name = "pinn"
    needs_data = False

    def __init__(
        self,
        problem: Problem,
        width: int = 20,
        depth: int = 8,
        activation: str = "tanh",
        n_collocation: int = 10000,
        n_boundary: int = 200,
        n_initial: int = 200,
        sampling: str = "uniform",
        adam_steps: int = 2000,
        lr: float = 1e-3,
        lbfgs_steps: int = 500,
        weight_residual: float = 1.0,
        weight_boundary: float = 1.0,
        weight_initial: float = 1.0,
        hard_constraints: bool = True,
        dtype: str = "float64",
        seed: int = 0,
        device: str | None = None,
    ) -> None:
        super().__init__(problem)
        values = {
            "width": _int("width", width, 1),
            "depth": _int("depth", depth, 1),
            "activation": _choice("activation", activation, ACTIVATIONS),
            "n_collocation": _int("n_collocation", n_collocation, 1),
            "n_boundary": _int("n_boundary", n_boundary, 1),
            "n_initial": _int("n_initial", n_initial, 1),
            "sampling": _choice("sampling", sampling, SAMPLING_METHODS),
            "adam_steps": _int("adam_steps", adam_steps, 0),
            "lr": _float("lr", lr, positive=True),
            "lbfgs_steps": _int("lbfgs_steps", lbfgs_steps, 0),
            "weight_residual": _float("weight_residual", weight_residual),
            "weight_boundary": _float("weight_boundary", weight_boundary),
            "weight_initial": _float("weight_initial", weight_initial),
            "hard_constraints": bool(hard_constraints),
            "dtype": _choice("dtype", dtype, tuple(DTYPES)),
            "seed": _int("seed", seed, 0),
            "device": device,
        }
        if device is not None and not isinstance(device, str):
            raise ValueError(f"device must be a string such as 'cpu' or 'cuda', got {device!r}")
        self._set_hyperparameters(values)
        physics = self._check_problem(problem)
        self.uses_hard_constraints = bool(hard_constraints) and hard_constraint_applies(physics)
        self.device = device or default_device()
        self.networks: list[MLP] = []
        self.last_solve_stats: list[dict[str, float]] = []
        self.fit_options: dict[str, Any] = {}
        # Nothing to learn ahead of solve: the surrogate is usable (and savable) at once.
        self.fitted = True

    @staticmethod
    def _check_problem(problem: Problem) -> PDEResidual:
        try:
            if type(problem).physics is Problem.physics:
                # Fail before drawing inputs, which can be costly (Navier–Stokes runs its
                # solver for the input snapshots); the base method raises with the reason.
                problem.physics({})
            physics = problem.physics(problem.sample_inputs(1, 0))
        except NotImplementedError as error:
            raise ValueError(f"surrogate 'pinn' cannot serve this problem: {error}") from None
        for name in problem.output_names:
            dims = problem.field_dims(name)
            missing = [d for d in dims if d not in physics.coordinates]
            if missing:
                raise ValueError(
                    f"surrogate 'pinn': output {name!r} of {problem.name!r} has dims {missing} "
                    f"that are not coordinates of its residual {physics.coordinates}"
                )
        return physics

    def fit(self, train: Any = None, valid: Any = None, **options: Any) -> PINNSurrogate:
        """Record ``options``; a PINN trains per instance in :meth:`solve`.

        ``train`` and ``valid`` are accepted (for a uniform interface) and ignored.
        """
        self.fit_options = dict(options)
        self.fitted = True
        return self

    # -- training -------------------------------------------------------------------------
    def _loss(
        self,
        solution: ConstrainedSolution,
        physics: PDEResidual,
        points: dict[str, torch.Tensor],
    ) -> tuple[torch.Tensor, dict[str, float]]:
        h = self.hyperparameters
        residual = physics.residual(solution, points["collocation"])
        terms = {"residual": residual.pow(2).mean()}
        total = h["weight_residual"] * terms["residual"]
        if not solution.hard:
            terms["boundary"] = (
                physics.boundary_residual(solution, points["boundary"]).pow(2).mean()
            )
            total = total + h["weight_boundary"] * terms["boundary"]
            if physics.time_dependent:
                terms["initial"] = (
                    physics.initial_residual(solution, points["initial"]).pow(2).mean()
                )
                total = total + h["weight_initial"] * terms["initial"]
        return total, {k: float(v.detach()) for k, v in terms.items()}

    def _train_one(self, physics: PDEResidual, seed: int) -> tuple[MLP, dict[str, float]]:
        h = self.hyperparameters
        dtype = DTYPES[h["dtype"]]
        device = torch.device(self.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            network = MLP(physics.lower, physics.upper, h["width"], h["depth"], h["activation"])
        network = network.to(device=device, dtype=dtype)
        solution = ConstrainedSolution(network, physics, self.uses_hard_constraints)

        def prepare(p: torch.Tensor) -> torch.Tensor:
            return p.to(device).requires_grad_(True)

        points = {
            "collocation": prepare(
                physics.sample_collocation(h["n_collocation"], seed, h["sampling"], dtype=dtype)
            )
        }
        if not solution.hard:
            points["boundary"] = prepare(
                physics.sample_boundary(h["n_boundary"], seed, dtype=dtype)
            )
            if physics.time_dependent:
                points["initial"] = prepare(
                    physics.sample_initial(h["n_initial"], seed, dtype=dtype)
                )

        params = list(network.parameters())
        if h["adam_steps"]:
            adam = torch.optim.Adam(params, lr=h["lr"])
            for _ in range(h["adam_steps"]):
                adam.zero_grad(set_to_none=True)
                loss, _ = self._loss(solution, physics, points)
                loss.backward()
                adam.step()
        lbfgs_iterations = 0
        if h["lbfgs_steps"]:
            lbfgs = torch.optim.LBFGS(
                params,
                lr=1.0,
                max_iter=h["lbfgs_steps"],
                history_size=50,
                tolerance_grad=1e-12,
                tolerance_change=1e-15,
                line_search_fn="strong_wolfe",
            )

            def closure() -> torch.Tensor:
                lbfgs.zero_grad(set_to_none=True)
                loss, _ = self._loss(solution, physics, points)
                loss.backward()
                return loss

            lbfgs.step(closure)
            lbfgs_iterations = int(lbfgs.state[params[0]].get("n_iter", 0))
        loss, terms = self._loss(solution, physics, points)
        stats = {"loss": float(loss.detach()), "lbfgs_iterations": lbfgs_iterations}
        stats.update({f"loss_{k}": v for k, v in terms.items()})
        if not math.isfinite(stats["loss"]):
            raise FloatingPointError(f"surrogate 'pinn': training diverged (loss {stats['loss']})")
        return network, stats

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

    def solve(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Train one PINN per sample of ``inputs`` and evaluate it on the output grid.

        Parameters
        ----------
        inputs : dict
            ``name -> [n, ...]`` arrays, the problem's inputs.

        Returns
        -------
        dict
            ``name -> [n, ...]`` for every output of the problem, on
            ``problem.coords(resolution)``, the resolution read from the inputs.
        """
        resolution = self.problem.infer_resolution(inputs)
        inputs = self.problem.check_inputs(inputs, resolution)
        n = next(iter(inputs.values())).shape[0]
        h = self.hyperparameters
        dtype = DTYPES[h["dtype"]]
        out: dict[str, np.ndarray] = {}
        self.networks, self.last_solve_stats = [], []
        for i in range(n):
            start = time.perf_counter()
            physics = self.problem.physics({k: v[i] for k, v in inputs.items()})
            network, stats = self._train_one(physics, h["seed"] + i)
            solution = ConstrainedSolution(network, physics, self.uses_hard_constraints)
            for name in self.problem.output_names:
                grid, shape = self._grid_points(physics, name, resolution)
                points = torch.as_tensor(grid, dtype=dtype, device=network.center.device)
                values = solution(points).detach().cpu().numpy().reshape(shape)
                out.setdefault(name, np.empty((n, *shape)))[i] = values
            if self.device.startswith("cuda"):
                torch.cuda.synchronize()
            stats["time_s"] = time.perf_counter() - start
            self.networks.append(network)
            self.last_solve_stats.append(stats)
        return out

    # -- persistence ----------------------------------------------------------------------
    def _save_state(self, folder: Path) -> dict[str, Any]:
        """Save the networks of the last :meth:`solve` (if any) to ``model.pt``.

        Loading restores the settings and these networks (``N`` only, for inspection);
        a later ``solve`` trains afresh, as a PINN always does.
        """
        if not self.networks:
            return {"networks": 0}
        state = {
            f"{i}.{k}": v.detach().cpu()
            for i, net in enumerate(self.networks)
            for k, v in net.state_dict().items()
        }
        save_checkpoint(folder / WEIGHTS, state)
        return {
            "networks": len(self.networks),
            "last_solve_stats": self.last_solve_stats,
            "fit_options": {k: v for k, v in self.fit_options.items() if _jsonable(v)},
        }

    def _load_state(self, folder: Path, config: dict[str, Any]) -> None:
        self.last_solve_stats = list(config.get("last_solve_stats", []))
        self.fit_options = dict(config.get("fit_options", {}))
        count = int(config.get("networks", 0))
        if not count:
            return
        state = load_checkpoint(folder / WEIGHTS)
        physics = self.problem.physics(self.problem.sample_inputs(1, 0))
        h = self.hyperparameters
        self.networks = []
        for i in range(count):
            net = MLP(physics.lower, physics.upper, h["width"], h["depth"], h["activation"])
            prefix = f"{i}."
            own = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            try:
                net.load_state_dict(own)
            except RuntimeError as error:
                raise ValueError(
                    f"{folder / WEIGHTS}: weights do not match the saved hyperparameters ({error})"
                ) from None
            self.networks.append(net.to(device=self.device, dtype=DTYPES[h["dtype"]]))


def _jsonable(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None
