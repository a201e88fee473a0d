"""PDE residuals in torch, for physics-informed training (PINN, PIG): the shared machinery.

A :class:`PDEResidual` describes one PDE instance (a problem plus one input sample) as a
physics-informed method sees it: a box of space-time points, the strong-form residual of
the equation at collocation points, and the mismatch of the boundary and initial
conditions. Derivatives of the candidate solution are taken with ``torch.autograd``, so a
``u_fn`` may be any differentiable map (a network, an interpolant, an exact formula).

Points are tensors ``[m, d]`` whose columns are the coordinates named by
:attr:`PDEResidual.coordinates`: ``("x", "t")`` for Burgers, ``("x", "y")`` for Darcy.
Everything works in the dtype and on the device of the points given (float64 is advised
for checking residuals to round-off).

Build one with :meth:`pdeml.problems.base.Problem.physics`; each problem's builder lives
in its folder (``pdeml/problems/<pde>/residual.py``) and uses the pieces of this module:
:func:`grad`, :func:`evaluate`, the interpolants of grid data and :func:`one_sample`.
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


def evaluate(u_fn: UFn, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
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
            return evaluate(u_fn, points)[1]
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


def parametric(
    equation_with: Callable[[Mapping[str, Any]], Callable[[UFn, torch.Tensor], torch.Tensor]],
    parameters: Mapping[str, float],
) -> dict[str, Any]:
    """The ``equation``, ``parameters`` and ``equation_with`` arguments of a
    :class:`PDEResidual` whose equation depends on the scalar ``parameters`` (their values
    for this instance)."""
    return {
        "equation": equation_with(parameters),
        "parameters": dict(parameters),
        "equation_with": equation_with,
    }


def dirichlet_zero(u_fn: UFn, points: torch.Tensor) -> torch.Tensor:
    """Boundary mismatch ``[m, 1]`` of the homogeneous Dirichlet condition ``u = 0``."""
    _, u = evaluate(u_fn, points)
    return u[:, None]


def one_sample(problem: Any, inputs: Any, name: str, ndim: int) -> np.ndarray:
    """Field ``name`` of a one-sample input mapping, float64 with ``ndim`` axes.

    A leading sample axis of length 1 is dropped. Raises ``ValueError`` naming the problem
    when ``inputs`` is not a mapping holding ``name``, or the field has the wrong number of
    axes or non-finite values.
    """
    if not hasattr(inputs, "keys") or name not in inputs:
        raise ValueError(
            f"{problem.name}: physics() needs the inputs of one sample as a dict with "
            f"{list(problem.input_names)}, got {inputs!r:.80}"
        )
    array = np.asarray(inputs[name], dtype=np.float64)
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
