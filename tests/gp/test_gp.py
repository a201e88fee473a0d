"""The exact GP core: a known function, ARD relevance, the marginal likelihood and its
gradient against an independent numpy implementation, limits of the predictive variance,
calibration on draws from a GP prior, posterior draws, persistence and errors."""

import io
import math

import numpy as np
import pytest
import scipy.linalg
import torch

from pdeml.gp import GaussianProcess, negative_log_marginal_likelihood


def numpy_matern52(x1, x2, lengthscale, outputscale):
    """Matérn-5/2 ARD kernel and its squared scaled differences, written from the formula."""
    diff2 = ((x1[:, None, :] - x2[None, :, :]) / lengthscale) ** 2
    r = np.sqrt(diff2.sum(-1))
    k = outputscale * (1 + math.sqrt(5) * r + 5 * r**2 / 3) * np.exp(-math.sqrt(5) * r)
    return k, diff2, r


def numpy_nlml_and_gradient(x, y, lengthscale, outputscale, noise, constant):
    """-log p(y) and its gradient in (log l, log s², log σ², c) by the trace formula
    d(-log p)/dθ = -½ tr((α αᵀ - K⁻¹) ∂K/∂θ) (Rasmussen & Williams eq. 5.9)."""
    n = len(x)
    k, diff2, r = numpy_matern52(x, x, lengthscale, outputscale)
    kn = k + noise * np.eye(n)
    factor = scipy.linalg.cho_factor(kn, lower=True)
    alpha = scipy.linalg.cho_solve(factor, y - constant)
    nlml = (
        0.5 * (y - constant) @ alpha
        + np.log(np.diag(factor[0])).sum()
        + 0.5 * n * math.log(2 * math.pi)
    )
    inner = np.outer(alpha, alpha) - scipy.linalg.cho_solve(factor, np.eye(n))
    # ∂k/∂log l_j = s² (5/3) (1 + √5 r) exp(-√5 r) (Δ_j / l_j)²
    radial = outputscale * (5 / 3) * (1 + math.sqrt(5) * r) * np.exp(-math.sqrt(5) * r)
    grad_l = np.array([-0.5 * np.sum(inner * radial * diff2[..., j]) for j in range(x.shape[1])])
    grad_s = -0.5 * np.sum(inner * k)
    grad_noise = -0.5 * noise * np.trace(inner)
    grad_c = -alpha.sum()
    return nlml, np.concatenate([grad_l, [grad_s, grad_noise, grad_c]])


def test_marginal_likelihood_and_gradient_match_an_independent_numpy_implementation():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (25, 3))
    y = np.sin(2 * x[:, 0]) + x[:, 1] * x[:, 2]
    log_l = np.log([0.7, 1.3, 0.4])
    log_s, log_noise, c = np.log(1.7), np.log(0.05), 0.3
    theta = torch.tensor([*log_l, log_s, log_noise, c], dtype=torch.float64, requires_grad=True)
    value = negative_log_marginal_likelihood(
        "matern52",
        torch.as_tensor(x),
        torch.as_tensor(y)[None],
        theta[None, :3].exp(),
        theta[3:4].exp(),
        theta[4:5].exp(),
        theta[5:6],
    ).sum()
    value.backward()
    expected, gradient = numpy_nlml_and_gradient(
        x, y, np.exp(log_l), np.exp(log_s), np.exp(log_noise), c
    )
    # Both are float64 evaluations of the same closed forms on a well-conditioned 25x25
    # matrix (noise 0.05): agreement to ~1e-12 relative; 1e-9 leaves room for BLAS order.
    assert value.item() == pytest.approx(expected, rel=1e-9)
    np.testing.assert_allclose(theta.grad.numpy(), gradient, rtol=1e-8, atol=1e-10)


