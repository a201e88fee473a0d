"""Spectral form of the periodic Poisson equation (Fourier²), for the Neural Spectral Method."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pdeml.spectral import Fourier, FourierFull
from pdeml.spectral.form import SpectralForm, check_modes
from pdeml.spectral.galerkin import inverse_of_nonzero

if TYPE_CHECKING:
    from pdeml.problems.poisson import Poisson2D


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

    input_name, input_dims = "s", 2
    batched = ("s_hat", "s_grid")
    constants = ("k2", "inv_k2")

    def __init__(self, problem: Poisson2D, s: np.ndarray, modes: Any = None) -> None:
        self.problem = problem
        mx, my = check_modes(modes, 2, 16, "modes")
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
