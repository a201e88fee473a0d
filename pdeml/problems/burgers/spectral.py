"""Spectral form of periodic Burgers (Fourier × Chebyshev), for the Neural Spectral Method."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pdeml.spectral import Chebyshev, Fourier
from pdeml.spectral.form import SpectralForm, check_modes
from pdeml.spectral.galerkin import time_inverses

if TYPE_CHECKING:
    from pdeml.problems.burgers import Burgers1D


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

    input_name, input_dims = "u0", 1
    batched = ("u0",)
    constants = ("start", "dt", "diffusion", "advection", "inverses")

    def __init__(self, problem: Burgers1D, u0: np.ndarray, modes: Any = None) -> None:
        self.problem = problem
        mx, mt = check_modes(modes, 2, 32, "modes")
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
