"""Fourier and Chebyshev bases: exact to round-off on trigonometric polynomials and
polynomials, numpy and torch agree, two independent Chebyshev implementations agree.

Tolerances: values are O(1)-O(100) sums of tens of terms in float64, so round-off is
~1e-13 relative; derivatives of degree-M polynomials lose a factor ~M² (1e-11)."""

import numpy as np
import pytest
import torch

from pdeml.spectral import Chebyshev, Fourier
from pdeml.spectral.chebyshev import derivative_by_recurrence

RTOL = 1e-11


def trig(x, L):
    k = 2 * np.pi / L
    u = 0.3 + np.sin(k * x) - 0.5 * np.cos(3 * k * x) + 0.25 * np.sin(5 * k * x)
    du = k * np.cos(k * x) + 1.5 * k * np.sin(3 * k * x) + 1.25 * k * np.cos(5 * k * x)
    ddu = -(k**2) * np.sin(k * x) + 4.5 * k**2 * np.cos(3 * k * x) - 6.25 * k**2 * np.sin(5 * k * x)
    return u, du, ddu


@pytest.mark.parametrize("n", [11, 12, 40])
def test_fourier_transform_derivative_exact(n):
    basis = Fourier(6, length=2.5, origin=-1.0)
    x = basis.points(n)
    u, du, ddu = trig(x - basis.origin, basis.length)
    c = basis.transform(u)
    scale = np.abs(ddu).max()
    assert np.allclose(basis.inverse(c, n), u, rtol=0, atol=RTOL)
    assert np.allclose(basis.inverse(basis.derivative(c), n), du, rtol=0, atol=RTOL * scale)
    assert np.allclose(basis.inverse(basis.derivative(c, 2), n), ddu, rtol=0, atol=RTOL * scale)
    # any grid, including coarse ones, and arbitrary points
    xe = np.linspace(-1.0, 1.5, 17)
    assert np.allclose(basis.evaluate(c, xe), trig(xe + 1.0, 2.5)[0], atol=RTOL)
    for m in (4, 5, 64):
        assert np.allclose(basis.inverse(c, m), trig(basis.points(m) + 1.0, 2.5)[0], atol=RTOL)


def test_fourier_product_is_alias_free_and_parseval():
    basis = Fourier(6)
    x = basis.points(basis.product_points)
    a, b = np.sin(2 * np.pi * 5 * x), np.cos(2 * np.pi * 4 * x)
    ca, cb = basis.transform(a), basis.transform(b)
    prod = basis.multiply(ca, cb)
    # sin(10πx)cos(8πx) = (sin 18πx + sin 2πx)/2: only the k = 1 mode survives truncation
    expected = np.zeros(6, complex)
    expected[1] = -0.25j
    assert np.allclose(prod, expected, atol=1e-14)
    u = trig(x, 1.0)[0]
    assert np.isclose(basis.norm_squared(basis.transform(u)), np.mean(u**2), rtol=1e-13)


@pytest.mark.parametrize("n", [8, 9, 20])
def test_chebyshev_transform_derivative_exact(n):
    basis = Chebyshev(8, domain=(0.5, 2.0))
    x = basis.points(n)
    u = 3 * x**7 - x**4 + 2 * x - 1
    du = 21 * x**6 - 4 * x**3 + 2
    ddu = 126 * x**5 - 12 * x**2
    c = basis.transform(u)
    scale = np.abs(ddu).max()
    assert np.allclose(basis.inverse(c, n), u, atol=RTOL * np.abs(u).max())
    assert np.allclose(basis.inverse(basis.derivative(c), n), du, atol=RTOL * scale)
    assert np.allclose(basis.inverse(basis.derivative(c, 2), n), ddu, atol=RTOL * scale)
    xe = np.linspace(0.5, 2.0, 13)
    assert np.allclose(basis.evaluate(c, xe), 3 * xe**7 - xe**4 + 2 * xe - 1, atol=1e-10)
    assert basis.points(n)[0] == 0.5 and basis.points(n)[-1] == 2.0


