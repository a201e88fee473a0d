"""Metrics against hand computations, identities (Parseval), the torch H1 loss and Monte Carlo."""

import math
import warnings

import numpy as np
import pytest
import torch

from pdeml.problems import Burgers1D, Darcy2D, Lorenz96
from pdeml.training import losses
from pdeml.validation import metrics as m
from pdeml.validation.metrics import fourier

# Two samples of two values each.
# sample 0: ref (3, 4), |ref| = 5; error (1, 0)  -> |e| = 1, rel 1/5, RMSE sqrt(1/2), max 1
# sample 1: ref (0, 2), |ref| = 2; error (0, -2) -> |e| = 2, rel 1,   RMSE sqrt(4/2), max 2
PRED = np.array([[4.0, 4.0], [0.0, 0.0]])
REF = np.array([[3.0, 4.0], [0.0, 2.0]])


def test_relative_l2_by_hand():
    np.testing.assert_allclose(m.relative_l2(PRED, REF), [0.2, 1.0], rtol=1e-15)


def test_rmse_nrmse_max_error_by_hand():
    np.testing.assert_allclose(m.rmse(PRED, REF), [math.sqrt(0.5), math.sqrt(2.0)], rtol=1e-15)
    # nRMSE: sqrt(1/2) / sqrt((9 + 16)/2) = sqrt(0.04) = 0.2 and sqrt(2) / sqrt(4/2) = 1
    np.testing.assert_allclose(m.nrmse(PRED, REF), [0.2, 1.0], rtol=1e-15)
    np.testing.assert_allclose(m.max_error(PRED, REF), [1.0, 2.0], rtol=0)
    # Negative errors count by their magnitude.
    np.testing.assert_allclose(m.max_error(-PRED, -REF), [1.0, 2.0], rtol=0)


def test_metrics_return_float64_per_sample_arrays_from_lists_and_ints():
    out = m.relative_l2([[1, 2], [3, 4], [5, 6]], [[1, 1], [1, 1], [1, 1]])
    assert out.shape == (3,) and out.dtype == np.float64


def test_relative_h1_by_hand():
    ref = np.array([[0.0, 1.0, 0.0, 1.0]])
    pred = ref + np.array([[1.0, 0.0, 0.0, 0.0]])
    # Periodic, L = 1, h = 1/4.  e = (1, 0, 0, 0): sum e^2 = 1; wrapped forward differences
    # (-1, 0, 0, 1)/h = (-4, 0, 0, 4): sum 32 -> |e|^2 = 33.
    # ref: sum 2; differences (1, -1, 1, -1)/h = ±4: sum 64 -> |ref|^2 = 66.
    np.testing.assert_allclose(m.relative_h1(pred, ref, 1, True), [math.sqrt(33 / 66)])
    # Both ends, L = 1, h = 1/3, interior differences only.  e: (-1, 0, 0)/h -> 9, so 1 + 9 = 10;
    # ref: (1, -1, 1)/h -> 27, so 2 + 27 = 29.
    np.testing.assert_allclose(m.relative_h1(pred, ref, 1, False), [math.sqrt(10 / 29)])
    # Both ends, L = 3, h = 1: e -> 1 + 1 = 2; ref -> 2 + 3 = 5.
    np.testing.assert_allclose(
        m.relative_h1(pred, ref, 1, False, lengths=[3.0]), [math.sqrt(2 / 5)]
    )


@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize(
    ("shape", "spatial_dims", "lengths"),
    [((5, 16), 1, None), ((4, 3, 8, 9), 2, (2.0, 0.5)), ((3, 7, 6), 2, None)],
)
def test_relative_h1_agrees_with_the_torch_loss(periodic, shape, spatial_dims, lengths):
    rng = np.random.default_rng(1)
    ref = rng.normal(size=shape)
    pred = ref + 0.3 * rng.normal(size=shape)
    ours = m.relative_h1(pred, ref, spatial_dims, periodic, lengths)
    torch_pred, torch_ref = torch.from_numpy(pred), torch.from_numpy(ref)
    # The torch loss averages over the batch: a batch of one gives the per-sample value.
    per_sample = [
        losses.relative_h1(
            torch_pred[i : i + 1], torch_ref[i : i + 1], spatial_dims, periodic, lengths
        )
        for i in range(shape[0])
    ]
    np.testing.assert_allclose(ours, [v.item() for v in per_sample], rtol=1e-12)
    whole = losses.relative_h1(torch_pred, torch_ref, spatial_dims, periodic, lengths).item()
    np.testing.assert_allclose(ours.mean(), whole, rtol=1e-12)


