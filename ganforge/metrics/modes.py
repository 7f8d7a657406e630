"""Mode metrics.

Toy mixtures (``toy-ring`` / ``toy-grid``), the PacGAN / VEEGAN protocol on 2,500 samples: a sample
is *high quality* when it lies within 3 standard deviations of its nearest mode centre; a mode is
*captured* when it is the nearest mode of at least one high-quality sample; the *reverse KL* is
KL(p || uniform) of the histogram of all samples over their nearest modes (0 when the modes are
evenly covered, log K when everything falls on one mode).

Stacked MNIST (Metz et al. 2017): each of the 3 channels is an MNIST digit, so there are 1000 modes;
each channel is classified with a digit classifier (ganforge.classifiers, trained on MNIST) and
the modes are counted the same way (captured = predicted at least once; reverse KL vs uniform 1/1000).
"""
from __future__ import annotations

import math

import torch

from ganforge.errors import GanforgeError


def _reverse_kl(assignments: torch.Tensor, n_modes: int) -> float:
    p = torch.bincount(assignments, minlength=n_modes).double() / len(assignments)
    p = p[p > 0]
    return float((p * (p * n_modes).log()).sum())


def toy_mode_metrics(samples, centres, std: float) -> dict[str, float]:
    x = torch.as_tensor(samples).double()
    c = torch.as_tensor(centres).double()
    if x.dim() != 2 or x.shape[1] != c.shape[1] or len(x) == 0:
        raise GanforgeError(f"mode metrics need (N, {c.shape[1]}) samples, got {tuple(x.shape)}.")
    dist = torch.cdist(x, c)
    nearest_dist, nearest = dist.min(1)
    high_quality = nearest_dist <= 3 * std
    captured = torch.unique(nearest[high_quality]).numel()
    return {"modes": float(captured), "high_quality": float(high_quality.double().mean()),
            "reverse_kl": _reverse_kl(nearest, len(c))}


@torch.inference_mode()
def stacked_mnist_modes(samples: torch.Tensor, digit_classifier, batch_size: int = 2048) -> dict[str, float]:
    """``samples``: (N, 3, H, W) in model space; ``digit_classifier``: model-space (N, 1, H, W) -> 10 logits."""
    if samples.dim() != 4 or samples.shape[1] != 3:
        raise GanforgeError(f"Stacked MNIST samples must be (N, 3, H, W), got {tuple(samples.shape)}.")
    digits = []
    for c in range(3):
        channel = samples[:, c:c + 1].float()
        pred = [digit_classifier(channel[i:i + batch_size]).argmax(1) for i in range(0, len(channel), batch_size)]
        digits.append(torch.cat(pred))
    codes = digits[0] * 100 + digits[1] * 10 + digits[2]
    return {"modes": float(torch.unique(codes).numel()), "reverse_kl": _reverse_kl(codes, 1000),
            "max_reverse_kl": math.log(1000)}
