"""L1 / PSNR / SSIM: closed-form values, scikit-image's definition when installed, and pairing."""
from __future__ import annotations

import math

import pytest
import torch

from ganforge.metrics import evaluate
from ganforge.metrics.translation import l1, luma, psnr, ssim, to_255


def _from255(x):
    return x / 127.5 - 1


def test_closed_form_values():
    a = _from255(torch.full((2, 3, 16, 16), 100.0))
    b = _from255(torch.full((2, 3, 16, 16), 110.0))
    assert l1(a, b) == pytest.approx(10 / 127.5)
    assert psnr(a, b) == pytest.approx(10 * math.log10(255 ** 2 / 100))
    c1 = (0.01 * 255) ** 2  # both images constant: the contrast-structure term is c2 / c2 = 1
    assert ssim(a, b) == pytest.approx((2 * 100 * 110 + c1) / (100 ** 2 + 110 ** 2 + c1))  # constant: luminance term only
    x = torch.rand(3, 1, 20, 20) * 2 - 1
    assert ssim(x, x) == pytest.approx(1.0) and psnr(x, x) == 100.0 and l1(x, x) == 0
    # contrast inversion around the mean: SSIM near -1
    assert ssim(-x, x) < -0.9
    # Y channel: BT.601 white is 235, black 16
    assert luma(torch.full((1, 3, 1, 1), 255.0)).item() == pytest.approx(235.0, abs=1e-3)


def test_matches_scikit_image():
    skm = pytest.importorskip("skimage.metrics")
    torch.manual_seed(0)
    a = torch.rand(3, 3, 32, 40) * 2 - 1
    b = (a + 0.3 * torch.randn_like(a)).clamp(-1, 1)
    ref = [skm.structural_similarity(to_255(a[i]).numpy().transpose(1, 2, 0), to_255(b[i]).numpy().transpose(1, 2, 0),
                                     gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255,
                                     channel_axis=2) for i in range(3)]
    assert ssim(b, a) == pytest.approx(sum(ref) / 3, abs=1e-9)
    ref_psnr = [skm.peak_signal_noise_ratio(to_255(a[i]).numpy(), to_255(b[i]).numpy(), data_range=255) for i in range(3)]
    assert psnr(b, a) == pytest.approx(sum(ref_psnr) / 3, abs=1e-9)


def test_recorded_scikit_image_value():
    """skimage 0.26 structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    data_range=255) on this deterministic pair (no RNG) is 0.5204276692142549 (recorded with it installed)."""
    i = torch.arange(24 * 24, dtype=torch.float64).reshape(1, 1, 24, 24)
    a = _from255((i * 37) % 256)
    b = _from255((i * 37 + 40 * torch.sin(i / 7)).round() % 256)
    assert ssim(a, b) == pytest.approx(0.5204276692142549, abs=1e-9)


def test_paired_metrics_through_evaluate_keep_the_order():
    x = torch.rand(6, 3, 16, 16) * 2 - 1
    assert evaluate(x, x, "l1,psnr,ssim") == {"l1": 0.0, "psnr": 100.0, "ssim": pytest.approx(1.0)}
    assert evaluate(x, x.flip(0), "l1")["l1"] > 0.1
