"""Closures of the two-scale Lorenz96 system: exact recovery, learning, symmetry, files.

Datasets are tiny (a few hundred snapshots) and networks train for a few epochs, so the
file runs in seconds on 2 cores.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pdeml.closures import (
    FNOClosure,
    MLPClosure,
    available_closures,
    closure_training_data,
    load_closure,
    make_closure,
)
from pdeml.problems import Lorenz96

FAST = {
    "mlp": {"hidden": (16, 16), "epochs": 15, "batch_size": 16, "lr": 5e-3},
    "fno": {"modes": 5, "width": 12, "layers": 2, "projection": 16, "epochs": 15, "lr": 5e-3},
    "gp": {"max_points": 150, "restarts": 1},
}


@pytest.fixture(scope="module")
def wilks_pairs():
    """Training and held-out pairs from short resolved runs at the Wilks (2005) setting."""
    problem = Lorenz96(K=8, J=32, F=20.0, dt=0.001, save_every=50, T=2.0, spinup=3.0)
    return closure_training_data(problem, 4, seed=0), closure_training_data(problem, 2, seed=1)


def normalised_mse(pred: np.ndarray, target: np.ndarray) -> float:
    return float(np.mean((pred - target) ** 2) / np.var(target))


def test_registry_knows_every_closure():
    assert set(available_closures()) >= {"none", "polynomial", "mlp", "fno", "gp"}
    with pytest.raises(ValueError, match="unknown closure 'spline'"):
        make_closure("spline")
    with pytest.raises(TypeError, match="name"):
        make_closure(3)


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("polynomial", {"degree": -1}, "degree"),
        ("polynomial", {"degree": 2.5}, "degree"),
        ("mlp", {"window": -1}, "window"),
        ("mlp", {"hidden": "32"}, "hidden"),
        ("mlp", {"activation": "softmax"}, "activation"),
        ("fno", {"modes": 0}, "modes"),
        ("fno", {"lr": 0.0}, "lr"),
        ("fno", {"device": "tpu"}, "device"),
        ("gp", {"max_points": 1}, "max_points"),
        ("gp", {"kernel": "cubic"}, "kernel"),
    ],
)
def test_bad_hyperparameters_are_named(name, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make_closure(name, **kwargs)


def test_bad_training_data_and_unfitted_use():
    poly = make_closure("polynomial", degree=2)
    x = np.random.default_rng(0).standard_normal((10, 8))
    with pytest.raises(ValueError, match="same shape"):
        poly.fit(x, x[:, :6])
    with pytest.raises(ValueError, match=r"\[n, K\]"):
        poly.fit(x[0], x[0])
    with pytest.raises(ValueError, match="finite"):
        poly.fit(np.full((10, 8), np.nan), x)
    with pytest.raises(ValueError, match="not fitted"):
        poly(x)
    with pytest.raises(ValueError, match="distinct values"):
        poly.fit(np.ones((10, 8)), x)


def test_polynomial_recovers_a_known_polynomial_exactly():
    # Data drawn from c(X) = 0.3 − 0.8 X + 0.05 X² − 0.004 X³ + 1e-4 X⁴ over the range of
    # Wilks's X (−10 … 16). Least squares on exact data returns the coefficients up to the
    # round-off of the (domain-scaled) Vandermonde solve: measured ~1e-13 relative; 1e-9
    # leaves room for other BLAS builds and still fails for any wrong coefficient.
    truth = np.array([0.3, -0.8, 0.05, -0.004, 1e-4])
    x = np.random.default_rng(1).uniform(-10.0, 16.0, size=(200, 8))
    y = np.polynomial.polynomial.polyval(x, truth)
    poly = make_closure("polynomial", degree=4).fit(x, y)
    np.testing.assert_allclose(poly.coefficients, truth, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(poly(x), y, rtol=1e-10, atol=1e-10)
    # A cubic fitted with degree 4 gets a zero quartic coefficient.
    cubic = make_closure("polynomial", degree=4).fit(
        x, np.polynomial.polynomial.polyval(x, truth[:4])
    )
    assert abs(cubic.coefficients[4]) < 1e-12


def test_zero_closure_is_zero_and_needs_no_fit():
    zero = make_closure("none")
    x = np.random.default_rng(2).standard_normal((3, 8))
    assert np.array_equal(zero(x), np.zeros_like(x))
    assert np.array_equal(zero.polynomial_coefficients(), [0.0])


@pytest.mark.parametrize("name", ["polynomial", "mlp", "fno", "gp"])
def test_each_closure_learns_the_coupling_from_a_short_dataset(name, wilks_pairs):
    # Predicting the mean scores 1. In the Wilks setting most of the coupling's variance is
    # a smooth function of X_k (the premise of Wilks's polynomial closure): on this tiny set
    # (160 snapshots) the held-out
    # normalised MSE measured 0.14 (polynomial), 0.15 (gp), 0.13 (mlp), 0.14 (fno after 15
    # epochs); the zero closure scores 1.7. 0.35 fails any closure that has not learned
    # that dependence.
    (x, y), (xt, yt) = wilks_pairs
    closure = make_closure(name, **FAST.get(name, {})).fit(x, y)
    error = normalised_mse(closure(xt), yt)
    assert error < 0.35, f"{name}: held-out normalised MSE {error:.3f}"


def test_the_zero_closure_fails_the_learning_bound(wilks_pairs):
    _, (xt, yt) = wilks_pairs
    assert normalised_mse(make_closure("none")(xt), yt) > 1.0


def test_gp_closure_gives_its_mean_and_a_positive_variance(wilks_pairs):
    (x, y), (xt, _) = wilks_pairs
    closure = make_closure("gp", **FAST["gp"]).fit(x, y)
    mean, var = closure.predict_with_variance(xt)
    assert mean.shape == var.shape == xt.shape
    np.testing.assert_allclose(mean, closure(xt), rtol=1e-10, atol=1e-10)
    assert np.all(var > 0)


@pytest.mark.parametrize("name", ["none", "polynomial", "mlp", "fno", "gp"])
def test_save_and_load_give_the_same_closure(name, wilks_pairs, tmp_path):
    (x, y), (xt, _) = wilks_pairs
    hp = dict(FAST.get(name, {}))
    if name in ("mlp", "fno"):
        hp["epochs"] = 2  # the weights need not be good to round-trip
    closure = make_closure(name, **hp).fit(x, y)
    loaded = load_closure(closure.save(tmp_path / name))
    assert type(loaded) is type(closure)
    assert loaded.hyperparameters == closure.hyperparameters
    np.testing.assert_array_equal(loaded(xt), closure(xt))
    if name in ("mlp", "fno"):  # weights only: loadable with weights_only=True
        torch.load(tmp_path / name / "weights.pt", weights_only=True)
    other = MLPClosure if name == "fno" else FNOClosure
    with pytest.raises(ValueError, match=f"holds a '{name}' closure"):
        other.load(tmp_path / name)


def test_load_rejects_a_folder_without_a_closure(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"closure\.json"):
        load_closure(tmp_path)
    (tmp_path / "closure.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_closure(tmp_path)


@pytest.mark.parametrize("name", ["mlp", "fno", "gp"])
def test_learned_closures_commute_with_shifts_of_the_ring(name, wilks_pairs):
    # The two-scale system is invariant under k → k + 1, and every closure here is built so
    # (shared weights, no coordinate channels): c(roll(X)) = roll(c(X)). The FFT and the
    # float32 networks make this hold to round-off (~1e-6 relative), not bitwise.
    (x, y), (xt, _) = wilks_pairs
    hp = {**FAST[name], "epochs": 2} if name != "gp" else FAST[name]
    closure = make_closure(name, **hp).fit(x, y)
    shifted = closure(np.roll(xt, 3, axis=1))
    np.testing.assert_allclose(shifted, np.roll(closure(xt), 3, axis=1), rtol=1e-4, atol=1e-4)


def test_network_closures_take_any_ring_length(wilks_pairs):
    (x, y), _ = wilks_pairs
    for name in ("mlp", "fno"):
        closure = make_closure(name, **{**FAST[name], "epochs": 1}).fit(x, y)
        assert closure(np.random.default_rng(3).standard_normal((2, 36))).shape == (2, 36)


def test_fno_closure_is_nonlocal_and_mlp_window_is_respected(wilks_pairs):
    # Perturbing X_0 changes an MLP closure with window w only at sites within w of 0;
    # the FNO closure sees the whole ring.
    (x, y), (xt, _) = wilks_pairs
    mlp = make_closure("mlp", **{**FAST["mlp"], "window": 1, "epochs": 2}).fit(x, y)
    fno = make_closure("fno", **{**FAST["fno"], "epochs": 2}).fit(x, y)
    bumped = xt[:1].copy()
    bumped[0, 0] += 1.0
    changed = np.abs(mlp(bumped) - mlp(xt[:1]))[0] > 0
    assert changed.tolist() == [True, True, False, False, False, False, False, True]
    assert np.all(np.abs(fno(bumped) - fno(xt[:1])) > 0)
