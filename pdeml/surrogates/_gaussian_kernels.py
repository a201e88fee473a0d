"""Fused CPU kernels for the jet of axis-aligned Gaussian features (PIG), in numba.

The torch expression of the jet materialises a dozen ``[m, N]`` arrays (points × Gaussians)
and as many again in its backward pass; for 10⁴ points and 10³ Gaussians that is seconds
per optimiser step on one core, nearly all of it memory traffic for Gaussians that are
numerically zero at the point. These kernels loop over (point, Gaussian) pairs once,
skip pairs where the Gaussian is below ``exp(−CUTOFF / 2)`` (about 4e-18 of its peak), and
accumulate the value, gradient and chosen second derivatives of the features directly; the
backward pass does the same per Gaussian (so that its sums need no atomics). The chain rule
is written out in :func:`_backward`; ``tests/surrogates/test_jets.py`` checks both against
autograd of the torch expression.

Only the jet is fused: it is what training evaluates. Plain evaluation and CUDA tensors use
the torch expression in :mod:`pdeml.surrogates.pig`.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import torch

#: A numpy array (as numba compiles the kernels for them).
Array = np.ndarray

#: Pairs whose quadratic form exceeds this are skipped: exp(−40) ≈ 4e-18.
CUTOFF = 80.0


@numba.njit(inline="always", cache=True)
def _quadratic(
    x: Array, mu: Array, a: Array, i: int, g_index: int, diff: Array, e: Array
) -> float:  # pragma: no cover - numba
    """Fill ``diff = x_i − μ_n`` and ``e = a_n diff``; return ``Σ a_n diff²``."""
    q = 0.0
    for j in range(x.shape[1]):
        diff[j] = x[i, j] - mu[g_index, j]
        e[j] = a[g_index, j] * diff[j]
        q += e[j] * diff[j]
    return q


@numba.njit(parallel=True, cache=True)
def _forward(
    x: Array, mu: Array, a: Array, f: Array, d: int, pi: Array, pj: Array,
    value: Array, first: Array, second: Array,
) -> None:  # pragma: no cover - numba  # fmt: skip
    m, n_dims = x.shape
    n = mu.shape[0]
    k = f.shape[1]
    n_pairs = pi.shape[0]
    for i in numba.prange(m):
        e = np.empty(n_dims)
        diff = np.empty(n_dims)
        for g_index in range(n):
            q = _quadratic(x, mu, a, i, g_index, diff, e)
            if q > CUTOFF:
                continue
            g = np.exp(-0.5 * q)
            for c in range(k):
                value[i, c] += g * f[g_index, c]
            for j in range(d):
                w = -g * e[j]
                for c in range(k):
                    first[i, j, c] += w * f[g_index, c]
            for p in range(n_pairs):
                u, v = pi[p], pj[p]
                w = e[u] * e[v]
                if u == v:
                    w -= a[g_index, u]
                w *= g
                for c in range(k):
                    second[i, p, c] += w * f[g_index, c]


@numba.njit(parallel=True, cache=True)
def _backward(
    x: Array, mu: Array, a: Array, f: Array, d: int, pi: Array, pj: Array,
    grad_value: Array, grad_first: Array, grad_second: Array,
    d_mu: Array, d_a: Array, d_f: Array,
) -> None:  # pragma: no cover - numba  # fmt: skip
    m, n_dims = x.shape
    n = mu.shape[0]
    k = f.shape[1]
    n_pairs = pi.shape[0]
    for g_index in numba.prange(n):
        e = np.empty(n_dims)
        diff = np.empty(n_dims)
        s1 = np.empty(d)
        s2 = np.empty(n_pairs)
        shape = np.empty(n_pairs)
        de = np.empty(d)
        for i in range(m):
            q = _quadratic(x, mu, a, i, g_index, diff, e)
            if q > CUTOFF:
                continue
            g = np.exp(-0.5 * q)
            # s = f_n · (upstream gradient) for the value, each first and second derivative.
            s0 = 0.0
            for c in range(k):
                s0 += f[g_index, c] * grad_value[i, c]
                d_f[g_index, c] += g * grad_value[i, c]
            for j in range(d):
                s1[j] = 0.0
                w = -g * e[j]
                for c in range(k):
                    s1[j] += f[g_index, c] * grad_first[i, j, c]
                    d_f[g_index, c] += w * grad_first[i, j, c]
            for p in range(n_pairs):
                u, v = pi[p], pj[p]
                shape[p] = e[u] * e[v]  # ∂_u ∂_v g = (e_u e_v − δ_uv a_u) g
                if u == v:
                    shape[p] -= a[g_index, u]
                w = shape[p] * g
                s2[p] = 0.0
                for c in range(k):
                    s2[p] += f[g_index, c] * grad_second[i, p, c]
                    d_f[g_index, c] += w * grad_second[i, p, c]
            # L = s0 g − Σ_j s1_j g e_j + Σ_p s2_p g (e_u e_v − δ_uv a_u): derivative in g,
            # in each e_j (direct), and in a_u (direct, through −δ_uv a_u).
            c_g = s0
            for j in range(d):
                c_g -= s1[j] * e[j]
                de[j] = -s1[j] * g
            for p in range(n_pairs):
                u, v = pi[p], pj[p]
                if u == v:
                    d_a[g_index, u] -= s2[p] * g
                c_g += s2[p] * shape[p]
                de[u] += s2[p] * g * e[v]
                de[v] += s2[p] * g * e[u]
            # g = exp(−½ Σ a_J diff_J²), e_j = a_j diff_j, diff = x − μ.
            for j in range(n_dims):
                d_mu[g_index, j] += c_g * g * e[j]
                d_a[g_index, j] -= 0.5 * c_g * g * diff[j] * diff[j]
            for j in range(d):
                d_mu[g_index, j] -= de[j] * a[g_index, j]
                d_a[g_index, j] += de[j] * diff[j]


def _pairs_arrays(pairs: tuple[tuple[int, int], ...]) -> tuple[np.ndarray, np.ndarray]:
    pi = np.array([p[0] for p in pairs], dtype=np.int64)
    pj = np.array([p[1] for p in pairs], dtype=np.int64)
    return pi, pj


class DiagonalGaussianJet(torch.autograd.Function):
    """Jet of ``Σ_n f_n exp(−½ Σ_J a_nJ (x_J − μ_nJ)²)`` in the first ``d`` coordinates.

    ``forward(x, mu, a, f, d, pairs)`` with scaled points ``x`` ``[m, D]`` (no gradient),
    means ``[N, D]``, precisions ``a`` ``[N, D]`` (positive) and features ``[N, k]`` returns
    value ``[m, k]``, first ``[m, d, k]`` and second ``[m, P, k]`` derivatives, in the
    scaled coordinates. Gradients flow to ``mu``, ``a`` and ``f``.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: torch.Tensor,
        mu: torch.Tensor,
        a: torch.Tensor,
        f: torch.Tensor,
        d: int,
        pairs: tuple[tuple[int, int], ...],
    ) -> tuple[torch.Tensor, ...]:
        arrays = [t.detach().contiguous().numpy() for t in (x, mu, a, f)]
        pi, pj = _pairs_arrays(pairs)
        m, k = x.shape[0], f.shape[1]
        dtype = arrays[0].dtype
        value = np.zeros((m, k), dtype=dtype)
        first = np.zeros((m, d, k), dtype=dtype)
        second = np.zeros((m, len(pairs), k), dtype=dtype)
        # (numba's own type hints do not describe a compiled kernel's arguments)
        _forward(*arrays, d, pi, pj, value, first, second)  # type: ignore[call-arg, arg-type]
        ctx.save_for_backward(x, mu, a, f)
        ctx.d, ctx.pairs = d, pairs
        return tuple(torch.from_numpy(v) for v in (value, first, second))

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: Any,
        grad_value: torch.Tensor | None,
        grad_first: torch.Tensor | None,
        grad_second: torch.Tensor | None,
    ) -> tuple[torch.Tensor | None, ...]:
        x, mu, a, f = (t.detach().contiguous().numpy() for t in ctx.saved_tensors)
        pi, pj = _pairs_arrays(ctx.pairs)
        upstream = [
            np.ascontiguousarray(g.detach().numpy(), dtype=x.dtype)
            if g is not None
            else np.zeros(shape, dtype=x.dtype)
            for g, shape in (
                (grad_value, (x.shape[0], f.shape[1])),
                (grad_first, (x.shape[0], ctx.d, f.shape[1])),
                (grad_second, (x.shape[0], len(ctx.pairs), f.shape[1])),
            )
        ]
        d_mu, d_a, d_f = np.zeros_like(mu), np.zeros_like(a), np.zeros_like(f)
        _backward(x, mu, a, f, ctx.d, pi, pj, *upstream, d_mu, d_a, d_f)  # type: ignore[call-arg]
        return (
            None,
            torch.from_numpy(d_mu),
            torch.from_numpy(d_a),
            torch.from_numpy(d_f),
            None,
            None,
        )