def test_chebyshev_product_and_recurrence():
    basis = Chebyshev(6)
    x = basis.points(basis.product_points)
    ca, cb = basis.transform(x**5 - x), basis.transform(x**4 + 1)
    # x^9 + x^5 − x^5 − x = x^9 − x: truncating to degree 5 keeps the T_k parts of x^9 − x
    full = Chebyshev(10).transform(Chebyshev(10).points(10) ** 9 - Chebyshev(10).points(10))
    assert np.allclose(basis.multiply(ca, cb), full[:6], atol=1e-13)
    rng = np.random.default_rng(0)
    c = rng.standard_normal((3, 9))
    assert np.allclose(Chebyshev(9).derivative(c), derivative_by_recurrence(c), atol=1e-12)


@pytest.mark.parametrize("basis", [Fourier(7, length=3.0), Chebyshev(7, (-2.0, 1.0))])
def test_numpy_torch_and_matrix_paths_agree(basis):
    rng = np.random.default_rng(1)
    n = 2 * basis.modes + 1
    v = rng.standard_normal((2, 3, n))
    c = basis.transform(v, axis=-1)
    # axis handling: transform along a middle axis
    cm = basis.transform(np.swapaxes(v, 1, 2), axis=1)
    assert np.allclose(np.swapaxes(cm, 1, 2), c, atol=1e-14)
    ct = basis.transform(torch.from_numpy(v), axis=-1)
    assert np.allclose(ct.numpy(), c, atol=1e-14)
    assert np.allclose(basis.to_coefficients(torch.from_numpy(v)).numpy(), c, atol=1e-13)
    back = basis.inverse(c, n)
    assert np.allclose(basis.inverse(torch.from_numpy(c), n).numpy(), back, atol=1e-13)
    assert np.allclose(basis.to_values(torch.from_numpy(c), n).numpy(), back, atol=1e-13)
    # round trip coefficients -> values -> coefficients is exact
    assert np.allclose(basis.transform(back), c, atol=1e-13)


def test_autograd_flows_through_transforms():
    basis = Chebyshev(5)
    c = torch.randn(2, 5, dtype=torch.float64, requires_grad=True)
    basis.transform(basis.inverse(c, 9) ** 2).sum().backward()
    assert c.grad is not None and torch.isfinite(c.grad).all()


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="modes"):
        Fourier(0)
    with pytest.raises(ValueError, match="length"):
        Fourier(4, length=-1.0)
    with pytest.raises(ValueError, match="domain"):
        Chebyshev(4, domain=(1.0, 0.0))
    with pytest.raises(ValueError, match="values"):
        Chebyshev(4).transform(np.ones((3, 1)))
    with pytest.raises(ValueError, match="order"):
        Fourier(4).derivative(np.ones(4), order=-1)


def test_two_sided_fourier_exact_and_backends_agree():
    from pdeml.spectral import FourierFull

    basis = FourierFull(4, length=2.0)
    x = basis.points(9)
    u = np.sin(3 * np.pi * x) + 0.5 * np.cos(np.pi * x) + 0.2 + 0.3j * np.sin(np.pi * x)
    c = basis.transform(u)
    assert c.shape == (7,)
    assert np.allclose(basis.inverse(c, 9), u, atol=1e-14)
    du = 3 * np.pi * np.cos(3 * np.pi * x) - 0.5 * np.pi * np.sin(np.pi * x)
    du = du + 0.3j * np.pi * np.cos(np.pi * x)
    assert np.allclose(basis.inverse(basis.derivative(c), 9), du, atol=1e-12)
    assert np.allclose(basis.transform(torch.from_numpy(u)).numpy(), c, atol=1e-15)
    assert np.allclose(basis.to_coefficients(u), c, atol=1e-15)
    assert np.allclose(
        basis.evaluate(c, [0.3]),
        (np.sin(0.9 * np.pi) + 0.5 * np.cos(0.3 * np.pi) + 0.2 + 0.3j * np.sin(0.3 * np.pi)),
        atol=1e-14,
    )
    with pytest.raises(ValueError, match="n must be"):
        basis.transform(np.ones(5))
