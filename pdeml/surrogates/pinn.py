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

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from pdeml._checks import check_choice, check_int
from pdeml.problems.base import Problem
from pdeml.surrogates.base import register_surrogate
from pdeml.surrogates.physics_informed import (
    ConstrainedSolution,
    PhysicsInformedSurrogate,
    hard_constraint_applies,
    initial_condition,
)

__all__ = [
    "MLP",
    "ConstrainedSolution",
    "PINNSurrogate",
    "hard_constraint_applies",
    "initial_condition",
]

ACTIVATIONS = ("tanh", "sin")


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


@register_surrogate
class PINNSurrogate(PhysicsInformedSurrogate):
    """Physics-informed neural network: an MLP trained on the problem's residual.

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
    resampling : {"none", "rad"}
        Residual-based adaptive redrawing of the collocation points during Adam
        (see :mod:`pdeml.surrogates.physics_informed`).
    resample_every : int
        Adam steps between two redraws (500).
    resample_power, resample_floor : float
        ``k`` and ``c`` of the RAD density ``|r|^k / mean(|r|^k) + c`` (1, 1).
    lbfgs_resample_every : int
        With resampling on, redraw the points every this many L-BFGS iterations too and
        restart L-BFGS on them (0, the default: L-BFGS keeps the last points). A network
        with many local degrees of freedom (PIG) can otherwise fit the residual at the
        fixed points rather than between them.
    adam_steps : int
        Adam iterations (2000), full batch.
    lr : float
        Adam learning rate (1e-3).
    lr_decay : float
        Factor by which the Adam learning rates have decayed (exponentially) at the last
        Adam step (1, the default: constant). Must be in (0, 1].
    lbfgs_steps : int
        L-BFGS iterations after Adam (500; 0 skips L-BFGS).
    weight_residual, weight_boundary, weight_initial : float
        Loss weights (1 each); the latter two are unused under hard constraints.
    hard_constraints : bool
        Impose homogeneous Dirichlet and initial conditions exactly where the problem's
        physics allows; otherwise soft penalties.
    parametric : dict, optional
        ``{name: (low, high)}``: PDE parameters taken as extra network inputs, trained once
        over the range by :meth:`fit` (e.g. ``{"nu": (0.002, 0.01)}`` for Burgers).
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
    Per instance, :meth:`fit` learns nothing and :meth:`solve` trains. After ``solve``,
    ``last_solve_stats`` holds per sample ``time_s`` (set-up, training and evaluation),
    ``train_s``, ``loss`` (final total loss) and the loss terms.
    """

    name = "pinn"

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
        resampling: str = "none",
        resample_every: int = 500,
        resample_power: float = 1.0,
        resample_floor: float = 1.0,
        lbfgs_resample_every: int = 0,
        adam_steps: int = 2000,
        lr: float = 1e-3,
        lr_decay: float = 1.0,
        lbfgs_steps: int = 500,
        weight_residual: float = 1.0,
        weight_boundary: float = 1.0,
        weight_initial: float = 1.0,
        hard_constraints: bool = True,
        parametric: Mapping[str, Any] | None = None,
        dtype: str = "float64",
        seed: int = 0,
        device: str | None = None,
    ) -> None:
        super().__init__(problem)
        own = {
            "width": check_int("width", width, 1),
            "depth": check_int("depth", depth, 1),
            "activation": check_choice("activation", activation, ACTIVATIONS),
        }
        self._set_common(own, locals())

    def _make_network(self, lower: tuple[float, ...], upper: tuple[float, ...]) -> nn.Module:
        h = self.hyperparameters
        return MLP(lower, upper, h["width"], h["depth"], h["activation"])
