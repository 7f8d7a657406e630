"""The pix2pix U-Net generator (Isola et al. 2017, appendix 6.1.1; the official ``UnetGenerator``).

Encoder C64-C128-C256-C512-C512-... (4x4 convolutions, stride 2, LeakyReLU 0.2, batch norm except on
the first layer), down to 1x1; decoder mirrors it with transposed convolutions, ReLU and batch norm,
each layer concatenating the encoder layer of the same resolution (skip connections); dropout 0.5 in
the three innermost decoder layers (pix2pix's noise z); Tanh output. Depth follows the image size
(log2(size) downsamplings: 8 at 256x256, 6 at 64x64, 5 at 32x32); widths are ``ngf`` x 1, 2, 4, 8, 8, ...
"""
from __future__ import annotations

import math

import torch
from torch import nn


def norm_layer(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}")


class UnetBlock(nn.Module):
    """One resolution of the U-Net: down -> inner -> up, with the skip concatenation (official design)."""

    def __init__(self, outer: int, inner: int, in_channels: int | None = None, sub: nn.Module | None = None,
                 outermost: bool = False, innermost: bool = False, norm: str = "batch", dropout: bool = False,
                 out_channels: int | None = None):
        super().__init__()
        self.outermost = outermost
        in_channels = in_channels or outer
        bias = norm != "batch"
        down = nn.Conv2d(in_channels, inner, 4, 2, 1, bias=bias)
        if outermost:
            up = nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1)
            layers = [down, sub, nn.ReLU(True), up, nn.Tanh()]
        elif innermost:
            up = nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True), up, norm_layer(norm, outer)]
        else:
            up = nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), down, norm_layer(norm, inner), sub, nn.ReLU(True), up,
                      norm_layer(norm, outer)] + ([nn.Dropout(0.5)] if dropout else [])
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


class UNet(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, size: int, ngf: int = 64, norm: str = "batch",
                 dropout: bool = True, extra_in: int = 0):
        super().__init__()
        depth = int(math.log2(size))
        if 2 ** depth != size or depth < 3:
            raise ValueError(f"the U-Net needs a power-of-two image size >= 8, got {size}")
        widths = [ngf * min(2 ** i, 8) for i in range(depth)]  # channels after each down: 64, 128, 256, 512, 512, ...
        block = UnetBlock(widths[-2], widths[-1], innermost=True, norm=norm)
        for i in range(depth - 2, 0, -1):  # dropout in the three decoder layers after the innermost one
            block = UnetBlock(widths[i - 1], widths[i], sub=block, norm=norm, dropout=dropout and i >= depth - 4)
        self.model = UnetBlock(out_channels, widths[0], in_channels=in_channels + extra_in, sub=block,
                               outermost=True, norm=norm)

    def forward(self, x):
        return self.model(x)
