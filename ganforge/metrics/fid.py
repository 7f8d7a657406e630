"""Fréchet distance between Gaussians fitted to features (FID with the inception extractor).

d² = |mu1 - mu2|² + tr(S1) + tr(S2) - 2 tr((S1^½ S2 S1^½)^½), in float64. The trace term is the sum of
the square roots of the eigenvalues of a symmetric PSD matrix similar to S1 S2: M = Lᵀ S2 L with
S1 = L Lᵀ (Cholesky), or with the roles of S1 and S2 swapped when only S2 is positive definite, or
S1^½ S2 S1^½ with S1^½ from ``eigh`` when both are singular (fewer samples than dimensions).
No ``scipy.linalg.sqrtm`` (slow, and it returns complex noise for near-singular covariances).

Only the eigenvalues of M are needed: one ``eigvalsh`` (LAPACK ``syevd``; with MKL, PyTorch's CPU
LAPACK, it beat a hand-written two-stage band reduction + ``dsbevd``: 0.55 s vs 0.95 s of CPU time at
2048-d on one Sapphire Rapids core). Negative round-off eigenvalues are clipped to 0.
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


def trace_sqrt_product(s1: torch.Tensor, s2: torch.Tensor) -> torch.Tensor:
    """tr (S1^½ S2 S1^½)^½ = Σ √λ(S1 S2) for symmetric PSD float64 S1, S2."""
    chol, info = torch.linalg.cholesky_ex(s1)
    if int(info) == 0:
        middle = chol.T @ s2 @ chol
    else:
        chol, info = torch.linalg.cholesky_ex(s2)  # λ(S1 S2) = λ(S2 S1)
        if int(info) == 0:
            middle = chol.T @ s1 @ chol
        else:
            root1 = _sqrt_psd(s1)
            middle = root1 @ s2 @ root1
    eig = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp_min(0)
    return eig.sqrt().sum()


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    mu1, mu2 = torch.as_tensor(np.asarray(mu1)).double(), torch.as_tensor(np.asarray(mu2)).double()
    s1, s2 = torch.as_tensor(np.asarray(sigma1)).double(), torch.as_tensor(np.asarray(sigma2)).double()
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (len(mu1), len(mu1)):
        raise GanforgeError(f"feature statistics do not match: {tuple(mu1.shape)}/{tuple(s1.shape)} vs "
                            f"{tuple(mu2.shape)}/{tuple(s2.shape)} (different extractors?).")
    s1 = (s1 + s1.T) / 2
    value = (mu1 - mu2).square().sum() + s1.trace() + s2.trace() - 2 * trace_sqrt_product(s1, s2)
    return float(value.clamp_min(0))  # rounding may leave -1e-12 for identical inputs
