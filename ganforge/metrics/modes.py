"""Mode metrics.

Toy mixtures (``toy-ring`` / ``toy-grid``), the PacGAN / VEEGAN protocol on 2,500 samples, exactly as
PacGAN's published code computes it (Lin et al. 2018; github.com/fjxmlzn/PacGAN,
``synthetic_data_experiments/PacGAN/pacgan/extensions.py``, ``MetricLogger``, with
``x_mode_variances = std**2 * I``, ``dis_thre = 3`` and 2,500 logged samples in the configs):

- each sample goes to its nearest mode centre (distance in units of the mode's std);
- it is *high quality* when that distance is strictly below 3 std;
- ``modes``: the number of modes with at least one high-quality sample;
- ``high_quality``: the fraction of all samples that are high quality;
- ``reverse_kl``: KL(p || uniform) = sum_k p_k log(K p_k), where p is the histogram of the
  *high-quality* samples over their modes (PacGAN's ``detail_of_coverage``; the reverse KL of the
  paper's Table 1 is log K minus the entropy its code logs for that histogram). Empty modes contribute
  0 (0 log 0 = 0) and the uniform has no zeros, so no smoothing is needed. 0 when the high-quality
  samples cover the modes evenly, log K when they all fall on one mode (also returned when there is
  no high-quality sample at all: the worst value).

Stacked MNIST (Metz et al. 2017): each of the 3 channels is an MNIST digit, so there are 1000 modes;
each channel is classified with a digit classifier (ganforge.classifiers, trained on MNIST) and
the modes are counted the same way (captured = predicted at least once; reverse KL vs uniform 1/1000).
"""
from __future__ import annotations

import math

import torch

from ganforge.errors import GanforgeError


def _reverse_kl(assignments: torch.Tensor, n_modes: int) -> float:
    """KL(p || uniform over n_modes) of the histogram of ``assignments``; log n_modes when empty."""
    if len(assignments) == 0:
        return math.log(n_modes)
    p = torch.bincount(assignments, minlength=n_modes).double() / len(assignments)
    p = p[p > 0]
    return float((p * (p * n_modes).log()).sum())


HIGH_QUALITY_STDS = 3.0  # PacGAN's dis_thre


def toy_mode_metrics(samples, centres, std: float) -> dict[str, float]:
    """``modes``, ``high_quality``, ``reverse_kl`` of ``samples`` (N, D) against an isotropic mixture with
    the given centres (K, D) and per-mode std (the PacGAN protocol: see the module docstring)."""
    x = torch.as_tensor(samples).double()
    c = torch.as_tensor(centres).double()
    if x.dim() != 2 or c.dim() != 2 or x.shape[1] != c.shape[1] or len(x) == 0:
        raise GanforgeError(f"mode metrics need (N, {c.shape[-1]}) samples, got {tuple(x.shape)}.")
    if not std > 0:
        raise GanforgeError(f"mode metrics need a positive mode std, got {std!r}.")
    distance = torch.cdist(x, c) / std  # in units of std (PacGAN: sqrt(sum(d^2 / variance)))
    nearest_distance, nearest = distance.min(1)
    high_quality = nearest_distance < HIGH_QUALITY_STDS
    good = nearest[high_quality]
    return {"modes": float(torch.unique(good).numel()), "high_quality": float(high_quality.double().mean()),
            "reverse_kl": _reverse_kl(good, len(c))}


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
