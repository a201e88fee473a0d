"""Spectral bases for the Neural Spectral Method: Fourier (periodic) and Chebyshev (bounded).

Both bases share one interface, in numpy and in torch: ``points``, ``transform`` (values at
collocation points to coefficients), ``inverse``, ``evaluate`` (at arbitrary points),
``derivative`` and ``multiply`` (dealiased), each along any axis of a batched array.
"""

from pdeml.spectral.chebyshev import Chebyshev
from pdeml.spectral.fourier import Fourier, FourierFull

__all__ = ["Chebyshev", "Fourier", "FourierFull"]
