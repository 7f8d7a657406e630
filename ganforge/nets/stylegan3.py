"""StyleGAN3 generator (Karras, Aittala, Laine, Härkönen, Hellsten, Lehtinen & Aila, "Alias-Free
Generative Adversarial Networks", NeurIPS 2021), configs T and R, in plain PyTorch.

StyleGAN2's mapping network (``ganforge.nets.stylegan2.MappingNetwork``, 2 layers, w_avg decay 0.998)
feeds a new synthesis network that treats every feature map as samples of a band-limited continuous
signal:

* **Fourier-feature input** (§3.2): ``channels`` sinusoids with frequencies drawn uniformly in a disc of
  radius f_c,0 (the first cutoff) and random phases, sampled on the layer's grid (the image spans
  [-0.5, 0.5] in continuous units; the grid extends by the margin), then a learned channel mix. An
  affine layer of w (weights 0, bias (1, 0, 0, 0) at init) gives a rotation (normalised (r_c, r_s)) and
  a translation (t_x, t_y) applied to the coordinates; a user ``transform`` (3x3, the inverse transform
  of the output image) composes with it — that is how the equivariance metrics move the input.
  Frequencies pushed out of band by a user transform are faded out.
* **Layer schedule** (§3.2, Appendix F): N layers (``num_layers``, 14) + ToRGB; cutoffs f_c grow
  geometrically from ``first_cutoff`` (2) to res/2 at layer N - ``num_critical``, then stay; minimum
  stopbands f_t likewise from 2^2.1 to res/2 * 2^0.3; sampling rates s = the power of two >= 2 f_t (at
  most res); transition half-widths f_h = max(f_t, s/2) - f_c; the last ``num_critical`` (2) layers
  are critically sampled (f_c = s/2 = res/2); maps carry ``margin_size`` (10) extra pixels per side
  (the last two layers none); channels = min(channel_base / 2 / f_c, channel_max).
* **Layer** (§3.3): modulated conv (3x3 for T, 1x1 for R; weights and styles pre-normalised,
  demodulated; the input scaled by 1/sqrt(magnitude EMA), the EMA of E[x^2] of the layer's input,
  decay ``magnitude_ema_beta`` per training forward), bias, then the **filtered leaky ReLU**: upsample
  2x (more where the rates change) with the Kaiser low-pass at the input cutoff, leaky ReLU (0.2, gain
  sqrt 2), clamp to +-``conv_clamp`` (256), low-pass at the output cutoff and downsample — separable
  Kaiser filters (T) or, except in critically sampled layers, the radially symmetric jinc (R). The
  padding crops the margin as the official symmetric sample placement (Appendix C.3).
* **ToRGB**: a 1x1 modulated conv without demodulation (styles scaled by 1/sqrt(fan-in)), bias,
  clamp; the image is scaled by ``output_scale`` (0.25).

Filters and resampling: ``ganforge.nets.filters``. No noise inputs (the paper removes them).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.nets.filters import jinc_lowpass, kaiser_lowpass, upfirdn2d
from ganforge.nets.stylegan2 import EqualLinear, MappingNetwork, StyleBasedGenerator


def layer_schedule(resolution: int, num_layers: int = 14, num_critical: int = 2, first_cutoff: float = 2,
                   first_stopband: float = 2 ** 2.1, last_stopband_rel: float = 2 ** 0.3, margin_size: int = 10):
    """Per layer 0..num_layers: cutoffs f_c, stopbands f_t, sampling rates s, half-widths f_h, sizes."""
    last_cutoff = resolution / 2
    last_stopband = last_cutoff * last_stopband_rel
    exponents = np.minimum(np.arange(num_layers + 1) / (num_layers - num_critical), 1)
    cutoffs = first_cutoff * (last_cutoff / first_cutoff) ** exponents
    stopbands = first_stopband * (last_stopband / first_stopband) ** exponents
    rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, resolution))))
    half_widths = np.maximum(stopbands, rates / 2) - cutoffs
    sizes = rates + margin_size * 2
    sizes[-2:] = resolution
    return cutoffs, stopbands, rates, half_widths, sizes


class SynthesisInput(nn.Module):
    """Fourier features transformed by w's rotation/translation (and a user transform)."""

    def __init__(self, w_dim: int, channels: int, size: int, sampling_rate: float, bandwidth: float):
        super().__init__()
        self.channels, self.size, self.sampling_rate, self.bandwidth = channels, int(size), float(sampling_rate), float(bandwidth)
        # Uniform in a disc: a Gaussian direction, radius scaled so the radii follow the disc's density.
        freqs = torch.randn(channels, 2)
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs = freqs / (radii * radii.square().exp().pow(0.25)) * bandwidth
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", torch.rand(channels) - 0.5)
        self.weight = nn.Parameter(torch.randn(channels, channels))
        self.affine = EqualLinear(w_dim, 4)
        with torch.no_grad():  # identity transform at init, whatever w
            self.affine.weight.zero_()
            self.affine.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]))

    def forward(self, w: torch.Tensor, transform: torch.Tensor | None = None) -> torch.Tensor:
        n = w.shape[0]
        t = self.affine(w)
        t = t / t[:, :2].norm(dim=1, keepdim=True)  # (cos, sin, t_x, t_y), rotation normalised
        m_r = torch.eye(3, device=w.device).repeat(n, 1, 1)
        m_r[:, 0, 0], m_r[:, 0, 1], m_r[:, 1, 0], m_r[:, 1, 1] = t[:, 0], -t[:, 1], t[:, 1], t[:, 0]
        m_t = torch.eye(3, device=w.device).repeat(n, 1, 1)
        m_t[:, 0, 2], m_t[:, 1, 2] = -t[:, 2], -t[:, 3]
        user = torch.eye(3, device=w.device) if transform is None else transform.to(w.device, torch.float32)
        transforms = m_r @ m_t @ user.expand(n, 3, 3)  # inverse transforms of the output image
        phases = self.phases[None] + (self.freqs[None] @ transforms[:, :2, 2:]).squeeze(2)
        freqs = self.freqs[None] @ transforms[:, :2, :2]
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)
        # Pixel centres in continuous units: the image's rate samples span [-0.5, 0.5), plus the margin.
        coords = (torch.arange(self.size, device=w.device, dtype=torch.float32) + 0.5 - self.size / 2) / self.sampling_rate
        gy, gx = torch.meshgrid(coords, coords, indexing="ij")
        grid = torch.stack([gx, gy], dim=-1)  # (H, W, 2) as (x, y)
        x = torch.einsum("hwk,nck->nhwc", grid, freqs) + phases[:, None, None]
        x = torch.sin(x * (2 * math.pi)) * amplitudes[:, None, None]
        x = x @ (self.weight / math.sqrt(self.channels)).t()
        return x.permute(0, 3, 1, 2).contiguous()


