"""The physics-informed neural network surrogate, ``"pinn"`` (Raissi, Perdikaris, Karniadakis,
J. Comput. Phys. 378, 2019).

A PINN learns from the problem alone: for one input instance it trains a fully connected
network ``u_θ(x, t)`` so that the PDE residual vanishes at random collocation points and the
boundary and initial conditions hold, first with Adam, then with L-BFGS (strong-Wolfe line
search). There is no operator to learn ahead of time, so :meth:`PINNSurrogate.fit` only
records its training settings and :meth:`PINNSurrogate.solve` trains one fresh network per
input sample; that training time *is* the inference cost a validation report should charge.

Hard constraints
----------------
For a problem whose :class:`~pdeml.problems.residual.PDEResidual` has homogeneous Dirichlet
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
from pdeml.surrogates.constrained import (
    ConstrainedSolution,
    hard_constraint_applies,
    initial_condition,
)
from pdeml.surrogates.physics_informed import PhysicsInformedSurrogate

__all__ = [
    "MLP",
    "BoxScaled",
    "ConstrainedSolution",
    "PINNSurrogate",
    "hard_constraint_applies",
    "initial_condition",
    "xavier_mlp",
]

ACTIVATIONS = ("tanh", "sin")


class Sine(nn.Module):
    """``sin(x)`` as a module."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(x)


def xavier_mlp(size: int, width: int, depth: int, activation: type[nn.Module]) -> nn.Sequential:
    """``depth`` hidden layers of ``width`` with ``activation`` and one output, Glorot-normal
    weights and zero biases (the PINN initialisation)."""
    layers: list[nn.Module] = []
    for _ in range(depth):
        linear = nn.Linear(size, width)
        nn.init.xavier_normal_(linear.weight)
        nn.init.zeros_(linear.bias)
        layers += [linear, activation()]
        size = width
    head = nn.Linear(size, 1)
    nn.init.xavier_normal_(head.weight)
    nn.init.zeros_(head.bias)
    layers.append(head)
    return nn.Sequential(*layers)


class BoxScaled(nn.Module):
    """A network on points scaled from the box ``lower``–``upper`` to ``[−1, 1]^d``."""

    # Buffers (register_buffer), declared for the type checker.
    center: torch.Tensor
    half_width: torch.Tensor

    def __init__(self, lower: tuple[float, ...], upper: tuple[float, ...]) -> None:
        super().__init__()
        lo = torch.as_tensor(lower, dtype=torch.float64)
        hi = torch.as_tensor(upper, dtype=torch.float64)
        self.register_buffer("center", (lo + hi) / 2)
        self.register_buffer("half_width", (hi - lo) / 2)

    def scaled(self, points: torch.Tensor) -> torch.Tensor:
        """``points`` in the box's ``[−1, 1]^d`` coordinates."""
        return (points - self.center) / self.half_width


class MLP(BoxScaled):
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
        super().__init__(lower, upper)
        kind = nn.Tanh if activation == "tanh" else Sine
        self.net = xavier_mlp(len(lower), width, depth, kind)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """Values ``[m, 1]`` at ``points`` ``[m, d]``."""
        return self.net(self.scaled(points))


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
    hard_constraints : bool
        Impose homogeneous Dirichlet and initial conditions exactly where the problem's
        physics allows; otherwise soft penalties.
    parametric : dict, optional
        ``{name: (low, high)}``: PDE parameters taken as extra network inputs, trained once
        over the range by :meth:`fit` (e.g. ``{"nu": (0.002, 0.01)}`` for Burgers).
    dtype : {"float64", "float32"}
        Precision of training (float64 default: L-BFGS stalls early in float32).

    Raises
    ------
    ValueError
        If the problem has no PDE residual, or a hyperparameter is invalid.

    Notes
    -----
    Every optimisation setting is an option of :meth:`fit` (documented there):
    ``n_collocation``, ``n_boundary``, ``n_initial``, ``sampling``, ``resampling``,
    ``resample_every``, ``resample_power``, ``resample_floor``, ``lbfgs_resample_every``,
    ``adam_steps``, ``lr``, ``lr_decay``, ``lbfgs_steps``, ``weight_residual``,
    ``weight_boundary``, ``weight_initial``, ``seed``, ``device``, ``time_limit``,
    ``log_every``, ``checkpoint_every``, ``progress``; ``out_dir``, ``resume``, ``inputs``
    (parametric mode). Per instance, :meth:`fit` records them and :meth:`solve` trains.

    Examples
    --------
    >>> import pdeml
    >>> problem = pdeml.problems.problem_class("burgers_dirichlet")(resolution=33, n_t=5)
    >>> pinn = pdeml.make_surrogate("pinn", problem, width=8, depth=2)
    >>> pinn = pinn.fit(n_collocation=64, adam_steps=3, lbfgs_steps=2)
    >>> pinn.solve(problem.sample_inputs(1, 0))["u"].shape
    (1, 5, 33)
    """

    name = "pinn"

    def __init__(
        self,
        problem: Problem,
        width: int = 20,
        depth: int = 8,
        activation: str = "tanh",
        hard_constraints: bool = True,
        parametric: Mapping[str, Any] | None = None,
        dtype: str = "float64",
    ) -> None:
        own = {
            "width": check_int("width", width, 1),
            "depth": check_int("depth", depth, 1),
            "activation": check_choice("activation", activation, ACTIVATIONS),
        }
        super().__init__(problem)
        self._set_common(own, locals())

    def _make_network(self, lower: tuple[float, ...], upper: tuple[float, ...]) -> nn.Module:
        h = self.hyperparameters
        return MLP(lower, upper, h["width"], h["depth"], h["activation"])
