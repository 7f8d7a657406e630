"""StyleGAN2 networks (Karras, Laine, Aittala, Hellsten, Lehtinen & Aila, "Analyzing and Improving the
Image Quality of StyleGAN", CVPR 2020), config E/F at small resolution.

* **Equalised learning rate** (ProGAN): every weight is stored N(0, 1) / lr_mul and scaled at run time
  by lr_mul / sqrt(fan_in); biases by lr_mul. The mapping network uses lr_mul = 0.01.
* **Mapping network**: z normalised to unit second moment, (class embedding, normalised, concatenated),
  8 fully connected layers with leaky ReLU -> w. ``w_avg`` (a buffer, decay 0.995 per training
  forward) is the mean w that the truncation trick pulls towards.
* **Synthesis network** (skip generator, config E/F): a learned 4x4 constant, then per resolution two
  3x3 **modulated convolutions** (weights scaled per sample by the style s = A(w), then
  **demodulated**: each output feature map's weights divided by sqrt(sum (s w)^2 + 1e-8), replacing
  AdaIN's instance normalisation), per-pixel **noise** with a learned per-layer strength, and a
  modulated 1x1 ToRGB (no demodulation) whose outputs are summed over resolutions after upsampling.
* **Discriminator** (residual, config E/F): FromRGB at full resolution, residual blocks (two 3x3
  convs, a 1x1 skip, both halving the resolution, sum scaled by 1/sqrt(2)), minibatch standard
  deviation (group 4) at 4x4, a 3x3 conv, a dense layer and the output (projection on a class
  embedding when conditional, as in StyleGAN2-ADA's code).

Resampling uses the paper's [1, 3, 3, 1] FIR filter. Upsampling is done as a filtered 2x upsample
followed by a stride-1 modulated conv (the official code does the transposed conv first: the two are
the same linear map up to border handling); downsampling filters then applies a stride-2 conv, as the
official ``conv2d_resample`` does. Activations are leaky ReLU (0.2) with gain sqrt(2).
Channels per resolution: ``min(4 * width, width * 64 / res)`` (``width`` = ``--g-width`` /
``--d-width``: the channels at 64x64, doubling per halving up to 4x).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.nets.layers import MinibatchStdDev

SQRT2 = math.sqrt(2.0)
FIR = (1.0, 3.0, 3.0, 1.0)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2) * SQRT2


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def channels(res: int, width: int) -> int:
    return int(min(4 * width, max(1, width * 64 // res)))


class FIRFilter(nn.Module):
    """The [1, 3, 3, 1] x [1, 3, 3, 1] filter (normalised to sum ``gain``), applied per channel."""

    def __init__(self, gain: float = 1.0):
        super().__init__()
        k = torch.outer(torch.tensor(FIR), torch.tensor(FIR))
        self.register_buffer("kernel", (k / k.sum() * gain)[None, None], persistent=False)

    def forward(self, x: torch.Tensor, pad: tuple[int, int], stride: int = 1) -> torch.Tensor:
        c = x.shape[1]
        x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
        return F.conv2d(x, self.kernel.to(x.dtype).expand(c, 1, 4, 4), stride=stride, groups=c)


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    """2x upsampling with the [1, 3, 3, 1] filter: zero insertion + the filter at gain 4 is exactly
    bilinear interpolation (weights 1/4, 3/4), except at the border, where this replicates the edge
    pixel and the official upfirdn2d pads with zeros."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class EqualLinear(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, bias_init: float = 0.0, lr_mul: float = 1.0, act: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale, self.lr_mul, self.act = lr_mul / math.sqrt(in_dim), lr_mul, act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)
        return lrelu(x) if self.act else x