class SynthesisLayer(nn.Module):
    """Modulated conv + filtered leaky ReLU (or the linear ToRGB)."""

    def __init__(self, w_dim: int, is_torgb: bool, is_critically_sampled: bool, in_channels: int, out_channels: int,
                 in_size: int, out_size: int, in_rate: float, out_rate: float, in_cutoff: float, out_cutoff: float,
                 in_half_width: float, out_half_width: float, conv_kernel: int = 3, filter_size: int = 6,
                 lrelu_upsampling: int = 2, radial: bool = False, conv_clamp: float | None = 256,
                 magnitude_ema_beta: float = 0.999):
        super().__init__()
        self.is_torgb, self.in_channels, self.out_channels = is_torgb, in_channels, out_channels
        self.in_size, self.out_size = int(in_size), int(out_size)
        self.conv_kernel = 1 if is_torgb else conv_kernel
        self.conv_clamp, self.magnitude_ema_beta = conv_clamp, magnitude_ema_beta
        tmp_rate = max(in_rate, out_rate) * (1 if is_torgb else lrelu_upsampling)
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, self.conv_kernel, self.conv_kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.register_buffer("magnitude_ema", torch.ones(()))
        self.up_factor = int(round(tmp_rate / in_rate))
        self.down_factor = int(round(tmp_rate / out_rate))
        up_taps = filter_size * self.up_factor if self.up_factor > 1 and not is_torgb else 1
        down_taps = filter_size * self.down_factor if self.down_factor > 1 and not is_torgb else 1
        self.down_radial = radial and not is_critically_sampled
        up = kaiser_lowpass(up_taps, in_cutoff, in_half_width * 2, tmp_rate)
        down = (jinc_lowpass if self.down_radial else kaiser_lowpass)(down_taps, out_cutoff, out_half_width * 2, tmp_rate)
        # The filters follow from the configuration: buffers, not checkpointed.
        self.register_buffer("up_filter", up, persistent=False)
        self.register_buffer("down_filter", down, persistent=False)
        # Padding so the output has out_size samples, placed symmetrically (the official Appendix C.3 rule).
        pad_total = (self.out_size - 1) * self.down_factor + 1
        pad_total -= (self.in_size + self.conv_kernel - 1) * self.up_factor
        pad_total += up_taps + down_taps - 2
        pad_lo = (pad_total + self.up_factor) // 2
        self.padding = (pad_lo, pad_total - pad_lo, pad_lo, pad_total - pad_lo)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.training:  # track E[x^2] of the input; its inverse root normalises the input
            with torch.no_grad():
                self.magnitude_ema.copy_(x.detach().float().square().mean().lerp(self.magnitude_ema, self.magnitude_ema_beta))
        styles = self.affine(w)
        weight = self.weight
        if self.is_torgb:
            styles = styles / math.sqrt(self.in_channels * self.conv_kernel ** 2)
        else:  # pre-normalisation (fp16 safety in the official code; it changes the styles' scale)
            weight = weight * weight.square().mean(dim=(1, 2, 3), keepdim=True).rsqrt()
            styles = styles * styles.square().mean().rsqrt()
        # Non-fused modulated conv: scale the input, one shared conv, scale the outputs (demodulation);
        # the same linear map as the official grouped conv with per-sample weights.
        gain = self.magnitude_ema.rsqrt()
        x = F.conv2d(x * (styles * gain)[:, :, None, None].to(x.dtype), weight.to(x.dtype), padding=self.conv_kernel - 1)
        if not self.is_torgb:
            w_mod = weight[None] * styles[:, None, :, None, None]
            x = x * (w_mod.square().sum(dim=(2, 3, 4)) + 1e-8).rsqrt()[:, :, None, None].to(x.dtype)
        x = x + self.bias.view(1, -1, 1, 1).to(x.dtype)
        if self.is_torgb:
            x = upfirdn2d(x, None, padding=self.padding)
        else:
            x = upfirdn2d(x, self.up_filter, up=self.up_factor, padding=self.padding, gain=self.up_factor ** 2)
            x = F.leaky_relu(x, 0.2) * math.sqrt(2)
        if self.conv_clamp is not None:
            x = x.clamp(-self.conv_clamp, self.conv_clamp)
        if not self.is_torgb:
            x = upfirdn2d(x, self.down_filter, down=self.down_factor)
        return x


