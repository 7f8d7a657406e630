"""StackGAN's networks (Zhang et al., "StackGAN: Text to Photo-realistic Image Synthesis with Stacked
Generative Adversarial Networks", ICCV 2017, section 3 and the supplementary architecture; layer shapes
as in the authors' PyTorch code), at any power-of-two size: stage I draws at half the final size
(the paper: 64 -> 256; here, for 64x64 data, 32 -> 64).

- ``ConditioningAugmentation``: a fully-connected layer maps the text embedding to (mu, log sigma^2);
  c = mu + sigma * eps, eps ~ N(0, I) (the KL term to N(0, I) is the recipe's);
- ``StageOneGenerator``: [c, z] -> FC -> 4x4 x 8w -> (nearest upsampling, 3x3 conv, BN, ReLU) blocks,
  halving the width, to the stage-I size -> 3x3 conv -> tanh;
- ``StageTwoGenerator``: the stage-I image -> 3x3 conv, two 4x4 stride-2 convolutions (down 4x) ->
  concatenated with c replicated spatially -> 3x3 conv -> residual blocks -> upsampling blocks to twice
  the stage-I size -> 3x3 conv -> tanh;
- ``MatchingDiscriminator``: 4x4 stride-2 convolutions (BN, LeakyReLU 0.2) down to 4x4 x 8w; the text
  embedding compressed to ``cond_dim`` by a fully-connected layer (LeakyReLU), replicated to 4x4,
  concatenated, a 3x3 convolution (the authors' code; the paper says 1x1) + BN + LeakyReLU, then a 4x4
  convolution to one logit: does this image look real *and* match this text?
"""
from __future__ import annotations

import torch
from torch import nn


def up_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(True))


class ResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(True),
                                  nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return torch.relu(x + self.body(x))


class ConditioningAugmentation(nn.Module):
    def __init__(self, text_dim: int, cond_dim: int = 128):
        super().__init__()
        self.fc = nn.Linear(text_dim, cond_dim * 2)
        self.cond_dim = cond_dim

    def forward(self, text: torch.Tensor, eps: torch.Tensor | None = None):
        """(c, mu, logvar); eps: the N(0, I) draw (None: a fresh one)."""
        h = torch.relu(self.fc(text))
        mu, logvar = h[:, :self.cond_dim], h[:, self.cond_dim:]
        if eps is None:
            eps = torch.randn_like(mu)
        return mu + eps * torch.exp(0.5 * logvar), mu, logvar


def _levels(size: int) -> int:
    if size < 8 or size & (size - 1):
        raise ValueError(f"StackGAN sizes must be powers of two >= 8, got {size}")
    return size.bit_length() - 3  # 4x4 -> size


class StageOneGenerator(nn.Module):
    def __init__(self, cond_dim: int, z_dim: int, size: int, channels: int = 3, width: int = 64):
        super().__init__()
        c = width * 8
        self.fc = nn.Sequential(nn.Linear(cond_dim + z_dim, c * 16, bias=False), nn.BatchNorm1d(c * 16), nn.ReLU(True))
        blocks = []
        for _ in range(_levels(size)):
            blocks.append(up_block(c, c // 2))
            c //= 2
        self.up = nn.Sequential(*blocks)
        self.out = nn.Sequential(nn.Conv2d(c, channels, 3, 1, 1), nn.Tanh())
        self.width8 = width * 8

    def forward(self, c_code: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(torch.cat([c_code, z], dim=1)).view(len(z), self.width8, 4, 4)
        return self.out(self.up(h))


class StageTwoGenerator(nn.Module):
    def __init__(self, cond_dim: int, low_size: int, channels: int = 3, width: int = 64, res_blocks: int = 4):
        super().__init__()
        if low_size < 8:
            raise ValueError(f"the stage-I size must be >= 8, got {low_size}")
        w = width
        self.encode = nn.Sequential(nn.Conv2d(channels, w, 3, 1, 1), nn.ReLU(True),
                                    nn.Conv2d(w, w * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(w * 2), nn.ReLU(True),
                                    nn.Conv2d(w * 2, w * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(w * 4), nn.ReLU(True))
        self.joint = nn.Sequential(nn.Conv2d(cond_dim + w * 4, w * 4, 3, 1, 1, bias=False), nn.BatchNorm2d(w * 4),
                                   nn.ReLU(True))
        self.residual = nn.Sequential(*[ResBlock(w * 4) for _ in range(res_blocks)])
        c, blocks = w * 4, []
        for _ in range(3):  # size/4 -> 2 x size: three doublings
            blocks.append(up_block(c, max(c // 2, 8)))
            c = max(c // 2, 8)
        self.up = nn.Sequential(*blocks)
        self.out = nn.Sequential(nn.Conv2d(c, channels, 3, 1, 1), nn.Tanh())

    def forward(self, low: torch.Tensor, c_code: torch.Tensor) -> torch.Tensor:
        h = self.encode(low)
        code = c_code[:, :, None, None].expand(-1, -1, *h.shape[2:])
        return self.out(self.up(self.residual(self.joint(torch.cat([code, h], dim=1)))))


class MatchingDiscriminator(nn.Module):
    def __init__(self, text_dim: int, size: int, channels: int = 3, width: int = 64, cond_dim: int = 128):
        super().__init__()
        layers, c = [nn.Conv2d(channels, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)], width
        for _ in range(_levels(size) - 1):
            layers += [nn.Conv2d(c, c * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c * 2), nn.LeakyReLU(0.2, True)]
            c *= 2
        self.image = nn.Sequential(*layers)
        self.text = nn.Sequential(nn.Linear(text_dim, cond_dim), nn.LeakyReLU(0.2, True))
        self.logits = nn.Sequential(nn.Conv2d(c + cond_dim, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c),
                                    nn.LeakyReLU(0.2, True), nn.Conv2d(c, 1, 4, 4))

    def forward(self, x: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        h = self.image(x)
        t = self.text(text)[:, :, None, None].expand(-1, -1, *h.shape[2:])
        return self.logits(torch.cat([h, t], dim=1)).flatten()
