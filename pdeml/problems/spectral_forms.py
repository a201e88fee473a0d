"""Spectral forms of the PDE problems, for the Neural Spectral Method (NSM).

A :class:`SpectralForm` holds a batch of PDE instances (one per input sample) written in
a spectral basis (Du, Chalapathi, Krishnapriyan, *Neural Spectral Methods*, ICML 2024):

* the solution is a tensor of coefficients ``U`` in a product basis (Fourier in periodic
  directions, Chebyshev in bounded ones and in time);
* boundary and initial conditions are built into the ansatz :meth:`SpectralForm.solution`,
  which maps free coefficients ``V`` (what a network predicts) to ``U``;
* the residual is ``linear(U) + nonlinear(U) − source``: the linear part is an operator on
  coefficients (exact), the nonlinear part is evaluated at collocation points on a padded
  (dealiased) grid and transformed back;
* the spectral loss is the squared norm of the residual's coefficients, which by Parseval
  is the squared L² norm of the (truncated) residual in the Fourier directions.

Coefficients are torch tensors with the sample axis first: complex when a direction is
Fourier, real otherwise. The forms also give the solution on the problem's grid (any
resolution, by evaluating the series) and a finite-difference residual on a uniform grid,
which the PINN-loss baselines of ``validation/nsm_comparison.py`` use.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.fft
import torch

from pdeml.spectral import Chebyshev, Fourier, FourierFull

if TYPE_CHECKING:
    from pdeml.problems.burgers import Burgers1D
    from pdeml.problems.darcy import Darcy2D
    from pdeml.problems.navier_stokes import NavierStokes2D
    from pdeml.problems.poisson import Poisson2D

Basis = Fourier | Chebyshev


def _modes(value: Any, count: int, default: int, name: str) -> tuple[int, ...]:
    if value is None:
        value = default
    values = [value] * count if isinstance(value, (int, np.integer)) else list(value)
    if len(values) != count or any(
        isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 4 for v in values
    ):
        raise ValueError(f"{name}: expected an integer >= 4 or {count} of them, got {value!r}")
    return tuple(int(v) for v in values)


class SpectralForm:
    """A batch of PDE instances in spectral form (see the module docstring).

    Subclasses set ``network_bases`` (the bases of the free coefficients ``V``) and
    ``solution_bases`` (those of ``U``) and implement the methods below.
    """

    network_bases: tuple[Basis, ...]
    solution_bases: tuple[Basis, ...]

    @property
    def n_samples(self) -> int:
        raise NotImplementedError

    @property
    def free_shape(self) -> tuple[int, ...]:
        """Shape of one sample's free coefficients ``V`` (what the network predicts)."""
        return tuple(b.size for b in self.network_bases)

    @property
    def complex(self) -> bool:
        """Whether coefficients are complex (some direction is Fourier)."""
        return any(isinstance(b, Fourier) for b in self.network_bases)

    def features(self) -> torch.Tensor:
        """Network inputs: coefficients ``[n, c_in, *network modes]`` of the input fields."""
        raise NotImplementedError

    def solution(self, free: torch.Tensor) -> torch.Tensor:
        """Solution coefficients ``U`` from free coefficients ``V`` ``[n, *network modes]``."""
        raise NotImplementedError

    def linear(self, u: torch.Tensor) -> torch.Tensor:
        """The linear part of the residual, an operator on coefficients."""
        raise NotImplementedError

    def nonlinear(self, u: torch.Tensor) -> torch.Tensor:
        """The nonlinear (or variable-coefficient) part, via padded collocation points."""
        raise NotImplementedError

    def source(self, u: torch.Tensor) -> torch.Tensor:
        """Coefficients of the right-hand side, shaped like the residual."""
        return torch.zeros_like(u)

    def residual(self, u: torch.Tensor) -> torch.Tensor:
        """Coefficients of the PDE residual of ``U`` (zero for the exact solution)."""
        return self.linear(u) + self.nonlinear(u) - self.source(u)

    def residual_weights(self, like: torch.Tensor) -> torch.Tensor:
        """Parseval weights of the residual's coefficients (2 for Fourier modes ``k > 0``)."""
        return _parseval_weights(self.solution_bases, like)

    def spectral_loss(self, u: torch.Tensor) -> torch.Tensor:
        """Per-sample squared norm of the residual's coefficients, ``[n]``."""
        r = self.residual(u)
        sq = r.abs() ** 2 if r.is_complex() else r**2
        return (sq * self.residual_weights(r)).reshape(r.shape[0], -1).sum(dim=1)

    def linear_inverse(self, r: torch.Tensor) -> torch.Tensor:
        """Least-squares inverse of the linear part on the free coefficients.

        With ``A`` the matrix of ``V ↦ linear(solution(V)) − linear(solution(0))`` (full
        column rank), returns ``A⁺ r``, shaped like the free coefficients the ansatz uses.
        """
        raise NotImplementedError

    def free_weights(self, like: torch.Tensor) -> torch.Tensor:
        """Parseval weights of the free coefficients (2 for one-sided Fourier modes ``k > 0``)."""
        return _parseval_weights(self.network_bases, like)

    def preconditioned_loss(self, u: torch.Tensor) -> torch.Tensor:
        """Per-sample squared norm of ``A⁺ R(U)``, the residual mapped back through the
        least-squares inverse of the linear part, ``[n]``.

        For a linear problem ``R = A V + c`` this is ``|V − V*|²`` with ``V*`` the
        minimiser of :meth:`spectral_loss`: same minimiser, but the loss is as well
        conditioned as a regression on the coefficients, where the plain residual norm
        weighs mode ``k`` like the linear part's symbol squared (``ν²k⁴`` for diffusion).
        """
        return self._free_norm(self.linear_inverse(self.residual(u)))

    def galerkin_inverse(self, r: torch.Tensor) -> torch.Tensor:
        """The Galerkin projection of the residual, solved with the linear part.

        With ``P`` the L² inner products of a residual with the trial functions (the
        basis of the free coefficients) and ``A`` the linear part on the free
        coefficients, returns ``(P A)⁻¹ P r``. Its zero is the Galerkin (weak-form)
        solution, not the least-squares minimiser of :meth:`spectral_loss`.
        """
        raise NotImplementedError(f"{type(self).__name__} has no Galerkin projection")

    def galerkin_loss(self, u: torch.Tensor) -> torch.Tensor:
        """Per-sample squared norm of :meth:`galerkin_inverse` of the residual, ``[n]``.

        For a linear problem this is ``|V − V_G|²`` with ``V_G`` the Galerkin solution in
        the ansatz space, which converges like the best approximation in that space;
        the least-squares minimiser of the strong-form residual can converge much more
        slowly (Darcy's corner singularity, see :class:`DarcyForm`).
        """
        return self._free_norm(self.galerkin_inverse(self.residual(u)))

    def _free_norm(self, z: torch.Tensor) -> torch.Tensor:
        sq = z.abs() ** 2 if z.is_complex() else z**2
        return (sq * self.free_weights(z)).reshape(z.shape[0], -1).sum(dim=1)

    def outputs(self, u: torch.Tensor, resolution: int | None = None) -> dict[str, np.ndarray]:
        """The problem's output fields on its grid at ``resolution``, numpy float64."""
        raise NotImplementedError

    def collocation_loss(self, u: torch.Tensor) -> torch.Tensor:
        """Per-sample PINN-type loss: mean square finite-difference residual on a grid."""
        raise NotImplementedError

    def take(self, index: Any) -> SpectralForm:
        """The sub-batch ``index`` (a slice or an index tensor)."""
        raise NotImplementedError

    def to(self, device: Any = None, dtype: torch.dtype | None = None) -> SpectralForm:
        """A copy with its tensors on ``device`` in real precision ``dtype``."""
        raise NotImplementedError


