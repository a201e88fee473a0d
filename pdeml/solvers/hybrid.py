"""Kernels of the hybrid Lorenz96 model: the slow variables only, a closure for the fast.

    dX_k/dt = X_{k−1}(X_{k+1} − X_{k−2}) − X_k + F + c(X)_k

with classic RK4, the closure ``c`` evaluated at every stage, on arrays ``X [n, K]``. The
surrogate ``"l96-hybrid"`` (:mod:`pdeml.surrogates.l96_hybrid`) picks one of these loops for
a closure (:mod:`pdeml.closures`):

* closures that are polynomials in ``X_k`` (``none``, ``polynomial``) run entirely inside a
  numba kernel, blocks of ensemble members in parallel, members fastest in memory so the
  loops over members vectorise (the layout of :mod:`pdeml.solvers.ode`);
* the FNO closure on short rings (its fast path has a ``compiled_form``: dense matrices)
  runs in a second numba kernel, the RK4 loop and the network together, the network's
  matrix products as BLAS calls on the whole ensemble;
* any other closure (MLP, FNO, GP) runs in a numpy RK4 loop on the whole ensemble, the
  closure's inference fast path (:meth:`pdeml.closures.Closure.inference`: precomputed
  float64 matrices, no torch graph) called once per stage on the ``[n, K]`` batch;
* a torch RK4 loop (``backend="torch"``) calls the closure's torch forward per stage, on
  the closure's device (the choice for a GPU).

Both use the textbook RK4 with the operations in the order of the two-scale kernel in
:mod:`pdeml.solvers.ode`, so with a zero closure the hybrid reproduces the two-scale
solver at ``h = 0`` (the tests check this).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import numba
import numpy as np
import torch

from pdeml.solvers.ode import lanes_for

State = TypeVar("State", np.ndarray, torch.Tensor)


def as_states(X: Any, argument: str = "X") -> np.ndarray:
    """Check a batch of slow states ``[n, K]`` (K >= 4) and return it as float64."""
    try:
        x = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{argument} must be a numeric array [n, K], got {type(X).__name__}"
        ) from None
    if x.ndim != 2 or x.shape[1] < 4:
        raise ValueError(f"{argument} must have shape [n, K] with K >= 4, got {x.shape}")
    return x


# -- numba kernel (polynomial closures) -----------------------------------------------------
@numba.njit(cache=True)
def _tendency(x, out, acc, coef, forcing):  # pragma: no cover - compiled
    """dX of a block ``x [K, lanes]`` into ``out``, closure ``Σ_p coef[p] X^p`` (Horner).

    ``acc`` (``lanes``) is work space. Horner runs as one loop over the members per power,
    so every loop is over contiguous members and vectorises (a loop over the powers inside
    the member loop did not: 5× slower at K = 36 with degree 4, measured).
    """
    nk, lanes = x.shape
    deg = coef.shape[0] - 1
    for k in range(nk):
        km1 = k - 1 if k >= 1 else nk - 1
        km2 = k - 2 if k >= 2 else k - 2 + nk
        kp1 = k + 1 if k + 1 < nk else 0
        xk = x[k]
        for w in range(lanes):
            acc[w] = coef[deg]
        for p in range(deg - 1, -1, -1):
            a = coef[p]
            for w in range(lanes):
                acc[w] = acc[w] * xk[w] + a
        for w in range(lanes):
            out[k, w] = x[km1, w] * (x[kp1, w] - x[km2, w]) - xk[w] + forcing + acc[w]


@numba.njit(cache=True)
def _hybrid_block(x, out, coef, forcing, dt, save_every):  # pragma: no cover - compiled
    """RK4 for one block ``x [K, lanes]`` in place; state after each ``save_every`` steps
    to ``out[m]``. Stage arithmetic as in ``pdeml.solvers.ode._l96_rk4_block``."""
    nk, lanes = x.shape
    half, sixth = 0.5 * dt, dt / 6.0
    work = np.empty((3, nk, lanes))  # stage state, stage slope, sum of the slopes
    xs, kx, ax = work[0], work[1], work[2]
    acc = np.empty(lanes)
    for m in range(out.shape[0]):
        for _ in range(save_every):
            _tendency(x, ax, acc, coef, forcing)
            for k in range(nk):
                for w in range(lanes):
                    xs[k, w] = x[k, w] + half * ax[k, w]
            _tendency(xs, kx, acc, coef, forcing)
            for k in range(nk):
                for w in range(lanes):
                    ax[k, w] += 2.0 * kx[k, w]
                    xs[k, w] = x[k, w] + half * kx[k, w]
            _tendency(xs, kx, acc, coef, forcing)
            for k in range(nk):
                for w in range(lanes):
                    ax[k, w] += 2.0 * kx[k, w]
                    xs[k, w] = x[k, w] + dt * kx[k, w]
            _tendency(xs, kx, acc, coef, forcing)
            for k in range(nk):
                for w in range(lanes):
                    x[k, w] += sixth * (ax[k, w] + kx[k, w])
        out[m] = x


@numba.njit(cache=True, parallel=True)
def _hybrid_blocks(xb, out, coef, forcing, dt, save_every):  # pragma: no cover - compiled
    for blk in numba.prange(xb.shape[0]):
        _hybrid_block(xb[blk], out[blk], coef, forcing, dt, save_every)


def hybrid_rk4_polynomial(
    X0: np.ndarray,
    coefficients: np.ndarray,
    *,
    F: float,
    dt: float,
    n_save: int,
    save_every: int,
) -> np.ndarray:
    """RK4 of the slow Lorenz96 ring with closure ``Σ_p a_p X_k^p`` (numba, in parallel).

    Parameters
    ----------
    X0 : numpy.ndarray
        Initial states ``[n, K]``.
    coefficients : numpy.ndarray
        ``a_0 … a_d`` (increasing powers); ``[0.0]`` is the single-scale model.
    F : float
        Forcing.
    dt : float
        RK4 step.
    n_save, save_every : int
        Stored states, and steps between them (state ``m`` at ``(m + 1)·save_every·dt``).

    Returns
    -------
    numpy.ndarray
        ``[n, n_save, K]``.
    """
    x = as_states(X0, "X0")
    coef = np.ascontiguousarray(coefficients, dtype=np.float64)
    if coef.ndim != 1 or coef.size < 1 or not np.all(np.isfinite(coef)):
        raise ValueError(f"coefficients must be a non-empty finite 1D array, got {coef.shape}")
    n, nk = x.shape
    lanes = lanes_for(n)
    n_blocks = -(-n // lanes)
    pad = n_blocks * lanes - n
    if pad:  # copies of the last member: they behave like real members
        x = np.concatenate([x, np.repeat(x[-1:], pad, axis=0)])
    # A copy, always: with one lane the transpose is already contiguous, and
    # ascontiguousarray would hand the kernel (which works in place) the caller's X0.
    xb = np.array(x.reshape(n_blocks, lanes, nk).transpose(0, 2, 1), order="C", copy=True)
    out = np.empty((n_blocks, n_save, nk, lanes))
    args = (coef, float(F), float(dt), int(save_every))
    if n_blocks == 1:
        _hybrid_block(xb[0], out[0], *args)
    else:
        _hybrid_blocks(xb, out, *args)
    out = out.transpose(0, 3, 1, 2).reshape(n_blocks * lanes, n_save, nk)
    return np.ascontiguousarray(out[:n])


# -- numba kernel (dense ring networks: the FNO closure on short rings) ----------------------
_INV_SQRT2 = 1.0 / math.sqrt(2.0)


@numba.njit(cache=True)
def _activate(v, code):  # pragma: no cover - compiled
    """Activation ``code`` (index in ``KERNEL_ACTIVATIONS``) in place on a 2D array.

    One loop per activation, the branch outside it, so that the loops vectorise."""
    flat = v.reshape(-1)
    if code == 0:  # exact (erf) GELU, as torch.nn.GELU() and the numpy twin
        for i in range(flat.size):
            z = flat[i]
            flat[i] = 0.5 * z * (1.0 + math.erf(z * _INV_SQRT2))
    elif code == 1:
        for i in range(flat.size):
            flat[i] = max(flat[i], 0.0)
    elif code == 2:
        for i in range(flat.size):
            flat[i] = math.tanh(flat[i])
    else:
        for i in range(flat.size):
            flat[i] = flat[i] / (1.0 + math.exp(-flat[i]))


@numba.njit(cache=True)
def _dense_network(
    x, first, first_b, hidden, hidden_b, p1, p1_b, p2, p2_b, act
):  # pragma: no cover
    """The dense ring network (``FNOInference.__call__``) on ``x [n, K]`` -> ``[n, K]``."""
    n, nk = x.shape
    v = np.dot(x, first)
    v += first_b
    for layer in range(hidden.shape[0]):
        _activate(v, act)
        v = np.dot(v, hidden[layer])
        v += hidden_b[layer]
    h = np.dot(v.reshape(n * nk, p1.shape[0]), p1)
    h += p1_b
    _activate(h, act)
    return (np.dot(h, p2) + p2_b).reshape(n, nk)


@numba.njit(cache=True)
def _network_tendency(v, out, network, forcing):  # pragma: no cover - compiled
    c = _dense_network(v, *network)
    n, nk = v.shape
    for i in range(n):
        for k in range(nk):
            km1 = k - 1 if k >= 1 else nk - 1
            km2 = k - 2 if k >= 2 else k - 2 + nk
            kp1 = k + 1 if k + 1 < nk else 0
            out[i, k] = v[i, km1] * (v[i, kp1] - v[i, km2]) - v[i, k] + forcing + c[i, k]


@numba.njit(cache=True)
def _hybrid_network(x, out, network, forcing, dt, save_every):  # pragma: no cover - compiled
    """RK4 of ``x [n, K]`` in place with a dense ring network closure; the operations of
    :func:`hybrid_rk4_numpy`, state after every ``save_every`` steps to ``out[:, m]``."""
    n, nk = x.shape
    half, sixth = 0.5 * dt, dt / 6.0
    xs, kx, ax = np.empty((n, nk)), np.empty((n, nk)), np.empty((n, nk))
    for m in range(out.shape[1]):
        for _ in range(save_every):
            _network_tendency(x, ax, network, forcing)
            for i in range(n):
                for k in range(nk):
                    xs[i, k] = x[i, k] + half * ax[i, k]
            _network_tendency(xs, kx, network, forcing)
            for i in range(n):
                for k in range(nk):
                    ax[i, k] = ax[i, k] + 2.0 * kx[i, k]
                    xs[i, k] = x[i, k] + half * kx[i, k]
            _network_tendency(xs, kx, network, forcing)
            for i in range(n):
                for k in range(nk):
                    ax[i, k] = ax[i, k] + 2.0 * kx[i, k]
                    xs[i, k] = x[i, k] + dt * kx[i, k]
            _network_tendency(xs, kx, network, forcing)
            for i in range(n):
                for k in range(nk):
                    x[i, k] = x[i, k] + sixth * (ax[i, k] + kx[i, k])
        out[:, m] = x


def hybrid_rk4_network(
    X0: np.ndarray,
    network: tuple,
    *,
    F: float,
    dt: float,
    n_save: int,
    save_every: int,
) -> np.ndarray:
    """RK4 of the slow ring with a dense ring-network closure, entirely in numba.

    Arguments as :func:`hybrid_rk4_polynomial`, with ``network`` the arrays of a
    closure fast path's ``compiled_form()`` (:meth:`pdeml.closures.fno.FNOInference.
    compiled_form`) instead of coefficients. The whole ensemble is one batch: the network's
    matrix products are BLAS calls on ``[n, K·W]`` blocks, and the RK4 arithmetic between
    them runs without numpy's per-operation overhead, which on the small ``[members, K]``
    arrays of the Wilks setting cost more than the arithmetic (measured, see the docs).
    Returns ``[n, n_save, K]``.
    """
    x = np.array(as_states(X0, "X0"), dtype=np.float64, order="C")
    n, nk = x.shape
    first = network[0]
    if first.shape[0] != nk:
        raise ValueError(f"network is for rings of {first.shape[0]} sites, X0 has K = {nk}")
    arrays = tuple(np.ascontiguousarray(a, dtype=np.float64) for a in network[:7])
    compiled = (*arrays, float(network[7]), int(network[8]))
    out = np.empty((n, n_save, nk))
    _hybrid_network(x, out, compiled, float(F), float(dt), int(save_every))
    return out


# -- numpy loop (network closures' inference fast paths) -------------------------------------
def hybrid_rk4_numpy(
    X0: np.ndarray,
    closure: Callable[[np.ndarray], np.ndarray],
    *,
    F: float,
    dt: float,
    n_save: int,
    save_every: int,
) -> np.ndarray:
    """RK4 of the slow ring in float64 numpy, ``closure`` called on the batch per stage.

    Arguments as :func:`hybrid_rk4_polynomial`, with a function ``[n, K] -> [n, K]``
    (a closure's :meth:`~pdeml.closures.Closure.inference`) instead of coefficients.
    Returns ``[n, n_save, K]``.
    """
    x = np.array(as_states(X0, "X0"), dtype=np.float64, order="C")
    n, nk = x.shape
    sites = np.arange(nk)
    km1, kp1, km2 = np.roll(sites, 1), np.roll(sites, -1), np.roll(sites, 2)

    def tendency(v: np.ndarray) -> np.ndarray:
        # v[:, km1][k] = v[k − 1], the operation order of the torch loop and the kernel.
        return v[:, km1] * (v[:, kp1] - v[:, km2]) - v + F + closure(v)

    return _rk4(x, np.empty((n, n_save, nk)), tendency, dt, save_every)


def _rk4(x: State, out: State, tendency: Callable[[State], State], dt: float, every: int) -> State:
    """Textbook RK4 of ``x [n, K]`` in numpy or torch, ``every`` steps between the stored
    states ``out[:, m]``; the stage order of the numba kernels, so all loops round alike."""
    half, sixth = 0.5 * dt, dt / 6.0
    for m in range(out.shape[1]):
        for _ in range(every):
            a = tendency(x)
            k = tendency(x + half * a)
            a = a + 2.0 * k
            k = tendency(x + half * k)
            a = a + 2.0 * k
            k = tendency(x + dt * k)
            x = x + sixth * (a + k)
        out[:, m] = x
    return out


# -- torch loop (network closures) ----------------------------------------------------------
def hybrid_rk4_torch(
    X0: np.ndarray | torch.Tensor,
    closure: Callable[[torch.Tensor], torch.Tensor],
    *,
    F: float,
    dt: float,
    n_save: int,
    save_every: int,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """RK4 of the slow ring in float64 torch, ``closure`` called on the batch per stage.

    Arguments as :func:`hybrid_rk4_polynomial`, with a function of tensors ``[n, K] ->
    [n, K]`` (a closure's :meth:`~pdeml.closures.Closure.torch_call`) instead of
    coefficients and the ``device`` the state lives on (default CPU). Returns
    ``[n, n_save, K]`` as numpy.
    """
    x = torch.as_tensor(as_states(X0, "X0"), dtype=torch.float64, device=device)
    n, nk = x.shape
    out = torch.empty((n, n_save, nk), dtype=torch.float64, device=x.device)

    def tendency(v: torch.Tensor) -> torch.Tensor:
        # roll(v, s)[k] = v[k − s]
        advection = torch.roll(v, 1, 1) * (torch.roll(v, -1, 1) - torch.roll(v, 2, 1))
        return advection - v + F + closure(v)

    with torch.no_grad():
        return _rk4(x, out, tendency, dt, save_every).cpu().numpy()