def _cos(k, x, n):
    return np.cos(2 * np.pi * k * x / n)


def test_fourier_bands_1d_by_hand():
    n = 32
    j = np.arange(n)
    # e = 1 + 2 cos(k=2) + 3 cos(k=6) + 4 cos(k=13); the mean square of a cosine is 1/2.
    # low (|k| <= 3): sqrt(1 + 4/2) = sqrt(3); mid (4..11): 3/sqrt(2); high (12+): 4/sqrt(2).
    error = 1 + 2 * _cos(2, j, n) + 3 * _cos(6, j, n) + 4 * _cos(13, j, n)
    ref = np.zeros((2, n)) + 0.5
    pred = ref + np.stack([error, -error])
    bands = m.fourier_band_errors(pred, ref, 1)
    assert list(bands) == ["low", "mid", "high"]
    np.testing.assert_allclose(bands["low"], [math.sqrt(3)] * 2, rtol=1e-12)
    np.testing.assert_allclose(bands["mid"], [3 / math.sqrt(2)] * 2, rtol=1e-12)
    np.testing.assert_allclose(bands["high"], [4 / math.sqrt(2)] * 2, rtol=1e-12)


def test_fourier_bands_2d_by_hand_round_radius_and_nyquist():
    n = 32
    x, y = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    # 2 cos(k=(1,1)):   |k| = round(1.41) = 1  -> low,  mean square 4/2 = 2
    # cos(k=(2,3)):     |k| = round(3.61) = 4  -> mid,  mean square 1/2 (rounded, not floored)
    # cos(pi y):        |k| = 16 (Nyquist)     -> high, mean square 1 (a cosine of ±1 values)
    # 3 cos(k=(12,5)):  |k| = 13               -> high, mean square 9/2
    error = (
        2 * np.cos(2 * np.pi * (x + y) / n)
        + np.cos(2 * np.pi * (2 * x + 3 * y) / n)
        + np.cos(np.pi * y)
        + 3 * np.cos(2 * np.pi * (12 * x + 5 * y) / n)
    )
    bands = m.fourier_band_errors(error[None], np.zeros((1, n, n)), 2)
    np.testing.assert_allclose(bands["low"], [math.sqrt(2)], rtol=1e-12)
    np.testing.assert_allclose(bands["mid"], [math.sqrt(0.5)], rtol=1e-12)
    np.testing.assert_allclose(bands["high"], [math.sqrt(5.5)], rtol=1e-12)


@pytest.mark.parametrize(
    ("shape", "spatial_dims"),
    [((3, 33), 1), ((3, 40), 1), ((2, 4, 17, 16), 2), ((2, 15, 15), 2), ((2, 3, 6, 5, 4), 3)],
)
def test_fourier_bands_parseval(shape, spatial_dims):
    rng = np.random.default_rng(2)
    pred, ref = rng.normal(size=shape), rng.normal(size=shape)
    total = sum(v**2 for v in m.fourier_band_errors(pred, ref, spatial_dims).values())
    np.testing.assert_allclose(total, m.rmse(pred, ref) ** 2, rtol=1e-12)
    # Bands that split differently but still cover every mode once.
    custom = m.fourier_band_errors(pred, ref, spatial_dims, bands=((0, 0), (1, 2), (3, None)))
    assert list(custom) == ["low", "mid", "high"]
    total = sum(v**2 for v in custom.values())
    np.testing.assert_allclose(total, m.rmse(pred, ref) ** 2, rtol=1e-12)


def test_fourier_band_names_and_chunking(monkeypatch):
    rng = np.random.default_rng(3)
    pred, ref = rng.normal(size=(5, 12)), rng.normal(size=(5, 12))
    named = m.fourier_band_errors(pred, ref, 1, bands={"all": (0, None)})
    np.testing.assert_allclose(named["all"], m.rmse(pred, ref), rtol=1e-12)
    assert list(m.fourier_band_errors(pred, ref, 1, bands=[(0, 2), (3, None)])) == ["k0-2", "k3+"]
    whole = m.fourier_band_errors(pred, ref, 1)
    monkeypatch.setattr(fourier, "_FFT_CHUNK_VALUES", 24)  # two samples per chunk
    chunked = m.fourier_band_errors(pred, ref, 1)
    for key in whole:
        np.testing.assert_allclose(chunked[key], whole[key], rtol=1e-14)