def _parseval_weights(bases: Sequence[Basis], like: torch.Tensor) -> torch.Tensor:
    """Weights ``[*like.shape[1:]]`` that turn the sum of squared coefficients in ``bases``
    into the squared L² norm along their Fourier directions (``Fourier.weights``)."""
    w = torch.ones(like.shape[1:], dtype=like.real.dtype, device=like.device)
    for axis, basis in enumerate(bases):
        if isinstance(basis, Fourier):
            shape = [1] * w.ndim
            shape[axis] = -1
            bw = torch.as_tensor(basis.weights(), dtype=w.dtype, device=w.device)
            w = w * bw.reshape(shape)
    return w


def inverse_of_nonzero(symbol: np.ndarray) -> np.ndarray:
    """``1 / symbol`` where it is non-zero, 0 where it is zero (the mean mode of ``−Δ⁻¹``)."""
    return np.where(symbol != 0, 1.0 / np.where(symbol != 0, symbol, 1.0), 0.0)


def _to(t: torch.Tensor, device: Any, dtype: torch.dtype | None) -> torch.Tensor:
    if dtype is not None:
        if t.is_complex():
            t = t.to(torch.complex128 if dtype == torch.float64 else torch.complex64)
        else:
            t = t.to(dtype)
    return t.to(device) if device is not None else t


def time_inverses(dt: np.ndarray, start: np.ndarray, decay: np.ndarray) -> np.ndarray:
    """Pseudo-inverses ``[*decay.shape, M − 1, M]`` of ``(D_t + λ) E`` for every ``λ`` in
    ``decay``.

    ``D_t`` ``[M, M]`` is the Chebyshev derivative in time and ``E`` ``[M, M − 1]`` the
    initial-value ansatz ``U_0 = u0 − Σ_{j≥1} V_j T_j(start)``, ``U_j = V_j``: the linear
    part ``∂_t + λ`` of a Fourier mode, as a map from the free coefficients ``V_{1..}``.
    """
    m = dt.shape[0]
    embed = np.zeros((m, m - 1))
    embed[0] = -start[1:]
    embed[np.arange(1, m), np.arange(m - 1)] = 1.0
    eye = np.eye(m)
    flat = np.asarray(decay, dtype=np.float64).ravel()
    blocks = (dt[None] + flat[:, None, None] * eye[None]) @ embed[None]
    return np.linalg.pinv(blocks).reshape(*np.shape(decay), m - 1, m)


