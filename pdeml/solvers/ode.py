"""Reference solvers for systems of ordinary differential equations.

The two-scale Lorenz96 system (Lorenz 1996) with ``K`` slow variables ``X_k`` and ``J·K``
fast variables ``Y`` on one ring, ``Y_{j,k}`` at ring position ``j + J·k``:

    dX_k/dt = X_{k−1}(X_{k+1} − X_{k−2}) − X_k + F − (hc/b) Σ_j Y_{j,k}
    dY_i/dt = −cb Y_{i+1}(Y_{i+2} − Y_{i−1}) − c Y_i + (hc/b) X_{⌊i/J⌋}

is integrated with the classic fourth-order Runge–Kutta scheme. Two implementations of the
same arithmetic live here:

* :func:`lorenz96_rk4`, the numba kernel behind the reference solver of
  :class:`pdeml.problems.Lorenz96` (``pdeml/problems/lorenz96/solver.py``): blocks of
  ensemble members in parallel (``prange``), each block laid out so that every loop runs
  over long contiguous memory and vectorises, work buffers allocated once per block;
* :func:`lorenz96_rk4_numpy`, a plain vectorised-numpy version (``np.roll`` over the whole
  ensemble), kept as the independent reference of the tests and the baseline of
  ``validation/benchmarks/lorenz96.py``.

States are passed as ``X [n, K]`` and ``Y [n, K, J]`` (C order, so ``Y.reshape(n, K*J)``
is the ring).
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np


# -- tendency -------------------------------------------------------------------------------
# Layout of the numba kernels: a block of `lanes` ensemble members is stored member-fastest
# and sector-major, x[k·lanes + w] and y[(j·K + k)·lanes + w] (w the member). A "row" j holds
# Y_{j,k} of every sector k and member, K·lanes contiguous numbers; the ring neighbours
# Y_{j±1,k}, Y_{j+2,k} are other rows, shifted by one sector where j wraps (Y_{J,k} =
# Y_{0,k+1}). Every loop is then a long loop over contiguous memory that LLVM vectorises,
# Σ_j Y_{j,k} is a sum of rows, and (hc/b) X_k lines up with every row. A first version
# with each member's ring contiguous (position j + J·k) was several times slower for an
# ensemble: its loops were short or did not vectorise (validation/reports/lorenz96.md).
@numba.njit(cache=True)
def _segment(y, dy, s, hx, out, p1, p2, m1, h, length, cb, gy):  # pragma: no cover - compiled
    """dY over ``length`` contiguous entries from ``out``; neighbours start at p1, p2, m1.

    Also adds Y into the running sums ``s``. Slices indexed from 0 let numba drop its
    negative-index fix-ups, so the loop vectorises.
    """
    yp1, yp2, ym1 = y[p1 : p1 + length], y[p2 : p2 + length], y[m1 : m1 + length]
    y0, o = y[out : out + length], dy[out : out + length]
    force, acc = hx[h : h + length], s[h : h + length]
    for e in range(length):
        o[e] = -cb * yp1[e] * (yp2[e] - ym1[e]) - gy * y0[e] + force[e]
        acc[e] += y0[e]


@numba.njit(cache=True)
def _l96_tendency(
    x, y, dx, dy, s, hx, nk, lanes, forcing, hcb, cb, gx, gy
):  # pragma: no cover - compiled
    """Tendencies of one block of members into ``dx`` and ``dy`` (layout above).

    ``s`` and ``hx`` (``nk·lanes`` each) are work space. ``hcb = hc/b`` (0 switches the
    coupling off), ``cb = c·b``, ``gx``/``gy`` the damping rates of X and Y (1 and c, or 0
    to switch damping off).
    """
    row = nk * lanes
    nj = y.shape[0] // row
    for e in range(row):
        s[e] = 0.0
        hx[e] = hcb * x[e]
    for j in range(nj):  # rows in order, so Σ_j Y_{j,k} adds j = 0, 1, ... like the numpy sum
        # Neighbour j + d sits in row (j + d) mod J, q = ⌊(j + d)/J⌋ sectors further on.
        j1, j2, j3 = j + 1, j + 2, j - 1
        q1, q2, q3 = j1 // nj, j2 // nj, -1 if j3 < 0 else 0
        j1, j2, j3 = j1 - q1 * nj, j2 - q2 * nj, j3 - q3 * nj
        k0 = 0
        while k0 < nk:
            # Up to the next sector where a neighbour's source wraps around the slow ring.
            k1 = nk
            for q in (q1, q2, q3):
                if q > 0 and k0 < nk - q < k1:
                    k1 = nk - q
                if q < 0 and k0 < -q < k1:
                    k1 = -q
            start = k0 * lanes
            p1 = j1 * row + ((k0 + q1) % nk) * lanes
            p2 = j2 * row + ((k0 + q2) % nk) * lanes
            m1 = j3 * row + ((k0 + q3) % nk) * lanes
            _segment(y, dy, s, hx, j * row + start, p1, p2, m1, start, (k1 - k0) * lanes, cb, gy)
            k0 = k1
    for k in range(nk):
        km1 = (k - 1 if k >= 1 else nk - 1) * lanes
        km2 = (k - 2 if k >= 2 else k - 2 + nk) * lanes
        kp1 = (k + 1 if k + 1 < nk else 0) * lanes
        kk = k * lanes
        for w in range(lanes):
            dx[kk + w] = (
                x[km1 + w] * (x[kp1 + w] - x[km2 + w]) - gx * x[kk + w] + forcing - hcb * s[kk + w]
            )


# -- numba RK4 ------------------------------------------------------------------------------
@numba.njit(cache=True)
def _first_stage(k, base, out, coef):  # pragma: no cover - compiled
    for i in range(k.shape[0]):
        out[i] = base[i] + coef * k[i]


@numba.njit(cache=True)
def _middle_stage(k, base, acc, out, coef):  # pragma: no cover - compiled
    for i in range(k.shape[0]):
        acc[i] += 2.0 * k[i]
        out[i] = base[i] + coef * k[i]


@numba.njit(cache=True)
def _last_stage(k, base, acc, coef):  # pragma: no cover - compiled
    for i in range(k.shape[0]):
        base[i] += coef * (acc[i] + k[i])


@numba.njit(cache=True)
def _l96_rk4_block(
    x, y, out_x, out_y, nk, save_every, dt, forcing, hcb, cb, gx, gy
):  # pragma: no cover - compiled
    """RK4 for one block (layout above), in place on ``x``, ``y``.

    The state after every ``save_every`` steps goes to ``out_x[m]`` and ``out_y[m]``.
    """
    nx, ny = x.shape[0], y.shape[0]
    lanes = nx // nk
    half = 0.5 * dt
    sixth = dt / 6.0
    # Buffers allocated once, reused for every step. `a` accumulates k1 + 2k2 + 2k3 + k4, so
    # only one stage's k is stored; the operations and their order are the textbook
    # formula's (and the numpy version's), so both round alike.
    xs, ys = np.empty(nx), np.empty(ny)
    kx, ky = np.empty(nx), np.empty(ny)
    ax, ay = np.empty(nx), np.empty(ny)
    s, hx = np.empty(nx), np.empty(nx)
    for m in range(out_x.shape[0]):
        for _ in range(save_every):
            # k1 goes straight into the accumulator.
            _l96_tendency(x, y, ax, ay, s, hx, nk, lanes, forcing, hcb, cb, gx, gy)
            _first_stage(ax, x, xs, half)
            _first_stage(ay, y, ys, half)
            _l96_tendency(xs, ys, kx, ky, s, hx, nk, lanes, forcing, hcb, cb, gx, gy)
            _middle_stage(kx, x, ax, xs, half)
            _middle_stage(ky, y, ay, ys, half)
            _l96_tendency(xs, ys, kx, ky, s, hx, nk, lanes, forcing, hcb, cb, gx, gy)
            _middle_stage(kx, x, ax, xs, dt)
            _middle_stage(ky, y, ay, ys, dt)
            _l96_tendency(xs, ys, kx, ky, s, hx, nk, lanes, forcing, hcb, cb, gx, gy)
            _last_stage(kx, x, ax, sixth)
            _last_stage(ky, y, ay, sixth)
        out_x[m] = x
        out_y[m] = y


@numba.njit(cache=True, parallel=True)
def _l96_rk4_blocks(
    xb, yb, out_x, out_y, nk, save_every, dt, forcing, hcb, cb, gx, gy
):  # pragma: no cover - compiled
    """:func:`_l96_rk4_block` on every block ``xb[i]``, ``yb[i]``, blocks in parallel."""
    for blk in numba.prange(xb.shape[0]):
        _l96_rk4_block(
            xb[blk], yb[blk], out_x[blk], out_y[blk], nk, save_every, dt, forcing, hcb, cb, gx, gy
        )


#: Most members per block. Measured on one thread of a 2-core AMD EPYC, 64 members: 32 lanes
#: is best at the Wilks setting (49 µs per step; 16 lanes 59, 64 lanes 54) and within ~10 %
#: of the best (8 to 16) at the Lorenz 1996 setting. Fewer lanes make short loops, more
#: make the block's buffers outgrow the L2 cache.
MAX_LANES = 32


def lanes_for(n: int) -> int:
    """Members per block for a batch of ``n``: enough blocks for every numba thread."""
    threads = max(1, numba.get_num_threads())
    return max(1, min(MAX_LANES, -(-n // threads)))


def _to_blocks(x: np.ndarray, y: np.ndarray, lanes: int) -> tuple[np.ndarray, np.ndarray]:
    """States ``[n, K]``, ``[n, K, J]`` to blocks in the kernels' layout (see above).

    A last, partial block is padded with copies of the last member (which then behave like
    a real member, so padding can never overflow where the data do not). Always copies: the
    kernels work in place, and the caller's arrays must not change.
    """
    n, nk, nj = y.shape
    n_blocks = -(-n // lanes)
    pad = n_blocks * lanes - n
    if pad:
        x = np.concatenate([x, np.repeat(x[-1:], pad, axis=0)])
        y = np.concatenate([y, np.repeat(y[-1:], pad, axis=0)])
    xb = x.reshape(n_blocks, lanes, nk).transpose(0, 2, 1)
    yb = y.reshape(n_blocks, lanes, nk, nj).transpose(0, 3, 2, 1)
    return xb.reshape(n_blocks, -1).copy(), yb.reshape(n_blocks, -1).copy()


def _from_blocks(blocks: np.ndarray, n: int, lanes: int, nk: int, nj: int = 0) -> np.ndarray:
    """Stored states ``[n_blocks, n_save, ...]`` back to ``[n, n_save, K]`` (or ``K, J``)."""
    n_blocks, n_save, _ = blocks.shape
    if nj:
        out = blocks.reshape(n_blocks, n_save, nj, nk, lanes).transpose(0, 4, 1, 3, 2)
    else:
        out = blocks.reshape(n_blocks, n_save, nk, lanes).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(out.reshape(n_blocks * lanes, *out.shape[2:])[:n])


def _as_state(X: Any, Y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Check shapes of a batch of states and return contiguous float64 copies."""
    x = np.ascontiguousarray(X, dtype=np.float64)
    y = np.ascontiguousarray(Y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 3 or y.shape[:2] != x.shape:
        raise ValueError(
            f"expected X [n, K] and Y [n, K, J] with matching n and K, got X {x.shape}, Y {y.shape}"
        )
    if x.shape[1] < 4:
        raise ValueError(f"expected K >= 4 slow variables, got {x.shape[1]}")
    return x, y


def _check_run(
    X0: Any, Y0: Any, n_save: Any, save_every: Any
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Checked initial states (as :func:`_as_state`) and stored-state counts."""
    for label, value in (("n_save", n_save), ("save_every", save_every)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{label} must be an integer >= 1, got {value!r}")
    return (*_as_state(X0, Y0), int(n_save), int(save_every))


def lorenz96_tendency(
    X: np.ndarray,
    Y: np.ndarray,
    *,
    F: float = 10.0,
    h: float = 1.0,
    b: float = 10.0,
    c: float = 10.0,
    coupling: bool = True,
    damping: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Right-hand side of the two-scale Lorenz96 system for a batch of states.

    The same compiled function the RK4 kernel calls, with switches for the tests.

    Parameters
    ----------
    X : numpy.ndarray
        Slow variables, ``[n, K]``.
    Y : numpy.ndarray
        Fast variables, ``[n, K, J]`` (``Y[:, k, j]`` is ``Y_{j,k}``).
    F, h, b, c : float
        Forcing, coupling strength, amplitude ratio and time-scale ratio.
    coupling : bool
        Keep the ``∓(hc/b)`` terms that couple the two rings.
    damping : bool
        Keep the linear damping ``−X_k`` and ``−c Y_{j,k}``.

    Returns
    -------
    dX, dY : numpy.ndarray
        Tendencies shaped like ``X`` and ``Y``.

    Notes
    -----
    With ``F = 0`` and no damping, the quadratic advection terms conserve ``Σ X²`` and
    ``Σ Y²`` separately, and the coupling terms exchange energy between the rings without
    changing ``Σ X² + Σ Y²``; the tests check these identities.
    """
    x, y = _as_state(X, Y)
    n, nk, nj = y.shape
    xb, yb = _to_blocks(x, y, n)  # one block holding every member
    dx, dy = np.empty_like(xb[0]), np.empty_like(yb[0])
    s, hx = np.empty_like(dx), np.empty_like(dx)
    rates = (1.0, float(c)) if damping else (0.0, 0.0)
    hcb = float(h * c / b) if coupling else 0.0
    _l96_tendency(xb[0], yb[0], dx, dy, s, hx, nk, n, float(F), hcb, float(c * b), *rates)
    return (
        _from_blocks(dx[None, None], n, n, nk)[:, 0],
        _from_blocks(dy[None, None], n, n, nk, nj)[:, 0],
    )


def lorenz96_rk4(
    X0: np.ndarray,
    Y0: np.ndarray,
    *,
    F: float,
    h: float,
    b: float,
    c: float,
    dt: float,
    n_save: int,
    save_every: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Integrate a batch of two-scale Lorenz96 states with RK4 (numba, members in parallel).

    Parameters
    ----------
    X0 : numpy.ndarray
        Initial slow variables, ``[n, K]``.
    Y0 : numpy.ndarray
        Initial fast variables, ``[n, K, J]``.
    F, h, b, c : float
        Parameters of the system.
    dt : float
        RK4 step.
    n_save : int
        Number of stored states.
    save_every : int
        Steps between stored states; state ``m`` is at time ``(m + 1)·save_every·dt``.

    Returns
    -------
    X, Y : numpy.ndarray
        Trajectories ``[n, n_save, K]`` and ``[n, n_save, K, J]`` (initial state excluded).
    """
    x, y, n_save, save_every = _check_run(X0, Y0, n_save, save_every)
    n, nk, nj = y.shape
    lanes = lanes_for(n)
    xb, yb = _to_blocks(x, y, lanes)
    out_x = np.empty((xb.shape[0], n_save, xb.shape[1]))
    out_y = np.empty((yb.shape[0], n_save, yb.shape[1]))
    args = (nk, save_every, float(dt), float(F), float(h * c / b), float(c * b), 1.0, float(c))
    if xb.shape[0] == 1:
        # A parallel region for one block only costs: its idle threads still spin.
        _l96_rk4_block(xb[0], yb[0], out_x[0], out_y[0], *args)
    else:
        _l96_rk4_blocks(xb, yb, out_x, out_y, *args)
    return _from_blocks(out_x, n, lanes, nk), _from_blocks(out_y, n, lanes, nk, nj)


# -- plain numpy RK4 (independent reference and benchmark baseline) -------------------------
def lorenz96_rk4_numpy(
    X0: np.ndarray, Y0: np.ndarray, *, dt: float, n_save: int, save_every: int, **system: float
) -> tuple[np.ndarray, np.ndarray]:
    """The same RK4 integration as :func:`lorenz96_rk4`, written in vectorised numpy.

    Written independently of the numba kernel (``np.roll`` on the whole ensemble instead of
    index loops), so the two agreeing is evidence that both implement the equations.
    Arguments (``system``: ``F, h, b, c``) and return values as for :func:`lorenz96_rk4`.
    """
    x, y, n_save, save_every = _check_run(X0, Y0, n_save, save_every)
    F, h, b, c = (float(system.pop(name)) for name in ("F", "h", "b", "c"))
    if system:
        raise TypeError(f"unexpected arguments {sorted(system)}")
    n, nk, nj = y.shape
    hcb, cb = h * c / b, c * b
    y = y.reshape(n, nk * nj)

    def tendency(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = y.reshape(n, nk, nj).sum(axis=2)
        dx = np.roll(x, 1, 1) * (np.roll(x, -1, 1) - np.roll(x, 2, 1)) - x + F - hcb * s
        dy = (
            -cb * np.roll(y, -1, 1) * (np.roll(y, -2, 1) - np.roll(y, 1, 1))
            - c * y
            + np.repeat(hcb * x, nj, axis=1)
        )
        return dx, dy

    out_x = np.empty((n, n_save, nk))
    out_y = np.empty((n, n_save, nk * nj))
    for m in range(n_save):
        for _ in range(save_every):
            k1x, k1y = tendency(x, y)
            k2x, k2y = tendency(x + 0.5 * dt * k1x, y + 0.5 * dt * k1y)
            k3x, k3y = tendency(x + 0.5 * dt * k2x, y + 0.5 * dt * k2y)
            k4x, k4y = tendency(x + dt * k3x, y + dt * k3y)
            x = x + dt / 6.0 * (k1x + 2.0 * k2x + 2.0 * k3x + k4x)
            y = y + dt / 6.0 * (k1y + 2.0 * k2y + 2.0 * k3y + k4y)
        out_x[:, m] = x
        out_y[:, m] = y
    return out_x, out_y.reshape(n, n_save, nk, nj)


def steps_between(interval: float, dt: float) -> int:
    """Smallest number of equal steps of at most ``dt`` covering ``interval`` exactly."""
    ratio = interval / dt
    # The tolerance keeps e.g. 0.05 / 0.005 = 10.000000000000002 at 10 steps, not 11.
    return max(1, math.ceil(ratio - 1e-9 * ratio))
