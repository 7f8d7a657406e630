"""Fréchet distance between Gaussians fitted to features (FID with the inception extractor).

d² = |mu1 - mu2|² + tr(S1) + tr(S2) - 2 tr((S1^½ S2 S1^½)^½), in float64. The trace term is the sum of
the square roots of the eigenvalues of a symmetric PSD matrix similar to S1 S2: Lᵀ S2 L with S1 = L Lᵀ
(Cholesky; the fast path, ~4x cheaper than an eigendecomposition) or S1^½ S2 S1^½ with S1^½ from
``eigh`` when S1 is singular (fewer samples than dimensions). Then one eigenvalue-only call. No
``scipy.linalg.sqrtm`` (slow, and it returns complex noise for near-singular covariances).
"""
from __future__ import annotations

import numpy as np
import torch

from ganforge.errors import GanforgeError


def feature_stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and (unbiased, n-1) covariance in float64."""
    f = torch.as_tensor(features).double()
    if f.dim() != 2 or len(f) < 2:
        raise GanforgeError(f"statistics need at least 2 feature vectors, got shape {tuple(f.shape)}.")
    mu = f.mean(0)
    centred = f - mu
    return mu, centred.T @ centred / (len(f) - 1)


def _sqrt_psd(s: torch.Tensor) -> torch.Tensor:
    w, v = torch.linalg.eigh(s)
    return (v * w.clamp_min(0).sqrt()) @ v.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    mu1, mu2 = torch.as_tensor(np.asarray(mu1)).double(), torch.as_tensor(np.asarray(mu2)).double()
    s1, s2 = torch.as_tensor(np.asarray(sigma1)).double(), torch.as_tensor(np.asarray(sigma2)).double()
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (len(mu1), len(mu1)):
        raise GanforgeError(f"feature statistics do not match: {tuple(mu1.shape)}/{tuple(s1.shape)} vs "
                            f"{tuple(mu2.shape)}/{tuple(s2.shape)} (different extractors?).")
    s1 = (s1 + s1.T) / 2
    chol, info = torch.linalg.cholesky_ex(s1)
    if int(info) == 0:
        middle = chol.T @ s2 @ chol
    else:
        root1 = _sqrt_psd(s1)
        middle = root1 @ s2 @ root1
    eig = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp_min(0)
    value = (mu1 - mu2).square().sum() + s1.trace() + s2.trace() - 2 * eig.sqrt().sum()
    return float(value.clamp_min(0))  # rounding may leave -1e-12 for identical inputs
