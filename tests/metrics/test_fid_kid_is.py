"""Closed-form checks of FID, KID and IS."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from ganforge.errors import GanforgeError
from ganforge.metrics.fid import feature_stats, frechet_distance
from ganforge.metrics.inception_score import inception_score, inception_score_from_probs
from ganforge.metrics.kid import kernel_inception_distance


def _random_cov(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def test_fid_equals_closed_form_for_gaussians():
    rng = np.random.default_rng(0)
    d = 16
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    s1, s2 = _random_cov(rng, d), _random_cov(rng, d)  # non-commuting: the trace term is not trivial
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)
    # diagonal covariances: |mu1 - mu2|^2 + sum (sqrt(a) - sqrt(b))^2
    a, b = rng.uniform(0.5, 2, d), rng.uniform(0.5, 2, d)
    diag = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(diag, rel=1e-10)


def test_fid_of_a_set_with_itself_is_zero_and_stats_are_unbiased():
    x = torch.randn(500, 64)
    mu, sigma = feature_stats(x)
    assert torch.allclose(sigma, torch.from_numpy(np.cov(x.double().numpy(), rowvar=False)))
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0, abs=1e-8)
    mu2, sigma2 = feature_stats(x + 1.0)  # a shift by 1 in 64 dims: FID = 64
    assert frechet_distance(mu, sigma, mu2, sigma2) == pytest.approx(64, rel=1e-6)


def test_fid_with_singular_covariances_fewer_samples_than_dimensions():
    x = torch.randn(10, 32, generator=torch.Generator().manual_seed(3))
    mu, sigma = feature_stats(x)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0, abs=1e-8)
    mu2, sigma2 = feature_stats(x + 0.5)  # same covariance: FID = |shift|^2 = 32 * 0.25
    assert frechet_distance(mu, sigma, mu2, sigma2) == pytest.approx(8.0, rel=1e-6)


def test_fid_rejects_mismatched_statistics():
    with pytest.raises(GanforgeError, match="do not match"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


def test_kid_is_unbiased_for_the_same_distribution_and_positive_otherwise():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(2000, 32, generator=g), torch.randn(2000, 32, generator=g)
    mean, std = kernel_inception_distance(real, fake, num_subsets=200, subset_size=100)
    assert abs(mean) < 3 * std / np.sqrt(200)  # zero within the Monte-Carlo error
    shifted_mean, _ = kernel_inception_distance(real, fake + 0.5, num_subsets=50, subset_size=100)
    assert shifted_mean > 20 * std / np.sqrt(200)


def test_kid_of_sets_no_larger_than_a_subset_is_their_whole_set_mmd_with_std_0():
    g = torch.Generator().manual_seed(1)
    real, fake = torch.randn(50, 8, generator=g), torch.randn(50, 8, generator=g) + 0.3
    mean, std = kernel_inception_distance(real, fake, num_subsets=20, subset_size=1000)
    permuted, _ = kernel_inception_distance(real.flip(0), fake.roll(7, 0), num_subsets=20, subset_size=1000)
    assert std == 0.0 and mean == pytest.approx(permuted, rel=1e-12) and mean > 0
    # one sample more than the subset size: subsets differ again, so the std reports their spread
    assert kernel_inception_distance(real, fake, num_subsets=20, subset_size=49)[1] > 0


def test_inception_score_of_one_hot_uniform_predictions_is_the_number_of_classes():
    probs = torch.eye(10).repeat(100, 1)  # 1000 confident predictions, classes evenly used
    mean, std = inception_score_from_probs(probs)
    assert mean == pytest.approx(10, rel=1e-9) and std == pytest.approx(0, abs=1e-9)
    assert inception_score(torch.eye(10).repeat(100, 1) * 50)[0] == pytest.approx(10, rel=1e-6)
    assert inception_score_from_probs(torch.full((1000, 10), 0.1))[0] == pytest.approx(1.0)  # no confidence
    assert inception_score_from_probs(torch.eye(10)[[3] * 1000])[0] == pytest.approx(1.0)  # one class only
    with pytest.raises(GanforgeError, match="at least 10"):
        inception_score_from_probs(torch.eye(10)[:5])
