"""The candidate solution of a physics-informed surrogate: a network, optionally wrapped so
that homogeneous Dirichlet and initial conditions hold exactly (hard constraints), and its
evaluation on a problem's output grid."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from pdeml.protocols import ResidualLike
from pdeml.surrogates.jets import FrozenJets, check_pairs, taylor

if TYPE_CHECKING:
    from pdeml.problems.base import Problem


def _probe(physics: ResidualLike, dtype: torch.dtype) -> torch.Tensor:
    """A few points on the boundary, deterministic."""
    return physics.sample_boundary(16, 0, dtype=dtype)


def initial_condition(physics: ResidualLike) -> Callable[[torch.Tensor], torch.Tensor]:
    """``u0`` as a differentiable function of points ``[m, d]`` (time column ignored).

    Read from the problem's own initial mismatch: ``u0(x) = −(0 − u0(x))``, evaluated with a
    zero candidate that keeps the graph to the points, so derivatives of ``u0`` flow.
    """

    def zero(p: torch.Tensor) -> torch.Tensor:
        return 0.0 * p[:, :1]

    def u0(points: torch.Tensor) -> torch.Tensor:
        return -physics.initial_residual(zero, points)

    return u0


def hard_constraint_applies(physics: ResidualLike) -> bool:
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
    physics : ResidualLike
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
        self, network: nn.Module, physics: ResidualLike, hard: bool, jets: bool = True
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
            network: Any = self.network  # it has a jet method (checked above)
            jet = network.jet(inputs.detach(), self.dim, self.pairs)
            n = taylor(jet, points, self.pairs)
        else:
            n = self.network(inputs)
        if not self.hard:
            return n
        scale = self.bubble(points)
        if not self.time_dependent:
            return (scale * n[:, 0])[:, None]
        t = points[:, -1] - self.lower[-1]
        assert self.u0 is not None  # set for hard constraints in time
        return (self.u0(points) + t * scale * n[:, 0])[:, None]


def grid_points(
    problem: Problem, physics: ResidualLike, name: str, resolution: int
) -> tuple[np.ndarray, tuple[int, ...]]:
    """Points ``[m, d]`` of output ``name``'s grid (residual column order), and its shape.

    A coordinate the field lacks is fixed: time at the final time, as outputs without
    a time axis are final-time snapshots.
    """
    coords = problem.coords(resolution)
    dims = problem.field_dims(name)
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


def evaluate_outputs(
    problem: Problem,
    solution: ConstrainedSolution,
    physics: ResidualLike,
    resolution: int,
    dtype: torch.dtype,
    row: Sequence[float] | None = None,
) -> dict[str, np.ndarray]:
    """Every output field of ``problem`` from ``solution`` on the grid of ``resolution``;
    ``row`` holds the parameter values of a parametric network (one per parameter)."""
    device = next(solution.network.parameters()).device
    out = {}
    for name in problem.output_names:
        grid, shape = grid_points(problem, physics, name, resolution)
        points = torch.as_tensor(grid, dtype=dtype, device=device)
        if row is not None:
            extra = torch.as_tensor(list(row), dtype=dtype, device=device)
            solution.extra = extra.expand(points.shape[0], -1)
        with torch.enable_grad():  # u0's interpolant and observe() differentiate
            values = physics.output(solution, points)
        out[name] = values.detach().cpu().numpy().reshape(shape)
    solution.extra = None
    return out


def relative_error(
    problem: Problem, physics: ResidualLike, resolution: int, reference: Mapping[str, np.ndarray],
    dtype: torch.dtype,
) -> Callable[[ConstrainedSolution], float]:  # fmt: skip
    """Relative L2 error of the first output against ``reference`` (one sample)."""
    name = problem.output_names[0]
    target = np.asarray(reference[name], dtype=np.float64)
    norm = np.linalg.norm(target)

    def error(solution: ConstrainedSolution) -> float:
        fresh = ConstrainedSolution(solution.network, physics, solution.hard)
        field = evaluate_outputs(problem, fresh, physics, resolution, dtype)[name]
        return float(np.linalg.norm(field - target) / norm)

    return error
