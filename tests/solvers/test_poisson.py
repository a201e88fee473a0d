"""Periodic Poisson: the source distribution, the Fourier solver exact on manufactured
solutions, the five-point solver second order, and clear errors on bad input."""

import numpy as np
import pytest

from pdeml.problems import Poisson2D
from pdeml.problems.poisson.solver import PoissonSolver
from pdeml.solvers.poisson import solve_periodic_poisson


def _grid(n):
    x = np.arange(n) / n
    return np.meshgrid(x, x, indexing="ij")


def _manufactured(n):
    # u = sin(2πx) cos(6πy) + 0.5 cos(4π(x + y)): mean zero, |k| ≤ 3.
    X, Y = _grid(n)
    u = np.sin(2 * np.pi * X) * np.cos(6 * np.pi * Y) + 0.5 * np.cos(4 * np.pi * (X + Y))
    s = (2 * np.pi) ** 2 * (
        10 * np.sin(2 * np.pi * X) * np.cos(6 * np.pi * Y) + 0.5 * 8 * np.cos(4 * np.pi * (X + Y))
    )
    return s[None], u[None]


def test_spectral_solver_is_exact_on_a_trigonometric_polynomial():
    s, u = _manufactured(16)
    problem = Poisson2D(source_modes=4, resolution=16, solver_resolution=16)
    out = problem.reference_solver().solve({"s": s})["u"]
    # round-off of O(400) source values through two FFTs
    np.testing.assert_allclose(out, u, atol=1e-13 * np.abs(s).max())


def test_finite_difference_solver_converges_at_second_order():
    errors, steps = [], []
    for n in (16, 32, 64, 128):
        s, u = _manufactured(n)
        out = solve_periodic_poisson(s, "finite_difference")
        errors.append(np.abs(out - u).max())
        steps.append(1.0 / n)
    slope = np.polyfit(np.log(steps), np.log(errors), 1)[0]
    # The error of each mode is (πk h)²/12 relative, plus O(h⁴): the slope tends to 2.
    assert 1.95 < slope < 2.05, slope


def test_sources_are_mean_free_band_limited_and_the_same_function_on_every_grid():
    problem = Poisson2D(resolution=32, solver_resolution=64)
    fine = problem.sample_inputs(3, seed=4, resolution=64)["s"]
    coarse = problem.sample_inputs(3, seed=4)["s"]
    np.testing.assert_allclose(problem.restrict({"s": fine}, 64, 32)["s"], coarse, atol=1e-13)
    np.testing.assert_allclose(fine.mean(axis=(1, 2)), 0.0, atol=1e-14)
    spectrum = np.abs(np.fft.fft2(fine)) / 64**2
    k = np.abs(np.fft.fftfreq(64, 1 / 64))
    outside = (k[:, None] >= problem.source_modes) | (k[None, :] >= problem.source_modes)
    assert spectrum[:, outside].max() < 1e-14
    assert spectrum[:, ~outside].max() > 1e-2


def test_source_variance_matches_the_periodic_kernel():
    # Pointwise variance of the band-limited field = Σ_{|k|<M} λ_kx λ_ky; over 400 samples
    # and 64² correlated points the estimate is within a few percent (standard error
    # ~ 1/√400 = 5 %, so 20 % is a four-sigma bound).
    problem = Poisson2D(resolution=32, solver_resolution=32)
    s = problem.sample_inputs(400, seed=0)["s"]
    lam = problem.kernel_spectrum()
    expected = lam.sum() ** 2 - lam[problem.source_modes - 1] ** 2
    assert abs(s.var() / expected - 1) < 0.2


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="resolution"):
        Poisson2D(source_modes=8, resolution=8)
    with pytest.raises(ValueError, match="solver_resolution"):
        Poisson2D(resolution=32, solver_resolution=48)
    with pytest.raises(ValueError, match="method"):
        Poisson2D().reference_solver(method="multigrid")
    with pytest.raises(TypeError, match="Poisson2D"):
        PoissonSolver(object())