def test_recovers_a_smooth_function():
    x = np.linspace(0, 1, 30)[:, None]
    gp = GaussianProcess(kernel="matern52", restarts=2).fit(x, np.sin(6 * x))
    xt = np.linspace(0.02, 0.98, 97)[:, None]
    mean, var = gp.predict(xt)
    # Noise-free data, spacing h = 1/29: Matérn-5/2 interpolation error scales like h^3
    # times |f'''| = 216, about 2e-3 at most; measured 1.6e-4 (RBF: 7e-6). A useless fit errs by ~1.
    assert np.abs(mean - np.sin(6 * xt)).max() < 2e-3
    # The posterior standard deviation bounds the actual error (within 4 sigma everywhere).
    assert np.all(np.abs(mean - np.sin(6 * xt)) < 4 * np.sqrt(var) + 1e-6)
    rbf = GaussianProcess(kernel="rbf", restarts=2).fit(x, np.sin(6 * x))
    assert np.abs(rbf.predict(xt)[0] - np.sin(6 * xt)).max() < 2e-3


def test_ard_lengthscales_flag_an_irrelevant_input():
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, (80, 3))
    y = np.sin(3 * x[:, 0]) * np.cos(2 * x[:, 2])
    ls = GaussianProcess(restarts=2).fit(x, y).hyperparameters()["lengthscale"][0]
    # Input 1 does not enter y: its lengthscale goes to the upper bound (~1e3 standard
    # deviations); the relevant ones stay O(1).
    assert ls[1] > 20 * max(ls[0], ls[2])


def test_variance_limits_noise_at_data_and_prior_far_away():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (200, 1))
    sigma = 0.1
    y = np.sin(4 * x[:, 0]) + sigma * rng.standard_normal(200)
    gp = GaussianProcess(restarts=2).fit(x, y)
    hyper = gp.hyperparameters()
    # 200 residuals estimate σ² with relative standard error √(2/200) = 0.1: allow 35 %.
    assert hyper["noise"][0] == pytest.approx(sigma**2, rel=0.35)
    latent, _ = gp.predict(x[:20])[1], None
    noisy = gp.predict(x[:20], noise=True)[1]
    # At the data: the latent variance lies below one observation's noise, and the noisy
    # variance is latent + noise exactly.
    assert np.all(latent < hyper["noise"][0])
    np.testing.assert_allclose(noisy - latent, hyper["noise"][0], rtol=1e-10)
    # Far from the data: the prior (mean c, variance s²).
    mean_far, var_far = gp.predict(np.array([[50.0]]))
    assert mean_far[0, 0] == pytest.approx(hyper["constant"][0], abs=1e-8)
    assert var_far[0, 0] == pytest.approx(hyper["outputscale"][0], rel=1e-8)


@pytest.mark.slow
def test_intervals_are_calibrated_on_draws_from_a_gp_prior():
    """100 independent functions from a Matérn-5/2 prior (lengthscales 0.3, 0.5) plus noise
    0.05, one batched fit with learned hyperparameters (80 points each), 10 test points
    each: 1000 values. For a calibrated model the count inside the 95 % interval is about
    Binomial(1000, 0.95): sd 0.0069, so 3 sd is [0.929, 0.971]. Plug-in (type-II maximum
    likelihood) hyperparameters ignore their own uncertainty and under-cover slightly at 80
    points (measured 0.927-0.946 over seeds 4-7; 0.94-0.95 with the true hyperparameters),
    so the lower end is widened to 0.91: a variance off by a factor 2 gives 0.83 or 0.99."""
    rng = np.random.default_rng(4)
    n_train, n_test, m = 80, 10, 100
    x = rng.uniform(0, 1, (n_train + n_test, 2))
    k, _, _ = numpy_matern52(x, x, np.array([0.3, 0.5]), 1.0)
    chol = np.linalg.cholesky(k + 1e-10 * np.eye(len(x)))
    f = chol @ rng.standard_normal((len(x), m))
    y = f + 0.05 * rng.standard_normal(f.shape)
    gp = GaussianProcess(restarts=1, max_iter=50).fit(x[:n_train], y[:n_train])
    mean, var = gp.predict(x[n_train:], noise=True)
    coverage = np.mean(np.abs(y[n_train:] - mean) <= 1.959964 * np.sqrt(var))
    assert 0.91 <= coverage <= 0.975


