"""The reference solver of NavierStokes2D: checks the problem, calls the vorticity kernels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from pdeml.problems.adapter import ProblemSolver
from pdeml.solvers.navier_stokes import integrate_vorticity
from pdeml.solvers.vorticity import BACKENDS, check_dtype

if TYPE_CHECKING:
    from pdeml.problems.navier_stokes import NavierStokes2D


class NavierStokesSpectralSolver(ProblemSolver):
    """Reference solver of :class:`pdeml.problems.NavierStokes2D`: CN–Heun pseudo-spectral.

    Continues each input trajectory from its last snapshot ``w_in[:, -1]`` (time ``t_in``)
    to ``T``, returning ``w_out`` at ``t_in + 1, ..., T`` on the grid of the inputs. The
    time step is the problem's ``dt``: it is part of the problem because the stored data
    depend on it.

    Parameters
    ----------
    problem : NavierStokes2D
        The problem (``nu``, ``T``, ``t_in``, ``forcing_amplitude``, ``dt`` are read from it).
    backend : {"numba", "torch"}
        CPU numba kernel (default) or torch (CPU or CUDA, float64): the same scheme and
        symbols, results equal to round-off.
    device : str, optional
        Torch device; default CUDA when available, else CPU. Must be ``None`` or ``"cpu"``
        with the numba backend.
    dtype : {"float64", "float32"}
        Working precision of the time loop, with either backend. ``"float64"`` (default) is
        the reference; ``"float32"`` is the fast path for data generation, its error against
        float64 measured in docs/problems/navier_stokes.md. Outputs come in this precision.

    Raises
    ------
    ValueError
        For an unknown backend or dtype, or a device the backend cannot use.
    FloatingPointError
        From :meth:`solve`, if the solution becomes NaN or infinite (``dt`` too large).
    """

    name = "navier-stokes-spectral"
    problem_name = "navier_stokes"

    def __init__(
        self,
        problem: NavierStokes2D,
        *,
        backend: str = "numba",
        device: str | None = None,
        dtype: str = "float64",
    ) -> None:
        super().__init__(problem)
        if backend not in BACKENDS:
            raise ValueError(f"{self.name}: backend must be one of {BACKENDS}, got {backend!r}")
        try:
            self.dtype = check_dtype(dtype)
        except ValueError as error:
            raise ValueError(f"{self.name}: {error}") from None
        if device is not None and not isinstance(device, str):
            raise ValueError(f"{self.name}: device must be a string or None, got {device!r}")
        if backend == "numba" and device not in (None, "cpu"):
            raise ValueError(
                f"{self.name}: device {device!r} needs backend='torch'; numba runs on the CPU"
            )
        if backend == "torch":
            from pdeml.solvers.navier_stokes_torch import resolve_device

            resolve_device(device)  # fail now on a device this machine lacks, not mid-run
        self.backend = backend
        self.device = device

    def options(self) -> dict[str, Any]:
        """``{"backend", "device", "dtype"}`` (device ``None`` means the backend's default)."""
        return {"backend": self.backend, "device": self.device, "dtype": self.dtype}

    def _solve(self, inputs: dict[str, np.ndarray], resolution: int) -> dict[str, np.ndarray]:
        problem = self.problem
        w_out = integrate_vorticity(
            inputs["w_in"][:, -1],
            nu=problem.nu,
            dt=problem.dt,
            n_snapshots=problem.T - problem.t_in,
            steps_per_snapshot=problem.steps_per_unit_time,
            forcing=problem.forcing(resolution),
            backend=self.backend,
            device=self.device,
            dtype=self.dtype,
        )
        if not np.all(np.isfinite(w_out)):
            raise FloatingPointError(
                f"{self.name}: the solution became NaN or infinite; dt={problem.dt} is too "
                f"large for resolution {resolution} and nu={problem.nu}, use a smaller dt"
            )
        return {"w_out": w_out}
