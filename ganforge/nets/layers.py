"""Layers shared by the discriminators.

``MinibatchStdDev`` (Karras, Aila, Laine & Lehtinen, "Progressive Growing of GANs", ICLR 2018, §3):
the discriminator sees how varied its input batch is. The batch is split into groups of
``group_size`` samples; for each group the standard deviation of every feature over the group is
averaged into one number, appended to every sample of the group as one extra feature map (images)
or one extra feature (vectors). A collapsed generator yields groups with a small statistic, which
D then learns to reject. As in ProGAN, group members are strided (sample i belongs to group
i mod (N / group_size)), std = sqrt(var + 1e-8) with the biased variance, and the layer sits at the
start of the discriminator's last block (``cfg.mbstd_group``; 0 = off).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn


class MinibatchStdDev(nn.Module):
    def __init__(self, group_size: int = 4, eps: float = 1e-8):
        super().__init__()
        if group_size < 1:
            raise ValueError(f"group_size must be >= 1, got {group_size}")
        self.group_size, self.eps = group_size, eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        # ProGAN requires N % G == 0; a batch of another size (e.g. a final partial batch) uses the
        # largest group size that divides it instead of failing.
        g = math.gcd(min(self.group_size, n), n)
        y = x.float().reshape(g, n // g, *x.shape[1:])                # [G, M, ...]
        y = (y - y.mean(dim=0)).pow(2).mean(dim=0).add(self.eps).sqrt()  # [M, ...] std over each group
        y = y.flatten(1).mean(dim=1).to(x.dtype)                       # [M]: averaged over features
        y = y.repeat(g)                                                # [N]: sample i gets group i mod M
        if x.dim() == 2:
            return torch.cat([x, y[:, None]], dim=1)
        return torch.cat([x, y.view(n, 1, *([1] * (x.dim() - 2))).expand(n, 1, *x.shape[2:])], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"


def mbstd_group(cfg) -> int:
    """The configured minibatch-stddev group size (0: off)."""
    return int(getattr(cfg, "mbstd_group", 0) or 0)
