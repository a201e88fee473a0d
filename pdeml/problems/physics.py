"""Moved to :mod:`pdeml.problems.residual` (and each problem's ``residual.py``); kept until
the other parts move."""

from pdeml.problems.residual import (  # noqa: F401
    SAMPLING_METHODS,
    BilinearInterpolant,
    PDEResidual,
    PeriodicInterpolant,
    PeriodicInterpolant2D,
    UFn,
    grad,
)
