"""DiscoGAN's networks (Kim et al., "Learning to Discover Cross-Domain Relations with Generative
Adversarial Networks", ICML 2017, section 4 and the authors' code).

- ``DiscoGenerator``: an encoder-decoder without skips: 4x4 stride-2 convolutions 64-128-256-512
  (LeakyReLU 0.2, batch norm on all but the first), then 4x4 stride-2 transposed convolutions
  512-256-128-64-C (batch norm + ReLU, no bias). The paper's output is a sigmoid on [0, 1] images; ours
  is a tanh on model space [-1, 1] (the same function up to an affine change of the pixel scale).
- ``DiscoDiscriminator``: the same encoder (4x4 stride-2 convolutions 64-128-256-512, LeakyReLU 0.2,
  batch norm from the second), then one convolution over the remaining map to a logit. It also returns
  the activations after blocks 2, 3 and 4, which the generator's feature-matching loss compares.

At 64x64 (the paper's size) the encoder ends at 4x4 and D's last kernel is 4; other sizes divisible by
16 keep the four stride-2 stages and D's last kernel covers the map that is left (size / 16).
"""
from __future__ import annotations

from torch import nn

STAGES = 4  # four stride-2 stages at every size, as at the paper's 64x64


def _check_size(size: int) -> None:
    if size % 2 ** STAGES or size < 2 ** STAGES:
        raise ValueError(f"DiscoGAN's networks need an image size divisible by {2 ** STAGES}, got {size}")


def _encoder(channels: int, width: int) -> list[nn.Module]:
    layers, c = [], channels
    for i in range(STAGES):
        out = width * 2 ** i
        layers.append(nn.Sequential(nn.Conv2d(c, out, 4, 2, 1, bias=False),
                                    *([nn.BatchNorm2d(out)] if i else []), nn.LeakyReLU(0.2, True)))
        c = out
    return layers


class DiscoGenerator(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, width: int = 64, size: int = 64):
        super().__init__()
        _check_size(size)
        decoder, c = [], width * 2 ** (STAGES - 1)
        for i in reversed(range(STAGES - 1)):
            out = width * 2 ** i
            decoder += [nn.ConvTranspose2d(c, out, 4, 2, 1, bias=False), nn.BatchNorm2d(out), nn.ReLU(True)]
            c = out
        decoder += [nn.ConvTranspose2d(c, out_channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.model = nn.Sequential(*_encoder(in_channels, width), *decoder)

    def forward(self, x):
        return self.model(x)


class DiscoDiscriminator(nn.Module):
    def __init__(self, channels: int, width: int = 64, size: int = 64):
        super().__init__()
        _check_size(size)
        self.blocks = nn.ModuleList(_encoder(channels, width))
        self.head = nn.Conv2d(width * 2 ** (STAGES - 1), 1, size // 2 ** STAGES, 1, 0, bias=False)

    def forward(self, x):
        """(logits (N, 1, 1, 1), [features after blocks 2, 3, 4]) — the features for feature matching."""
        features = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i:
                features.append(x)
        return self.head(x), features
