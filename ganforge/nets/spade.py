"""SPADE's generator (Park et al., "Semantic Image Synthesis with Spatially-Adaptive Normalization", CVPR
2019) and Pix2PixHD's global generator (Wang et al., "High-Resolution Image Synthesis and Semantic
Manipulation with Conditional GANs", CVPR 2018). Both take a one-hot label map (N, K, H, W).

- ``SPADE``: parameter-free batch norm, then gamma and beta predicted per pixel from the label map
  (resized to the features with nearest neighbour): a shared 3x3 conv to 128 channels + ReLU, then
  3x3 convs to gamma and beta; out = norm(x) * (1 + gamma) + beta.
- ``SPADEResBlock``: SPADE-LeakyReLU(0.2)-conv3x3 twice, a learned SPADE-conv1x1 shortcut when the
  width changes; spectral norm on every conv.
- ``SPADEGenerator``: the label map downsampled to 4x4 feeds a 3x3 conv to 16C (the paper's variant
  without the VAE, "G input is a downsampled segmentation map"), or, with ``z_dim`` > 0 (the VAE variant),
  a style vector z through a linear layer to 16C x 4 x 4; then SPADE residual blocks with x2
  nearest upsampling between them (16C, 16C, 16C, 8C, 4C, 2C, C as the resolution allows), LeakyReLU,
  3x3 conv, tanh. C = ``width`` (the paper: 64).
- ``ConvEncoder`` (the paper's image encoder, appendix A / the official ``ConvEncoder``): stride-2 3x3
  convs (spectral norm + instance norm, LeakyReLU 0.2) of widths C, 2C, 4C, 8C, 8C, 8C down to 4x4 (the
  paper: six at 256 px; here log2(size) - 2 of them), then two linear heads to the mean and log-variance
  of a 256-d Gaussian style code.
- ``GlobalGenerator`` (Pix2PixHD G1): c7s1-C, ``n_down`` stride-2 downsamplings doubling the width,
  9 residual blocks, transposed-conv upsamplings, c7s1-3, tanh; instance norm, reflection padding.
  ``features=True`` returns its last feature map (the output layer removed): what the local enhancers
  G2 (``ganforge.nets.local_enhancer``) add their own features to.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SN = nn.utils.spectral_norm


class SPADE(nn.Module):
    def __init__(self, channels: int, label_classes: int, hidden: int = 128):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.shared = nn.Sequential(nn.Conv2d(label_classes, hidden, 3, 1, 1), nn.ReLU(True))
        self.gamma = nn.Conv2d(hidden, channels, 3, 1, 1)
        self.beta = nn.Conv2d(hidden, channels, 3, 1, 1)

    def forward(self, x, segmap):
        segmap = F.interpolate(segmap, size=x.shape[-2:], mode="nearest")
        h = self.shared(segmap)
        return self.norm(x) * (1 + self.gamma(h)) + self.beta(h)


class SPADEResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, label_classes: int):
        super().__init__()
        mid = min(cin, cout)
        self.conv_0, self.conv_1 = SN(nn.Conv2d(cin, mid, 3, 1, 1)), SN(nn.Conv2d(mid, cout, 3, 1, 1))
        self.norm_0, self.norm_1 = SPADE(cin, label_classes), SPADE(mid, label_classes)
        self.learned_shortcut = cin != cout
        if self.learned_shortcut:
            self.conv_s, self.norm_s = SN(nn.Conv2d(cin, cout, 1, bias=False)), SPADE(cin, label_classes)

    def forward(self, x, seg):
        shortcut = self.conv_s(self.norm_s(x, seg)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, seg), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, seg), 0.2))
        return shortcut + dx


class SPADEGenerator(nn.Module):
    def __init__(self, label_classes: int, channels: int = 3, width: int = 64, size: int = 64, z_dim: int = 0):
        super().__init__()
        ups = int(math.log2(size // 4))
        if 4 * 2 ** ups != size:
            raise ValueError(f"SPADE's generator needs a power-of-two size >= 8, got {size}")
        mults = [16, 16] + [max(1, 16 // 2 ** i) for i in range(1, ups + 1)]  # head, middle, then halving
        self.z_dim = z_dim
        self.fc = nn.Linear(z_dim, 16 * width * 4 * 4) if z_dim else nn.Conv2d(label_classes, 16 * width, 3, 1, 1)
        self.head = SPADEResBlock(16 * width, 16 * width, label_classes)
        self.blocks = nn.ModuleList(SPADEResBlock(mults[i + 1] * width, mults[i + 2] * width, label_classes)
                                    for i in range(ups))
        self.out = nn.Conv2d(mults[-1] * width, channels, 3, 1, 1)

    def forward(self, segmap, z=None):
        if self.z_dim:  # the VAE variant: the style code sets the 4x4 input (z ~ N(0, I) when none is given)
            z = torch.randn(len(segmap), self.z_dim, device=segmap.device) if z is None else z
            x = self.fc(z).view(len(segmap), -1, 4, 4)
        else:
            x = self.fc(F.interpolate(segmap, size=(4, 4), mode="nearest"))
        x = self.head(x, segmap)
        for block in self.blocks:
            x = block(F.interpolate(x, scale_factor=2, mode="nearest"), segmap)
        return torch.tanh(self.out(F.leaky_relu(x, 0.2)))


class ConvEncoder(nn.Module):
    """Image (N, C, size, size) -> (mu, logvar) of the style code, each (N, z_dim)."""

    def __init__(self, channels: int = 3, width: int = 64, size: int = 64, z_dim: int = 256):
        super().__init__()
        downs = int(math.log2(size // 4))
        if 4 * 2 ** downs != size:
            raise ValueError(f"SPADE's encoder needs a power-of-two size >= 8, got {size}")
        widths = [channels] + [width * min(8, 2 ** i) for i in range(downs)]
        self.layers = nn.ModuleList(nn.Sequential(SN(nn.Conv2d(a, b, 3, 2, 1)), nn.InstanceNorm2d(b))
                                    for a, b in zip(widths, widths[1:]))
        self.fc_mu = nn.Linear(widths[-1] * 16, z_dim)
        self.fc_var = nn.Linear(widths[-1] * 16, z_dim)

    def forward(self, image):
        x = image
        for layer in self.layers:
            x = F.leaky_relu(layer(x), 0.2)
        x = x.flatten(1)
        return self.fc_mu(x), self.fc_var(x)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """z = mu + sigma * eps, eps ~ N(0, I): a sample of the encoder's Gaussian that gradients pass through."""
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, I)) summed over z's dimensions, averaged over the batch (the official code
    sums over its per-GPU batch, of 1 image by default)."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1).mean()


class _Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c), nn.ReLU(True),
                                  nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c))

    def forward(self, x):
        return x + self.body(x)


class GlobalGenerator(nn.Module):
    def __init__(self, cin: int, channels: int = 3, width: int = 64, n_down: int = 4, blocks: int = 9):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(cin, width, 7), nn.InstanceNorm2d(width), nn.ReLU(True)]
        c = width
        for _ in range(n_down):
            layers += [nn.Conv2d(c, 2 * c, 3, 2, 1), nn.InstanceNorm2d(2 * c), nn.ReLU(True)]
            c *= 2
        layers += [_Residual(c) for _ in range(blocks)]
        for _ in range(n_down):
            layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1), nn.InstanceNorm2d(c // 2), nn.ReLU(True)]
            c //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, segmap, features: bool = False):
        return self.model[:-3](segmap) if features else self.model(segmap)
