"""Improved precision/recall (Kynkäänniemi et al. 2019) and density/coverage (Naeem et al. 2020).

Each sample's k-NN ball (radius = distance to its k-th nearest neighbour in its own set, itself
excluded; k = 3) approximates the manifold.
- precision: fraction of fake samples inside at least one real ball; recall: fraction of real
  samples inside at least one fake ball;
- density: (1 / kM) Σ_fake #real balls containing it (can exceed 1); coverage: fraction of real
  samples whose ball contains at least one fake sample.
Distances are computed in row blocks of at most ``BLOCK_ELEMENTS`` entries, so 50k x 50k needs
~64 MB at a time. Squared distances come from |a|² + |b|² - 2a·b in float32; a membership test
allows a relative slack of 1e-5 of the mean squared norm so that a point is inside its own
(zero-distance) copy's ball despite rounding.
"""
from __future__ import annotations

import torch

from ganforge.errors import GanforgeError

BLOCK_ELEMENTS = 1 << 24


def _rows_per_block(n_cols: int) -> int:
    return max(1, BLOCK_ELEMENTS // max(1, n_cols))


def _sq_dists(a: torch.Tensor, b: torch.Tensor, b_sq: torch.Tensor) -> torch.Tensor:
    return ((a * a).sum(1, keepdim=True) + b_sq[None] - 2 * a @ b.T).clamp_min_(0)


def knn_radii_sq(x: torch.Tensor, k: int) -> torch.Tensor:
    """Squared distance of each row to its k-th nearest other row."""
    if len(x) <= k:
        raise GanforgeError(f"k-NN manifolds with k={k} need more than {k} samples per set, got {len(x)}.")
    x_sq = (x * x).sum(1)
    out = torch.empty(len(x))
    step = _rows_per_block(len(x))
    for i in range(0, len(x), step):
        d = _sq_dists(x[i:i + step], x, x_sq)
        out[i:i + step] = d.topk(k + 1, dim=1, largest=False).values[:, k]  # index 0 is the point itself
    return out


def _ball_counts(points: torch.Tensor, centres: torch.Tensor, radii_sq: torch.Tensor, slack: float):
    """For each point, how many balls (centre, radius) contain it."""
    c_sq = (centres * centres).sum(1)
    counts = torch.empty(len(points), dtype=torch.long)
    step = _rows_per_block(len(centres))
    for i in range(0, len(points), step):
        d = _sq_dists(points[i:i + step], centres, c_sq)
        counts[i:i + step] = (d <= radii_sq[None] + slack).sum(1)
    return counts


def _prepare(real, fake):
    real, fake = torch.as_tensor(real).float(), torch.as_tensor(fake).float()
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        raise GanforgeError(f"feature sets must be (N, D) with the same D, got {tuple(real.shape)} and {tuple(fake.shape)}.")
    slack = 1e-5 * float(torch.cat([real, fake]).square().sum(1).mean())
    return real, fake, slack


def precision_recall(real, fake, k: int = 3) -> dict[str, float]:
    real, fake, slack = _prepare(real, fake)
    precision = (_ball_counts(fake, real, knn_radii_sq(real, k), slack) > 0).float().mean()
    recall = (_ball_counts(real, fake, knn_radii_sq(fake, k), slack) > 0).float().mean()
    return {"precision": float(precision), "recall": float(recall)}


def density_coverage(real, fake, k: int = 3) -> dict[str, float]:
    real, fake, slack = _prepare(real, fake)
    radii = knn_radii_sq(real, k)
    density = _ball_counts(fake, real, radii, slack).sum() / (k * len(fake))
    # coverage: is the nearest fake sample of each real sample inside that real sample's ball?
    f_sq = (fake * fake).sum(1)
    nearest = torch.empty(len(real))
    step = _rows_per_block(len(fake))
    for i in range(0, len(real), step):
        nearest[i:i + step] = _sq_dists(real[i:i + step], fake, f_sq).min(1).values
    coverage = (nearest <= radii + slack).float().mean()
    return {"density": float(density), "coverage": float(coverage)}