def test_boundary_error_by_hand():
    ref = np.zeros((2, 3, 3))
    pred = ref.copy()
    pred[0, 1, 1] = 5.0  # the only interior node of a 3x3 grid: no boundary error
    pred[1, 0, 0], pred[1, 0, 1], pred[1, 1, 1] = 1.0, 2.0, 7.0
    # sample 1: 8 boundary nodes, errors 1 and 2 on two of them: sqrt((1 + 4)/8)
    np.testing.assert_allclose(m.boundary_error(pred, ref, 2), [0.0, math.sqrt(5 / 8)])
    # 1D: only the two end points; sqrt((9 + 16)/2)
    e = np.array([[3.0, 100.0, 100.0, 4.0]])
    np.testing.assert_allclose(m.boundary_error(e, np.zeros_like(e), 1), [math.sqrt(12.5)])


def test_error_over_time_by_hand():
    ref = np.array([[[3.0, 4.0], [0.0, 1.0]]])  # [n=1, t=2, x=2]
    pred = np.array([[[3.0, 5.0], [0.0, 3.0]]])
    # t0: |(0, 1)| / |(3, 4)| = 1/5; t1: |(0, 2)| / |(0, 1)| = 2
    np.testing.assert_allclose(m.error_over_time(pred, ref), [[0.2, 2.0]])
    swapped = (pred.transpose(0, 2, 1), ref.transpose(0, 2, 1))
    np.testing.assert_allclose(m.error_over_time(*swapped, time_axis=2), [[0.2, 2.0]])
    np.testing.assert_allclose(m.error_over_time(*swapped, time_axis=-1), [[0.2, 2.0]])
    with pytest.raises(ValueError, match="time_axis"):
        m.error_over_time(pred, ref, time_axis=0)


def test_interval_coverage_by_hand():
    mean = np.zeros((2, 4))
    ref = np.array([[0.5, 1.9, 2.0, -3.0]] * 2)
    var = np.stack([np.ones(4), 4 * np.ones(4)])
    # 95%: z = 1.95996. sigma 1 -> 0.5 and 1.9 inside, 2.0 and -3.0 outside: 1/2.
    # sigma 2 -> bound 3.92, every point inside: 1.
    np.testing.assert_allclose(m.interval_coverage(mean, var, ref), [0.5, 1.0])
    # 50%: z = 0.6745 -> with sigma 1 only 0.5 inside; with sigma 2 (bound 1.349) again 0.5 only.
    np.testing.assert_allclose(m.interval_coverage(mean, var, ref, level=0.5), [0.25, 0.25])


@pytest.mark.parametrize("level", [0.5, 0.9, 0.95])
def test_interval_coverage_is_calibrated_on_the_models_own_samples(level):
    rng = np.random.default_rng(4)
    n, points = 3, 20_000
    mean = rng.normal(size=(n, points))
    var = rng.uniform(0.1, 4.0, size=(n, points))
    ref = mean + np.sqrt(var) * rng.normal(size=(n, points))
    coverage = m.interval_coverage(mean, var, ref, level=level)
    # Each point is a Bernoulli(level) draw: 4 binomial standard errors.
    tolerance = 4 * math.sqrt(level * (1 - level) / points)
    assert np.all(np.abs(coverage - level) < tolerance), (coverage, tolerance)


def test_mean_predictive_std_by_hand():
    # sqrt of (1, 4, 9, 16) = (1, 2, 3, 4), mean 2.5
    np.testing.assert_allclose(m.mean_predictive_std([[1.0, 4.0, 9.0, 16.0]]), [2.5])


def test_gaussian_nll_by_hand():
    mean = np.array([[0.0, 0.0]])
    var = np.array([[1.0, 4.0]])
    ref = np.array([[0.0, 1.0]])
    # point 0: 0.5 log(2 pi) = 0.9189385332; point 1: 0.5 log(8 pi) + 1/(2*4) = 1.7370857138
    expected = (0.5 * math.log(2 * math.pi) + 0.5 * math.log(8 * math.pi) + 0.125) / 2
    np.testing.assert_allclose(m.gaussian_nll(mean, var, ref), [expected], rtol=1e-14)
    np.testing.assert_allclose(expected, 1.3280121235, rtol=1e-9)


def test_gaussian_crps_by_hand():
    # y = mu: z = 0, CRPS = sigma (2 phi(0) - 1/sqrt(pi)) = sigma (sqrt 2 - 1)/sqrt(pi)
    sigma = 1.5
    expected = sigma * (math.sqrt(2) - 1) / math.sqrt(math.pi)  # = 0.3505430
    crps = m.gaussian_crps([[0.3]], [[sigma**2]], [[0.3]])
    np.testing.assert_allclose(crps, [expected], rtol=1e-14)
    # Zero variance: the absolute error.
    np.testing.assert_allclose(m.gaussian_crps([[1.0, 2.0]], [[0.0, 0.0]], [[4.0, 1.0]]), [2.0])


