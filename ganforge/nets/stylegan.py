"""StyleGAN generator (Karras, Laine & Aila, "A Style-Based Generator Architecture for Generative
Adversarial Networks", CVPR 2019).

* **Mapping network** f: z -> w, pixel-normed z through ``mapping_layers`` (8) equalised fully-connected
  layers with leaky ReLU, whose learning rate is ``lr_mult`` (0.01) times the base (§2, App. C).
* **Synthesis network** g: a learned constant 4x4 input; every convolution is followed by the layer
  epilogue of the paper's code: per-pixel **noise** (one N(0, 1) image per layer, scaled by a learned
  per-channel factor initialised to 0), bias, leaky ReLU, instance normalisation and the **style**
  (AdaIN): ``x * (1 + y_s) + y_b`` with ``(y_s, y_b)`` a learned affine map of that layer's w.
  Two layers per resolution; upsampling is nearest followed by the conv and a [1, 2, 1] blur.
* Every layer takes its own w (``ws``: (N, layers, w_dim)) so styles can be mixed; ``w_avg`` is the
  running mean of w (decay 0.995) that the **truncation trick** pulls towards.
* Growing and fade-in exactly as ProGAN (``ganforge.nets.progan``): ``level``, ``alpha``.

Noise at sampling time is a fixed buffer per layer (``noise="const"``, StyleGAN2's default for
generation), so the same w always gives the same image; training draws fresh noise every call.
"""
from __future__ import annotations

import torch
from torch import nn

from ganforge.nets.progan import Blur, EqualizedConv2d, EqualizedLinear, PixelNorm, check_level, fade, lrelu, upsample, widths


class MappingNetwork(nn.Module):
    def __init__(self, z_dim: int, w_dim: int, layers: int = 8, lr_mult: float = 0.01):
        super().__init__()
        dims = [z_dim] + [w_dim] * layers
        self.norm = PixelNorm()
        self.layers = nn.ModuleList(EqualizedLinear(a, b, lr_mult=lr_mult) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.norm(z)
        for layer in self.layers:
            x = lrelu(layer(x))
        return x


class StyledLayer(nn.Module):
    """The layer epilogue: noise, bias, leaky ReLU, instance norm, style modulation (AdaIN)."""

    def __init__(self, channels: int, w_dim: int, resolution: int, noise_seed: int):
        super().__init__()
        self.noise_strength = nn.Parameter(torch.zeros(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.norm = nn.InstanceNorm2d(channels, eps=1e-8)
        self.style = EqualizedLinear(w_dim, 2 * channels, gain=1.0)
        gen = torch.Generator().manual_seed(noise_seed)
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution, generator=gen))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: str = "random") -> torch.Tensor:
        if noise == "random":
            n = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype)
        else:
            n = self.noise_const.to(x.dtype)
        x = x + n * self.noise_strength.view(1, -1, 1, 1)
        x = self.norm(lrelu(x + self.bias.view(1, -1, 1, 1)))
        scale, shift = self.style(w).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
        return x * (scale + 1) + shift


