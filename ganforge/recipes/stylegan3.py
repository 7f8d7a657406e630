"""StyleGAN3 (Karras, Aittala, Laine, Härkönen, Hellsten, Lehtinen & Aila, "Alias-Free Generative
Adversarial Networks", NeurIPS 2021), configs T (``config: t``) and R (``config: r``), trained as the
official stylegan3 ``train.py`` configures them.

Generator: ``ganforge.nets.stylegan3`` (Fourier-feature input transformed by w, alias-free layers with
filtered leaky ReLUs, no noise). Discriminator, loss and R1: StyleGAN2's (``ganforge.recipes.stylegan2``:
non-saturating logistic loss, lazy R1 every ``r1_interval`` steps). What the official StyleGAN3
configurations change with respect to StyleGAN2, and what this recipe does by default:

* mapping network of 2 layers (``mapping_layers``), w_avg decay 0.998;
* no style mixing regularisation (``style_mixing`` 0) and no path-length regularisation (``pl_weight``
  0), so the generator has no lazy phase and no optimiser correction;
* G lr 0.0025, D lr 0.002 (configs/stylegan3.yaml);
* magnitude EMA decay 0.5 ** (batch / 20,000) (``magnitude_ema_beta`` 0: derived from the batch size);
* config R: 1x1 convs, radially symmetric (jinc) downsampling filters outside the critically sampled
  layers, channel_base and channel_max doubled, and the images D sees are blurred by a Gaussian of
  sigma ``blur_sigma`` (10 px) fading linearly to 0 over ``blur_fade_kimg`` (200 kimg x batch / 32).

Channels: ``min(channel_base / 2 / f_c, channel_max)`` with channel_base = 64 x ``--g-width`` and
channel_max = 4 x ``--g-width`` (the official 32768 / 512 ratio; StyleGAN2's 4 x width maximum).
Sampling knobs (truncation, mix, interpolate) are StyleGAN2's. Equivariance metrics:
``ganforge.metrics.equivariance`` (``eq-t``, ``eq-r``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ganforge.errors import GanforgeError
from ganforge.nets.filters import filter2d
from ganforge.nets.stylegan3 import StyleGAN3Generator
from ganforge.recipes import RECIPES
from ganforge.recipes.stylegan2 import StyleGAN2, StyleGAN2Options

CONFIGS = ("t", "r")


@dataclass
class StyleGAN3Options(StyleGAN2Options):
    config: str = "t"                # t: translation equivariant; r: translation and rotation equivariant
    mapping_layers: int = 2
    style_mixing: float = 0.0
    pl_weight: float = 0.0
    num_layers: int = 14             # synthesis layers, excluding the input and ToRGB
    num_critical: int = 2            # critically sampled layers at the end
    first_cutoff: float = 2.0
    first_stopband: float = 2 ** 2.1
    last_stopband_rel: float = 2 ** 0.3
    margin_size: int = 10
    output_scale: float = 0.25
    filter_size: int = 6             # low-pass taps per input sample of the resampling
    lrelu_upsampling: int = 2
    conv_clamp: float = 256.0        # 0: no clamping
    magnitude_ema_beta: float = 0.0  # 0: 0.5 ** (batch_size / 20000), the official rule
    blur_sigma: float = -1.0         # D input blur at step 0 (px); -1: 10 for config r, 0 for t
    blur_fade_kimg: float = -1.0     # -1: 200 * batch_size / 32


@RECIPES.register("stylegan3")
class StyleGAN3(StyleGAN2):
    Options = StyleGAN3Options

    def __init__(self, cfg, dataset):
        config = str((cfg.options or {}).get("config", "t")).lower()
        if config not in CONFIGS:
            raise GanforgeError(f"stylegan3 option config must be t or r, got {config!r}.")
        super().__init__(cfg, dataset)
        o = self.options
        self.blur_sigma = (10.0 if config == "r" else 0.0) if o.blur_sigma < 0 else o.blur_sigma
        self.blur_fade_kimg = 200 * cfg.batch_size / 32 if o.blur_fade_kimg < 0 else o.blur_fade_kimg

    def build_networks(self):
        c, res = self.image_geometry()
        o = self.options
        if o.num_layers <= o.num_critical or o.num_critical < 1 or o.filter_size < 1 or o.lrelu_upsampling < 1:
            raise GanforgeError("stylegan3 options: num_layers must exceed num_critical (>= 1); filter_size and "
                                "lrelu_upsampling must be >= 1.")
        r = str(o.config).lower() == "r"
        width = self.cfg.g_width * (2 if r else 1)  # config R doubles the feature maps
        beta = o.magnitude_ema_beta or 0.5 ** (self.cfg.batch_size / 20000)
        g = StyleGAN3Generator(
            self.cfg.z_dim, o.w_dim or self.cfg.z_dim, res, c, 64 * width, 4 * width, self.num_classes, o.mapping_layers,
            o.mapping_lr_mul, num_layers=o.num_layers, num_critical=o.num_critical, first_cutoff=o.first_cutoff,
            first_stopband=o.first_stopband, last_stopband_rel=o.last_stopband_rel, margin_size=o.margin_size,
            output_scale=o.output_scale, conv_kernel=1 if r else 3, radial=r, filter_size=o.filter_size,
            lrelu_upsampling=o.lrelu_upsampling, conv_clamp=o.conv_clamp or None, magnitude_ema_beta=beta)
        return g, self.build_discriminator(res, c)

    def current_blur(self, step: int) -> float:
        """sigma of D's input blur at ``step``: linear fade from blur_sigma to 0 over blur_fade_kimg."""
        if self.blur_sigma <= 0 or self.blur_fade_kimg <= 0:
            return 0.0
        return max(1 - step * self.cfg.batch_size / (self.blur_fade_kimg * 1000), 0.0) * self.blur_sigma

    def discriminator_input(self, x: torch.Tensor, step: int) -> torch.Tensor:
        """Config R: blur (before augmentation, as the official ``run_D``) with a Gaussian of the current sigma."""
        sigma = self.current_blur(step)
        size = int(sigma * 3)
        if size > 0:
            f = torch.arange(-size, size + 1, device=x.device, dtype=torch.float32).div(sigma).square().neg().exp2()
            x = filter2d(x, f / f.sum())
        return super().discriminator_input(x, step)
