"""The version of pdeml: the one place it is written.

``pyproject.toml`` reads it (``[tool.setuptools.dynamic]``), so the wheel's metadata, the
``pdeml.__version__`` attribute, ``pdeml --version`` and the version recorded in dataset
and report files cannot disagree.
"""

__version__ = "0.1.0"