# -- Burgers ------------------------------------------------------------------------------
class BurgersForm(SpectralForm):
    """Periodic viscous Burgers ``u_t + (u²/2)_x − ν u_xx = 0`` on ``[0, 1) × [0, T]``.

    Basis: Fourier in ``x`` (``modes[0]`` wavenumbers), Chebyshev in ``t`` on ``[0, T]``
    (``modes[1]`` polynomials). Ansatz: ``u = u0(x) + Σ_{j≥1} V_j(x) (T_j(s) − T_j(−1))``,
    which equals ``u0`` at ``t = 0`` for any ``V`` (``s = 2t/T − 1``).

    Parameters
    ----------
    problem : Burgers1D
    u0 : numpy.ndarray
        Initial conditions ``[n, x]`` on the problem's periodic grid (any resolution).
    modes : int or (int, int)
        Fourier modes in ``x`` and Chebyshev modes in ``t`` (default 32 each).
    """

    def __init__(self, problem: Burgers1D, u0: np.ndarray, modes: Any = None) -> None:
        self.problem = problem
        mx, mt = _modes(modes, 2, 32, "modes")
        self.network_bases = (Fourier(mx), Chebyshev(mt, (0.0, problem.T)))
        self.solution_bases = self.network_bases
        u0 = np.asarray(u0, dtype=np.float64)
        if u0.ndim != 2:
            raise ValueError(f"u0: expected shape (n, x), got {u0.shape}")
        self.u0 = torch.as_tensor(self.network_bases[0].transform(u0))  # [n, mx]
        self._init_constants()

    def _init_constants(self) -> None:
        fx, ct = self.network_bases
        # (−1)^j: the value of T_j at t = 0.
        self.start = torch.as_tensor(ct.endpoint_values()[0])
        self.dt = torch.as_tensor(ct.derivative_matrix())
        self.diffusion = torch.as_tensor(self.problem.nu * fx.wavenumbers() ** 2)
        self.advection = torch.as_tensor(0.5j * fx.wavenumbers())
        self.inverses = torch.as_tensor(
            time_inverses(self.dt.numpy(), self.start.numpy(), self.diffusion.numpy())
        )  # [mx, mt − 1, mt]

    @property
    def n_samples(self) -> int:
        return int(self.u0.shape[0])

    def features(self) -> torch.Tensor:
        mx, mt = (b.modes for b in self.network_bases)
        n = self.n_samples
        out = self.u0.new_zeros((n, 4, mx, mt))
        out[:, 0, :, 0] = self.u0
        # cos 2πx, sin 2πx (exact Fourier modes) and t/T = (1 + s)/2 (exact Chebyshev).
        out[:, 1, 1, 0] = 0.5
        out[:, 2, 1, 0] = -0.5j
        out[:, 3, 0, 0] = 0.5
        out[:, 3, 0, 1] = 0.5
        return out

    def solution(self, free: torch.Tensor) -> torch.Tensor:
        start = self.start.to(free.real.dtype).to(free.device)
        first = self.u0.to(free.dtype) - (free[..., 1:] * start[1:]).sum(-1)
        return torch.cat([first[..., None], free[..., 1:]], dim=-1)

    def linear(self, u: torch.Tensor) -> torch.Tensor:
        dt = self.dt.to(u.real.dtype).to(u.device)
        diffusion = self.diffusion.to(u.real.dtype).to(u.device)
        return u @ dt.T.to(u.dtype) + diffusion[:, None] * u

    def linear_inverse(self, r: torch.Tensor) -> torch.Tensor:
        inverses = self.inverses.to(r.real.dtype).to(r.device).to(r.dtype)
        free = torch.einsum("kij,nkj->nki", inverses, r)
        # The ansatz ignores V_0 (replaced by the initial condition): its slot stays 0.
        return torch.cat([torch.zeros_like(free[..., :1]), free], dim=-1)

    def nonlinear(self, u: torch.Tensor) -> torch.Tensor:
        fx, ct = self.solution_bases
        # Square on the 3/2-padded grid in both directions, back to coefficients.
        values = fx.to_values(ct.to_values(u, ct.product_points, -1), fx.product_points, -2)
        square = ct.to_coefficients(fx.to_coefficients(values * values, -2), -1)
        return self.advection.to(u.dtype).to(u.device)[:, None] * square

    def outputs(self, u: torch.Tensor, resolution: int | None = None) -> dict[str, np.ndarray]:
        fx, ct = self.solution_bases
        n = self.problem.resolution if resolution is None else int(resolution)
        u = u.detach().to(torch.complex128).cpu()
        final = fx.inverse(u.sum(-1), n, -1)  # T_j(1) = 1
        out = {"u": final.numpy()}
        if self.problem.n_t > 0:
            traj = fx.inverse(ct.evaluate(u, self.problem.output_times(), -1), n, -2)
            out["u_traj"] = traj.transpose(-1, -2).numpy()
        return out

    def grid_values(self, u: torch.Tensor, nx: int, nt: int) -> torch.Tensor:
        """``u`` on the uniform grid ``[n, nt + 1, nx]``, times ``jT/nt`` (both ends)."""
        fx, ct = self.solution_bases
        times = np.linspace(0.0, self.problem.T, nt + 1)
        return fx.inverse(ct.evaluate(u, times, -1), nx, -2).transpose(-1, -2)

    def fd_residual(self, u: torch.Tensor) -> torch.Tensor:
        """Second-order central-difference residual at interior times, ``[n, nt − 1, nx]``.

        ``u`` is on the grid of :meth:`grid_values`; the PINN-loss baselines minimise its
        mean square.
        """
        nt, nx = u.shape[-2] - 1, u.shape[-1]
        ht, hx = self.problem.T / nt, 1.0 / nx
        ut = (u[:, 2:] - u[:, :-2]) / (2 * ht)
        v = u[:, 1:-1]
        right, left = torch.roll(v, -1, -1), torch.roll(v, 1, -1)
        flux = (right**2 - left**2) / (4 * hx)
        uxx = (right - 2 * v + left) / hx**2
        return ut + flux - self.problem.nu * uxx

    def collocation_loss(self, u: torch.Tensor) -> torch.Tensor:
        """Per-sample mean square of :meth:`fd_residual` on a uniform grid, ``[n]``.

        The grid has four points per Fourier mode in ``x`` and per Chebyshev mode in ``t``.
        """
        fx, ct = self.solution_bases
        r = self.fd_residual(self.grid_values(u, 4 * fx.modes, 4 * ct.modes))
        return (r**2).reshape(r.shape[0], -1).mean(dim=1)

    def take(self, index: Any) -> BurgersForm:
        out = object.__new__(BurgersForm)
        out.__dict__.update(self.__dict__)
        out.u0 = self.u0[index]
        return out

    def to(self, device: Any = None, dtype: torch.dtype | None = None) -> BurgersForm:
        out = object.__new__(BurgersForm)
        out.__dict__.update(self.__dict__)
        for name in ("u0", "start", "dt", "diffusion", "advection", "inverses"):
            setattr(out, name, _to(getattr(self, name), device, dtype))
        return out


