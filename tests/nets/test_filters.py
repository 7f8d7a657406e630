"""Alias-free resampling: the Kaiser / jinc low-pass designs meet their specification, and the
conv-based ``upfirdn2d`` equals the operator's definition computed directly."""
import numpy as np
import pytest
import torch

from ganforge.nets.filters import filter2d, jinc_lowpass, kaiser_lowpass, upfirdn2d


def response(f: np.ndarray, freqs: np.ndarray, fs: float) -> np.ndarray:
    """|H(f)| of a symmetric FIR filter at ``freqs`` (Hz at sampling rate fs)."""
    n = np.arange(len(f)) - (len(f) - 1) / 2
    return np.abs(np.exp(-2j * np.pi * np.outer(freqs / fs, n)) @ f)


def test_kaiser_lowpass_passes_below_the_cutoff_and_stops_beyond_the_transition_band():
    # A StyleGAN3 layer at rate 32 (2x the 16-sample map), cutoff 4, half-width 2.3: 12 taps.
    fs, cutoff, width = 32.0, 4.0, 4.6
    f = kaiser_lowpass(12, cutoff, width, fs).double().numpy()
    assert f.shape == (12,) and f.sum() == pytest.approx(1.0) and np.allclose(f, f[::-1])
    assert response(f, np.array([0.0]), fs)[0] == pytest.approx(1.0)
    assert response(f, np.array([cutoff]), fs)[0] == pytest.approx(0.5, abs=0.1)  # -6 dB at the cutoff
    passband = response(f, np.linspace(0, cutoff - width / 2, 20), fs)
    stopband = response(f, np.linspace(cutoff + width / 2, fs / 2, 40), fs)
    assert passband.min() > 0.85 and stopband.max() < 0.15, (passband.min(), stopband.max())
    assert kaiser_lowpass(1, cutoff, width, fs) is None  # one tap: the identity


def gain_2d(f: torch.Tensor, fx: float, fy: float, fs: float) -> float:
    n = torch.arange(f.shape[0], dtype=torch.float64) - (f.shape[0] - 1) / 2
    return float((f.double() * torch.exp(-2j * np.pi * (fx * n[None, :] + fy * n[:, None]) / fs)).sum().abs())


def test_jinc_lowpass_is_radially_symmetric_and_normalised():
    f = jinc_lowpass(12, 4.0, 4.6, 32.0)
    assert f.shape == (12, 12) and float(f.sum()) == pytest.approx(1.0, abs=1e-6)
    assert torch.allclose(f, f.T) and torch.allclose(f, f.flip(0))
    # At radius 5 the separable filter's gain differs between the axis and the diagonal (its square
    # passband); the jinc's barely does.
    sep = kaiser_lowpass(12, 4.0, 4.6, 32.0)
    separable = torch.outer(sep, sep)
    r, d = 5.0, 5.0 / 2 ** 0.5
    jinc_gap = abs(gain_2d(f, r, 0, 32) - gain_2d(f, d, d, 32))
    separable_gap = abs(gain_2d(separable, r, 0, 32) - gain_2d(separable, d, d, 32))
    assert jinc_gap < 0.5 * separable_gap, (jinc_gap, separable_gap)


def direct_upfirdn2d(x, f, up, down, padding, gain):
    """The definition, written out: zero insertion, pad/crop, correlate with the flipped filter, decimate."""
    x, f = x.double().numpy(), f.double().numpy()
    f = (np.outer(f, f) if f.ndim == 1 else f) * gain
    n, c, h, w = x.shape
    u = np.zeros((n, c, h * up, w * up))
    u[:, :, ::up, ::up] = x
    x0, x1, y0, y1 = padding
    u = np.pad(u, ((0, 0), (0, 0), (max(y0, 0), max(y1, 0)), (max(x0, 0), max(x1, 0))))
    u = u[:, :, max(-y0, 0):u.shape[2] - max(-y1, 0), max(-x0, 0):u.shape[3] - max(-x1, 0)]
    g = f[::-1, ::-1]
    kh, kw = g.shape
    out = np.zeros((n, c, u.shape[2] - kh + 1, u.shape[3] - kw + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = (u[:, :, i:i + kh, j:j + kw] * g).sum(axis=(2, 3))
    return torch.from_numpy(out[:, :, ::down, ::down])


@pytest.mark.parametrize("separable", [True, False])
@pytest.mark.parametrize("up,down,padding", [(1, 1, (0, 0, 0, 0)), (2, 1, (3, 2, 4, 1)), (1, 2, (2, 2, 1, 3)),
                                             (2, 2, (-1, 3, 2, -2)), (3, 2, (1, 1, 1, 1)), (1, 1, (-1, 1, -1, 0))])
def test_upfirdn2d_equals_the_direct_definition(separable, up, down, padding):
    g = torch.Generator().manual_seed(up * 10 + down)
    x = torch.randn(2, 3, 7, 6, generator=g, dtype=torch.float64)
    f = torch.randn(5, generator=g, dtype=torch.float64) if separable else torch.randn(4, 3, generator=g, dtype=torch.float64)
    got = upfirdn2d(x, f, up, down, padding, gain=up * up)
    want = direct_upfirdn2d(x, f, up, down, padding, up * up)
    assert got.shape == want.shape and torch.allclose(got, want, atol=1e-10)


def test_filter2d_keeps_the_size_and_a_delta_filter_is_the_identity():
    x = torch.randn(1, 2, 5, 6)
    assert torch.equal(filter2d(x, torch.tensor([0.0, 1.0, 0.0])), x)
    assert filter2d(x, torch.ones(4) / 4).shape == x.shape
