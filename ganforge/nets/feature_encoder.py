"""Pix2PixHD's instance-wise feature encoder (Wang et al., CVPR 2018, Sec. 3.4: "Learning an
instance-level feature embedding"): multi-modal synthesis from one label map.

- ``FeatureEncoder``: the official ``Encoder`` (c7s1-W, ``n_down`` stride-2 convs doubling the width, as
  many transposed convs back, c7s1-F + tanh; instance norm, reflection padding), i.e. the global
  generator's layout without residual blocks. The paper: W = 16 (``nef``), 4 downsamplings, F = 3.
- ``region_mean``: its output averaged over every object instance (the official ``Encoder.forward``
  loop, vectorised): each pixel gets the mean feature of its region, so G's extra input channels are
  constant per instance and the encoder can only pass a low-dimensional code per object, not the image.
- ``paint``: the same regions filled with chosen feature vectors (a k-means centre of the region's class
  at test time, as the official ``sample_features``).

A *region* is the pixels of one image sharing an instance id **and** a class. Without instance maps
every class region of an image is one instance: Cityscapes' convention for "stuff" classes, whose
instance id is the class id.
"""
from __future__ import annotations

import torch

from ganforge.nets.spade import GlobalGenerator


class FeatureEncoder(GlobalGenerator):
    """image (N, C, H, W) -> per-pixel features (N, F, H, W) in [-1, 1], before region pooling."""

    def __init__(self, channels: int = 3, features: int = 3, width: int = 16, n_down: int = 4):
        super().__init__(channels, features, width, n_down, blocks=0)


def regions(labels: torch.Tensor, instances: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(index (N, H, W) of each pixel's region in 0..R-1, class (R,) of each region). ``labels``: class ids
    (N, H, W); ``instances``: instance ids of the same shape, or None (each class region is one instance)."""
    n = labels.shape[0]
    batch = torch.arange(n, device=labels.device).view(n, 1, 1).expand_as(labels)
    classes = int(labels.max()) + 1 if labels.numel() else 1
    key = batch.long() * classes + labels.long()
    ids = 1  # instance ids per (image, class) key
    if instances is not None:
        inst = instances.long()
        if inst.numel() and int(inst.min()) < 0:
            raise ValueError("instance ids must be >= 0")
        ids = int(inst.max()) + 1 if inst.numel() else 1
        key = key * ids + inst
    uniq, index = torch.unique(key, return_inverse=True)
    return index, (uniq // ids) % classes


def region_features(features: torch.Tensor, index: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean feature (R, F), area in pixels (R,)) of each region."""
    f = features.shape[1]
    flat = features.permute(0, 2, 3, 1).reshape(-1, f)
    idx = index.reshape(-1)
    sizes = torch.bincount(idx, minlength=count)
    sums = flat.new_zeros(count, f).index_add_(0, idx, flat)
    return sums / sizes.clamp_min(1)[:, None].to(flat.dtype), sizes


def paint(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """(R, F) one feature vector per region -> (N, F, H, W) feature maps."""
    n, h, w = index.shape
    return values[index.reshape(-1)].reshape(n, h, w, -1).permute(0, 3, 1, 2)


def region_mean(features: torch.Tensor, index: torch.Tensor, count: int) -> torch.Tensor:
    """(N, F, H, W) features -> the same shape, each pixel replaced by its region's mean (differentiable)."""
    return paint(region_features(features, index, count)[0], index)
