"""PDE residuals in torch, for physics-informed training (PINN, PIG).

A :class:`PDEResidual` describes one PDE instance (a problem plus one input sample) as a
physics-informed method sees it: a box of space-time points, the strong-form residual of
the equation at collocation points, and the mismatch of the boundary and initial
conditions. Derivatives of the candidate solution are taken with ``torch.autograd``, so a
``u_fn`` may be any differentiable map (a network, an interpolant, an exact formula).

Points are tensors ``[m, d]`` whose columns are the coordinates named by
:attr:`PDEResidual.coordinates`: ``("x", "t")`` for Burgers, ``("x", "y")`` for Darcy.
Everything works in the dtype and on the device of the points given (float64 is advised
for checking residuals to round-off).

Build one with :meth:`pdeml.problems.base.Problem.physics`; the builders below are what
the problems call.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

#: A candidate solution: points ``[m, d]`` to values ``[m, 1]``.
UFn = Callable[[torch.Tensor], torch.Tensor]

SAMPLING_METHODS = ("uniform", "latin")


def grad(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Gradient of the pointwise values ``y`` ``[m]`` with respect to points ``x`` ``[m, d]``.

    Each ``y[i]`` must depend on ``x[i]`` only (true of any pointwise ``u_fn``), so the
    gradient of ``y.sum()`` is the row-wise gradient. The graph is kept for higher
    derivatives and for back-propagation into the parameters of ``u_fn``.
    """
    (g,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    return g


def _evaluate(u_fn: UFn, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Points made differentiable, and ``u_fn`` at them as a vector ``[m]``."""
    if not isinstance(points, torch.Tensor) or points.ndim != 2:
        raise ValueError(
            f"points must be a torch tensor [m, d], got {getattr(points, 'shape', points)!r}"
        )
    if not points.requires_grad:
        points = points.detach().clone().requires_grad_(True)
    u = u_fn(points)
    if u.ndim != 2 or u.shape != (points.shape[0], 1):
        raise ValueError(
            f"u_fn must map points [m, d] to values [m, 1], got shape {tuple(u.shape)}"
        )
    return points, u[:, 0]


class PeriodicInterpolant:
    """Trigonometric interpolant of values on a periodic grid, evaluated in torch.

    For samples ``v_j = v(x0 + j L / N)``, ``j = 0 .. N − 1``, it is the unique
    trigonometric polynomial of degree ≤ N/2 through them (the Nyquist mode taken as a pure
    cosine for even ``N``): exact at the grid points, differentiable everywhere, and
    spectrally accurate in between for smooth periodic ``v``.

    Parameters
    ----------
    values : numpy.ndarray
        ``[N]`` values at ``x0 + j L / N`` (the right end excluded).
    x0, period : float
        Left end and length ``L`` of the period.

    Notes
    -----
    Evaluation costs ``O(m N)`` time and memory for ``m`` points; evaluate large batches
    of points in chunks when ``N`` is in the thousands.
    """

    def __init__(self, values: np.ndarray, x0: float = 0.0, period: float = 1.0) -> None:
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 1 or values.size < 2:
            raise ValueError(f"values must be a 1D array of >= 2 points, got shape {values.shape}")
        n = values.size
        c = np.fft.rfft(values) / n
        self.x0, self.period, self.n = float(x0), float(period), n
        cos = 2.0 * c.real
        sin = -2.0 * c.imag
        cos[0] = c[0].real
        if n % 2 == 0:  # the Nyquist mode is real and counted once
            cos[-1] = c[-1].real
            sin[-1] = 0.0
        self.cos = torch.from_numpy(cos)
        self.sin = torch.from_numpy(sin)
        self.k = torch.arange(c.size, dtype=torch.float64)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Values of the interpolant at ``x`` (any shape), in the dtype and device of ``x``."""
        k, cos, sin = (v.to(dtype=x.dtype, device=x.device) for v in (self.k, self.cos, self.sin))
        phase = (2.0 * math.pi / self.period) * (x - self.x0)[..., None] * k
        return (torch.cos(phase) * cos + torch.sin(phase) * sin).sum(-1)


class BilinearInterpolant:
    """Bilinear interpolant of values on a uniform grid of the unit square, in torch.

    Parameters
    ----------
    values : numpy.ndarray
        ``[nx, ny]`` values at ``(i / (nx − 1), j / (ny − 1))``, both ends included.

    Notes
    -----
    Values are second-order accurate (``O(h²)``) for smooth data; the gradient that
    autograd takes through it is piecewise constant and first-order accurate in general,
    second order at cell centres.
    """

    def __init__(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2 or min(values.shape) < 2:
            raise ValueError(f"values must be a 2D grid of >= 2x2 points, got shape {values.shape}")
        self.values = torch.from_numpy(values)

    def __call__(self, points: torch.Tensor) -> torch.Tensor:
        """Values at ``points`` ``[m, 2]`` in the unit square, as ``[m]``."""
        v = self.values.to(dtype=points.dtype, device=points.device)
        nx, ny = v.shape
        sx = points[:, 0].clamp(0.0, 1.0) * (nx - 1)
        sy = points[:, 1].clamp(0.0, 1.0) * (ny - 1)
        i = sx.detach().floor().long().clamp(0, nx - 2)
        j = sy.detach().floor().long().clamp(0, ny - 2)
        fx, fy = sx - i, sy - j
        return (
            v[i, j] * (1 - fx) * (1 - fy)
            + v[i + 1, j] * fx * (1 - fy)
            + v[i, j + 1] * (1 - fx) * fy
            + v[i + 1, j + 1] * fx * fy
        )


@dataclasses.dataclass(frozen=True)
class PDEResidual:
    """One PDE instance as physics-informed training sees it.

    Attributes
    ----------
    problem : str
        Name of the problem it comes from.
    coordinates : tuple of str
        Names of the columns of a point, e.g. ``("x", "t")``.
    lower, upper : tuple of float
        The box of the domain, one bound per coordinate.
    periodic : tuple of bool
        Per coordinate, whether the domain is periodic in it (its upper bound excluded).
    time_dependent : bool
        Whether the last coordinate is time, with an initial condition at its lower bound.
    equation : callable
        ``(u_fn, points) -> [m]``, the strong-form residual.
    boundary : callable
        ``(u_fn, points) -> [m, c]``, the boundary mismatch, ``c`` conditions per point.
    initial : callable or None
        ``(u_fn, points) -> [m]``, the initial mismatch (``None`` for steady problems).
    boundary_sampler : callable
        ``(unit [m, d − 1] in [0, 1), rng) -> points [m, d]`` on the boundary.
    parameters : dict of str to float
        The scalar PDE parameters of this instance that a parametric method may vary
        (``{"nu": ν}`` for Burgers, ``{"forcing": f}`` for Darcy).
    equation_with : callable or None
        ``parameters -> equation``: the residual with other parameter values, each a float
        or a tensor ``[m]`` (one value per point, for a network that takes the parameter
        as an input). ``None`` when the problem has no such parameters.
    observe : callable or None
        ``(u_fn, points) -> [m]``: the output field of the problem computed from the
        candidate ``u_fn`` when the two differ (Navier–Stokes: ``u_fn`` is the stream
        function ψ and the output the vorticity ``w = −Δψ``). ``None``: ``u_fn`` itself.
    second_derivatives : tuple of (int, int) or None
        A promise that the equation, the conditions and ``observe`` differentiate the
        candidate at most twice, and twice only along these coordinate pairs ``(i, j)``,
        ``i <= j`` (Burgers: ``((0, 0),)``, ``u_xx``). It lets a surrogate hand the residual
        closed-form derivatives instead of nested autograd
        (:mod:`pdeml.surrogates.jets`). ``None`` (the default): no promise, plain autograd.
    """

    problem: str
    coordinates: tuple[str, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    periodic: tuple[bool, ...]
    time_dependent: bool
    equation: Callable[[UFn, torch.Tensor], torch.Tensor]
    boundary: Callable[[UFn, torch.Tensor], torch.Tensor]
    initial: Callable[[UFn, torch.Tensor], torch.Tensor] | None
    boundary_sampler: Callable[[np.ndarray, np.random.Generator], np.ndarray]
    parameters: Mapping[str, float] = dataclasses.field(default_factory=dict)
    equation_with: (
        Callable[[Mapping[str, Any]], Callable[[UFn, torch.Tensor], torch.Tensor]] | None
    ) = None
    observe: Callable[[UFn, torch.Tensor], torch.Tensor] | None = None
    second_derivatives: tuple[tuple[int, int], ...] | None = None

    @property
    def dim(self) -> int:
        """Number of coordinates of a point."""
        return len(self.coordinates)

    def domain(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Lower and upper bounds of the domain box, one per coordinate."""
        return self.lower, self.upper

    def residual(
        self,
        u_fn: UFn,
        points: torch.Tensor,
        parameters: Mapping[str, Any] | None = None,
    ) -> torch.Tensor:
        """PDE residual of ``u_fn`` at interior ``points`` ``[m, d]``, as ``[m]``.

        Zero for the exact solution. Points that do not require gradients are copied and
        made to; the result keeps the graph to ``u_fn``'s parameters.

        Parameters
        ----------
        u_fn : callable
            Candidate solution, points ``[m, d]`` to values ``[m, 1]``.
        points : torch.Tensor
            Interior points ``[m, d]``.
        parameters : dict, optional
            Values replacing some of :attr:`parameters`, each a float or a tensor ``[m]``
            (one value per point). Default: the instance's own values.
        """
        if not parameters:
            return self.equation(u_fn, points)
        unknown = sorted(set(parameters) - set(self.parameters))
        if unknown or self.equation_with is None:
            raise ValueError(
                f"problem {self.problem!r}: unknown PDE parameter(s) "
                f"{unknown or list(parameters)}; expected some of {sorted(self.parameters)}"
            )
        return self.equation_with({**self.parameters, **parameters})(u_fn, points)

    def output(self, u_fn: UFn, points: torch.Tensor) -> torch.Tensor:
        """The problem's output field at ``points`` from the candidate ``u_fn``, ``[m]``."""
        if self.observe is None:
            return _evaluate(u_fn, points)[1]
        return self.observe(u_fn, points)

    def boundary_residual(self, u_fn: UFn, points: torch.Tensor) -> torch.Tensor:
        """Boundary-condition mismatch at boundary ``points`` (from :meth:`sample_boundary`).

        Returns ``[m, c]``: ``c = 1`` for a Dirichlet condition ``u − g``; ``c = 2`` for a
        periodic direction, the jumps of ``u`` and of its derivative across the period.
        """
        return self.boundary(u_fn, points)

    def initial_residual(self, u_fn: UFn, points: torch.Tensor) -> torch.Tensor:
        """Initial-condition mismatch ``u(x, t0) − u0(x)`` at ``points`` ``[m, d]``, as ``[m]``.

        The time column of ``points`` is ignored (set to the initial time).

        Raises
        ------
        ValueError
            If the problem is steady.
        """
        if self.initial is None:
            raise ValueError(f"problem {self.problem!r} is steady; it has no initial condition")
        return self.initial(u_fn, points)

    def _rng(self, seed: int) -> np.random.Generator:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        return np.random.default_rng(int(seed))

    def _unit(self, m: int, d: int, rng: np.random.Generator, method: str) -> np.ndarray:
        if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
            raise ValueError(f"m must be an integer >= 1, got {m!r}")
        if method == "uniform":
            return rng.random((int(m), d))
        if method == "latin":
            from scipy.stats import qmc

            return qmc.LatinHypercube(d, seed=rng).random(int(m))
        raise ValueError(f"method must be one of {SAMPLING_METHODS}, got {method!r}")

    def _scale(self, unit: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
        lower, upper = np.asarray(self.lower), np.asarray(self.upper)
        return torch.as_tensor(lower + (upper - lower) * unit, dtype=dtype)

    def sample_collocation(
        self, m: int, seed: int, method: str = "uniform", *, dtype: torch.dtype = torch.float64
    ) -> torch.Tensor:
        """Draw ``m`` collocation points in the domain, ``[m, d]``.

        Parameters
        ----------
        m : int
            Number of points.
        seed : int
            Seed; the same seed gives the same points.
        method : {"uniform", "latin"}
            Independent uniform points, or a Latin hypercube (one point per stratum of
            each coordinate).
        dtype : torch.dtype, optional
            Dtype of the result.
        """
        rng = self._rng(seed)
        return self._scale(self._unit(m, self.dim, rng, method), dtype)

    def sample_boundary(
        self, m: int, seed: int, *, dtype: torch.dtype = torch.float64
    ) -> torch.Tensor:
        """Draw ``m`` points on the spatial boundary, for :meth:`boundary_residual`."""
        rng = self._rng(seed)
        unit = self._unit(m, max(self.dim - 1, 1), rng, "uniform")
        return torch.as_tensor(self.boundary_sampler(unit, rng), dtype=dtype)

    def sample_initial(
        self, m: int, seed: int, *, dtype: torch.dtype = torch.float64
    ) -> torch.Tensor:
        """Draw ``m`` points on the initial slice ``t = t0``, for :meth:`initial_residual`."""
        if not self.time_dependent:
            raise ValueError(f"problem {self.problem!r} is steady; it has no initial condition")
        points = self.sample_collocation(m, seed, dtype=dtype)
        points[:, -1] = self.lower[-1]
        return points


# -- Burgers ----------------------------------------------------------------------------
def _burgers_equation(nu: float | torch.Tensor) -> Callable[[UFn, torch.Tensor], torch.Tensor]:
    def equation(u_fn: UFn, points: torch.Tensor) -> torch.Tensor:
        points, u = _evaluate(u_fn, points)
        du = grad(u, points)
        u_x, u_t = du[:, 0], du[:, 1]
        u_xx = grad(u_x, points)[:, 0]
        return u_t + u * u_x - nu * u_xx

    return equation


def _initial(u0: PeriodicInterpolant) -> Callable[[UFn, torch.Tensor], torch.Tensor]:
    def initial(u_fn: UFn, points: torch.Tensor) -> torch.Tensor:
        x = points[:, 0]
        at_t0 = torch.stack([x, torch.zeros_like(x)], dim=1)
        _, u = _evaluate(u_fn, at_t0)
        return u - u0(x)

    return initial


def burgers_periodic_physics(problem, u0: np.ndarray) -> PDEResidual:
    """Residual of :class:`~pdeml.problems.burgers.Burgers1D` for one initial condition.

    ``u_t + u u_x − ν u_xx`` on ``[0, 1) × [0, T]``; ``u(x, 0)`` is the trigonometric
    interpolant of ``u0`` on the grid ``x_j = j / N``; periodicity of ``u`` and ``u_x``
    between ``x = 0`` and ``x = 1``.
    """
    u0 = _one_field(problem, "u0", u0, 1)
    interpolant = PeriodicInterpolant(u0, 0.0, 1.0)

    def boundary(u_fn: UFn, points: torch.Tensor) -> torch.Tensor:
        t = points[:, 1]
        left = torch.stack([torch.zeros_like(t), t], dim=1)
        right = torch.stack([torch.ones_like(t), t], dim=1)
        left, u_left = _evaluate(u_fn, left)
        right, u_right = _evaluate(u_fn, right)
        jump = u_left - u_right
        slope_jump = grad(u_left, left)[:, 0] - grad(u_right, right)[:, 0]
        return torch.stack([jump, slope_jump], dim=1)

    def boundary_sampler(unit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        t = problem.T * unit[:, 0]
        return np.stack([np.zeros_like(t), t], axis=1)

    return PDEResidual(
        problem=problem.name,
        coordinates=("x", "t"),
        lower=(0.0, 0.0),
        upper=(1.0, float(problem.T)),
        periodic=(True, False),
        time_dependent=True,
        equation=_burgers_equation(problem.nu),
        boundary=boundary,
        initial=_initial(interpolant),
        boundary_sampler=boundary_sampler,
        parameters={"nu": float(problem.nu)},
        equation_with=lambda values: _burgers_equation(values["nu"]),
        second_derivatives=((0, 0),),
    )


def burgers_dirichlet_physics(problem, u0: np.ndarray) -> PDEResidual:
    """Residual of :class:`~pdeml.problems.burgers_dirichlet.BurgersDirichlet`.

    ``u_t + u u_x − ν u_xx`` on ``[−1, 1] × [0, T]`` with ``u(±1, t) = 0``. The initial
    condition is the trigonometric interpolant (period 2) of the grid values of ``u0``
    without the right end: exact at the grid points, and exact everywhere for the
    benchmark's ``−sin(πx)``; spectrally accurate for any ``u0`` whose 2-periodic extension
    is smooth, as ``u0(±1) = 0`` suggests.
    """
    u0 = _one_field(problem, "u0", u0, 1)
    interpolant = PeriodicInterpolant(u0[:-1], -1.0, 2.0)

    def boundary(u_fn: UFn, points: torch.Tensor) -> torch.Tensor:
        _, u = _evaluate(u_fn, points)
        return u[:, None]

    def boundary_sampler(unit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        t = problem.T * unit[:, 0]
        x = np.where(rng.random(t.size) < 0.5, -1.0, 1.0)
        return np.stack([x, t], axis=1)

    return PDEResidual(
        problem=problem.name,
        coordinates=("x", "t"),
        lower=(-1.0, 0.0),
        upper=(1.0, float(problem.T)),
        periodic=(False, False),
        time_dependent=True,
        equation=_burgers_equation(problem.nu),
        boundary=boundary,
        initial=_initial(interpolant),
        boundary_sampler=boundary_sampler,
        parameters={"nu": float(problem.nu)},
        equation_with=lambda values: _burgers_equation(values["nu"]),
        second_derivatives=((0, 0),),
    )


# -- Darcy ------------------------------------------------------------------------------
def darcy_physics(problem, a: np.ndarray) -> PDEResidual:
    """Residual of :class:`~pdeml.problems.darcy.Darcy2D` for one coefficient field.

    ``−∇·(a ∇u) − f`` on ``(0, 1)²`` with ``u = 0`` on the boundary, ``a`` the bilinear
    interpolant of the grid values and ``f`` the constant ``problem.forcing``.

    Notes
    -----
    The strong form needs ``∇a``. For a smooth coefficient (``coefficient="lognormal"``)
    the residual of the exact solution is small and shrinks as the coefficient grid is
    refined (first order at general points, second order at cell centres, see
    :class:`BilinearInterpolant`). For the piecewise-constant coefficient of the FNO
    benchmark the strong form is ill-defined on the jumps of ``a``: there the flux
    ``a ∇u``, not ``∇u``, is continuous and ``∇a`` is a measure. The bilinear interpolant
    smears each jump over one cell, so the residual there is large and grows under grid
    refinement; a weak (variational) form, as physics-informed methods on such media
    use, is not provided yet.
    """
    a = _one_field(problem, "a", a, 2)
    coefficient = BilinearInterpolant(a)

    def equation_with(values: Mapping[str, Any]) -> Callable[[UFn, torch.Tensor], torch.Tensor]:
        forcing = values["forcing"]

        def equation(u_fn: UFn, points: torch.Tensor) -> torch.Tensor:
            points, u = _evaluate(u_fn, points)
            flux = coefficient(points)[:, None] * grad(u, points)
            divergence = grad(flux[:, 0], points)[:, 0] + grad(flux[:, 1], points)[:, 1]
            return -divergence - forcing

        return equation

    def boundary(u_fn: UFn, points: torch.Tensor) -> torch.Tensor:
        _, u = _evaluate(u_fn, points)
        return u[:, None]

    def boundary_sampler(unit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        s = unit[:, 0]
        side = rng.integers(0, 4, size=s.size)
        x = np.select([side == 0, side == 1], [np.zeros_like(s), np.ones_like(s)], s)
        y = np.select([side == 2, side == 3], [np.zeros_like(s), np.ones_like(s)], s)
        return np.stack([x, y], axis=1)

    return PDEResidual(
        problem=problem.name,
        coordinates=("x", "y"),
        lower=(0.0, 0.0),
        upper=(1.0, 1.0),
        periodic=(False, False),
        time_dependent=False,
        equation=equation_with({"forcing": float(problem.forcing)}),
        boundary=boundary,
        initial=None,
        boundary_sampler=boundary_sampler,
        parameters={"forcing": float(problem.forcing)},
        equation_with=equation_with,
        second_derivatives=((0, 0), (1, 1)),
    )


# -- Navier–Stokes ------------------------------------------------------------------------
class PeriodicInterpolant2D:
    """Trigonometric interpolant of values on a periodic ``N × N`` grid of the unit torus.

    Exact at the grid points ``(i/N, j/N)``; evaluation costs ``O(m N)`` per point batch
    after one FFT, through the separable sum ``Re Σ_kl c_kl e^{2πikx} e^{2πily}``.
    """

    def __init__(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float64)
        n = values.shape[0]
        self.coefficients = torch.as_tensor(np.fft.fft2(values) / values.size)
        self.frequencies = torch.as_tensor(np.fft.fftfreq(n, 1.0 / n))

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        k = self.frequencies.to(x.device)
        ex = torch.exp(2j * math.pi * x[:, None].to(torch.float64) * k)
        ey = torch.exp(2j * math.pi * y[:, None].to(torch.float64) * k)
        c = self.coefficients.to(x.device)
        return ((ex @ c) * ey).sum(dim=1).real.to(x.dtype)


def _vorticity_parts(u_fn: UFn, points: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Points, ψ's velocity ``(ψ_y, −ψ_x)`` and ``w = −Δψ`` with its first derivatives."""
    points, psi = _evaluate(u_fn, points)
    dpsi = grad(psi, points)
    psi_xx = grad(dpsi[:, 0], points)[:, 0]
    psi_yy = grad(dpsi[:, 1], points)[:, 1]
    w = -(psi_xx + psi_yy)
    return points, dpsi[:, 1], -dpsi[:, 0], w


def navier_stokes_physics(problem, w_in: np.ndarray) -> PDEResidual:
    """Residual of :class:`~pdeml.problems.navier_stokes.NavierStokes2D` for one input.

    The candidate ``u_fn`` is the stream function ψ(x, y, t); the vorticity is
    ``w = −Δψ`` and the velocity ``(ψ_y, −ψ_x)``, so the flow is divergence-free by
    construction and the residual is the vorticity equation

        w_t + ψ_y w_x − ψ_x w_y − ν Δw − f

    on ``[0, 1)² × [t_in, T]``, starting from the last input snapshot ``w_in[-1]`` (its
    trigonometric interpolant). Periodicity is asked of ψ and ∇ψ across both pairs of
    sides. Over long horizons a PINN of this residual is hard to train (the published
    PINN studies of this flow keep to short horizons); set ``T`` a few units past ``t_in``.
    """
    w_in = _one_field(problem, "w_in", w_in, 3)
    initial_w = PeriodicInterpolant2D(w_in[-1])
    amplitude = float(problem.forcing_amplitude)
    t0, t1 = float(problem.t_in), float(problem.T)

    def equation_with(values: Mapping[str, Any]) -> Callable[[UFn, torch.Tensor], torch.Tensor]:
        nu = values["nu"]

        def equation(u_fn: UFn, points: torch.Tensor) -> torch.Tensor:
            points, u, v, w = _vorticity_parts(u_fn, points)
            dw = grad(w, points)
            w_xx = grad(dw[:, 0], points)[:, 0]
            w_yy = grad(dw[:, 1], points)[:, 1]
            phase = 2 * math.pi * (points[:, 0] + points[:, 1])
            forcing = amplitude * (torch.sin(phase) + torch.cos(phase))
            return dw[:, 2] + u * dw[:, 0] + v * dw[:, 1] - nu * (w_xx + w_yy) - forcing

        return equation

    def observe(u_fn: UFn, points: torch.Tensor) -> torch.Tensor:
        return _vorticity_parts(u_fn, points)[3]

    def initial(u_fn: UFn, points: torch.Tensor) -> torch.Tensor:
        at_t0 = torch.stack([points[:, 0], points[:, 1], torch.full_like(points[:, 0], t0)], 1)
        return observe(u_fn, at_t0) - initial_w(points[:, 0], points[:, 1])

    def boundary(u_fn: UFn, points: torch.Tensor) -> torch.Tensor:
        # points carry (s, side, t) as (x, y, t) with x = s on y-sides and y = s on x-sides;
        # compare ψ and ∇ψ at the two ends of each periodic direction.
        s, t = points[:, 0], points[:, 2]
        on_x = points[:, 1] < 0.5  # pairs (0, s) ~ (1, s) or (s, 0) ~ (s, 1)
        zero, one = torch.zeros_like(s), torch.ones_like(s)
        first = torch.stack([torch.where(on_x, zero, s), torch.where(on_x, s, zero), t], 1)
        second = torch.stack([torch.where(on_x, one, s), torch.where(on_x, s, one), t], 1)
        first, psi_a = _evaluate(u_fn, first)
        second, psi_b = _evaluate(u_fn, second)
        jump = (grad(psi_a, first) - grad(psi_b, second))[:, :2]
        return torch.cat([(psi_a - psi_b)[:, None], jump], dim=1)

    def boundary_sampler(unit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        # Column 1 is a flag (< 0.5: the x-direction pair), not a coordinate: the boundary
        # residual above builds the two matching points from it.
        s = unit[:, 0]
        side = (rng.random(s.size) < 0.5).astype(np.float64) * 0.75
        t = t0 + (t1 - t0) * unit[:, 1]
        return np.stack([s, side, t], axis=1)

    return PDEResidual(
        problem=problem.name,
        coordinates=("x", "y", "t_out"),
        lower=(0.0, 0.0, t0),
        upper=(1.0, 1.0, t1),
        periodic=(True, True, False),
        time_dependent=True,
        equation=equation_with({"nu": float(problem.nu)}),
        boundary=boundary,
        initial=initial,
        boundary_sampler=boundary_sampler,
        parameters={"nu": float(problem.nu)},
        equation_with=equation_with,
        observe=observe,
    )


def _one_field(problem, name: str, value: np.ndarray, ndim: int) -> np.ndarray:
    """One sample of input ``name`` as float64, a leading sample axis of 1 dropped."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == ndim + 1 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != ndim:
        raise ValueError(
            f"{problem.name}: input {name!r} for one sample must have {ndim} axes, "
            f"got shape {array.shape}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{problem.name}: input {name!r} contains NaN or infinite values")
    return array


def inputs_field(problem, inputs, name: str) -> np.ndarray:
    """Field ``name`` of a one-sample input mapping, with a clear error when missing."""
    if not hasattr(inputs, "keys") or name not in inputs:
        raise ValueError(
            f"{problem.name}: physics() needs the inputs of one sample as a dict with "
            f"{list(problem.input_names)}, got {inputs!r:.80}"
        )
    return inputs[name]
