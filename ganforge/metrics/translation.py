"""Paired image metrics of translation and restoration: L1, PSNR, SSIM (and their Y-channel variants).

``fake`` and ``real`` are matched image by image (output i vs ground truth i), both model space in
[-1, 1]. Images are first quantised to the 8-bit grid (as saved PNGs) and scored on 0..255:

- ``l1``: mean absolute error on [-1, 1] (pix2pix's scale: |0..255 difference| / 127.5), per pixel;
- ``psnr``: 10 log10(255^2 / MSE) per image, averaged over images (an identical image counts 100 dB);
- ``ssim``: Wang et al. 2004: an 11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, L = 255,
  population (co)variances, mean over the windows that fit inside the image, per channel and then
  averaged; this equals ``skimage.metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=255, channel_axis=...)`` (tests check it against scikit-image
  when it is installed, and against closed-form values always);
- ``psnr_y`` / ``ssim_y``: on the luma channel Y of ITU-R BT.601 (16..235), the super-resolution
  protocol (SRGAN, ESRGAN): RGB is converted, grayscale is used as it is.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.metrics import METRICS

WINDOW, SIGMA, K1, K2 = 11, 1.5, 0.01, 0.03
IDENTICAL_PSNR = 100.0


def to_255(x: torch.Tensor) -> torch.Tensor:
    """Model space [-1, 1] -> float64 on the 8-bit grid 0..255."""
    return ((x.detach().double().clamp(-1, 1) + 1) * 127.5).round()


def luma(x255: torch.Tensor) -> torch.Tensor:
    """BT.601 Y (16..235) of 0..255 RGB (N, 3, H, W), as SRGAN / ESRGAN evaluate (MATLAB's rgb2ycbcr)."""
    if x255.shape[1] == 1:
        return x255
    r, g, b = x255[:, 0:1], x255[:, 1:2], x255[:, 2:3]
    return 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0


def _check(fake: torch.Tensor, real: torch.Tensor) -> None:
    if fake.shape != real.shape or fake.dim() != 4:
        raise GanforgeError(f"paired metrics need outputs and ground truth of one shape (N, C, H, W); got "
                            f"{tuple(fake.shape)} and {tuple(real.shape)}.")


def l1(fake: torch.Tensor, real: torch.Tensor) -> float:
    _check(fake, real)
    return float((to_255(fake) - to_255(real)).abs().mean() / 127.5)


def psnr_values(a255: torch.Tensor, b255: torch.Tensor, data_range: float = 255.0) -> torch.Tensor:
    mse = (a255 - b255).pow(2).flatten(1).mean(1)
    out = 10 * torch.log10(data_range ** 2 / mse.clamp_min(1e-30))
    return torch.where(mse == 0, torch.full_like(out, IDENTICAL_PSNR), out)


def psnr(fake: torch.Tensor, real: torch.Tensor, y_channel: bool = False) -> float:
    _check(fake, real)
    a, b = to_255(fake), to_255(real)
    if y_channel:
        a, b = luma(a), luma(b)
    return float(psnr_values(a, b).mean())


def gaussian_window(size: int = WINDOW, sigma: float = SIGMA) -> torch.Tensor:
    ax = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-ax ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim_values(a: torch.Tensor, b: torch.Tensor, data_range: float = 255.0) -> torch.Tensor:
    """Per-image SSIM of float (N, C, H, W) images on a 0..data_range scale (mean over channels)."""
    n, c, h, w = a.shape
    if min(h, w) < WINDOW:
        raise GanforgeError(f"SSIM needs images of at least {WINDOW}x{WINDOW}, got {h}x{w}.")
    win = gaussian_window().to(a.dtype).expand(c, 1, WINDOW, WINDOW).contiguous()
    blur = lambda t: F.conv2d(t, win, groups=c)  # noqa: E731  ('valid': the windows inside the image)
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a ** 2
    var_b = blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return s.flatten(2).mean(2).mean(1)


def ssim(fake: torch.Tensor, real: torch.Tensor, y_channel: bool = False) -> float:
    _check(fake, real)
    a, b = to_255(fake), to_255(real)
    if y_channel:
        a, b = luma(a), luma(b)
    return float(torch.cat([ssim_values(a[i:i + 256], b[i:i + 256]) for i in range(0, len(a), 256)]).mean())


def paired_scores(fake: torch.Tensor, real: torch.Tensor, names=("l1", "psnr", "ssim")) -> dict[str, float]:
    fns = {"l1": l1, "psnr": psnr, "ssim": ssim, "psnr_y": lambda f, r: psnr(f, r, True),
           "ssim_y": lambda f, r: ssim(f, r, True)}
    return {name: fns[name](fake, real) for name in names}


def _paired(ctx):
    real = ctx.options.get("ground_truth")
    if real is None:
        real = ctx.real
    if real is None or len(real) != len(ctx.fake):
        raise GanforgeError("paired metrics (l1, psnr, ssim) need the ground truth of every output, in order: "
                            "evaluate a translation run, or pass --real and --fake with the same file names.")
    return ctx.fake, real


for _name in ("l1", "psnr", "ssim", "psnr_y", "ssim_y"):
    METRICS.register(_name)(lambda ctx, _name=_name: {_name: paired_scores(*_paired(ctx), names=(_name,))[_name]})
