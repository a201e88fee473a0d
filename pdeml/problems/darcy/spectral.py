"""Spectral form of Darcy flow (Chebyshev Dirichlet basis), for the Neural Spectral Method."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.fft
import torch

from pdeml.spectral import Chebyshev
from pdeml.spectral.form import SpectralForm, check_modes
from pdeml.spectral.galerkin import dirichlet_basis, galerkin_laplacian_inverse, inverse_laplacian

if TYPE_CHECKING:
    from pdeml.problems.darcy import Darcy2D


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

    input_name, input_dims = "a", 2
    batched = ("a_mean", "a_points", "log_a", "a_grid")
    constants = ("dx", "dy", "inverse_laplacian", "galerkin_laplacian", "phi")

    def __init__(self, problem: Darcy2D, a: np.ndarray, modes: Any = None) -> None:
        self.problem = problem
        mx, my = check_modes(modes, 2, 24, "modes")
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
