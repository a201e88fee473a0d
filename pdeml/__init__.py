"""pdeml: surrogates for parametric PDEs, checked against verified classical solvers.

The public API::

    import pdeml
    problem = pdeml.load_problem("darcy", size="quick")
    ds = pdeml.generate(problem, n=64, seed=0, path="data/darcy.h5")
    train, test = ds.split(n_test=16)
    fno = pdeml.make_surrogate("fno", problem).fit(train, test, epochs=50)
    report = pdeml.validate("validation/suites/quick.toml", out="reports/quick")

Public names:

- ``load_problem``, ``available_problems``, ``Problem``: the PDE problems and their presets.
- ``Solver``: base class of the reference solvers.
- ``generate``, ``open_dataset``, ``from_arrays``, ``Dataset``: datasets (HDF5 files).
- ``make_surrogate``, ``load_surrogate``, ``available_surrogates``: surrogates (loaded on
  first use: they import torch).
- ``validate``: run a validation suite and write its report (loaded on first use).
- ``guard``: a surrogate checked per query by an a-posteriori error estimate, with a
  fallback to the reference solver (loaded on first use).
- ``__version__``.
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
    "guard": "pdeml.guarded",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'pdeml' has no attribute {name!r}")


def __dir__() -> list[str]:
    # The lazy names are not in the module's namespace until first used; list them anyway
    # so that dir(), tab completion and help() show the whole public API.
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "Dataset",
    "Problem",
    "Solver",
    "__version__",
    "available_problems",
    "available_surrogates",
    "from_arrays",
    "generate",
    "guard",
    "load_problem",
    "load_surrogate",
    "make_surrogate",
    "open_dataset",
    "validate",
]
