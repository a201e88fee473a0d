"""The reference solver of the two-scale Lorenz96 system: the numba RK4 kernel on the
problem's time grid (the arithmetic lives in :mod:`pdeml.solvers.ode`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from pdeml._checks import check_steps, require_positive
from pdeml.solvers.base import ReferenceSolver
from pdeml.solvers.ode import lorenz96_rk4, steps_between

if TYPE_CHECKING:
    from pdeml.problems.lorenz96 import Lorenz96


class Lorenz96RK4Solver(ReferenceSolver):
    """Reference solver of :class:`pdeml.problems.Lorenz96`: classic RK4 in numba.

    Integrates every sample from ``(X0, Y0)`` to ``T`` and stores the state at each of the
    problem's output times (``problem.output_times()``), samples in parallel over numba
    threads.

    Parameters
    ----------
    problem : Lorenz96
        The problem (``K, J, F, h, b, c, dt, T, save_every`` are read from it).
    dt : float, optional
        Largest RK4 step; default the problem's ``dt``. Each interval between stored
        states is split into the smallest whole number of equal steps not longer than
        ``dt``, so the output times are hit exactly whatever the step.

    Raises
    ------
    ValueError
        If ``dt`` is not a finite number > 0.
    FloatingPointError
        From :meth:`solve`, if the state becomes NaN or infinite (``dt`` too large).
    """

    name = "lorenz96-rk4"

    def __init__(self, problem: Lorenz96, *, dt: float | None = None) -> None:
        super().__init__(problem)
        step = problem.dt if dt is None else dt
        require_positive(self.name, "dt", step)
        what = f"dt = {step!r} with T = {problem.T}"
        check_steps(self.name, what, problem.T / step, "pass a larger dt")
        self.dt = float(step)

    def options(self) -> dict[str, Any]:
        """``{"dt": largest step}``."""
        return {"dt": self.dt}

    def _solve(self, inputs: dict[str, np.ndarray], resolution: int) -> dict[str, np.ndarray]:
        p = self.problem
        interval = p.save_interval
        steps = steps_between(interval, self.dt)
        system = {name: getattr(p, name) for name in ("F", "h", "b", "c")}
        x, y = lorenz96_rk4(
            inputs["X0"],
            inputs["Y0"],
            **system,
            dt=interval / steps,
            n_save=p.n_save,
            save_every=steps,
        )
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise FloatingPointError(
                f"{self.name}: the state became NaN or infinite; dt={self.dt} is too large "
                "for these parameters, pass a smaller dt"
            )
        return {"X": x, "Y": y, "coupling": p.coupling_term(y)}
