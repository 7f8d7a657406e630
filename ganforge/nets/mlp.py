"""Multilayer perceptrons (Goodfellow et al., 2014) for vectors and small flattened images."""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from ganforge.nets import ARCHITECTURES
from ganforge.options import Option
from ganforge.nets.conditional import DiscriminatorHead, check_conditioning, head_mode
from ganforge.nets.layers import MinibatchStdDev, mbstd_group


class MLPGenerator(nn.Module):
    def __init__(self, z_dim: int, out_shape: tuple[int, ...], width: int = 256, depth: int = 3,
                 num_classes: int = 0, image: bool = True):
        super().__init__()
        self.out_shape, self.num_classes = out_shape, num_classes
        self.embed = nn.Embedding(num_classes, z_dim) if num_classes else None
        dims = [z_dim * (2 if num_classes else 1)] + [width] * (depth - 1)
        layers = []
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(a, b), nn.ReLU(True)]
        layers.append(nn.Linear(dims[-1], math.prod(out_shape)))
        if image:
            layers.append(nn.Tanh())  # images live in [-1, 1]; vectors are unbounded
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)
        return self.main(z).view(-1, *self.out_shape)


class MLPDiscriminator(nn.Module):
    def __init__(self, in_shape: tuple[int, ...], width: int = 256, depth: int = 3, num_classes: int = 0,
                 conditioning: str = "concat", mbstd: int = 0):
        super().__init__()
        in_dim = math.prod(in_shape)
        self.num_classes = num_classes
        mode = head_mode(conditioning, num_classes)  # aux / projection: labels enter at the head instead
        self.embed = nn.Embedding(num_classes, in_dim) if num_classes and mode == "plain" else None
        dims = [in_dim * (2 if self.embed is not None else 1)] + [width] * (depth - 1)
        layers = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            if mbstd and i == len(dims) - 2:  # minibatch stddev: one extra input to the last hidden layer
                layers.append(MinibatchStdDev(mbstd))
                a += 1
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2, True)]
        if mbstd and len(dims) == 1:  # depth 1: no hidden layer, the statistic goes to the head
            layers.append(MinibatchStdDev(mbstd))
            dims[-1] += 1
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(dims[-1], 1) if mode == "plain" else DiscriminatorHead(dims[-1], num_classes, mode)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        x = x.flatten(1)
        if self.embed is not None:
            x = torch.cat([x, self.embed(y).to(x.dtype)], dim=1)
        if isinstance(self.head, DiscriminatorHead):
            return self.head(self.features(x), y)
        return self.head(self.features(x)).flatten()


@ARCHITECTURES.register("mlp", options={"depth": Option(int, 3, "hidden layers of each MLP")})
def build_mlp(cfg, dataset, num_classes: int = 0, conditioning: str = "concat"):
    depth = int(cfg.options.get("depth", 3))
    image = dataset.kind == "image"
    if num_classes:
        check_conditioning(conditioning, num_classes)
    return (MLPGenerator(cfg.z_dim, dataset.shape, cfg.g_width, depth, num_classes, image),
            MLPDiscriminator(dataset.shape, cfg.d_width, depth, num_classes, conditioning, mbstd_group(cfg)))
