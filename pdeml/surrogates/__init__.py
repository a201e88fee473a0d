"""Learned solvers; each registers itself under a short name (``"fno"``, ...)."""

from pdeml.surrogates.base import (
    Surrogate,
    available_surrogates,
    load_surrogate,
    make_surrogate,
    register_surrogate,
)
from pdeml.surrogates.fno import FNOSurrogate

__all__ = [
    "FNOSurrogate",
    "Surrogate",
    "available_surrogates",
    "load_surrogate",
    "make_surrogate",
    "register_surrogate",
]