class EqualConv2d(nn.Module):
    """A plain (unmodulated) conv with equalised lr; ``down=True`` filters then strides by 2."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, bias: bool = True, act: bool = True, down: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.scale, self.act, self.down, self.kernel = 1 / math.sqrt(in_ch * kernel * kernel), act, down, kernel
        self.fir = FIRFilter() if down else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight * self.scale
        if self.down:  # official padding: the filter's (4 - 2) + the conv's (k - 1), split evenly
            p = 2 + self.kernel - 1
            x = self.fir(x, ((p + 1) // 2, p // 2))
            x = F.conv2d(x, w, stride=2)
        else:
            x = F.conv2d(x, w, padding=self.kernel // 2)
        if self.bias is not None:
            x = x + self.bias.view(1, -1, 1, 1)
        return lrelu(x) if self.act else x


class ModulatedConv2d(nn.Module):
    """Per-sample modulated (and demodulated) conv."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, w_dim: int, demodulate: bool = True, up: bool = False):
        super().__init__()
        self.affine = EqualLinear(w_dim, in_ch, bias_init=1.0)  # styles start at 1: an unmodulated conv
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.scale, self.demodulate, self.kernel = 1 / math.sqrt(in_ch * kernel * kernel), demodulate, kernel
        self.up = up

    def demodulation(self, styles: torch.Tensor) -> torch.Tensor:
        """(N, out): 1 / sqrt(sum_{in,k,k} (s_in w)^2 + 1e-8), or ones without demodulation."""
        if not self.demodulate:
            return styles.new_ones(styles.shape[0], self.weight.shape[0])
        w = self.weight[None] * self.scale * styles[:, None, :, None, None]
        return (w.square().sum(dim=(2, 3, 4)) + 1e-8).rsqrt()

    def modulated_weight(self, styles: torch.Tensor) -> torch.Tensor:
        """(N, out, in, k, k): the per-sample weights w'' = s_in w * demodulation (the paper's Eq. 1-3)."""
        w = self.weight[None] * self.scale * styles[:, None, :, None, None]
        return w * self.demodulation(styles)[:, :, None, None, None]

    def forward(self, x: torch.Tensor, w_latent: torch.Tensor) -> torch.Tensor:
        if self.up:
            x = upsample2x(x)
        # The official non-fused path: scale the input by the styles, one shared conv, scale the output
        # by the demodulation coefficients (the same map as a grouped conv with per-sample weights).
        styles = self.affine(w_latent)
        x = F.conv2d(x * styles[:, :, None, None].to(x.dtype), self.weight * self.scale, padding=self.kernel // 2)
        return x * self.demodulation(styles)[:, :, None, None].to(x.dtype) if self.demodulate else x


class StyleLayer(nn.Module):
    """Modulated conv + per-pixel noise (learned strength, starting at 0) + bias + leaky ReLU."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, res: int, up: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, 3, w_dim, up=up)
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        # Fixed noise for reproducible sampling (noise_mode="const"), as the official generate.py uses.
        self.register_buffer("noise_const", torch.randn(1, 1, res, res, generator=torch.Generator().manual_seed(res)))

    def forward(self, x: torch.Tensor, w_latent: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        x = self.conv(x, w_latent)
        if noise_mode == "random":
            x = x + torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype) * self.noise_strength
        elif noise_mode == "const":
            x = x + self.noise_const.to(x.dtype) * self.noise_strength
        return lrelu(x + self.bias.view(1, -1, 1, 1))


class ToRGB(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, w_dim: int):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(out_ch))

    def forward(self, x: torch.Tensor, w_latent: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w_latent) + self.bias.view(1, -1, 1, 1)


class MappingNetwork(nn.Module):
    def __init__(self, z_dim: int, w_dim: int, num_layers: int = 8, lr_mul: float = 0.01, num_classes: int = 0,
                 w_avg_beta: float = 0.995):
        super().__init__()
        self.embed = EqualLinear(num_classes, w_dim) if num_classes else None
        dims = [z_dim + (w_dim if num_classes else 0)] + [w_dim] * num_layers
        self.layers = nn.Sequential(*[EqualLinear(a, b, lr_mul=lr_mul, act=True) for a, b in zip(dims[:-1], dims[1:])])
        self.num_classes, self.w_avg_beta = num_classes, w_avg_beta
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        x = normalize_2nd_moment(z.float())
        if self.embed is not None:
            onehot = F.one_hot(y, self.num_classes).float()
            x = torch.cat([x, normalize_2nd_moment(self.embed(onehot))], dim=1)
        w = self.layers(x)
        if self.training:  # track the mean w (truncation's centre) from the live training forwards
            with torch.no_grad():
                self.w_avg.copy_(w.detach().float().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        return w


class SynthesisNetwork(nn.Module):
    def __init__(self, w_dim: int, resolution: int, out_channels: int, width: int):
        super().__init__()
        self.log2 = int(math.log2(resolution))
        self.const = nn.Parameter(torch.randn(channels(4, width), 4, 4))
        self.first = StyleLayer(channels(4, width), channels(4, width), w_dim, 4)
        self.rgbs = nn.ModuleList([ToRGB(channels(4, width), out_channels, w_dim)])
        self.convs = nn.ModuleList()
        for level in range(3, self.log2 + 1):
            res = 2 ** level
            cin, cout = channels(res // 2, width), channels(res, width)
            self.convs.append(StyleLayer(cin, cout, w_dim, res, up=True))
            self.convs.append(StyleLayer(cout, cout, w_dim, res))
            self.rgbs.append(ToRGB(cout, out_channels, w_dim))
        self.num_ws = 2 * self.log2 - 2  # the official count: each ToRGB shares the next block's first w

    def forward(self, ws: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        x = self.first(self.const[None].expand(ws.shape[0], -1, -1, -1), ws[:, 0], noise_mode)
        img = self.rgbs[0](x, ws[:, 1])
        for block, rgb in enumerate(self.rgbs[1:]):
            i = 2 * block + 1
            x = self.convs[2 * block](x, ws[:, i], noise_mode)
            x = self.convs[2 * block + 1](x, ws[:, i + 1], noise_mode)
            img = upsample2x(img) + rgb(x, ws[:, i + 2])
        return img


class StyleBasedGenerator(nn.Module):
    """What the StyleGAN2 and StyleGAN3 generators share: ``self.mapping`` (z, y -> w) and ``num_ws``
    per-layer styles, truncation towards ``w_avg`` and style mixing."""

    mapping: MappingNetwork
    num_ws: int

    def styles(self, z: torch.Tensor, y: torch.Tensor | None = None, psi: float = 1.0,
               truncation_cutoff: int | None = None) -> torch.Tensor:
        """(N, num_ws, w_dim): w broadcast to every layer, truncated: w_avg + psi (w - w_avg)."""
        w = self.mapping(z, y)
        ws = w[:, None].repeat(1, self.num_ws, 1)
        if psi != 1:
            cut = self.num_ws if truncation_cutoff is None else truncation_cutoff
            ws[:, :cut] = self.mapping.w_avg.lerp(ws[:, :cut], psi)
        return ws

    def layer_styles(self, z, y=None, psi: float = 1.0, mix=None, ws: torch.Tensor | None = None) -> torch.Tensor:
        """``ws`` if given, else the styles of z, with ws[cutoff:] from z2 when ``mix=(z2, cutoff)``."""
        if ws is None:
            ws = self.styles(z, y, psi)
            if mix is not None:
                z2, cutoff = mix
                ws = torch.cat([ws[:, :cutoff], self.styles(z2, y, psi)[:, cutoff:]], dim=1)
        return ws


class StyleGAN2Generator(StyleBasedGenerator):
    """``G(z, y)`` -> images; ``mix=(z2, cutoff)`` takes ws[cutoff:] from z2 (style mixing);
    ``psi`` < 1 truncates w towards ``w_avg`` (layers below ``truncation_cutoff`` only, if given);
    ``ws=`` skips the mapping; ``return_ws=True`` also returns the ws used (path-length regulariser)."""

    def __init__(self, z_dim: int, w_dim: int, resolution: int, out_channels: int, width: int,
                 num_classes: int = 0, mapping_layers: int = 8, mapping_lr_mul: float = 0.01):
        super().__init__()
        if resolution < 4 or resolution & (resolution - 1):
            raise ValueError(f"StyleGAN2 needs a power-of-two resolution >= 4, got {resolution}")
        self.z_dim, self.num_classes = z_dim, num_classes
        self.mapping = MappingNetwork(z_dim, w_dim, mapping_layers, mapping_lr_mul, num_classes)
        self.synthesis = SynthesisNetwork(w_dim, resolution, out_channels, width)
        self.num_ws = self.synthesis.num_ws

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None, psi: float = 1.0, mix=None,
                noise_mode: str = "random", ws: torch.Tensor | None = None, return_ws: bool = False):
        ws = self.layer_styles(z, y, psi, mix, ws)
        img = self.synthesis(ws, noise_mode)
        return (img, ws) if return_ws else img


class ResidualBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv0 = EqualConv2d(in_ch, in_ch, 3)
        self.conv1 = EqualConv2d(in_ch, out_ch, 3, down=True)
        self.skip = EqualConv2d(in_ch, out_ch, 1, bias=False, act=False, down=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.skip(x) + self.conv1(self.conv0(x))) / SQRT2


class StyleGAN2Discriminator(nn.Module):
    def __init__(self, resolution: int, in_channels: int, width: int, num_classes: int = 0, mbstd_group: int = 4):
        super().__init__()
        log2 = int(math.log2(resolution))
        self.from_rgb = EqualConv2d(in_channels, channels(resolution, width), 1)
        self.blocks = nn.Sequential(*[ResidualBlock(channels(2 ** lv, width), channels(2 ** (lv - 1), width))
                                      for lv in range(log2, 2, -1)])
        c4 = channels(4, width)
        self.mbstd = MinibatchStdDev(mbstd_group)
        self.conv = EqualConv2d(c4 + 1, c4, 3)
        self.fc = EqualLinear(c4 * 16, c4, act=True)
        self.num_classes = num_classes
        # Conditional: the output is projected on a class embedding (cmap), scaled by 1/sqrt(dim).
        self.out = EqualLinear(c4, c4 if num_classes else 1)
        self.embed = EqualLinear(num_classes, c4) if num_classes else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        x = self.blocks(self.from_rgb(x))
        x = self.fc(self.conv(self.mbstd(x)).flatten(1))
        out = self.out(x)
        if self.embed is not None:
            cmap = self.embed(F.one_hot(y, self.num_classes).float())
            out = (out * cmap).sum(dim=1, keepdim=True) / math.sqrt(cmap.shape[1])
        return out.squeeze(1)
