"""The PatchGAN discriminator of pix2pix / CycleGAN (Isola et al. 2017; the official ``NLayerDiscriminator``).

C64-C128-C256-C512: 4x4 convolutions, stride 2 except the last two (stride 1), LeakyReLU 0.2, a norm
on every layer but the first, then a 4x4 convolution to one logit per patch. ``n_layers=3`` is the
paper's 70x70 PatchGAN; its receptive field is 16, 34, 70, 142 pixels for n_layers 1..4.
``layers_for(size)`` scales the patch to the image: the n_layers whose receptive field is closest to
70/256 of the image side (n_layers 3 at 256, 2 at 128, 1 at 64 and 32).
"""
from __future__ import annotations

from torch import nn

from ganforge.nets.unet import norm_layer

RECEPTIVE_FIELD = {1: 16, 2: 34, 3: 70, 4: 142, 5: 286}


def layers_for(size: int) -> int:
    want = size * 70 / 256
    return min(RECEPTIVE_FIELD, key=lambda n: (abs(RECEPTIVE_FIELD[n] - want), n))


class PatchGAN(nn.Module):
    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch",
                 spectral_norm: bool = False):
        super().__init__()
        sn = nn.utils.spectral_norm if spectral_norm else (lambda m: m)
        bias = norm != "batch"
        layers = [sn(nn.Conv2d(in_channels, ndf, 4, 2, 1)), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            stride = 2 if n < n_layers else 1
            layers += [sn(nn.Conv2d(ndf * prev, ndf * mult, 4, stride, 1, bias=bias)), norm_layer(norm, ndf * mult),
                       nn.LeakyReLU(0.2, True)]
        layers.append(sn(nn.Conv2d(ndf * mult, 1, 4, 1, 1)))
        self.model = nn.Sequential(*layers)
        self.receptive_field = RECEPTIVE_FIELD.get(n_layers)

    def forward(self, x):
        return self.model(x)
