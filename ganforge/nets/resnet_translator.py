"""The CycleGAN ResNet generator (Zhu et al. 2017, appendix 7.2; Johnson et al. 2016's transformer net).

c7s1-64, d128, d256, R256 x n_blocks, u128, u64, c7s1-C: reflection padding, instance norm, ReLU,
residual blocks of two 3x3 convolutions, transposed-convolution upsampling, Tanh output. The paper
uses 6 blocks at 128x128 and 9 at >= 256x256; ``blocks_for(size)`` keeps 6 below 256.
"""
from __future__ import annotations

from torch import nn

from ganforge.nets.unet import norm_layer


def blocks_for(size: int) -> int:
    return 9 if size >= 256 else 6


class ResnetBlock(nn.Module):
    def __init__(self, channels: int, norm: str = "instance", dropout: bool = False):
        super().__init__()
        bias = norm != "batch"
        layers = [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), norm_layer(norm, channels),
                  nn.ReLU(True)]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), norm_layer(norm, channels)]
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.block(x)


class ResnetTranslator(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, ngf: int = 64, n_blocks: int = 6,
                 norm: str = "instance", n_down: int = 2, dropout: bool = False):
        super().__init__()
        bias = norm != "batch"
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7, bias=bias), norm_layer(norm, ngf), nn.ReLU(True)]
        for i in range(n_down):
            c = ngf * 2 ** i
            layers += [nn.Conv2d(c, c * 2, 3, 2, 1, bias=bias), norm_layer(norm, c * 2), nn.ReLU(True)]
        c = ngf * 2 ** n_down
        layers += [ResnetBlock(c, norm, dropout) for _ in range(n_blocks)]
        for i in range(n_down):
            layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1, bias=bias), norm_layer(norm, c // 2),
                       nn.ReLU(True)]
            c //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)