# -- Darcy --------------------------------------------------------------------------------
def cosine_interpolate(values: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Cosine-series interpolant of ``values`` ``[n, r, r]`` on the uniform grid of ``[0, 1]²``
    (both ends) at the tensor points ``x × y``.

    The type-I DCT gives the interpolant ``Σ c_kl cos(πkx) cos(πly)``; it is the natural
    one for the coefficient fields of Darcy2D, built from zero-Neumann cosine series.
    """
    values = np.asarray(values, dtype=np.float64)
    r = values.shape[-1]
    c = scipy.fft.dctn(values, type=1, axes=(-2, -1)) / (r - 1) ** 2
    scale = np.ones(r)
    scale[0] = scale[-1] = 0.5
    c = c * scale[:, None] * scale[None, :]
    k = np.arange(r)
    ex, ey = np.cos(np.pi * np.outer(x, k)), np.cos(np.pi * np.outer(y, k))
    return np.einsum("pk,nkl,ql->npq", ex, c, ey, optimize=True)


def dirichlet_basis(m: int) -> np.ndarray:
    """Chebyshev coefficients ``[m + 2, m]`` of ``φ_k = T_{k+2} − T_k``, ``k < m``."""
    p = np.zeros((m + 2, m))
    p[np.arange(m), np.arange(m)] = -1.0
    p[np.arange(m) + 2, np.arange(m)] = 1.0
    return p


def legendre_gram(n: int) -> np.ndarray:
    """L² inner products ``∫ T_i T_j dξ`` over ``[−1, 1]``, ``i, j < n``, ``[n, n]``.

    From ``T_i T_j = (T_{i+j} + T_{|i−j|}) / 2`` and ``∫ T_k = 2 / (1 − k²)`` for even
    ``k`` (zero for odd ``k``).
    """
    k = np.arange(2 * n)
    integral = np.zeros(2 * n)
    even = k % 2 == 0
    integral[even] = 2.0 / (1.0 - k[even].astype(float) ** 2)
    i = np.arange(n)
    return 0.5 * (integral[i[:, None] + i[None, :]] + integral[np.abs(i[:, None] - i[None, :])])


def _laplacian_on_free(mx: int, my: int) -> np.ndarray:
    """``−Δ`` on ``(0, 1)²`` as a matrix ``[(mx+2)(my+2), mx·my]`` from the free
    coefficients of ``Σ V_kl φ_k(x) φ_l(y)`` to the Chebyshev coefficients of the result."""
    px, py = dirichlet_basis(mx), dirichlet_basis(my)
    dx = Chebyshev(mx + 2, (0.0, 1.0)).derivative_matrix()
    dy = Chebyshev(my + 2, (0.0, 1.0)).derivative_matrix()
    # Columns are the images of the unit coefficients.
    u = px @ np.eye(mx * my).reshape(mx * my, mx, my) @ py.T
    laplacian = -(dx @ dx @ u + u @ (dy @ dy).T)
    return laplacian.reshape(mx * my, -1).T


@functools.lru_cache(maxsize=8)
def galerkin_laplacian_inverse(mx: int, my: int) -> np.ndarray:
    """``(P A)⁻¹ P`` ``[mx·my, (mx+2)(my+2)]``: ``A`` is ``−Δ`` on the free coefficients
    (:func:`_laplacian_on_free`), ``P`` the L² inner products with ``φ_k(x) φ_l(y)``.

    ``P A`` is the stiffness matrix ``∫ ∇φ_k·∇φ_l`` (symmetric positive definite, the
    ``φ`` vanish on the boundary), so the inverse exists. Cached like
    :func:`inverse_laplacian`.
    """
    # The domain's Jacobian scales P by a constant, which cancels in (P A)⁻¹ P.
    tx = dirichlet_basis(mx).T @ legendre_gram(mx + 2)
    ty = dirichlet_basis(my).T @ legendre_gram(my + 2)
    project = np.kron(tx, ty)
    return np.linalg.solve(project @ _laplacian_on_free(mx, my), project)


@functools.lru_cache(maxsize=8)
def inverse_laplacian(mx: int, my: int) -> np.ndarray:
    """Pseudo-inverse ``[mx·my, (mx+2)(my+2)]`` of ``−Δ`` on ``(0, 1)²`` as a map from the
    coefficients of ``Σ V_kl φ_k(x) φ_l(y)`` to the Chebyshev coefficients of the result.

    Cached: it depends on the modes only, and its SVD costs about a second at 32 × 32
    modes, which every form (each ``solve``) would otherwise pay again.
    """
    return np.linalg.pinv(_laplacian_on_free(mx, my))


class DarcyForm(SpectralForm):
    """Darcy ``−∇·(a∇u) = f`` on ``(0, 1)²`` with ``u = 0`` on the boundary.

    Basis: ``φ_k = T_{k+2} − T_k`` in ``x`` and in ``y`` (each vanishes at both ends), so
    ``u = Σ V_kl φ_k(x) φ_l(y)`` meets the boundary condition for any ``V``; ``U`` holds its
    Chebyshev coefficients (``modes + 2`` per direction). The linear part is
    ``−ā ΔU`` with ``ā`` the sample's mean coefficient, the rest ``−∇·((a − ā)∇u)`` is
    formed at Gauss–Lobatto points (``a`` interpolated there by its cosine series).

    Parameters
    ----------
    problem : Darcy2D
    a : numpy.ndarray
        Coefficients ``[n, x, y]`` on the problem's grid (both ends).
    modes : int or (int, int)
        Free coefficients per direction (default 24).
    """

    def __init__(self, problem: Darcy2D, a: np.ndarray, modes: Any = None) -> None:
        self.problem = problem
        mx, my = _modes(modes, 2, 24, "modes")
        self.network_bases = (Chebyshev(mx, (0.0, 1.0)), Chebyshev(my, (0.0, 1.0)))
        self.solution_bases = (Chebyshev(mx + 2, (0.0, 1.0)), Chebyshev(my + 2, (0.0, 1.0)))
        a = np.asarray(a, dtype=np.float64)
        if a.ndim != 3 or a.shape[1] != a.shape[2]:
            raise ValueError(f"a: expected shape (n, x, x), got {a.shape}")
        if np.any(a <= 0):
            raise ValueError("a: expected a positive coefficient")
        # Collocation grid of the variable-coefficient products: twice the solution
        # modes, finer than the 3/2 rule because a is not a polynomial.
        self.points = tuple(2 * b.modes for b in self.solution_bases)
        bx, by = self.solution_bases
        # Interpolate log a (smooth for the log-normal family, positive after exp).
        log_a = cosine_interpolate(np.log(a), bx.points(self.points[0]), by.points(self.points[1]))
        a_points = np.exp(log_a)
        self.a_mean = torch.as_tensor(a_points.mean(axis=(1, 2)))
        self.a_points = torch.as_tensor(a_points)
        self.a_grid = torch.as_tensor(a)  # the input grid, for the collocation baseline
        nx, ny = self.network_bases
        self.log_a = torch.as_tensor(nx.transform(ny.transform(log_a, -1), -2))
        self._init_constants()

    def _init_constants(self) -> None:
        bx, by = self.solution_bases
        self.dx = torch.as_tensor(bx.derivative_matrix())
        self.dy = torch.as_tensor(by.derivative_matrix())
        mx, my = (b.modes for b in self.network_bases)
        self.phi = (torch.as_tensor(dirichlet_basis(mx)), torch.as_tensor(dirichlet_basis(my)))
        self.inverse_laplacian = torch.tensor(inverse_laplacian(mx, my))  # a copy: cached
        self.galerkin_laplacian = torch.tensor(galerkin_laplacian_inverse(mx, my))

    @property
    def n_samples(self) -> int:
        return int(self.a_points.shape[0])

    def features(self) -> torch.Tensor:
        mx, my = (b.modes for b in self.network_bases)
        out = self.log_a.new_zeros((self.n_samples, 3, mx, my))
        out[:, 0] = self.log_a
        out[:, 1, 0, 0] = out[:, 1, 1, 0] = 0.5  # x = (1 + ξ)/2
        out[:, 2, 0, 0] = out[:, 2, 0, 1] = 0.5  # y
        return out

    def solution(self, free: torch.Tensor) -> torch.Tensor:
        px, py = (p.to(free.dtype).to(free.device) for p in self.phi)
        return px @ free @ py.T

    def _gradient(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dx = self.dx.to(u.dtype).to(u.device)
        dy = self.dy.to(u.dtype).to(u.device)
        return dx @ u, u @ dy.T

    def _divergence(self, fx: torch.Tensor, fy: torch.Tensor) -> torch.Tensor:
        dx = self.dx.to(fx.dtype).to(fx.device)
        dy = self.dy.to(fy.dtype).to(fy.device)
        return dx @ fx + fy @ dy.T

    def linear(self, u: torch.Tensor) -> torch.Tensor:
        ux, uy = self._gradient(u)
        return -self.a_mean.to(u.dtype).to(u.device)[:, None, None] * self._divergence(ux, uy)

    def nonlinear(self, u: torch.Tensor) -> torch.Tensor:
        bx, by = self.solution_bases
        mean = self.a_mean.to(u.dtype).to(u.device)[:, None, None]
        varying = self.a_points.to(u.dtype).to(u.device) - mean
        fluxes = []
        for g in self._gradient(u):
            values = bx.to_values(by.to_values(g, self.points[1], -1), self.points[0], -2)
            fluxes.append(bx.to_coefficients(by.to_coefficients(varying * values, -1), -2))
        return -self._divergence(*fluxes)

    def source(self, u: torch.Tensor) -> torch.Tensor:
        out = torch.zeros_like(u)
        out[:, 0, 0] = self.problem.forcing
        return out

    def linear_inverse(self, r: torch.Tensor) -> torch.Tensor:
        return self._apply_inverse(self.inverse_laplacian, r)

    def galerkin_inverse(self, r: torch.Tensor) -> torch.Tensor:
        return self._apply_inverse(self.galerkin_laplacian, r)

    def _apply_inverse(self, inverse: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        """``inverse`` (an inverse of ``−Δ``) applied to ``r``, divided by ``ā``."""
        inverse = inverse.to(r.dtype).to(r.device)
        mean = self.a_mean.to(r.dtype).to(r.device)[:, None]
        mx, my = (b.modes for b in self.network_bases)
        return (r.reshape(r.shape[0], -1) @ inverse.T / mean).reshape(-1, mx, my)

    def outputs(self, u: torch.Tensor, resolution: int | None = None) -> dict[str, np.ndarray]:
        bx, by = self.solution_bases
        n = self.problem.resolution if resolution is None else int(resolution)
        grid = self.problem.coords(n)
        u = u.detach().to(torch.float64).cpu().numpy()
        return {"u": by.evaluate(bx.evaluate(u, grid["x"], -2), grid["y"], -1)}

    def grid_values(self, u: torch.Tensor, n: int) -> torch.Tensor:
        """``u`` on the uniform ``n × n`` grid of ``[0, 1]²`` (both ends)."""
        bx, by = self.solution_bases
        x = np.linspace(0.0, 1.0, n)
        return by.evaluate(bx.evaluate(u, x, -2), x, -1)

    def fd_residual(self, u: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """Five-point conservative residual ``−∇·(a∇u) − f`` at interior nodes.

        ``u`` and ``a`` are ``[n, r, r]`` on the uniform grid with both ends; face
        coefficients are arithmetic means of the neighbouring nodes.
        """
        h = 1.0 / (u.shape[-1] - 1)
        ax = 0.5 * (a[:, 1:, :] + a[:, :-1, :])
        ay = 0.5 * (a[:, :, 1:] + a[:, :, :-1])
        fx = ax * (u[:, 1:, :] - u[:, :-1, :]) / h
        fy = ay * (u[:, :, 1:] - u[:, :, :-1]) / h
        div = (fx[:, 1:, 1:-1] - fx[:, :-1, 1:-1]) / h + (fy[:, 1:-1, 1:] - fy[:, 1:-1, :-1]) / h
        return -div - self.problem.forcing

    def collocation_loss(self, u: torch.Tensor) -> torch.Tensor:
        """Per-sample mean square of :meth:`fd_residual` on the input grid, ``[n]``."""
        n = self.a_grid.shape[-1]
        r = self.fd_residual(self.grid_values(u, n), self.a_grid.to(u.dtype).to(u.device))
        return (r**2).reshape(r.shape[0], -1).mean(dim=1)

    def take(self, index: Any) -> DarcyForm:
        out = object.__new__(DarcyForm)
        out.__dict__.update(self.__dict__)
        for name in ("a_mean", "a_points", "log_a", "a_grid"):
            setattr(out, name, getattr(self, name)[index])
        return out

    def to(self, device: Any = None, dtype: torch.dtype | None = None) -> DarcyForm:
        out = object.__new__(DarcyForm)
        out.__dict__.update(self.__dict__)
        for name in (
            "a_mean",
            "a_points",
            "log_a",
            "a_grid",
            "dx",
            "dy",
            "inverse_laplacian",
            "galerkin_laplacian",
        ):
            setattr(out, name, _to(getattr(self, name), device, dtype))
        out.phi = tuple(_to(p, device, dtype) for p in self.phi)
        return out


# -- Navier–Stokes ------------------------------------------------------------------------
class NavierStokesForm(SpectralForm):
    """Vorticity ``w_t + u·∇w − νΔw − f = 0`` on the torus ``[0, 1)²``, ``t ∈ [t_in, T]``.

    ``u = (ψ_y, −ψ_x)`` with ``−Δψ = w``. Basis: two-sided Fourier in ``x``
    (:class:`~pdeml.spectral.FourierFull`), one-sided in ``y``, Chebyshev in ``t``; the
    ansatz starts from the last input snapshot, ``w = w_in[t_in] + Σ_{j≥1} V_j (T_j − T_j(−1))``.
    The linear part ``w_t − νΔw`` is diagonal in the Fourier modes; the advection is formed
    on the 3/2-padded grid.

    Parameters
    ----------
    problem : NavierStokes2D
    w_in : numpy.ndarray
        Input snapshots ``[n, t_in, x, y]``; the last one is the initial condition.
    modes : int or (int, int, int)
        Fourier modes in ``x`` and ``y`` (``|k| < M``) and Chebyshev modes in ``t``
        (default 16, 16, 12).
    """

    def __init__(self, problem: NavierStokes2D, w_in: np.ndarray, modes: Any = None) -> None:
        self.problem = problem
        if modes is None:
            modes = (16, 16, 12)
        mx, my, mt = _modes(modes, 3, 16, "modes")
        self.network_bases = (
            FourierFull(mx),
            Fourier(my),
            Chebyshev(mt, (float(problem.t_in), float(problem.T))),
        )
        self.solution_bases = self.network_bases
        w_in = np.asarray(w_in, dtype=np.float64)
        if w_in.ndim != 4:
            raise ValueError(f"w_in: expected shape (n, t_in, x, y), got {w_in.shape}")
        fx, fy, _ = self.network_bases
        self.w0 = torch.as_tensor(fx.transform(fy.transform(w_in[:, -1], -1), -2))
        n = w_in.shape[-1]
        force = problem.forcing(n)
        self.force = torch.as_tensor(fx.transform(fy.transform(force, -1), -2))
        self._init_constants()

    def _init_constants(self) -> None:
        fx, fy, ct = self.network_bases
        self.start = torch.as_tensor(ct.endpoint_values()[0])
        self.dt = torch.as_tensor(ct.derivative_matrix())
        kx, ky = fx.wavenumbers()[:, None], fy.wavenumbers()[None, :]
        k2 = kx**2 + ky**2
        self.k2 = torch.as_tensor(k2)
        self.inv_k2 = torch.as_tensor(inverse_of_nonzero(k2))
        self.ikx = torch.as_tensor(1j * kx + 0 * ky)
        self.iky = torch.as_tensor(1j * ky + 0 * kx)
        self.inverses = torch.as_tensor(
            time_inverses(self.dt.numpy(), self.start.numpy(), self.problem.nu * k2)
        )  # [kx, ky, mt − 1, mt]

    @property
    def n_samples(self) -> int:
        return int(self.w0.shape[0])

    def features(self) -> torch.Tensor:
        fx, fy, ct = self.network_bases
        out = self.w0.new_zeros((self.n_samples, 3, fx.size, fy.size, ct.modes))
        out[:, 0, :, :, 0] = self.w0
        out[:, 1, :, :, 0] = self.force.to(out.dtype)
        out[:, 2, 0, 0, 0] = out[:, 2, 0, 0, 1] = 0.5  # (t − t_in)/(T − t_in)
        return out

    def solution(self, free: torch.Tensor) -> torch.Tensor:
        start = self.start.to(free.real.dtype).to(free.device)
        first = self.w0.to(free.dtype) - (free[..., 1:] * start[1:]).sum(-1)
        return torch.cat([first[..., None], free[..., 1:]], dim=-1)

    def _c(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        dtype = like.dtype if t.is_complex() else like.real.dtype
        return t.to(dtype).to(like.device)

    def linear(self, u: torch.Tensor) -> torch.Tensor:
        dt = self._c(self.dt, u)
        nu_k2 = self.problem.nu * self._c(self.k2, u)
        return u @ dt.T.to(u.dtype) + nu_k2[..., None] * u

    def linear_inverse(self, r: torch.Tensor) -> torch.Tensor:
        inverses = self._c(self.inverses, r).to(r.dtype)
        free = torch.einsum("xyij,nxyj->nxyi", inverses, r)
        return torch.cat([torch.zeros_like(free[..., :1]), free], dim=-1)

    def nonlinear(self, u: torch.Tensor) -> torch.Tensor:
        fx, fy, ct = self.solution_bases
        ikx, iky = self._c(self.ikx, u)[..., None], self._c(self.iky, u)[..., None]
        psi = self._c(self.inv_k2, u)[..., None] * u
        fields = [iky * psi, -ikx * psi, ikx * u, iky * u]  # velocity (a, b), w_x, w_y
        pts = (fx.product_points, fy.product_points, ct.product_points)

        def values(c: torch.Tensor) -> torch.Tensor:
            c = ct.to_values(c, pts[2], -1)
            return fy.to_values(fx.to_values(c, pts[0], -3), pts[1], -2)

        a, b, wx, wy = (values(c) for c in fields)
        advection = a * wx + b * wy
        return ct.to_coefficients(fx.to_coefficients(fy.to_coefficients(advection, -2), -3), -1)

    def source(self, u: torch.Tensor) -> torch.Tensor:
        out = torch.zeros_like(u)
        out[..., 0] = self._c(self.force, u)
        return out

    def outputs(self, u: torch.Tensor, resolution: int | None = None) -> dict[str, np.ndarray]:
        fx, fy, ct = self.solution_bases
        n = self.problem.resolution if resolution is None else int(resolution)
        u = u.detach().to(torch.complex128).cpu()
        times = np.arange(self.problem.t_in + 1, self.problem.T + 1, dtype=np.float64)
        c = ct.evaluate(u, times, -1)  # [n, kx, ky, t]
        w = fy.inverse(fx.inverse(c, n, -3), n, -2)  # real
        return {"w_out": np.ascontiguousarray(w.permute(0, 3, 1, 2).numpy())}

    def grid_values(self, u: torch.Tensor, nx: int, nt: int) -> torch.Tensor:
        """``w`` on the uniform grid ``[n, nx, nx, nt + 1]``, times ``t_in + j(T − t_in)/nt``."""
        fx, fy, ct = self.solution_bases
        times = np.linspace(float(self.problem.t_in), float(self.problem.T), nt + 1)
        c = ct.evaluate(u, times, -1)
        return fy.inverse(fx.inverse(c, nx, -3), nx, -2)

    def fd_residual(self, w: torch.Tensor) -> torch.Tensor:
        """Second-order finite-difference residual at interior times, ``[n, nx, nx, nt − 1]``.

        ``w`` is on the grid of :meth:`grid_values`. Central differences in ``t``, ``x``,
        ``y``; the stream function solves the five-point Poisson equation ``−Δ_h ψ = w``
        (by FFT, exactly, on the periodic grid), so every operator is the second-order
        finite-difference one. The PINN-loss baseline minimises its mean square.
        """
        nx, nt = w.shape[-2], w.shape[-1] - 1
        h, ht = 1.0 / nx, (self.problem.T - self.problem.t_in) / nt
        wt = (w[..., 2:] - w[..., :-2]) / (2 * ht)
        v = w[..., 1:-1]
        from pdeml.solvers.poisson import poisson_symbol

        # The mean of ψ is free (set to 0); w has mean zero.
        inverse = inverse_of_nonzero(poisson_symbol(nx, "finite_difference"))
        inverse = torch.as_tensor(inverse, dtype=v.dtype, device=v.device)[..., None]
        psi = torch.fft.ifft2(torch.fft.fft2(v, dim=(-3, -2)) * inverse, dim=(-3, -2)).real

        def dx(f: torch.Tensor, axis: int) -> torch.Tensor:
            return (torch.roll(f, -1, axis) - torch.roll(f, 1, axis)) / (2 * h)

        lap = sum(torch.roll(v, s_, a) for a in (-3, -2) for s_ in (1, -1)) - 4 * v
        advection = dx(psi, -2) * dx(v, -3) - dx(psi, -3) * dx(v, -2)
        force = torch.as_tensor(self.problem.forcing(nx), dtype=v.dtype, device=v.device)
        return wt + advection - self.problem.nu * lap / h**2 - force[..., None]

    def collocation_loss(self, u: torch.Tensor) -> torch.Tensor:
        """Per-sample mean square of :meth:`fd_residual` on a uniform grid, ``[n]``.

        Two points per Fourier mode in ``x`` and ``y`` (the grid the modes need) and four
        per Chebyshev mode in ``t``.
        """
        fx, fy, ct = self.solution_bases
        r = self.fd_residual(self.grid_values(u, 2 * max(fx.modes, fy.modes), 4 * ct.modes))
        return (r**2).reshape(r.shape[0], -1).mean(dim=1)

    def take(self, index: Any) -> NavierStokesForm:
        out = object.__new__(NavierStokesForm)
        out.__dict__.update(self.__dict__)
        out.w0 = self.w0[index]
        return out

    def to(self, device: Any = None, dtype: torch.dtype | None = None) -> NavierStokesForm:
        out = object.__new__(NavierStokesForm)
        out.__dict__.update(self.__dict__)
        for name in ("w0", "force", "start", "dt", "k2", "inv_k2", "ikx", "iky", "inverses"):
            setattr(out, name, _to(getattr(self, name), device, dtype))
        return out


# -- periodic Poisson ---------------------------------------------------------------------
class PoissonForm(SpectralForm):
    """Periodic Poisson ``−Δu = s`` on the torus ``[0, 1)²``, ``∫u = 0``.

    Basis: two-sided Fourier in ``x`` (:class:`~pdeml.spectral.FourierFull`), one-sided in
    ``y``, ``|k| < modes``. The ansatz zeroes the mean mode (the gauge). The problem is
    linear: the residual is ``4π²|k|² U − Ŝ`` exactly, with ``Ŝ`` the source's
    coefficients (exact for a source in the band), so the spectral loss carries no
    discretisation error, while the collocation baseline's five-point residual does
    (second order in the grid step).

    Parameters
    ----------
    problem : Poisson2D
    s : numpy.ndarray
        Sources ``[n, x, y]`` on the problem's periodic grid.
    modes : int or (int, int)
        Fourier modes per direction (default 16; at most ``(x + 1) // 2``).
    """

    def __init__(self, problem: Poisson2D, s: np.ndarray, modes: Any = None) -> None:
        self.problem = problem
        mx, my = _modes(modes, 2, 16, "modes")
        s = np.asarray(s, dtype=np.float64)
        if s.ndim != 3 or s.shape[1] != s.shape[2]:
            raise ValueError(f"s: expected shape (n, x, x), got {s.shape}")
        if 2 * max(mx, my) - 1 > s.shape[-1]:
            raise ValueError(
                f"modes: at most (x + 1) // 2 = {(s.shape[-1] + 1) // 2} for sources on a "
                f"{s.shape[-1]}-point grid, got {(mx, my)}"
            )
        self.network_bases = (FourierFull(mx), Fourier(my))
        self.solution_bases = self.network_bases
        fx, fy = self.network_bases
        self.s_hat = torch.as_tensor(fx.transform(fy.transform(s, -1), -2))
        self.s_grid = torch.as_tensor(s)  # the input grid, for the collocation baseline
        self._init_constants()

    def _init_constants(self) -> None:
        fx, fy = self.network_bases
        kx, ky = fx.wavenumbers()[:, None], fy.wavenumbers()[None, :]
        self.k2 = torch.as_tensor(kx**2 + ky**2)
        self.inv_k2 = torch.as_tensor(inverse_of_nonzero(kx**2 + ky**2))

    @property
    def n_samples(self) -> int:
        return int(self.s_hat.shape[0])

    def features(self) -> torch.Tensor:
        return self.s_hat[:, None]

    def solution(self, free: torch.Tensor) -> torch.Tensor:
        u = free.clone()
        u[:, 0, 0] = 0  # the gauge: mean zero
        return u

    def linear(self, u: torch.Tensor) -> torch.Tensor:
        return self.k2.to(u.real.dtype).to(u.device) * u

    def nonlinear(self, u: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(u)

    def source(self, u: torch.Tensor) -> torch.Tensor:
        return self.s_hat.to(u.dtype).to(u.device)

    def linear_inverse(self, r: torch.Tensor) -> torch.Tensor:
        return self.inv_k2.to(r.real.dtype).to(r.device) * r

    def galerkin_inverse(self, r: torch.Tensor) -> torch.Tensor:
        # Testing against e^{2πik·x} picks out coefficient k, and the linear part is
        # diagonal: the Galerkin and the least-squares inverse coincide.
        return self.linear_inverse(r)

    def outputs(self, u: torch.Tensor, resolution: int | None = None) -> dict[str, np.ndarray]:
        n = self.problem.resolution if resolution is None else int(resolution)
        u = u.detach().to(torch.complex128).cpu()
        return {"u": self.grid_values(u, n).numpy()}

    def grid_values(self, u: torch.Tensor, n: int) -> torch.Tensor:
        """``u`` on the periodic ``n × n`` grid ``x_j = j / n`` (real)."""
        fx, fy = self.solution_bases
        return fy.inverse(fx.inverse(u, n, -2), n, -1)

    def fd_residual(self, u: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """Five-point residual ``−Δ_h u − s`` on the periodic grid of ``u`` and ``s``
        ``[n, r, r]`` (the PINN-type loss of the paper's FNO + PINN baseline)."""
        r = u.shape[-1]
        lap = sum(torch.roll(u, shift, axis) for axis in (-2, -1) for shift in (1, -1)) - 4 * u
        return -lap * r**2 - s

    def collocation_loss(self, u: torch.Tensor) -> torch.Tensor:
        """Per-sample mean square of :meth:`fd_residual` on the input grid, ``[n]``."""
        s = self.s_grid.to(u.real.dtype).to(u.device)
        r = self.fd_residual(self.grid_values(u, s.shape[-1]), s)
        return (r**2).reshape(r.shape[0], -1).mean(dim=1)

    def take(self, index: Any) -> PoissonForm:
        out = object.__new__(PoissonForm)
        out.__dict__.update(self.__dict__)
        out.s_hat, out.s_grid = self.s_hat[index], self.s_grid[index]
        return out

    def to(self, device: Any = None, dtype: torch.dtype | None = None) -> PoissonForm:
        out = object.__new__(PoissonForm)
        out.__dict__.update(self.__dict__)
        for name in ("s_hat", "s_grid", "k2", "inv_k2"):
            setattr(out, name, _to(getattr(self, name), device, dtype))
        return out


# -- entry points called by the problems --------------------------------------------------
def burgers_form(
    problem: Burgers1D, inputs: Mapping[str, Any], modes: Sequence[int] | int | None = None
) -> BurgersForm:
    """The spectral form of :class:`~pdeml.problems.Burgers1D` for a batch of ``u0``."""
    checked = problem.check_inputs(_batched(inputs, "u0", 1))
    return BurgersForm(problem, checked["u0"], modes)


def darcy_form(
    problem: Darcy2D, inputs: Mapping[str, Any], modes: Sequence[int] | int | None = None
) -> DarcyForm:
    """The spectral form of :class:`~pdeml.problems.Darcy2D` for a batch of ``a``."""
    checked = problem.check_inputs(_batched(inputs, "a", 2))
    return DarcyForm(problem, checked["a"], modes)


def navier_stokes_form(
    problem: NavierStokes2D, inputs: Mapping[str, Any], modes: Sequence[int] | int | None = None
) -> NavierStokesForm:
    """The spectral form of :class:`~pdeml.problems.NavierStokes2D` for a batch of ``w_in``."""
    checked = problem.check_inputs(_batched(inputs, "w_in", 3))
    return NavierStokesForm(problem, checked["w_in"], modes)


def poisson_form(
    problem: Poisson2D, inputs: Mapping[str, Any], modes: Sequence[int] | int | None = None
) -> PoissonForm:
    """The spectral form of :class:`~pdeml.problems.Poisson2D` for a batch of ``s``."""
    checked = problem.check_inputs(_batched(inputs, "s", 2))
    return PoissonForm(problem, checked["s"], modes)


def _batched(inputs: Mapping[str, Any], name: str, dims: int) -> dict[str, np.ndarray]:
    """Accept one sample without the sample axis as well as a batch."""
    if not isinstance(inputs, Mapping):
        raise TypeError(f"inputs must be a dict of arrays, got {type(inputs).__name__}")
    out = {k: np.asarray(v) for k, v in inputs.items()}
    if name in out and out[name].ndim == dims:
        out[name] = out[name][None]
    return out
