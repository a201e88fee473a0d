"""The Fourier layer's pruned FFTs have hand-written backwards: they must equal torch's."""

import pytest
import torch

from pdeml.nn.fourier import SpectralConv, _LowIRFFT, _LowRFFT


@pytest.mark.parametrize("n, kept", [(16, 5), (16, 9), (15, 8), (17, 3), (8, 1)])
def test_pruned_ffts_pass_gradcheck(n, kept):
    # kept = n // 2 + 1 (16, 9) includes the Nyquist column; odd n have none.
    generator = torch.Generator().manual_seed(n + kept)
    x = torch.randn(2, 3, n, dtype=torch.float64, generator=generator, requires_grad=True)
    spectrum = torch.randn(2, 3, kept, dtype=torch.complex128, generator=generator)
    spectrum.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: _LowRFFT.apply(t, kept), (x,))
    assert torch.autograd.gradcheck(lambda s: _LowIRFFT.apply(s, n), (spectrum,))
    # Double backward too (a loss on input derivatives differentiates through them).
    assert torch.autograd.gradgradcheck(lambda t: _LowRFFT.apply(t, kept), (x,))


@pytest.mark.parametrize("modes, size", [((6,), 32), ((5, 4), (16, 15)), ((4, 4, 3), (12, 10, 9))])
def test_spectral_conv_gradients_equal_torchs_own_ffts(modes, size):
    torch.manual_seed(0)
    conv = SpectralConv(3, 2, modes)
    x = torch.randn(2, 3, *((size,) if isinstance(size, int) else size), requires_grad=True)
    target = torch.randn(2, 2, *x.shape[2:])

    def gradients():
        loss = (conv(x) * target).sum()
        return torch.autograd.grad(loss, (x, conv.weight))

    ours = gradients()
    # The same layer through torch's FFTs and their autograd backwards.
    try:
        _LowRFFT.apply = staticmethod(lambda t, kept: torch.fft.rfft(t, dim=-1)[..., :kept])
        _LowIRFFT.apply = staticmethod(lambda s, n: torch.fft.irfft(s, n=n, dim=-1))
        theirs = gradients()
    finally:
        del _LowRFFT.apply, _LowIRFFT.apply  # back to torch's Function.apply
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
