"""SRGAN's networks (Ledig et al., "Photo-Realistic Single Image Super-Resolution Using a Generative
Adversarial Network", CVPR 2017, figure 4).

- ``SRResNet``: conv 9x9-64 + PReLU; B residual blocks (conv 3x3, BN, PReLU, conv 3x3, BN, + skip);
  conv 3x3 + BN + the long skip; log2(scale) x (conv 3x3 to 4C, PixelShuffle x2, PReLU); conv 9x9.
  The paper: B = 16, C = 64; no output activation (outputs are clamped to [-1, 1] when saved).
- ``SRDiscriminator``: conv 3x3-64 + LeakyReLU 0.2, then seven conv 3x3 + BN + LeakyReLU blocks
  (64 s2, 128 s1, 128 s2, 256 s1, 256 s2, 512 s1, 512 s2), Dense 1024, LeakyReLU, Dense 1. The dense
  layers sit after a global average pool so one D serves any image size (28x28 to 96x96); the paper
  flattens a 96x96 input's 6x6x512 map.
"""
from __future__ import annotations

import math

from torch import nn


class _Residual(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1), nn.BatchNorm2d(c), nn.PReLU(),
                                  nn.Conv2d(c, c, 3, 1, 1), nn.BatchNorm2d(c))

    def forward(self, x):
        return x + self.body(x)


class SRResNet(nn.Module):
    def __init__(self, channels: int, scale: int = 4, width: int = 64, blocks: int = 16):
        super().__init__()
        if scale not in (2, 4, 8):
            raise ValueError(f"scale must be 2, 4 or 8, got {scale}")
        self.head = nn.Sequential(nn.Conv2d(channels, width, 9, 1, 4), nn.PReLU())
        self.body = nn.Sequential(*[_Residual(width) for _ in range(blocks)],
                                  nn.Conv2d(width, width, 3, 1, 1), nn.BatchNorm2d(width))
        up = []
        for _ in range(int(math.log2(scale))):
            up += [nn.Conv2d(width, width * 4, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU()]
        self.tail = nn.Sequential(*up, nn.Conv2d(width, channels, 9, 1, 4))

    def forward(self, x):
        h = self.head(x)
        return self.tail(h + self.body(h))


class SRDiscriminator(nn.Module):
    def __init__(self, channels: int, width: int = 64):
        super().__init__()
        layers = [nn.Conv2d(channels, width, 3, 1, 1), nn.LeakyReLU(0.2, True)]
        c = width
        for out, stride in ((width, 2), (width * 2, 1), (width * 2, 2), (width * 4, 1), (width * 4, 2),
                            (width * 8, 1), (width * 8, 2)):
            layers += [nn.Conv2d(c, out, 3, stride, 1), nn.BatchNorm2d(out), nn.LeakyReLU(0.2, True)]
            c = out
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, width * 16),
                                  nn.LeakyReLU(0.2, True), nn.Linear(width * 16, 1))

    def forward(self, x):
        return self.head(self.features(x))
