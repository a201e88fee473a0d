"""pdeml: surrogates for parametric PDEs, checked against verified classical solvers.

The public API::

    import pdeml
    problem = pdeml.load_problem("darcy", size="quick")
    ds = pdeml.generate(problem, n=64, seed=0, path="data/darcy.h5")
    train, test = ds.split(n_test=16)
"""

from pdeml._version import __version__
from pdeml.data import Dataset, generate, open_dataset
from pdeml.problems import Problem, available_problems
from pdeml.problems.presets import load_problem
from pdeml.solvers.base import Solver
from pdeml.surrogates.base import available_surrogates, load_surrogate, make_surrogate

__all__ = [
    "Dataset",
    "Problem",
    "Solver",
    "__version__",
    "available_problems",
    "available_surrogates",
    "generate",
    "load_problem",
    "load_surrogate",
    "make_surrogate",
    "open_dataset",
]
