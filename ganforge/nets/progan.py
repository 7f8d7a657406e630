"""ProGAN networks (Karras, Aila, Laine & Lehtinen, "Progressive Growing of GANs for Improved Quality,
Stability, and Variation", ICLR 2018).

* **Equalised learning rate** (§4.1): weights are initialised N(0, 1) and scaled at run time by the He
  constant ``gain / sqrt(fan_in)``, so Adam's per-parameter step sizes are the same for every layer
  whatever its fan-in. ``lr_mult`` (StyleGAN's mapping network) scales that: weights start at
  N(0, 1/lr_mult^2) and the run-time factor is multiplied by ``lr_mult``, so their effective learning
  rate is ``lr * lr_mult``.
* **Pixel norm** (§4.2): each pixel's feature vector is normalised to unit average square after every
  generator convolution.
* **Minibatch standard deviation** (§3): ``ganforge.nets.layers.MinibatchStdDev`` at the start of the
  discriminator's 4x4 block.
* **Growing** (§2, Fig. 2): every resolution's block exists from the start; ``forward(..., level,
  alpha)`` uses blocks up to ``level`` (0 = 4x4). During a fade-in (alpha < 1) the generator's output
  is ``(1 - alpha) * upsample(to_rgb[level-1](h)) + alpha * to_rgb[level](block(h))`` and the
  discriminator mirrors it with average pooling and ``from_rgb``.

Widths follow the paper's ``nf(stage) = min(fmap_base / 2**stage, fmap_max)``, stage 1 at 4x4.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.nets.layers import MinibatchStdDev

SQRT2 = math.sqrt(2.0)


class EqualizedLinear(nn.Module):
    def __init__(self, in_features: int, out_features: int, gain: float = SQRT2, lr_mult: float = 1.0,
                 bias_init: float = 0.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mult)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mult))
        self.scale = gain / math.sqrt(in_features) * lr_mult
        self.lr_mult = lr_mult

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mult)


class EqualizedConv2d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, gain: float = SQRT2, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = gain / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = kernel_size // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class PixelNorm(nn.Module):
    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + self.eps)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


def upsample(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")


def downsample(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 2)


def fade(low: torch.Tensor, high: torch.Tensor, alpha: float) -> torch.Tensor:
    """The fade-in blend: ``low`` (the previous resolution's path) at alpha 0, ``high`` at alpha 1."""
    return high if alpha >= 1.0 else low + (high - low) * alpha


def resolutions(target: int) -> list[int]:
    """4, 8, ..., target (a power of two >= 4): one level per resolution."""
    if target < 4 or target & (target - 1):
        raise ValueError(f"progressive networks need a power-of-two resolution >= 4, got {target}")
    return [2 ** k for k in range(2, int(math.log2(target)) + 1)]


def widths(target: int, fmap_base: int, fmap_max: int) -> list[int]:
    """Channels per level: the paper's nf(stage) = min(fmap_base / 2**stage, fmap_max), stage 1 at 4x4."""
    return [max(1, min(fmap_base // 2 ** stage, fmap_max)) for stage in range(1, len(resolutions(target)) + 1)]


def check_level(level: int | None, levels: int) -> int:
    level = levels - 1 if level is None else int(level)
    if not 0 <= level < levels:
        raise ValueError(f"level {level} is outside 0..{levels - 1}")
    return level


class ProGenerator(nn.Module):
    """z -> image at the resolution of ``level`` (4x4 at level 0). Linear output, as in the paper."""

    def __init__(self, z_dim: int, out_channels: int, target: int, fmap_base: int = 8192, fmap_max: int = 512):
        super().__init__()
        nf = widths(target, fmap_base, fmap_max)
        self.z_dim, self.levels, self.nf = z_dim, len(nf), nf
        self.norm = PixelNorm()
        # 4x4: latent -> dense to 4x4 (the paper's 4x4 "conv" on a 1x1 input; gain sqrt(2)/4 as in its code)
        self.dense = EqualizedLinear(z_dim, nf[0] * 16, gain=SQRT2 / 4)
        self.conv4 = EqualizedConv2d(nf[0], nf[0], 3)
        self.blocks = nn.ModuleList(
            nn.ModuleList([EqualizedConv2d(nf[i - 1], nf[i], 3), EqualizedConv2d(nf[i], nf[i], 3)])
            for i in range(1, self.levels))
        self.to_rgb = nn.ModuleList(EqualizedConv2d(c, out_channels, 1, gain=1.0) for c in nf)

    def block(self, i: int, h: torch.Tensor) -> torch.Tensor:
        first, second = self.blocks[i - 1]
        h = self.norm(lrelu(first(upsample(h))))
        return self.norm(lrelu(second(h)))

    def forward(self, z: torch.Tensor, level: int | None = None, alpha: float = 1.0) -> torch.Tensor:
        level = check_level(level, self.levels)
        h = self.norm(lrelu(self.dense(self.norm(z)).view(-1, self.nf[0], 4, 4)))
        h = self.norm(lrelu(self.conv4(h)))
        for i in range(1, level):
            h = self.block(i, h)
        if level == 0:
            return self.to_rgb[0](h)
        low = upsample(self.to_rgb[level - 1](h)) if alpha < 1.0 else None
        return fade(low, self.to_rgb[level](self.block(level, h)), alpha)


class Blur(nn.Module):
    """StyleGAN's [1, 2, 1] binomial low-pass filter (depthwise, normalised), applied around resampling."""

    def __init__(self):
        super().__init__()
        k = torch.tensor([1.0, 2.0, 1.0])
        self.register_buffer("kernel", (k[:, None] * k[None, :] / 16.0)[None, None], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        return F.conv2d(x, self.kernel.to(x.dtype).expand(c, 1, 3, 3), padding=1, groups=c)


class ProDiscriminator(nn.Module):
    """image at ``level``'s resolution -> one critic score per sample. ``blur``: StyleGAN's blur before
    each downsampling (StyleGAN reuses this discriminator, otherwise unchanged)."""

    def __init__(self, in_channels: int, target: int, fmap_base: int = 8192, fmap_max: int = 512,
                 mbstd_group: int = 4, blur: bool = False):
        super().__init__()
        nf = widths(target, fmap_base, fmap_max)
        self.levels, self.nf = len(nf), nf
        self.from_rgb = nn.ModuleList(EqualizedConv2d(in_channels, c, 1) for c in nf)
        self.blocks = nn.ModuleList(
            nn.ModuleList([EqualizedConv2d(nf[i], nf[i], 3), EqualizedConv2d(nf[i], nf[i - 1], 3)])
            for i in range(1, self.levels))
        self.blur = Blur() if blur else nn.Identity()
        self.mbstd = MinibatchStdDev(mbstd_group) if mbstd_group > 0 else nn.Identity()
        extra = 1 if mbstd_group > 0 else 0
        self.conv4 = EqualizedConv2d(nf[0] + extra, nf[0], 3)
        self.dense4 = EqualizedLinear(nf[0] * 16, nf[0])
        self.out = EqualizedLinear(nf[0], 1, gain=1.0)

    def block(self, i: int, h: torch.Tensor) -> torch.Tensor:
        first, second = self.blocks[i - 1]
        h = lrelu(first(h))
        return downsample(lrelu(second(self.blur(h))))

    def forward(self, x: torch.Tensor, level: int | None = None, alpha: float = 1.0) -> torch.Tensor:
        level = check_level(level, self.levels)
        h = lrelu(self.from_rgb[level](x))
        if level > 0:
            h = self.block(level, h)
            if alpha < 1.0:
                h = fade(lrelu(self.from_rgb[level - 1](downsample(x))), h, alpha)
        for i in range(level - 1, 0, -1):
            h = self.block(i, h)
        h = lrelu(self.conv4(self.mbstd(h)))
        h = lrelu(self.dense4(h.flatten(1)))
        return self.out(h).squeeze(1)
