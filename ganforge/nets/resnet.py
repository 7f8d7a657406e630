"""SNGAN-style ResNet generator and discriminator (Miyato et al., 2018; Gulrajani et al., 2017).

Generator: linear z -> base x base x C, then one up-sampling residual block per doubling
(BN-ReLU-up-conv3-BN-ReLU-conv3, 1x1 shortcut), BN-ReLU-conv3-tanh. 32 px = 3 blocks from 4x4,
64 px = 4 blocks; 28 px starts at 7x7. Class-conditional batch norm under projection conditioning.
Discriminator: pre-activation residual blocks with average-pool down-sampling (the first block is the
"optimised" one acting on the raw image), one more block at the lowest resolution, ReLU, global sum
pooling and a linear head (plain, projection or auxiliary classifier). No batch norm in D, so it
composes with gradient penalties and spectral norm (add ``--spectral-norm``; the sngan recipe does).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.nets import ARCHITECTURES
from ganforge.nets.conditional import ConditionalBatchNorm2d, DiscriminatorHead, check_conditioning, head_mode
from ganforge.nets.dcgan import spatial_plan
from ganforge.nets.layers import MinibatchStdDev, mbstd_group


class _Norm(nn.Module):
    """Plain BatchNorm2d, or class-conditional BN when num_classes > 0."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.bn = ConditionalBatchNorm2d(channels, num_classes) if num_classes else nn.BatchNorm2d(channels)

    def forward(self, x, y):
        return self.bn(x, y) if isinstance(self.bn, ConditionalBatchNorm2d) else self.bn(x)


class GeneratorBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, num_classes: int = 0):
        super().__init__()
        self.norm1, self.norm2 = _Norm(in_ch, num_classes), _Norm(out_ch, num_classes)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1)
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1, 1, 0)

    def forward(self, x, y=None):
        h = F.interpolate(F.relu(self.norm1(x, y)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.norm2(self.conv1(h), y)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class ResNetGenerator(nn.Module):
    def __init__(self, z_dim: int, channels: int, size: int, width: int = 64, num_classes: int = 0,
                 conditioning: str = "concat"):
        super().__init__()
        self.base, n_up = spatial_plan(size)
        self.z_dim, self.num_classes = z_dim, num_classes
        cbn_classes = num_classes if conditioning == "projection" else 0
        # concat / aux conditioning: a learned label embedding concatenated to z.
        self.embed = nn.Embedding(num_classes, z_dim) if num_classes and not cbn_classes else None
        chans = [width * min(2 ** i, 8) for i in reversed(range(n_up + 1))]  # e.g. 512,256,128,64 at 64 px
        self.linear = nn.Linear(z_dim * (2 if self.embed is not None else 1), chans[0] * self.base**2)
        self.blocks = nn.ModuleList(GeneratorBlock(a, b, cbn_classes) for a, b in zip(chans[:-1], chans[1:]))
        self.out_norm = nn.BatchNorm2d(chans[-1])
        self.out_conv = nn.Conv2d(chans[-1], channels, 3, 1, 1)
        self._ch0 = chans[0]

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_classes and y is None:
            raise GanforgeError("this generator is class-conditional: pass labels y (e.g. `ganforge sample --class 3`).")
        if self.embed is not None:
            z = torch.cat([z, self.embed(y).to(z.dtype)], dim=1)
        h = self.linear(z).view(-1, self._ch0, self.base, self.base)
        for block in self.blocks:
            h = block(h, y)
        return torch.tanh(self.out_conv(F.relu(self.out_norm(h))))


class DiscriminatorBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, downsample: bool, first: bool = False):
        super().__init__()
        self.first, self.downsample = first, downsample
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1)
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1, 1, 0) if (in_ch != out_ch or downsample) else None

    def forward(self, x):
        # The first block sees the raw image: no pre-activation (a ReLU would drop negative pixels).
        h = self.conv1(x if self.first else F.relu(x))
        h = self.conv2(F.relu(h))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.first:  # pool before the 1x1 conv: cheaper, same maths (both linear)
            s = self.shortcut(F.avg_pool2d(s, 2) if self.downsample else s)
        elif self.shortcut is not None:
            s = self.shortcut(s)
            s = F.avg_pool2d(s, 2) if self.downsample else s
        return h + s


class ResNetDiscriminator(nn.Module):
    def __init__(self, channels: int, size: int, width: int = 64, num_classes: int = 0,
                 conditioning: str = "concat", mbstd: int = 0):
        super().__init__()
        _, n_down = spatial_plan(size)
        self.size, self.num_classes = size, num_classes
        mode = head_mode(conditioning, num_classes)
        # concat conditioning: the label as one extra learned input plane.
        self.embed = nn.Embedding(num_classes, size * size) if num_classes and mode == "plain" else None
        in_ch = channels + (1 if self.embed is not None else 0)
        chans = [width * min(2**i, 8) for i in range(n_down)]  # e.g. 64,128,256,512 at 64 px
        blocks = [DiscriminatorBlock(in_ch, chans[0], downsample=True, first=True)]
        blocks += [DiscriminatorBlock(a, b, downsample=True) for a, b in zip(chans[:-1], chans[1:])]
        if mbstd:  # minibatch stddev (ProGAN): one extra feature map into the last block
            blocks.append(MinibatchStdDev(mbstd))
        blocks.append(DiscriminatorBlock(chans[-1] + (1 if mbstd else 0), chans[-1], downsample=False))
        self.blocks = nn.Sequential(*blocks)
        self.head = DiscriminatorHead(chans[-1], num_classes, mode)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None):
        if self.embed is not None:
            if y is None:
                raise GanforgeError("this discriminator is class-conditional: it needs the labels y of its inputs.")
            x = torch.cat([x, self.embed(y).view(-1, 1, self.size, self.size).to(x.dtype)], dim=1)
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))  # global sum pooling (SNGAN)
        return self.head(h, y)


@ARCHITECTURES.register("resnet")
def build_resnet(cfg, dataset, num_classes: int = 0, conditioning: str = "concat"):
    if dataset.kind != "image":
        raise GanforgeError(f"the resnet architecture needs image data; {dataset.name!r} holds vectors: use --architecture mlp.")
    if num_classes:
        check_conditioning(conditioning, num_classes)
    channels, size = dataset.shape[0], dataset.shape[-1]
    return (ResNetGenerator(cfg.z_dim, channels, size, cfg.g_width, num_classes, conditioning),
            ResNetDiscriminator(channels, size, cfg.d_width, num_classes, conditioning, mbstd_group(cfg)))
