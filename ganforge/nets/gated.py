"""DeepFill v2's networks (Yu et al., "Free-Form Image Inpainting with Gated Convolution", ICCV 2019;
contextual attention from Yu et al., "Generative Image Inpainting with Contextual Attention", CVPR 2018).

- ``GatedConv``: one convolution to 2C channels split into features and gates: ELU(f) * sigmoid(g).
- ``InpaintGenerator``: the two-stage network. Input [image with holes zeroed, ones, mask].
  * coarse: gated convs C, 2C (s2), 2C, 4C (s2), 4C, 4C, four dilated 4C (2, 4, 8, 16), 4C, 4C,
    upsample + 2C, 2C, upsample + C, C/2, conv to the image channels, tanh;
  * refinement on the coarse result pasted into the holes: a dilated branch (as above down to the
    dilations) and a contextual-attention branch (4C features; attention matches each hole location
    to 3x3 background patches by cosine similarity, softmax scale 10, with the paper's "fuse" step
    that favours coherent neighbouring matches, and rebuilds it from those patches), concatenated,
    then the coarse decoder.
  The paper's ``cnum`` 48 counts channels before gating: C = ``width`` = 24 is its feature width.
  Dilation rates are capped at half the bottleneck side (at 64x64 the map is 16x16: 2, 4, 8, 8).
- ``SNPatchGAN``: spectral-normalised 5x5 stride-2 convs (C, 2C, 4C, 4C, 4C, 4C; LeakyReLU 0.2) on
  [image, mask]; every element of the final map is a GAN output (hinge loss). The paper's six layers
  at 256 leave a 4x4 map; here log2(size / 4) layers leave 4x4 at any size.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class GatedConv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, dilation: int = 1, activation: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(cin, 2 * cout if activation else cout, k, stride, dilation * (k - 1) // 2, dilation)
        self.activation = activation

    def forward(self, x):
        x = self.conv(x)
        if not self.activation:
            return x
        features, gates = x.chunk(2, 1)
        return F.elu(features) * torch.sigmoid(gates)


class Up(nn.Module):
    """Nearest-neighbour x2 then a gated conv (the paper's ``gen_deconv``)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = GatedConv(cin, cout)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


def _encoder(cin: int, c: int) -> list[nn.Module]:
    return [GatedConv(cin, c, 5), GatedConv(c, 2 * c, 3, 2), GatedConv(2 * c, 2 * c),
            GatedConv(2 * c, 4 * c, 3, 2), GatedConv(4 * c, 4 * c), GatedConv(4 * c, 4 * c)]


def _dilated(c: int, size: int) -> list[nn.Module]:
    cap = max(1, size // 8)  # half the bottleneck side (the map is size / 4)
    return [GatedConv(4 * c, 4 * c, 3, 1, min(d, cap)) for d in (2, 4, 8, 16)]


def _decoder(cin: int, c: int, channels: int) -> nn.Sequential:
    return nn.Sequential(GatedConv(cin, 4 * c), GatedConv(4 * c, 4 * c), Up(4 * c, 2 * c), GatedConv(2 * c, 2 * c),
                         Up(2 * c, c), GatedConv(c, max(1, c // 2)), GatedConv(max(1, c // 2), channels, activation=False))


def contextual_attention(f: torch.Tensor, mask: torch.Tensor, softmax_scale: float = 10.0, fuse: bool = True) -> torch.Tensor:
    """Rebuild every location of ``f`` (N, C, H, W) from 3x3 patches of its background (``mask`` (N, 1, H, W):
    1 = hole), weighted by the softmax of scaled cosine similarities (one attention map per image)."""
    n, c, h, w = f.shape
    valid = (F.avg_pool2d(mask, 3, 1, 1, count_include_pad=False) == 0).flatten(1).float()  # patches fully known
    out = []
    eye = torch.eye(3, device=f.device, dtype=f.dtype)[None, None]
    for i in range(n):
        patches = F.unfold(f[i:i + 1], 3, padding=1).transpose(1, 2).reshape(h * w, c, 3, 3)  # (L, C, 3, 3)
        norm = patches.flatten(1).norm(dim=1).clamp_min(1e-4)
        scores = F.conv2d(f[i:i + 1], patches / norm[:, None, None, None], padding=1)  # (1, L, H, W)
        if fuse:  # propagate along the diagonals of the (H*W, H*W) map in both orders: coherent neighbours
            s = F.conv2d(scores.reshape(1, 1, h * w, h * w), eye, padding=1)
            s = s.reshape(1, h, w, h, w).permute(0, 2, 1, 4, 3).reshape(1, 1, h * w, h * w)
            s = F.conv2d(s, eye, padding=1)
            scores = s.reshape(1, w, h, w, h).permute(0, 2, 1, 4, 3).reshape(1, h * w, h, w)
        m = valid[i].view(1, -1, 1, 1)
        attention = torch.softmax(scores * m * softmax_scale, dim=1) * m
        out.append(F.conv_transpose2d(attention, patches, padding=1) / 9.0)
    return torch.cat(out)


class InpaintGenerator(nn.Module):
    def __init__(self, channels: int = 3, width: int = 24, size: int = 64):
        super().__init__()
        if size % 4:
            raise ValueError(f"the inpainting generator needs a size divisible by 4, got {size}")
        c, cin = width, channels + 2
        self.coarse = nn.Sequential(*_encoder(cin, c), *_dilated(c, size), _decoder(4 * c, c, channels))
        self.refine_dilated = nn.Sequential(*_encoder(cin, c), *_dilated(c, size))
        self.refine_attention_in = nn.Sequential(*_encoder(cin, c))
        self.refine_attention_out = nn.Sequential(GatedConv(4 * c, 4 * c), GatedConv(4 * c, 4 * c))
        self.refine_decoder = _decoder(8 * c, c, channels)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(coarse, refined) outputs in [-1, 1] for images ``x`` (holes are ignored) and masks (1 = hole)."""
        ones = torch.ones_like(mask)
        coarse = torch.tanh(self.coarse(torch.cat([x * (1 - mask), ones, mask], 1)))
        pasted = coarse * mask + x * (1 - mask)
        inputs = torch.cat([pasted, ones, mask], 1)
        small_mask = F.interpolate(mask, scale_factor=0.25, mode="nearest")
        attended = contextual_attention(self.refine_attention_in(inputs), small_mask)
        h = torch.cat([self.refine_dilated(inputs), self.refine_attention_out(attended)], 1)
        return coarse, torch.tanh(self.refine_decoder(h))


class SNPatchGAN(nn.Module):
    def __init__(self, channels: int = 3, width: int = 64, size: int = 64):
        super().__init__()
        layers, cin = [], channels + 1
        for i in range(max(1, int(math.log2(size // 4)))):
            cout = width * min(2 ** i, 4)
            layers += [nn.utils.spectral_norm(nn.Conv2d(cin, cout, 5, 2, 2)), nn.LeakyReLU(0.2, True)]
            cin = cout
        self.model = nn.Sequential(*layers)

    def forward(self, x, mask):
        return self.model(torch.cat([x, mask], 1)).flatten(1)
