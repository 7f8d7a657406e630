"""The Fréchet distance equals the scipy.linalg.sqrtm reference (1e-6 relative) and the previous
implementation, including singular covariances (fewer samples than dimensions)."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from ganforge.metrics.fid import feature_stats, frechet_distance


def _reference(mu1, s1, mu2, s2):
    """The classic pytorch-fid formula: scipy.linalg.sqrtm of the product (float64, real part)."""
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def _one_stage(mu1, s1, mu2, s2):
    """The previous implementation: Cholesky, products, one-stage eigvalsh."""
    s1, s2 = torch.from_numpy(s1), torch.from_numpy(s2)
    chol = torch.linalg.cholesky(s1)
    middle = chol.T @ s2 @ chol
    eig = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp_min(0)
    return float(((torch.from_numpy(mu1) - torch.from_numpy(mu2)) ** 2).sum() + s1.trace() + s2.trace()
                 - 2 * eig.sqrt().sum())


def _features_stats(rng, n, d, scale=1.0, shift=0.0):
    # correlated, anisotropic features like a network's (a random mixing of decaying scales)
    mix = rng.standard_normal((d, d)) * np.geomspace(1, 0.01, d)
    x = rng.standard_normal((n, d)) @ mix.T * scale + shift
    mu, sigma = feature_stats(torch.from_numpy(x))
    return mu.numpy(), sigma.numpy()


@pytest.mark.parametrize("d", [8, 64, 300, 700])
def test_matches_the_sqrtm_reference_on_full_rank_covariances(d):
    rng = np.random.default_rng(d)
    mu1, s1 = _features_stats(rng, 3 * d, d)
    mu2, s2 = _features_stats(rng, 3 * d, d, scale=1.1, shift=0.05)
    got = frechet_distance(mu1, s1, mu2, s2)
    assert got == pytest.approx(_reference(mu1, s1, mu2, s2), rel=1e-6)
    assert got == pytest.approx(_one_stage(mu1, s1, mu2, s2), rel=1e-9)


def test_singular_covariances_fewer_samples_than_dimensions():
    rng = np.random.default_rng(1)
    d = 400
    mu1, s1 = _features_stats(rng, 150, d)  # rank 149: Cholesky fails
    mu2, s2 = _features_stats(rng, 3 * d, d, scale=1.2)  # full rank: its Cholesky is used instead
    expected = _reference(mu1, s1, mu2, s2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(mu2, s2, mu1, s1) == pytest.approx(expected, rel=1e-6)  # symmetric
    mu3, s3 = _features_stats(rng, 120, d, shift=0.1)  # both singular: the eigh square-root path
    got = frechet_distance(mu1, s1, mu3, s3)
    w, v = np.linalg.eigh(s1)
    root = (v * np.sqrt(w.clip(0))) @ v.T
    eig = np.linalg.eigvalsh(root @ s3 @ root).clip(0)
    previous = ((mu1 - mu3) ** 2).sum() + np.trace(s1) + np.trace(s3) - 2 * np.sqrt(eig).sum()
    assert got == pytest.approx(previous, rel=1e-6)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0, abs=1e-6 * np.trace(s1))


@pytest.mark.parametrize("n", [200, 256, 300, 777])
def test_blocked_congruence_has_the_lower_triangle_of_the_dense_product(n):
    """The trace term reads only M's lower triangle; the blocked product must get every entry of it."""
    from ganforge.metrics.fid import _lower_congruence
    g = torch.Generator().manual_seed(n)
    chol = torch.randn(n, n, generator=g, dtype=torch.float64).tril()
    x = torch.randn(n, n, generator=g, dtype=torch.float64)
    s = x @ x.T
    dense = chol.T @ s @ chol
    assert torch.allclose(_lower_congruence(chol, s).tril(), dense.tril(), rtol=1e-12, atol=1e-9)
