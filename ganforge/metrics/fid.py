"""Fréchet distance between Gaussians fitted to features (FID with the inception extractor).

d² = |mu1 - mu2|² + tr(S1) + tr(S2) - 2 tr((S1^½ S2 S1^½)^½), in float64. The trace term is the sum of
the square roots of the eigenvalues of a symmetric PSD matrix similar to S1 S2: M = Lᵀ S2 L with
S1 = L Lᵀ (Cholesky), or with the roles of S1 and S2 swapped when only S2 is positive definite, or
S1^½ S2 S1^½ with S1^½ from ``eigh`` when both are singular (fewer samples than dimensions).
No ``scipy.linalg.sqrtm`` (slow, and it returns complex noise for near-singular covariances).

Only the eigenvalues of M are needed: one ``eigvalsh`` (LAPACK ``syevd``; with MKL, PyTorch's CPU
LAPACK, it beat a hand-written two-stage band reduction + ``dsbevd``: 0.55 s vs 0.95 s of CPU time at
2048-d on one Sapphire Rapids core), and it reads only M's lower triangle. So M is formed block by block
(``_lower_congruence``), skipping the zero blocks of the triangular factor and M's upper blocks: 0.8 of
one dense product instead of two (0.28 s vs 0.58 s of CPU time at 2048-d). PyTorch has no ``trmm``,
and SciPy's would bring a second BLAS thread pool into the process. Negative round-off eigenvalues are
clipped to 0.
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


def _lower_congruence(chol: torch.Tensor, s: torch.Tensor, block: int = 256) -> torch.Tensor:
    """A matrix whose lower triangle (block-wise) is that of Lᵀ S L, for lower-triangular L.

    Column block j of S L needs only rows >= j of L; row block i of Lᵀ (S L) needs only rows >= i, and
    only its columns up to the diagonal are read by ``eigvalsh(UPLO="L")``. The rest is left unset."""
    n = len(chol)
    if n <= block:
        return chol.T @ s @ chol
    s_l = torch.empty_like(s)
    for j in range(0, n, block):
        s_l[:, j:j + block] = s[:, j:] @ chol[j:, j:j + block]
    out = torch.zeros_like(s)
    for i in range(0, n, block):
        out[i:i + block, :i + block] = chol[i:, i:i + block].T @ s_l[i:, :i + block]
    return out


def trace_sqrt_product(s1: torch.Tensor, s2: torch.Tensor) -> torch.Tensor:
    """tr (S1^½ S2 S1^½)^½ = Σ √λ(S1 S2) for symmetric PSD float64 S1, S2."""
    chol, info = torch.linalg.cholesky_ex(s1)
    if int(info) == 0:
        middle = _lower_congruence(chol, s2)
    else:
        chol, info = torch.linalg.cholesky_ex(s2)  # λ(S1 S2) = λ(S2 S1)
        if int(info) == 0:
            middle = _lower_congruence(chol, s1)
        else:
            root1 = _sqrt_psd(s1)
            middle = root1 @ s2 @ root1
    eig = torch.linalg.eigvalsh(middle, UPLO="L").clamp_min(0)
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
