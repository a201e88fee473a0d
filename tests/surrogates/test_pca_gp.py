"""PCA-GP on Burgers: a quick fit reaching a stated error, the variance mapped back against
posterior draws, save/load, and clear errors for problems without grid fields."""

import numpy as np
import pytest

import pdeml
from pdeml.problems import Burgers1D


@pytest.fixture(scope="module")
def burgers_sets(tmp_path_factory):
    problem = Burgers1D(resolution=64, solver_resolution=256)
    path = tmp_path_factory.mktemp("burgers") / "64.h5"
    return pdeml.generate(problem, n=120, seed=0, path=path, workers=1, progress=False).split(
        n_test=20
    )


@pytest.fixture(scope="module")
def trained(burgers_sets):
    train, _ = burgers_sets
    return pdeml.make_surrogate("pca-gp", train.problem).fit(train, restarts=2, max_iter=100)


def relative_l2(pred, ref):
    n = len(ref)
    return (
        np.linalg.norm((pred - ref).reshape(n, -1), axis=1)
        / np.linalg.norm(ref.reshape(n, -1), axis=1)
    ).mean()


@pytest.mark.slow
def test_quick_fit_reaches_the_stated_error(burgers_sets, trained):
    """100 training samples, 16 input and up to 16 output components: measured relative L2
    8.6e-3 (script run 2026-11-22; the FNO test reaches 1.8e-2 on this set). 0.02 fails a
    model that learned little (the mean field alone errs by about 1)."""
    _, test = burgers_sets
    mean, var = trained.solve_with_uncertainty(test.inputs)
    assert relative_l2(mean["u"], test.outputs["u"]) < 0.02
    np.testing.assert_array_equal(trained.solve(test.inputs)["u"], mean["u"])
    # Measured coverage 0.93 of the 1280 values; a variance off by 4x gives < 0.6 or > 0.999.
    inside = np.abs(mean["u"] - test.outputs["u"]) <= 1.96 * np.sqrt(var["u"])
    assert 0.8 <= inside.mean() <= 0.995


@pytest.mark.slow
def test_variance_is_the_variance_of_decoded_posterior_draws(burgers_sets, trained):
    """Σ_k σ_k² φ_k² (+ the residual map) against the sample variance of 4000 decoded
    draws of the coefficients: relative sd √(2/4000) = 0.022; 0.1 is 4.5 sd."""
    _, test = burgers_sets
    inputs = {"u0": test.inputs["u0"][:3]}
    _, var = trained.solve_with_uncertainty(inputs)
    x = trained.input_pca.encode(inputs["u0"])
    draws = trained.gp.sample(x, 4000, seed=1, noise=True)  # [S, 3, k]
    decoded = np.stack([trained.output_pcas["u"].decode(d) for d in draws])
    expected = decoded.var(0) + trained.residual_var["u"]
    np.testing.assert_allclose(var["u"], expected, rtol=0.1)


@pytest.mark.slow
def test_save_and_load_rebuild_the_same_predictions(tmp_path, burgers_sets, trained):
    _, test = burgers_sets
    trained.save(tmp_path / "run")
    again = pdeml.load_surrogate(tmp_path / "run")
    a, b = trained.solve_with_uncertainty(test.inputs), again.solve_with_uncertainty(test.inputs)
    for x, y in zip(a, b):
        np.testing.assert_allclose(y["u"], x["u"], rtol=1e-10, atol=1e-14)


@pytest.mark.slow
def test_errors_are_clear(burgers_sets, trained):
    mesh_problem = pdeml.load_problem("darcy_mesh", size="quick")
    with pytest.raises(ValueError, match="grid problems"):
        pdeml.make_surrogate("pca-gp", mesh_problem)
    train, _ = burgers_sets
    with pytest.raises(ValueError, match="input_modes"):
        pdeml.make_surrogate("pca-gp", train.problem, input_modes=1.5)
    with pytest.raises(TypeError, match="predictive_noise"):
        pdeml.make_surrogate("pca-gp", train.problem, predictive_noise="yes")
    with pytest.raises(ValueError, match="expected shape"):
        trained.solve({"u0": np.zeros((2, 32))})
    with pytest.raises(TypeError, match="Dataset"):
        pdeml.make_surrogate("pca-gp", train.problem).fit({"u0": np.zeros((3, 64))})
