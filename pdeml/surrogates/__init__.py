"""Learned solvers; each registers itself under a short name (``"fno"``, ...)."""

from pdeml.surrogates.base import (
    Capabilities,
    Surrogate,
    available_surrogates,
    load_surrogate,
    make_surrogate,
    register_surrogate,
)
from pdeml.surrogates.fno import FNOSurrogate
from pdeml.surrogates.l96_hybrid import L96HybridSurrogate  # noqa: F401
from pdeml.surrogates.mgno import MgNOSurrogate
from pdeml.surrogates.mmgp import MMGPSurrogate
from pdeml.surrogates.nsm import NSMSurrogate
from pdeml.surrogates.pca_gp import PCAGPSurrogate
from pdeml.surrogates.pig import PIGSurrogate
from pdeml.surrogates.pinn import PINNSurrogate
from pdeml.surrogates.unet import UNetSurrogate

__all__ = [
    "Capabilities",
    "FNOSurrogate",
    "MMGPSurrogate",
    "MgNOSurrogate",
    "NSMSurrogate",
    "PCAGPSurrogate",
    "PIGSurrogate",
    "PINNSurrogate",
    "Surrogate",
    "UNetSurrogate",
    "available_surrogates",
    "load_surrogate",
    "make_surrogate",
    "register_surrogate",
]
