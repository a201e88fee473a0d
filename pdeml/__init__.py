"""pdeml: surrogates for parametric PDEs, checked against verified classical solvers.

The public API::

    import pdeml
    problem = pdeml.load_problem("darcy", size="quick")
    ds = pdeml.generate(problem, n=64, seed=0, path="data/darcy.h5")
    train, test = ds.split(n_test=16)
    fno = pdeml.make_surrogate("fno", problem).fit(train, test, epochs=50)
    report = pdeml.validate("validation/suites/quick.toml", out="reports/quick")
"""

from typing import Any

from pdeml._version import __version__
from pdeml.data import Dataset, from_arrays, generate, open_dataset
from pdeml.problems import Problem, available_problems
from pdeml.problems.presets import load_problem
from pdeml.solvers.base import Solver

# Names whose modules import torch or dask: loaded on first use, so that `import pdeml`
# and the command line start quickly.
_LAZY = {
    "available_surrogates": "pdeml.surrogates.base",
    "load_surrogate": "pdeml.surrogates.base",
    "make_surrogate": "pdeml.surrogates.base",
    "validate": "pdeml.validation.runner",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pdeml' has no attribute {name!r}")


__all__ = [
    "Dataset",
    "Problem",
    "Solver",
    "__version__",
    "available_problems",
    "available_surrogates",
    "from_arrays",
    "generate",
    "load_problem",
    "load_surrogate",
    "make_surrogate",
    "open_dataset",
    "validate",
]
