"""The inference fast paths of the closures equal their reference forward passes.

The hybrid solver evaluates closures through :meth:`Closure.inference` (precomputed float64
numpy forms). Each is checked against an independent evaluation of the same learned
function: the torch module run in float64 (round-off agreement), the float32 torch module
the closure trains (float32 round-off), or the GP's own predictive mean.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from pdeml.closures import make_closure
from pdeml.closures.fno import DENSE_LIMIT, FNOInference
from pdeml.closures.mlp import MLPInference
from pdeml.nn.fourier import SpectralConv

RNG = np.random.default_rng(0)
# Rings: fewer sites than modes (K = 4: modes clamp to 3), odd K (no Nyquist mode), the
# two settings (8, 36), and one past DENSE_LIMIT (FFT form) for width 12.
KS = (4, 5, 8, 12, 36, 90)


def training_pairs(k: int = 8, m: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Lorenz96-like magnitudes; the function learned does not matter here, only that the
    weights are generic (a few epochs away from their random start)."""
    x = 4.0 + 5.0 * RNG.standard_normal((m, k))
    return x, 0.3 - 0.5 * x + 0.1 * np.roll(x, 1, 1) * np.roll(x, -1, 1) / 5.0


def float64_spectral(layer: SpectralConv):
    """SpectralConv.forward in float64 (the module's own forward casts to float32)."""

    def forward(x: torch.Tensor) -> torch.Tensor:
        k = x.shape[-1]
        m = min(layer.modes[0], k // 2 + 1)
        spectrum = torch.fft.rfft(x, dim=-1)[..., :m]
        w = layer.weight[0, :m].to(torch.complex128)
        return torch.fft.irfft(torch.einsum("bik,kio->bok", spectrum, w), n=k, dim=-1)

    return forward


@pytest.fixture(scope="module")
def fno():
    x, y = training_pairs()
    hp = {"modes": 5, "width": 12, "layers": 3, "projection": 16, "epochs": 3}
    return make_closure("fno", **hp).fit(x, y)


@pytest.mark.parametrize("k", KS)
def test_fno_fast_path_equals_the_float64_torch_forward(fno, k):
    model = copy.deepcopy(fno.model).double()
    for layer in model.core.fno.spectral:
        layer.forward = float64_spectral(layer)
    x = 4.0 + 5.0 * RNG.standard_normal((7, k))
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    fast = fno.inference(k)
    assert isinstance(fast, FNOInference)
    assert (fast.dense is not None) == (k * 12 <= DENSE_LIMIT)
    got = fast(x)
    # Float64 round-off: ~1e-16 per operation, a few hundred operations per output.
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12 * np.abs(expected).max())
    np.testing.assert_allclose(
        fast.fft_forward(x), expected, rtol=0, atol=1e-12 * np.abs(expected).max()
    )
    # And the float32 module the closure trains and the torch loop uses: float32
    # round-off (6e-8) grown through 3 layers of width 12, so 1e-5 of the output scale.
    np.testing.assert_allclose(got, fno(x), rtol=0, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("window", [0, 2])
@pytest.mark.parametrize("k", (4, 8, 36))
def test_mlp_fast_path_equals_the_float64_torch_forward(window, k):
    x, y = training_pairs()
    mlp = make_closure("mlp", window=window, hidden=(16, 8), epochs=3).fit(x, y)
    model = copy.deepcopy(mlp.model).double()
    xq = 4.0 + 5.0 * RNG.standard_normal((6, k))
    with torch.no_grad():
        expected = model(torch.from_numpy(xq)).numpy()
    fast = mlp.inference(k)
    assert isinstance(fast, MLPInference)
    np.testing.assert_allclose(fast(xq), expected, rtol=0, atol=1e-12 * np.abs(expected).max())
    np.testing.assert_allclose(fast(xq), mlp(xq), rtol=0, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("kernel", ["matern52", "rbf"])
@pytest.mark.parametrize("window", [0, 1])
def test_gp_fast_mean_equals_the_gp_predictive_mean(kernel, window):
    x, y = training_pairs(m=20)
    gp = make_closure("gp", window=window, max_points=80, kernel=kernel, restarts=1).fit(x, y)
    for k in (5, 8):
        xq = 4.0 + 5.0 * RNG.standard_normal((6, k))
        from pdeml.closures.gp import neighbourhoods

        mean, _ = gp.gp.predict(neighbourhoods(xq, window))
        expected = mean.reshape(xq.shape)
        # Both float64, same formula in a different order (matrix-vector product instead
        # of a broadcast sum, scalings applied in another order). The mean Σ k_i w_i
        # cancels: with a near-interpolating GP (noise 1e-8 on this noiseless data) the
        # weights reach ~1e9 while the mean is ~5, so the round-off of k (≤ 1, ~1e-16)
        # becomes ~1e-16 Σ|w_i| (measured 9e-17 Σ|w_i|); 1e-14 Σ|w_i| bounds it.
        fast = gp.inference(k)
        got = fast(xq)
        tol = 1e-14 * np.abs(fast.weights).sum() + 1e-12 * np.abs(expected).max()
        np.testing.assert_allclose(got, expected, rtol=0, atol=tol)


def test_fast_paths_are_cached_per_ring_and_reset_by_fitting(fno):
    assert fno.inference(8) is fno.inference(8)
    assert fno.inference(8) is not fno.inference(12)
    x, y = training_pairs()
    mlp = make_closure("mlp", hidden=(8,), epochs=1).fit(x, y)
    first = mlp.inference(8)
    mlp.fit(x, 2.0 * y)
    assert mlp.inference(8) is not first
    with pytest.raises(ValueError, match="K must be an integer >= 4"):
        mlp.inference(3)
    with pytest.raises(ValueError, match="not fitted"):
        make_closure("fno").inference(8)


def test_loaded_closure_has_the_same_fast_path(fno, tmp_path):
    from pdeml.closures import load_closure

    fno.save(tmp_path / "fno")
    loaded = load_closure(tmp_path / "fno")
    x = 4.0 + 5.0 * RNG.standard_normal((3, 8))
    np.testing.assert_array_equal(loaded.inference(8)(x), fno.inference(8)(x))


@pytest.mark.parametrize("activation", ["relu", "tanh", "silu"])
def test_fno_fast_path_and_compiled_kernel_for_each_activation(activation):
    from pdeml.solvers.hybrid import _dense_network

    x, y = training_pairs()
    hp = {"modes": 5, "width": 6, "layers": 2, "projection": 8, "epochs": 2}
    fno = make_closure("fno", activation=activation, **hp).fit(x, y)
    model = copy.deepcopy(fno.model).double()
    for layer in model.core.fno.spectral:
        layer.forward = float64_spectral(layer)
    xq = 4.0 + 5.0 * RNG.standard_normal((9, 8))
    with torch.no_grad():
        expected = model(torch.from_numpy(xq)).numpy()
    fast = fno.inference(8)
    tol = 1e-12 * np.abs(expected).max()  # float64 round-off, as for the GELU network
    np.testing.assert_allclose(fast(xq), expected, rtol=0, atol=tol)
    # The numba kernel's network (hybrid solver) evaluates the same dense form.
    np.testing.assert_allclose(_dense_network(xq, *fast.compiled_form()), expected, atol=tol)
    assert fno.inference(DENSE_LIMIT // 6 + 1).compiled_form() is None
