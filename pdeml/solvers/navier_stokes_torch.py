"""Torch backend of the Navier–Stokes pseudo-spectral solver (CPU or CUDA, batched).

The same CN–Heun scheme as :mod:`pdeml.solvers.navier_stokes`, built from the very same
symbols (:func:`~pdeml.solvers.vorticity.spectral_operators`), with ``torch.fft`` on
the whole batch at once. In float64 it agrees with the numba backend to round-off; on a GPU
it is the way to generate the paper-size data (256², dt = 1e-4, T = 50).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from pdeml.solvers.vorticity import DTYPES, check_scheme, check_vorticity, spectral_operators

_COMPLEX = {torch.float64: torch.complex128, torch.float32: torch.complex64}


def default_device() -> torch.device:
    """CUDA when available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """Turn a device name into a usable ``torch.device``, with a clear error if it is not."""
    if device is None:
        return default_device()
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device: not a torch device ({error})") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r}: CUDA is not available on this machine")
    return resolved


def _advection(wh: torch.Tensor, derivatives: torch.Tensor, n: int) -> torch.Tensor:
    """Transform of ``u·∇w`` for states ``wh`` ``[batch, n, m]``; one inverse FFT call."""
    u, v, wx, wy = torch.fft.irfft2(derivatives * wh.unsqueeze(0), s=(n, n))
    return torch.fft.rfft2(u * wx + v * wy)


@torch.no_grad()
def integrate_vorticity_torch(
    w0: Any,
    *,
    nu: float,
    dt: float,
    n_snapshots: int,
    steps_per_snapshot: int,
    forcing: Any = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype | str = torch.float64,
) -> np.ndarray:
    """Integrate vorticity fields with torch, as the numba ``integrate_vorticity`` does.

    Parameters
    ----------
    w0 : array_like
        Vorticity ``[n, N, N]`` (numpy array or tensor).
    nu, dt : float
        Viscosity and time step.
    n_snapshots, steps_per_snapshot : int
        Snapshots to return and steps between them.
    forcing : array_like, optional
        Forcing ``[N, N]`` (default 0).
    device : str or torch.device, optional
        Where to compute (default CUDA when available, else CPU).
    dtype : torch.float64 or torch.float32
        Working precision (default float64, the reference precision); also the names
        ``"float64"``, ``"float32"`` of :func:`~pdeml.solvers.navier_stokes.integrate_vorticity`.

    Returns
    -------
    numpy.ndarray
        Snapshots ``[n, n_snapshots, N, N]`` in ``dtype``'s numpy type, on the host.
    """
    if isinstance(dtype, str) and dtype in DTYPES:
        dtype = getattr(torch, dtype)
    if dtype not in _COMPLEX:
        raise ValueError(f"dtype must be torch.float64 or torch.float32, got {dtype!r}")
    check_scheme(nu, dt, n_snapshots, steps_per_snapshot)
    if isinstance(w0, torch.Tensor):
        w0 = w0.detach().cpu().numpy()
    if isinstance(forcing, torch.Tensor):
        forcing = forcing.detach().cpu().numpy()
    w0, forcing = check_vorticity(w0, forcing)
    device = resolve_device(device)
    n = w0.shape[1]
    ops = spectral_operators(n, float(nu), float(dt))
    cdtype = _COMPLEX[dtype]

    def tensor(array: np.ndarray, kind: torch.dtype) -> torch.Tensor:
        return torch.as_tensor(array).to(device=device, dtype=kind)

    # Leading singleton axes broadcast the symbols over the batch.
    derivatives = tensor(ops.derivatives[:, None], cdtype)
    mask, decay, step = (tensor(a, dtype) for a in (ops.mask, ops.decay, ops.step))
    half_step = tensor(0.5 * ops.step, dtype)
    forcing_hat = tensor(np.fft.rfft2(forcing), cdtype)

    wh = torch.fft.rfft2(tensor(w0, dtype))
    host_dtype = np.float64 if dtype == torch.float64 else np.float32
    out = np.empty((w0.shape[0], n_snapshots, n, n), dtype=host_dtype)
    # Increment form with compensated summation, as the numba kernel (see its docstring):
    # without it float32 round-off grows linearly with the number of steps.
    carry = torch.zeros_like(wh)
    for k in range(n_snapshots):
        for _ in range(steps_per_snapshot):
            explicit = forcing_hat - mask * _advection(wh, derivatives, n)
            predicted = wh + (decay * wh + step * explicit)
            corrected = forcing_hat - mask * _advection(predicted, derivatives, n)
            increment = decay * wh + half_step * (explicit + corrected) - carry
            total = wh + increment
            carry = (total - wh) - increment
            wh = total
        out[:, k] = torch.fft.irfft2(wh, s=(n, n)).cpu().numpy()
    return out
