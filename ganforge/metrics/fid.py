"""Fréchet distance between Gaussians fitted to features (FID with the inception extractor).

d² = |mu1 - mu2|² + tr(S1) + tr(S2) - 2 tr((S1^½ S2 S1^½)^½), in float64. The trace term is the sum of
the square roots of the eigenvalues of a symmetric PSD matrix similar to S1 S2: M = Lᵀ S2 L with
S1 = L Lᵀ (Cholesky), or with the roles of S1 and S2 swapped when only S2 is positive definite, or
S1^½ S2 S1^½ with S1^½ from ``eigh`` when both are singular (fewer samples than dimensions).
No ``scipy.linalg.sqrtm`` (slow, and it returns complex noise for near-singular covariances).

Only the eigenvalues of M are needed. For large M (the 2048-d Inception features) they are computed
in two stages, as LAPACK's ``*syevd_2stage`` does: an orthogonal reduction of M to a band matrix
(blocked Householder, matrix-matrix products only) and then the eigenvalues of the band matrix
(LAPACK ``dsbevd``). Orthogonal similarity transformations are backward stable, so the eigenvalues
agree with a one-stage ``eigvalsh`` to ~1e-14 relative; the one-stage reduction spends most of its time
in memory-bound matrix-vector products and is ~3x slower on CPUs. Negative round-off eigenvalues are
clipped to 0.
"""
from __future__ import annotations

import numpy as np
import torch

from ganforge.errors import GanforgeError

BAND = 32  # bandwidth of the intermediate band matrix (stage 1 is faster wider, stage 2 narrower)
TWO_STAGE_MIN = 384  # below this size a plain eigvalsh is as fast


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


def _householder_t(v: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """Upper-triangular T with H_1 ... H_k = I - V T Vᵀ (LAPACK ``larft``: forward, column-wise)."""
    k = tau.numel()
    vtv = v.T @ v
    t = torch.zeros(k, k, dtype=v.dtype)
    for i in range(k):
        t[i, i] = tau[i]
        if i:
            t[:i, i] = -tau[i] * (t[:i, :i] @ vtv[:i, i])
    return t


def band_reduce(a: torch.Tensor, band: int = BAND) -> np.ndarray:
    """Lower band storage ``(band + 1, n)`` of Qᵀ a Q, a band matrix orthogonally similar to symmetric ``a``.

    Panel by panel (``band`` columns), a QR factorisation zeroes the panel below its band and the
    trailing matrix gets the two-sided update Qᵀ A Q = A - V Wᵀ - W Vᵀ (Q = I - V T Vᵀ,
    W = A V T - ½ V Tᵀ Vᵀ A V T): two matrix products per panel, no matrix-vector products.
    """
    a = a.clone()
    n = a.shape[0]
    k = 0
    while n - k - band > 1:
        qr, tau = torch.geqrf(a[k + band:, k:k + band])
        kk = tau.numel()
        v = qr[:, :kk].tril(-1)
        v.diagonal().fill_(1)
        a[k + band:, k:k + band] = 0
        a[k + band:k + band + kk, k:k + band] = qr[:kk].triu()
        t = _householder_t(v, tau)
        trailing = a[k + band:, k + band:]
        x = trailing @ (v @ t)
        w = x - 0.5 * (v @ (t.T @ (v.T @ x)))
        trailing.addmm_(torch.cat([v, w], 1), torch.cat([w, v], 1).T, alpha=-1)
        k += band
    out = np.zeros((band + 1, n))
    dense = a.numpy()
    for d in range(band + 1):
        out[d, :n - d] = np.diagonal(dense, -d)
    return out


def symmetric_eigenvalues(m: torch.Tensor) -> torch.Tensor:
    """Eigenvalues of the symmetric float64 matrix ``m`` (ascending), two-stage for large ``m``."""
    if m.shape[0] < TWO_STAGE_MIN:
        return torch.linalg.eigvalsh(m)
    from scipy.linalg.lapack import dsbevd

    w, _, info = dsbevd(band_reduce(m), compute_v=0, lower=1, overwrite_ab=1)
    if info != 0:  # pragma: no cover - LAPACK did not converge: use the one-stage routine
        return torch.linalg.eigvalsh(m)
    return torch.from_numpy(np.sort(w))


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
    eig = symmetric_eigenvalues((middle + middle.T) / 2).clamp_min(0)
    return eig.sqrt().sum()


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    mu1, mu2 = torch.as_tensor(np.asarray(mu1)).double(), torch.as_tensor(np.asarray(mu2)).double()
    s1, s2 = torch.as_tensor(np.asarray(sigma1)).double(), torch.as_tensor(np.asarray(sigma2)).double()
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (len(mu1), len(mu1)):
        raise GanforgeError(f"feature statistics do not match: {tuple(mu1.shape)}/{tuple(s1.shape)} vs "
                            f"{tuple(mu2.shape)}/{tuple(s2.shape)} (different extractors?).")
    s1, s2 = (s1 + s1.T) / 2, (s2 + s2.T) / 2
    value = (mu1 - mu2).square().sum() + s1.trace() + s2.trace() - 2 * trace_sqrt_product(s1, s2)
    return float(value.clamp_min(0))  # rounding may leave -1e-12 for identical inputs
