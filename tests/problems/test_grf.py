"""Gaussian random fields: the sample spectrum matches σ²(λ_k + τ²)^(−γ) within sampling error.

For a Gaussian coefficient c_k with E|c_k|² = s_k², the ratio |c_k|²/s_k² has mean 1 and
standard deviation 1 (complex, exponential law) or √2 (real, χ²₁). The mean of ``n``
independent ratios therefore has standard error 1/√n (resp. √(2/n)); each check allows
5 standard errors, so a correct generator fails with probability below 1e-6 per check,
while a wrong exponent or a missing √2 shifts the ratios by far more.
"""

import numpy as np
import pytest

from pdeml.problems.base import sample_rng
from pdeml.problems.grf import NeumannGRF, PeriodicGRF

N_SAMPLES = 400


def rngs(n, seed=0):
    return [sample_rng(seed, i) for i in range(n)]


def test_periodic_1d_spectrum_matches_covariance():
    grf = PeriodicGRF(1, sigma=25.0, tau=5.0, gamma=2.0, n_modes=64)
    u = grf.sample(rngs(N_SAMPLES), resolution=64)
    c = np.fft.fft(u, axis=1, norm="forward")
    k = np.arange(1, 32)
    s = 25.0 * (4 * np.pi**2 * k**2 + 25.0) ** (-1.0)
    ratio = (np.abs(c[:, k]) ** 2 / s**2).mean(axis=0)
    assert np.all(np.abs(ratio - 1.0) < 5.0 / np.sqrt(N_SAMPLES)), ratio
    # Pooled over modes the test is sharper and catches small systematic factors.
    assert abs(ratio.mean() - 1.0) < 5.0 / np.sqrt(N_SAMPLES * len(k))
    # Circular: real and imaginary parts carry equal variance. Each of re², im² (over s²)
    # has variance 1/2, so their difference has standard deviation 1 per sample and mode.
    re = (c[:, k].real ** 2 / s**2).mean()
    im = (c[:, k].imag ** 2 / s**2).mean()
    assert abs(re - im) < 5.0 / np.sqrt(N_SAMPLES * len(k))
    np.testing.assert_allclose(c[:, 0], 0.0, atol=1e-12)  # mean-zero field


def test_periodic_1d_pointwise_variance():
    grf = PeriodicGRF(1, sigma=1.0, tau=1.0, gamma=1.5, n_modes=32)
    u = grf.sample(rngs(2000, seed=3), resolution=32)
    expected = np.sum(grf.mode_std() ** 2)  # Σ_k s_k² over all wavenumbers
    # u(x) is Gaussian: the variance estimate has relative standard error √(2/n) per point;
    # pooling 32 correlated points only helps, so 5·√(2/n) is a safe bound on the mean.
    assert abs(u.var(axis=0).mean() / expected - 1.0) < 5.0 * np.sqrt(2.0 / 2000)


def test_periodic_2d_spectrum_by_shell():
    grf = PeriodicGRF(2, sigma=7.0**1.5, tau=7.0, gamma=2.5, n_modes=32)
    u = grf.sample(rngs(200), resolution=32)
    c = np.fft.fft2(u, norm="forward")
    k = np.fft.fftfreq(32, 1 / 32)
    kx, ky = np.meshgrid(k, k, indexing="ij")
    ratio = np.abs(c) ** 2 / np.where(grf.mode_std() > 0, grf.mode_std(), np.inf) ** 2
    radius = np.rint(np.hypot(kx, ky)).astype(int)
    for shell in range(1, 15):
        mask = (radius == shell) & (grf.mode_std() > 0)
        # Modes k and −k carry the same coefficient (real field): count pairs once.
        count = mask.sum() // 2 * 200
        assert abs(ratio[:, mask].mean() - 1.0) < 5.0 / np.sqrt(count), shell


def test_neumann_2d_spectrum_matches_covariance():
    grf = NeumannGRF(2, sigma=3.0, tau=3.0, gamma=2.0, n_modes=16)
    u = grf.sample(rngs(N_SAMPLES), resolution=16)
    basis = NeumannGRF.basis(16, 16)  # square and invertible: recover coefficients exactly
    inv = np.linalg.inv(basis)
    c = np.einsum("kx,nxy,ly->nkl", inv, u, inv)
    std = grf.mode_std()
    ratio = c**2 / np.where(std > 0, std, np.inf) ** 2
    modes = std > 0
    per_mode = ratio[:, modes].mean(axis=0)
    # Real coefficients: χ²₁/1 has standard deviation √2.
    assert np.all(np.abs(per_mode - 1.0) < 5.0 * np.sqrt(2.0 / N_SAMPLES))
    assert abs(per_mode.mean() - 1.0) < 5.0 * np.sqrt(2.0 / (N_SAMPLES * modes.sum()))
    np.testing.assert_allclose(c[:, 0, 0], 0.0, atol=1e-10)


def test_neumann_field_has_zero_normal_derivative():
    grf = NeumannGRF(1, sigma=1.0, tau=3.0, gamma=2.0, n_modes=8)
    coefficients = grf.coefficients(rngs(3))
    h = 1e-6
    values = grf.evaluate(coefficients, 1_000_001)
    left = (values[:, 1] - values[:, 0]) / h
    # One-sided difference of a function with zero slope: O(h) times the second derivative.
    assert np.all(np.abs(left) < 1e-3)


def test_same_seed_same_field_and_independent_of_chunking():
    grf = PeriodicGRF(1, 1.0, 2.0, 2.0, 64)
    a = grf.sample([sample_rng(7, i) for i in range(5)], 64)
    b = grf.sample([sample_rng(7, i) for i in range(5)], 64)
    c = grf.sample([sample_rng(7, 3)], 64)
    d = grf.sample([sample_rng(8, i) for i in range(5)], 64)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[3], c[0])
    assert not np.allclose(a, d)


@pytest.mark.parametrize("resolution", [16, 32, 128])
def test_periodic_coarse_grid_is_stride_of_fine_grid(resolution):
    grf = PeriodicGRF(2, 1.0, 3.0, 2.0, 64)
    coefficients = grf.coefficients(rngs(2))
    fine = grf.evaluate(coefficients, 256)
    coarse = grf.evaluate(coefficients, resolution)
    stride = 256 // resolution
    np.testing.assert_allclose(coarse, fine[:, ::stride, ::stride], atol=1e-12)


def test_neumann_coarse_grid_is_stride_of_fine_grid():
    grf = NeumannGRF(2, 3.0, 3.0, 2.0, 40)
    coefficients = grf.coefficients(rngs(2))
    fine = grf.evaluate(coefficients, 85)
    np.testing.assert_allclose(grf.evaluate(coefficients, 29), fine[:, ::3, ::3], atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"sigma": 0.0}, "sigma"),
        ({"gamma": -1.0}, "gamma"),
        ({"n_modes": 1}, "n_modes"),
        ({"tau": float("nan")}, "tau"),
    ],
)
def test_bad_parameters_name_the_field(kwargs, field):
    params = {"dim": 1, "sigma": 1.0, "tau": 1.0, "gamma": 2.0, "n_modes": 16, **kwargs}
    with pytest.raises(ValueError, match=field):
        PeriodicGRF(**params)
    with pytest.raises(ValueError, match=field):
        NeumannGRF(**params)


def test_periodic_rejects_incompatible_resolution():
    grf = PeriodicGRF(1, 1.0, 1.0, 2.0, 64)
    with pytest.raises(ValueError, match="resolution"):
        grf.sample(rngs(1), 48)
