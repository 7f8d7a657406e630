"""Pix2PixHD's coarse-to-fine generator: local enhancers G2 around the global generator G1 (Wang, Liu,
Zhu, Tao, Kautz & Catanzaro, "High-Resolution Image Synthesis and Semantic Manipulation with
Conditional GANs", CVPR 2018, Sec. 3.2).

With ``k`` enhancers, G1 (``ganforge.nets.spade.GlobalGenerator``, width ``width * 2**k``) runs on the
input map downsampled ``k`` times; enhancer ``n`` (1..k) runs on the map downsampled ``k - n`` times:

- front end G2^(F): c7s1-W, then a stride-2 3x3 conv to 2W (instance norm, ReLU; reflection padding);
- its features are **summed element-wise** with the last feature map of the coarser generator (G1
  without its output layer, or the previous enhancer without its head), which has the same size;
- back end G2^(B): ``blocks`` residual blocks at 2W (the paper: 3), a transposed conv back to W, and
  for the finest active level the output layer c7s1-3 + tanh.

W = ``width * 2**(k - n)``, so enhancer n's 2W equals the coarser level's width, as in the official
code (``LocalEnhancer``: ngf_global = ngf * 2**n_local_enhancers). The input pyramid uses 3x3 average
pooling with stride 2 (without the padding in the count) on the one-hot map, as that code does. Every
level keeps its own output layer so that a coarser level can be trained (and shown) on its own first.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.nets.spade import _Residual


def downsample(x: torch.Tensor) -> torch.Tensor:
    """One level of the input / image pyramid (the same pooling as the multi-scale discriminator's)."""
    return F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)


def pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """[x, x/2, ..., x/2**levels]: index i is ``x`` downsampled i times."""
    out = [x]
    for _ in range(levels):
        out.append(downsample(out[-1]))
    return out


class LocalEnhancer(nn.Module):
    """One G2 level: front end on its map, the coarser level's features added, back end, optional head."""

    def __init__(self, cin: int, channels: int = 3, width: int = 32, blocks: int = 3):
        super().__init__()
        self.front = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(cin, width, 7), nn.InstanceNorm2d(width), nn.ReLU(True),
                                   nn.Conv2d(width, 2 * width, 3, 2, 1), nn.InstanceNorm2d(2 * width), nn.ReLU(True))
        self.back = nn.Sequential(*[_Residual(2 * width) for _ in range(blocks)],
                                  nn.ConvTranspose2d(2 * width, width, 3, 2, 1, output_padding=1),
                                  nn.InstanceNorm2d(width), nn.ReLU(True))
        self.head = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(width, channels, 7), nn.Tanh())

    def forward(self, segmap: torch.Tensor, coarse: torch.Tensor, output: bool = True) -> torch.Tensor:
        """``coarse``: the coarser level's last feature map, at half the size of ``segmap``. ``output``:
        apply the output layer (the finest active level), else return the features for the next level."""
        h = self.back(self.front(segmap) + coarse)
        return self.head(h) if output else h


def coarse_to_fine(global_net, enhancers, segmap: torch.Tensor, active: int) -> torch.Tensor:
    """The image of the first ``active`` levels (0: G1 alone) for a full-size map, at 1/2**(k - active)
    of its size. ``enhancers``: the k levels, coarsest first (callables, possibly DDP-wrapped)."""
    k = len(enhancers)
    maps = pyramid(segmap, k)
    if active == 0:
        return global_net(maps[k])
    h = global_net(maps[k], features=True)
    for n in range(1, active + 1):
        h = enhancers[n - 1](maps[k - n], h, output=n == active)
    return h