def test_gaussian_crps_matches_monte_carlo():
    rng = np.random.default_rng(5)
    mu, sigma, draws = 0.3, 1.5, 400_000
    observations = np.array([-2.0, 0.3, 2.5, 6.0])
    closed = m.gaussian_crps(np.full((4, 1), mu), np.full((4, 1), sigma**2), observations[:, None])
    x = mu + sigma * rng.normal(size=draws)
    x_prime = mu + sigma * rng.normal(size=draws)
    for value, y in zip(closed, observations):
        g = np.abs(x - y) - 0.5 * np.abs(x - x_prime)  # E g = CRPS
        standard_error = g.std() / math.sqrt(draws)
        assert abs(value - g.mean()) < 5 * standard_error, (y, value, g.mean())


def test_summarize_by_hand():
    # mean 4; deviations (-3, -2, -1, 6): std sqrt(50/4); median (2 + 3)/2; max 10
    stats = m.summarize([1.0, 2.0, 3.0, 10.0])
    assert stats == pytest.approx({"mean": 4.0, "std": math.sqrt(12.5), "median": 2.5, "max": 10.0})
    assert all(isinstance(v, float) for v in stats.values())
    over_time = m.summarize([[1.0, 2.0], [3.0, 6.0]])
    np.testing.assert_allclose(over_time["mean"], [2.0, 4.0])
    np.testing.assert_allclose(over_time["max"], [3.0, 6.0])
    with pytest.raises(ValueError, match="at least one sample"):
        m.summarize([])


def test_non_finite_predictions_give_non_finite_errors_without_warnings():
    rng = np.random.default_rng(6)
    ref = rng.normal(size=(3, 2, 8, 8))
    pred = ref + 0.1
    pred[0, 0, 1, 1] = np.nan
    pred[1, 1, 0, 0] = np.inf
    var = np.ones_like(ref)
    var[0, 0, 1, 1] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = m.compute_metrics(
            list(m.METRICS),
            {"w": pred},
            {"w": ref},
            var={"w": var},
            spatial_dims=2,
            periodic=False,
            time_axis=1,
        )
    for metric, fields in out.items():
        value = fields["w"]
        if metric == "interval_coverage":  # a non-finite prediction is a miss
            assert value[0] < 1 and value[2] == 1.0
            continue
        if metric == "mean_predictive_std":  # depends on var only
            assert np.isnan(value[0])
            continue
        assert np.all(np.isfinite(value[2])), metric
        if metric in ("boundary_error", "error_over_time"):
            continue  # the bad values sit where these do not look for every sample
        assert not np.isfinite(value[0]) and not np.isfinite(value[1]), metric


def test_zero_reference_gives_inf_relative_error_quietly():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = m.relative_l2([[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]])
    assert out[0] == np.inf and np.isnan(out[1])


def test_compute_metrics_with_explicit_arguments():
    rng = np.random.default_rng(7)
    ref = {"u": rng.normal(size=(4, 16)), "v": rng.normal(size=(4, 5, 6, 6))}
    pred = {k: v + 0.05 * rng.normal(size=v.shape) for k, v in ref.items()}
    out = m.compute_metrics(
        ["relative_l2", "relative_h1", "fourier_bands"],
        pred,
        ref,
        spatial_dims={"u": 1, "v": 2},
        periodic=True,
        lengths={"v": (2.0, 2.0)},
    )
    assert list(out) == ["relative_l2", "relative_h1", "fourier_low", "fourier_mid", "fourier_high"]
    np.testing.assert_allclose(out["relative_l2"]["u"], m.relative_l2(pred["u"], ref["u"]))
    np.testing.assert_allclose(
        out["relative_h1"]["v"], m.relative_h1(pred["v"], ref["v"], 2, True, (2.0, 2.0))
    )
    np.testing.assert_allclose(out["relative_h1"]["u"], m.relative_h1(pred["u"], ref["u"], 1, True))
    assert out["fourier_low"]["v"].shape == (4,)
    single = m.compute_metrics("rmse", {"u": pred["u"]}, {"u": ref["u"]})
    np.testing.assert_allclose(single["rmse"]["u"], m.rmse(pred["u"], ref["u"]))


