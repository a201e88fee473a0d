"""Closures of the two-scale Lorenz96 system: the fast-scale term as a function of X.

``make_closure(name, **hyperparameters)`` builds one of the registered closures:

* ``"none"``: zero, the single-scale model;
* ``"polynomial"``: a polynomial in ``X_k`` fitted by least squares (local);
* ``"mlp"``: a small MLP of the neighbourhood ``X_{k−w} … X_{k+w}`` (local);
* ``"gp"``: a Gaussian process of ``X_k`` (or its neighbourhood), on a subsample (local);
* ``"fno"``: a periodic 1D Fourier Neural Operator of the whole ``X`` field;

each with ``fit(X, coupling) -> self``, ``closure(X) -> c(X)``, ``save(path)`` and
``load(path)``. The surrogate ``"l96-hybrid"`` (:mod:`pdeml.surrogates.l96_hybrid`)
integrates ``X`` with one.
"""

from pdeml.closures.base import (
    Closure,
    available_closures,
    closure_class,
    closure_training_data,
    load_closure,
    make_closure,
    register_closure,
)
from pdeml.closures.fno import FNOClosure
from pdeml.closures.gp import GPClosure
from pdeml.closures.mlp import MLPClosure
from pdeml.closures.polynomial import PolynomialClosure, ZeroClosure

__all__ = [
    "Closure",
    "FNOClosure",
    "GPClosure",
    "MLPClosure",
    "PolynomialClosure",
    "ZeroClosure",
    "available_closures",
    "closure_class",
    "closure_training_data",
    "load_closure",
    "make_closure",
    "register_closure",
]