class SynthesisNetwork(nn.Module):
    def __init__(self, w_dim: int, out_channels: int, target: int, fmap_base: int = 8192, fmap_max: int = 512):
        super().__init__()
        nf = widths(target, fmap_base, fmap_max)
        self.levels, self.num_layers = len(nf), 2 * len(nf)
        self.const = nn.Parameter(torch.ones(1, nf[0], 4, 4))
        self.conv4 = EqualizedConv2d(nf[0], nf[0], 3)
        self.convs = nn.ModuleList(
            nn.ModuleList([EqualizedConv2d(nf[i - 1], nf[i], 3), EqualizedConv2d(nf[i], nf[i], 3)])
            for i in range(1, self.levels))
        self.styled = nn.ModuleList(StyledLayer(nf[k // 2], w_dim, 4 * 2 ** (k // 2), noise_seed=k)
                                    for k in range(self.num_layers))
        self.blur = Blur()
        self.to_rgb = nn.ModuleList(EqualizedConv2d(c, out_channels, 1, gain=1.0) for c in nf)

    def block(self, i: int, h: torch.Tensor, ws: torch.Tensor, noise: str) -> torch.Tensor:
        first, second = self.convs[i - 1]
        h = self.styled[2 * i](self.blur(first(upsample(h))), ws[:, 2 * i], noise)
        return self.styled[2 * i + 1](second(h), ws[:, 2 * i + 1], noise)

    def forward(self, ws: torch.Tensor, level: int | None = None, alpha: float = 1.0,
                noise: str = "random") -> torch.Tensor:
        level = check_level(level, self.levels)
        h = self.styled[0](self.const.expand(ws.shape[0], -1, -1, -1), ws[:, 0], noise)
        h = self.styled[1](self.conv4(h), ws[:, 1], noise)
        for i in range(1, level):
            h = self.block(i, h, ws, noise)
        if level == 0:
            return self.to_rgb[0](h)
        low = upsample(self.to_rgb[level - 1](h)) if alpha < 1.0 else None
        return fade(low, self.to_rgb[level](self.block(level, h, ws, noise)), alpha)


class StyleGenerator(nn.Module):
    """z -> w (mapping) -> per-layer ws (mixing, truncation) -> image (synthesis)."""

    def __init__(self, z_dim: int, w_dim: int, out_channels: int, target: int, fmap_base: int = 8192,
                 fmap_max: int = 512, mapping_layers: int = 8, mapping_lr_mult: float = 0.01):
        super().__init__()
        self.z_dim, self.w_dim = z_dim, w_dim
        self.mapping = MappingNetwork(z_dim, w_dim, mapping_layers, mapping_lr_mult)
        self.synthesis = SynthesisNetwork(w_dim, out_channels, target, fmap_base, fmap_max)
        self.levels, self.num_layers = self.synthesis.levels, self.synthesis.num_layers
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def broadcast(self, w: torch.Tensor) -> torch.Tensor:
        return w.unsqueeze(1).expand(-1, self.num_layers, -1)

    @torch.no_grad()
    def track_w_avg(self, w: torch.Tensor, beta: float) -> None:
        self.w_avg.copy_(w.detach().float().mean(dim=0).lerp(self.w_avg, beta))

    def truncate(self, ws: torch.Tensor, psi: float, cutoff: int = 0) -> torch.Tensor:
        """w_avg + psi (w - w_avg) on the first ``cutoff`` layers (0: all): psi 0 is the mean w."""
        layers = torch.arange(self.num_layers, device=ws.device).view(1, -1, 1)
        truncated = self.w_avg.to(ws.dtype).lerp(ws, psi)
        return torch.where(layers < (cutoff or self.num_layers), truncated, ws)

    def forward(self, z: torch.Tensor, level: int | None = None, alpha: float = 1.0, noise: str = "random",
                mix_z: torch.Tensor | None = None, mix_cutoff=None, psi: float = 1.0, truncation_cutoff: int = 0,
                w_avg_beta: float | None = None) -> torch.Tensor:
        """Everything goes through ``forward`` (DDP wrappers stay transparent): ``mix_z`` with ``mix_cutoff``
        (an int or one per sample) gives layers >= cutoff the w of ``mix_z``; ``psi`` truncates after
        mixing, as the paper's code does; ``w_avg_beta`` (training) updates the tracked mean w."""
        w = self.mapping(z)
        if w_avg_beta is not None:
            self.track_w_avg(w, w_avg_beta)
        ws = self.broadcast(w)
        if mix_z is not None:
            layers = torch.arange(self.num_layers, device=ws.device).view(1, -1, 1)
            cutoff = torch.as_tensor(mix_cutoff, device=ws.device).view(-1, 1, 1)
            ws = torch.where(layers < cutoff, ws, self.broadcast(self.mapping(mix_z)))
        if psi != 1.0:
            ws = self.truncate(ws, psi, truncation_cutoff)
        return self.synthesis(ws, level, alpha, noise)
