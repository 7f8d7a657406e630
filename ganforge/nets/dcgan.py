"""DCGAN (Radford et al., 2016) for any size 4*2^k or 7*2^k (8, 16, 28, 32, 64, 128 ...).

8x8 starts from 2x2 (two upsamplings) so that small images still get a two-layer generator.

Guidelines: strided (transposed) convolutions instead of pooling, batch norm in both nets (not on
G's output nor D's input), ReLU in G with a tanh output, LeakyReLU(0.2) in D, N(0, 0.02) init.
At 64x64 with width 64 this is exactly the classic architecture (PyTorch's DCGAN example), except
that D returns logits and the sigmoid lives in the loss (same maths, numerically safer).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from ganforge.errors import GanforgeError
from ganforge.nets import ARCHITECTURES
from ganforge.nets.conditional import DiscriminatorHead, check_conditioning, head_mode
from ganforge.nets.layers import MinibatchStdDev, mbstd_group


def spatial_plan(size: int) -> tuple[int, int]:
    """(base, number of 2x up/down-samplings) such that base * 2**n == size, base in {4, 7}."""
    for base in (4, 7):
        n = math.log2(size / base) if size >= base else -1
        if n >= 1 and n == int(n):
            if n == 1 and base == 4:  # 8x8: start at 2x2 so G and D get two conv layers, not one
                return 2, 2
            return base, int(n)
    raise GanforgeError(
        f"the dcgan architecture cannot produce {size}x{size} images; use a size of the form 4*2^k or "
        f"7*2^k (8, 16, 28, 32, 64, 128, ...) with --image-size."
    )


def init_dcgan_weights(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    def __init__(self, z_dim: int, channels: int, size: int, width: int = 64, num_classes: int = 0):
        super().__init__()
        base, n_up = spatial_plan(size)
        self.z_dim, self.num_classes = z_dim, num_classes
        # Conditional (cGAN): a learned label embedding concatenated to z.
        self.embed = nn.Embedding(num_classes, z_dim) if num_classes else None
        in_dim = z_dim * (2 if num_classes else 1)
        ch = width * 2 ** (n_up - 1)
        layers = [nn.ConvTranspose2d(in_dim, ch, base, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
        for _ in range(n_up - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.apply(init_dcgan_weights)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)
        return self.main(z[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    def __init__(self, channels: int, size: int, width: int = 64, num_classes: int = 0, conditioning: str = "concat",
                 mbstd: int = 0):
        super().__init__()
        base, n_down = spatial_plan(size)
        self.num_classes = num_classes
        mode = head_mode(conditioning, num_classes)  # aux / projection: labels enter at the head instead
        # Conditional (cGAN): the label as extra constant input planes (one embedding channel).
        self.embed = nn.Embedding(num_classes, size * size) if num_classes and mode == "plain" else None
        in_ch = channels + (1 if self.embed is not None else 0)
        layers = [nn.Conv2d(in_ch, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        ch = width
        for _ in range(n_down - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2), nn.LeakyReLU(0.2, True)]
            ch *= 2
        if mbstd:  # minibatch stddev (ProGAN): one extra feature map before the head
            layers.append(MinibatchStdDev(mbstd))
            ch += 1
        self.features = nn.Sequential(*layers)
        self.head = nn.Conv2d(ch, 1, base, 1, 0, bias=False)
        if mode != "plain":  # ACGAN class head / projection on the flattened last feature map
            self.head = DiscriminatorHead(ch * base * base, num_classes, mode)
        self.size = size
        self.apply(init_dcgan_weights)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            plane = self.embed(y).view(-1, 1, self.size, self.size).to(x.dtype)
            x = torch.cat([x, plane], dim=1)
        if isinstance(self.head, DiscriminatorHead):
            return self.head(self.features(x).flatten(1), y)
        return self.head(self.features(x)).flatten()


@ARCHITECTURES.register("dcgan")
def build_dcgan(cfg, dataset, num_classes: int = 0, conditioning: str = "concat"):
    if dataset.kind != "image":
        raise GanforgeError(f"the dcgan architecture needs image data; {dataset.name!r} holds vectors: use --architecture mlp.")
    channels, size = dataset.shape[0], dataset.shape[-1]
    spatial_plan(size)
    if num_classes:
        check_conditioning(conditioning, num_classes)
    # G: label embedding concatenated to z in every mode (class-conditional BN lives in the resnet G).
    return (DCGANGenerator(cfg.z_dim, channels, size, cfg.g_width, num_classes),
            DCGANDiscriminator(channels, size, cfg.d_width, num_classes, conditioning, mbstd_group(cfg)))