def test_posterior_draws_have_the_predictive_mean_and_variance():
    x = np.linspace(0, 1, 15)[:, None]
    y = np.c_[np.sin(5 * x[:, 0]), x[:, 0] ** 2]
    gp = GaussianProcess(restarts=1).fit(x, y)
    xt = np.array([[0.05], [0.51], [1.2]])
    draws = gp.sample(xt, 4000, seed=0)
    assert draws.shape == (4000, 3, 2)
    mean, var = gp.predict(xt)
    # 4000 draws: the sample variance has relative sd √(2/4000) = 0.022; 0.1 is 4.5 sd.
    np.testing.assert_allclose(draws.var(0), var, rtol=0.1)
    np.testing.assert_allclose(draws.mean(0), mean, atol=5 * np.sqrt(var.max() / 4000))
    np.testing.assert_array_equal(draws, gp.sample(xt, 4000, seed=0))


def test_state_dict_round_trips_through_weights_only_load():
    rng = np.random.default_rng(5)
    x = rng.uniform(size=(20, 2))
    gp = GaussianProcess(kernel="rbf", mean="zero", restarts=2).fit(x, x @ [1.0, -2.0])
    buffer = io.BytesIO()
    torch.save(gp.state_dict(), buffer)
    buffer.seek(0)
    again = GaussianProcess.from_state_dict(torch.load(buffer, weights_only=True))
    xt = rng.uniform(size=(7, 2))
    for a, b in zip(gp.predict(xt), again.predict(xt)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


@pytest.mark.slow
def test_fit_is_reproducible_and_chunking_does_not_change_it(monkeypatch):
    rng = np.random.default_rng(6)
    x = rng.uniform(size=(20, 2))
    y = np.c_[np.sin(3 * x[:, 0]), np.cos(2 * x[:, 1]), x[:, 0] * x[:, 1]]
    whole = GaussianProcess(restarts=2, seed=3).fit(x, y).hyperparameters()
    import pdeml.gp.exact

    monkeypatch.setattr(pdeml.gp.exact, "_CHUNK_ELEMENTS", 2 * 20 * 20)  # one output a chunk
    chunked = GaussianProcess(restarts=2, seed=3).fit(x, y).hyperparameters()
    # Each output starts from the same seeded points; L-BFGS on a sum of independent terms
    # and on each term alone reach the same optima to optimiser tolerance.
    np.testing.assert_allclose(chunked["noise"], whole["noise"], rtol=0.05, atol=1e-7)
    np.testing.assert_allclose(chunked["outputscale"], whole["outputscale"], rtol=0.05)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="kernel"):
        GaussianProcess(kernel="matern32")
    with pytest.raises(ValueError, match="restarts"):
        GaussianProcess(restarts=0)
    with pytest.raises(ValueError, match="noise_floor"):
        GaussianProcess(noise_floor=0.0)
    gp = GaussianProcess(restarts=1)
    with pytest.raises(ValueError, match="not fitted"):
        gp.predict(np.zeros((1, 1)))
    with pytest.raises(ValueError, match="X"):
        gp.fit(np.zeros(5), np.zeros(5))
    with pytest.raises(ValueError, match="same number of rows"):
        gp.fit(np.zeros((5, 1)), np.zeros(4))
    with pytest.raises(ValueError, match="NaN"):
        gp.fit(np.full((5, 1), np.nan), np.zeros(5))
    gp.fit(np.linspace(0, 1, 5)[:, None], np.arange(5.0))
    with pytest.raises(ValueError, match="columns"):
        gp.predict(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="n_samples"):
        gp.sample(np.zeros((1, 1)), 0)
