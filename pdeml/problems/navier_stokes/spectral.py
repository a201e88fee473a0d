"""Spectral form of 2D Navier–Stokes (Fourier² × Chebyshev), for the Neural Spectral Method."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pdeml.solvers.poisson import poisson_symbol
from pdeml.spectral import Chebyshev, Fourier, FourierFull
from pdeml.spectral.form import SpectralForm, check_modes
from pdeml.spectral.galerkin import inverse_of_nonzero, time_inverses

if TYPE_CHECKING:
    from pdeml.problems.navier_stokes import NavierStokes2D


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

    input_name, input_dims = "w_in", 3
    batched = ("w0",)
    constants = ("force", "start", "dt", "k2", "inv_k2", "ikx", "iky", "inverses")

    def __init__(self, problem: NavierStokes2D, w_in: np.ndarray, modes: Any = None) -> None:
        self.problem = problem
        if modes is None:
            modes = (16, 16, 12)
        mx, my, mt = check_modes(modes, 3, 16, "modes")
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
