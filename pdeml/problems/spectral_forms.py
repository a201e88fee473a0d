"""Moved to :mod:`pdeml.spectral.form` (and each problem's ``spectral.py``); kept until the
other parts move."""

from pdeml.spectral.form import SpectralForm  # noqa: F401
