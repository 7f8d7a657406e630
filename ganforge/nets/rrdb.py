"""ESRGAN's generator (Wang et al., "ESRGAN: Enhanced Super-Resolution Generative Adversarial Networks",
ECCV Workshops 2018, section 3.1 and figure 4): the RRDBNet.

conv 3x3 -> B Residual-in-Residual Dense Blocks -> conv 3x3, + the long skip -> log2(scale) x (nearest
x2 upsampling, conv 3x3, LeakyReLU 0.2) -> conv 3x3, LeakyReLU -> conv 3x3. No batch norm anywhere (the
paper removes it: BN brings artefacts and hurts generalisation). A Residual Dense Block has 5 convs, each
seeing the concatenation of the block input and all earlier outputs (growth ``gc`` = 32), LeakyReLU 0.2
after the first four, and returns x + 0.2 * out; an RRDB chains 3 of them and returns x + 0.2 * out
(residual scaling). The paper: B = 23, 64 channels; weights Kaiming-initialised and scaled by 0.1.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

RESIDUAL_SCALE = 0.2


class ResidualDenseBlock(nn.Module):
    def __init__(self, width: int = 64, growth: int = 32):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(width + i * growth, growth if i < 4 else width, 3, 1, 1) for i in range(5))
        self.act = nn.LeakyReLU(0.2, True)

    def forward(self, x):
        features = [x]
        for i, conv in enumerate(self.convs):
            out = conv(torch.cat(features, 1))
            if i < 4:
                features.append(self.act(out))
        return x + RESIDUAL_SCALE * out


class RRDB(nn.Module):
    def __init__(self, width: int = 64, growth: int = 32):
        super().__init__()
        self.blocks = nn.Sequential(*(ResidualDenseBlock(width, growth) for _ in range(3)))

    def forward(self, x):
        return x + RESIDUAL_SCALE * self.blocks(x)


class RRDBNet(nn.Module):
    def __init__(self, channels: int, scale: int = 4, width: int = 64, blocks: int = 23, growth: int = 32):
        super().__init__()
        if scale not in (2, 4, 8):
            raise ValueError(f"scale must be 2, 4 or 8, got {scale}")
        self.head = nn.Conv2d(channels, width, 3, 1, 1)
        self.body = nn.Sequential(*(RRDB(width, growth) for _ in range(blocks)), nn.Conv2d(width, width, 3, 1, 1))
        self.upsample = nn.ModuleList(nn.Conv2d(width, width, 3, 1, 1) for _ in range(int(math.log2(scale))))
        self.tail = nn.Sequential(nn.Conv2d(width, width, 3, 1, 1), nn.LeakyReLU(0.2, True),
                                  nn.Conv2d(width, channels, 3, 1, 1))
        self.act = nn.LeakyReLU(0.2, True)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # the paper's init: Kaiming, scaled by 0.1 (stabilises deep residual nets)
                nn.init.kaiming_normal_(m.weight, a=0, mode="fan_in")
                m.weight.data.mul_(0.1)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        h = self.head(x)
        h = h + self.body(h)
        for conv in self.upsample:
            h = self.act(conv(F.interpolate(h, scale_factor=2, mode="nearest")))
        return self.tail(h)