class SynthesisNetwork(nn.Module):
    def __init__(self, w_dim: int, resolution: int, out_channels: int, channel_base: int, channel_max: int,
                 num_layers: int = 14, num_critical: int = 2, first_cutoff: float = 2, first_stopband: float = 2 ** 2.1,
                 last_stopband_rel: float = 2 ** 0.3, margin_size: int = 10, output_scale: float = 0.25,
                 conv_kernel: int = 3, radial: bool = False, filter_size: int = 6, lrelu_upsampling: int = 2,
                 conv_clamp: float | None = 256, magnitude_ema_beta: float = 0.999):
        super().__init__()
        if num_layers <= num_critical:
            raise ValueError(f"num_layers ({num_layers}) must exceed num_critical ({num_critical})")
        cutoffs, _, rates, half_widths, sizes = layer_schedule(resolution, num_layers, num_critical, first_cutoff,
                                                               first_stopband, last_stopband_rel, margin_size)
        chans = np.rint(np.minimum((channel_base / 2) / cutoffs, channel_max)).astype(int)
        chans[-1] = out_channels
        self.num_ws, self.output_scale, self.resolution = num_layers + 2, output_scale, resolution
        self.input = SynthesisInput(w_dim, int(chans[0]), int(sizes[0]), rates[0], cutoffs[0])
        self.layers = nn.ModuleList()
        for i in range(num_layers + 1):
            p = max(i - 1, 0)
            self.layers.append(SynthesisLayer(
                w_dim, is_torgb=i == num_layers, is_critically_sampled=i >= num_layers - num_critical,
                in_channels=int(chans[p]), out_channels=int(chans[i]), in_size=int(sizes[p]), out_size=int(sizes[i]),
                in_rate=int(rates[p]), out_rate=int(rates[i]), in_cutoff=cutoffs[p], out_cutoff=cutoffs[i],
                in_half_width=half_widths[p], out_half_width=half_widths[i], conv_kernel=conv_kernel,
                filter_size=filter_size, lrelu_upsampling=lrelu_upsampling, radial=radial, conv_clamp=conv_clamp,
                magnitude_ema_beta=magnitude_ema_beta))

    def forward(self, ws: torch.Tensor, transform: torch.Tensor | None = None) -> torch.Tensor:
        ws = ws.float().unbind(dim=1)
        x = self.input(ws[0], transform)
        for layer, w in zip(self.layers, ws[1:]):
            x = layer(x, w)
        return x * self.output_scale


class StyleGAN3Generator(StyleBasedGenerator):
    """``G(z, y)`` -> images with StyleGAN2's interface (``styles``, ``ws=``, ``mix=``, ``return_ws``,
    ``noise_mode`` accepted and unused: there is no noise) plus ``transform`` (3x3, the inverse
    transform of the output image, applied to the Fourier input)."""

    def __init__(self, z_dim: int, w_dim: int, resolution: int, out_channels: int, channel_base: int, channel_max: int,
                 num_classes: int = 0, mapping_layers: int = 2, mapping_lr_mul: float = 0.01, **synthesis):
        super().__init__()
        if resolution < 4 or resolution & (resolution - 1):
            raise ValueError(f"StyleGAN3 needs a power-of-two resolution >= 4, got {resolution}")
        self.z_dim, self.num_classes, self.resolution = z_dim, num_classes, resolution
        self.mapping = MappingNetwork(z_dim, w_dim, mapping_layers, mapping_lr_mul, num_classes, w_avg_beta=0.998)
        self.synthesis = SynthesisNetwork(w_dim, resolution, out_channels, channel_base, channel_max, **synthesis)
        self.num_ws = self.synthesis.num_ws

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None, psi: float = 1.0, mix=None,
                noise_mode: str = "const", ws: torch.Tensor | None = None, return_ws: bool = False,
                transform: torch.Tensor | None = None):
        ws = self.layer_styles(z, y, psi, mix, ws)
        img = self.synthesis(ws, transform)
        return (img, ws) if return_ws else img
