"""The multi-scale PatchGAN discriminator of Pix2PixHD (Wang et al. 2018) and SPADE (Park et al. 2019).

``num_d`` PatchGANs with identical architecture see the input at full, 1/2, 1/4 ... resolution (3x3
average pooling, stride 2, between scales). Each: 4x4 convs (stride 2 except the last two), LeakyReLU
0.2, instance norm from the second layer, optional spectral norm (SPADE), to one logit per patch. Every
PatchGAN returns all its intermediate activations too: the generator's feature-matching loss compares
them on real and fake inputs. The papers: 3 scales x 3 layers (Pix2PixHD at 2048x1024), 2 scales x 4
layers (SPADE at 256). Scaled here so the coarsest scale still sees at least an 8x8 input.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PatchD(nn.Module):
    def __init__(self, cin: int, width: int = 64, n_layers: int = 3, spectral: bool = False):
        super().__init__()
        sn = nn.utils.spectral_norm if spectral else (lambda m: m)
        blocks = [nn.Sequential(nn.Conv2d(cin, width, 4, 2, 2), nn.LeakyReLU(0.2, True))]
        c = width
        for n in range(1, n_layers + 1):
            out = min(c * 2, 512)
            stride = 2 if n < n_layers else 1
            blocks.append(nn.Sequential(sn(nn.Conv2d(c, out, 4, stride, 2)), nn.InstanceNorm2d(out), nn.LeakyReLU(0.2, True)))
            c = out
        blocks.append(nn.Sequential(nn.Conv2d(c, 1, 4, 1, 2)))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x):
        features = []
        for block in self.blocks:
            x = block(x)
            features.append(x)
        return features  # the last one is the logit map


class MultiscaleDiscriminator(nn.Module):
    def __init__(self, cin: int, width: int = 64, n_layers: int = 3, num_d: int = 2, spectral: bool = False):
        super().__init__()
        self.ds = nn.ModuleList(PatchD(cin, width, n_layers, spectral) for _ in range(num_d))

    def forward(self, x) -> list[list[torch.Tensor]]:
        out = []
        for i, d in enumerate(self.ds):
            if i:
                x = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
            out.append(d(x))
        return out


def scales_for(size: int, wanted: int) -> int:
    n = 1
    while n < wanted and size // 2 ** n >= 8:
        n += 1
    return n


def feature_matching(real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]]) -> torch.Tensor:
    """L1 between D's intermediate activations on real and fake inputs, averaged over the scales (the
    logits excluded), as both papers' code computes it."""
    loss = 0.0
    for r_scale, f_scale in zip(real, fake):
        for r, f in zip(r_scale[:-1], f_scale[:-1]):
            loss = loss + F.l1_loss(f.float(), r.detach().float())
    return loss / len(real)