def test_compute_metrics_reads_the_problem():
    rng = np.random.default_rng(8)
    darcy = Darcy2D(resolution=15, solver_resolution=29)
    ref = {"u": rng.normal(size=(2, 15, 15))}
    pred = {"u": ref["u"] + 0.1}
    out = m.compute_metrics(["relative_h1", "boundary_error"], pred, ref, problem=darcy)
    # Darcy: 2 spatial axes, both ends in the grid, unit square.
    np.testing.assert_allclose(
        out["relative_h1"]["u"], m.relative_h1(pred["u"], ref["u"], 2, False, (1.0, 1.0))
    )
    np.testing.assert_allclose(out["boundary_error"]["u"], [0.1, 0.1])

    burgers = Burgers1D(resolution=32, solver_resolution=64, n_t=5)
    ref = {"u": rng.normal(size=(3, 32)), "u_traj": rng.normal(size=(3, 5, 32))}
    pred = {k: v + 0.1 * rng.normal(size=v.shape) for k, v in ref.items()}
    out = m.compute_metrics(
        ["error_over_time"],
        {"u_traj": pred["u_traj"]},
        {"u_traj": ref["u_traj"]},
        problem=burgers,
    )
    assert out["error_over_time"]["u_traj"].shape == (3, 5)
    with pytest.raises(ValueError, match="error_over_time: field 'u' has no time axis"):
        m.compute_metrics(["error_over_time"], pred, ref, problem=burgers)
    with pytest.raises(ValueError, match="periodic grid"):
        m.compute_metrics(["boundary_error"], pred, ref, problem=burgers)

    lorenz = Lorenz96()
    y = rng.normal(size=(2, 3, lorenz.K, lorenz.J))
    with pytest.raises(ValueError, match=r"relative_h1: field 'Y' needs spatial_dims"):
        m.compute_metrics(["relative_h1"], {"Y": y}, {"Y": y}, problem=lorenz)
    # An explicit argument wins over the problem.
    out = m.compute_metrics(["relative_h1"], {"Y": y}, {"Y": y}, problem=lorenz, spatial_dims=1)
    np.testing.assert_allclose(out["relative_h1"]["Y"], [0.0, 0.0])


def test_compute_metrics_errors():
    a = {"u": np.zeros((2, 4))}
    with pytest.raises(ValueError, match=r"unknown metric\(s\) \['l3'\].*relative_l2"):
        m.compute_metrics(["relative_l2", "l3"], a, a)
    with pytest.raises(
        ValueError, match=r"field 'u': pred has shape \(2, 5\) but ref has shape \(2, 4\)"
    ):
        m.compute_metrics(["rmse"], {"u": np.zeros((2, 5))}, a)
    with pytest.raises(ValueError, match="same fields"):
        m.compute_metrics(["rmse"], {"v": np.zeros((2, 4))}, a)
    with pytest.raises(ValueError, match="gaussian_nll: field 'u' needs var"):
        m.compute_metrics(["gaussian_nll"], a, a)
    with pytest.raises(ValueError, match=r"field 'u': var has shape \(2, 3\)"):
        m.compute_metrics(["gaussian_nll"], a, a, var={"u": np.ones((2, 3))})
    with pytest.raises(ValueError, match="relative_h1: field 'u' needs spatial_dims"):
        m.compute_metrics(["relative_h1"], a, a, periodic=True)
    with pytest.raises(ValueError, match="relative_h1: field 'u': spatial_dims must be"):
        m.compute_metrics(["relative_h1"], a, a, periodic=True, spatial_dims=2)
    with pytest.raises(TypeError, match="pred must be a dict"):
        m.compute_metrics(["rmse"], np.zeros((2, 4)), a)


def test_argument_errors_of_the_metric_functions():
    x = np.zeros((2, 4))
    with pytest.raises(
        ValueError, match=r"pred and ref must have the same shape, got pred \(2, 4\)"
    ):
        m.rmse(x, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="var must be non-negative"):
        m.gaussian_crps(x, -np.ones((2, 4)), x)
    with pytest.raises(ValueError, match="level must be"):
        m.interval_coverage(x, np.ones((2, 4)), x, level=1.5)
    with pytest.raises(ValueError, match="lengths must hold 1"):
        m.relative_h1(x, x, 1, True, lengths=(1.0, 2.0))
    with pytest.raises(ValueError, match="bands must hold"):
        m.fourier_band_errors(x, x, 1, bands=((3, 1),))
    with pytest.raises(ValueError, match="at least 2 points"):
        m.relative_h1(np.zeros((2, 1)), np.ones((2, 1)), 1, False)
