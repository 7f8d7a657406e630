"""Differentiable augmentation (Zhao et al., "Differentiable Augmentation for Data-Efficient GAN
Training", NeurIPS 2020).

The same policy is applied to every image the discriminator sees, real and fake, in both the
discriminator and the generator step; because every op is differentiable in the image, the
generator still gets gradients through the augmentation. Random parameters are drawn per sample.
Images are in the model's space ([-1, 1], NCHW).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError


def _per_sample(x: torch.Tensor) -> torch.Tensor:
    return torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device)


def brightness(x: torch.Tensor) -> torch.Tensor:
    """Add a per-sample offset in [-0.5, 0.5)."""
    return x + (_per_sample(x) - 0.5)


def saturation(x: torch.Tensor) -> torch.Tensor:
    """Scale the distance to the per-pixel channel mean by a factor in [0, 2) (a no-op on grey images)."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_per_sample(x) * 2) + mean


def contrast(x: torch.Tensor) -> torch.Tensor:
    """Scale the distance to the per-image mean by a factor in [0.5, 1.5)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_per_sample(x) + 0.5) + mean


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ratio*size pixels in x and y, filling with zeros (a gather, so
    gradients flow to the pixels that stay in view)."""
    n, _, h, w = x.shape
    max_dy, max_dx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-max_dy, max_dy + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-max_dx, max_dx + 1, (n, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    # Index into a 1-pixel zero border: out-of-range sources land on the border.
    src_r = (rows + dy + 1).clamp(0, h + 1).expand(n, h, w)
    src_c = (cols + dx + 1).clamp(0, w + 1).expand(n, h, w)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)  # N, H+2, W+2, C
    batch = torch.arange(n, device=x.device).view(n, 1, 1).expand(n, h, w)
    return padded[batch, src_r, src_c].permute(0, 3, 1, 2).contiguous()


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero a random square of side ratio*size per image (centre anywhere, clipped at the border)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    top, left = cy - ch // 2, cx - cw // 2
    inside = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


POLICIES = {
    "color": (brightness, saturation, contrast),
    "translation": (translation,),
    "cutout": (cutout,),
}


def parse_policy(policy: str) -> tuple[str, ...]:
    """'color,translation,cutout' -> ('color', 'translation', 'cutout'); '' -> ()."""
    names = tuple(p.strip() for p in (policy or "").split(",") if p.strip())
    for name in names:
        if name not in POLICIES:
            raise GanforgeError(
                f"unknown DiffAugment op {name!r} in diffaugment={policy!r}; choose from {', '.join(POLICIES)}."
            )
    return names


class DiffAugment:
    """A fixed policy; call it on every discriminator input, real and fake alike."""

    def __init__(self, policy: str):
        self.ops = parse_policy(policy)

    def __bool__(self) -> bool:
        return bool(self.ops)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if not self.ops:
            return x
        if x.dim() != 4:
            raise GanforgeError(
                f"DiffAugment works on images (N, C, H, W), got a tensor of shape {tuple(x.shape)}; "
                "set diffaugment='' for vector data."
            )
        for name in self.ops:
            for op in POLICIES[name]:
                x = op(x)
        return x


def diff_augment(x: torch.Tensor, policy: str) -> torch.Tensor:
    return DiffAugment(policy)(x)
