"""Losses and normalisers against hand computations."""

import math

import numpy as np
import pytest
import torch

from pdeml.training.losses import make_loss, relative_h1, relative_lp
from pdeml.training.normalize import ChannelGaussian, PointwiseGaussian, make_normalizer


def test_relative_l2_is_the_mean_of_per_sample_ratios():
    target = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    pred = torch.tensor([[3.0, 5.0], [0.0, 0.0]])
    # sample 1: |(0, 1)| / |(3, 4)| = 1/5; sample 2: 1 / 1
    assert relative_lp(pred, target).item() == pytest.approx((0.2 + 1.0) / 2)
    assert relative_lp(pred, target, p=1).item() == pytest.approx((1 / 7 + 1.0) / 2)


def test_relative_h1_by_hand_on_a_periodic_grid():
    target = torch.tensor([[0.0, 1.0, 0.0, -1.0]])
    # Target: |t|² = 2; forward differences with wrap, spacing 1/4: 4 (1, -1, -1, 1) -> 64.
    # Error e = (1, 0, 0, 0): |e|² = 1; differences 4 (-1, 0, 0, 1) -> 32.
    pred = target + torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    expected = math.sqrt(1.0 + 32.0) / math.sqrt(2.0 + 64.0)
    assert relative_h1(pred, target, 1, periodic=True).item() == pytest.approx(expected)
    pred = 0.5 * target  # error is half of the target in every norm
    assert relative_h1(pred, target, 1, periodic=True).item() == pytest.approx(0.5)


def test_relative_h1_dirichlet_uses_interior_differences_only():
    target = torch.tensor([[0.0, 1.0, 0.0]])  # spacing 1/2, differences (2, -2)
    pred = torch.tensor([[0.0, 0.0, 0.0]])
    num = math.sqrt(1.0 + 8.0)
    assert relative_h1(pred, target, 1, periodic=False).item() == pytest.approx(1.0)
    pred = torch.tensor([[0.0, 1.0, 1.0]])  # error (0, 0, 1): l2 1, differences (0, 2)
    expected = math.sqrt(1.0 + 4.0) / num
    assert relative_h1(pred, target, 1, periodic=False).item() == pytest.approx(expected)


def test_h1_sees_oscillations_that_l2_barely_sees():
    x = torch.linspace(0, 1, 65)[None]
    target = torch.sin(math.pi * x)
    pred = target + 0.01 * torch.sin(32 * math.pi * x)
    assert relative_h1(pred, target, 1, False) > 10 * relative_lp(pred, target)


def test_unknown_loss_is_named():
    with pytest.raises(ValueError, match="loss must be one of"):
        make_loss("l3", 1, True)


def test_pointwise_normaliser_round_trip_and_statistics():
    data = torch.randn(50, 2, 8, 8) * 3.0 + 1.0
    norm = PointwiseGaussian((2, 8, 8)).fit(data)
    encoded = norm.encode(data)
    torch.testing.assert_close(encoded.mean(0), torch.zeros(2, 8, 8), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        encoded.std(0, unbiased=False), torch.ones(2, 8, 8), atol=1e-4, rtol=0
    )
    torch.testing.assert_close(norm.decode(encoded), data, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("periodic", [False, True])
def test_pointwise_statistics_resample_exactly_for_linear_fields(periodic):
    """Statistics that are linear in x are reproduced exactly on a finer grid."""
    n, fine = 9, 33
    x_coarse = np.arange(n) / n if periodic else np.linspace(0, 1, n)
    x_fine = np.arange(fine) / fine if periodic else np.linspace(0, 1, fine)
    norm = PointwiseGaussian((1, n), periodic=periodic)
    if periodic:
        # A periodic field that is piecewise linear between grid points: a hat at x = 0.
        mean_coarse = np.maximum(0.0, 1 - np.minimum(x_coarse, 1 - x_coarse) * n)
        mean_fine = np.maximum(0.0, 1 - np.minimum(x_fine, 1 - x_fine) * n)
    else:
        mean_coarse, mean_fine = 2.0 + 3.0 * x_coarse, 2.0 + 3.0 * x_fine
    norm.mean.copy_(torch.tensor(mean_coarse[None], dtype=torch.float32))
    zeros = torch.zeros(1, 1, fine)
    decoded = norm.decode(zeros)[0, 0].numpy()
    np.testing.assert_allclose(decoded, mean_fine, atol=1e-5)


def test_channel_normaliser_and_factory():
    data = torch.randn(30, 3, 5) * torch.tensor([1.0, 10.0, 100.0])[None, :, None]
    norm = ChannelGaussian(3, 1).fit(data)
    assert norm.encode(data).std(dim=(0, 2), unbiased=False).allclose(torch.ones(3), atol=1e-3)
    assert isinstance(make_normalizer("channel", (3, 5), True), ChannelGaussian)
    with pytest.raises(ValueError, match="normalizer"):
        make_normalizer("minmax", (3, 5), True)
