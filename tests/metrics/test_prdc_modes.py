"""Precision/recall, density/coverage and the mode metrics on cases computable by hand."""
from __future__ import annotations

import math

import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.metrics import prdc
from ganforge.metrics.modes import stacked_mnist_modes, toy_mode_metrics
from ganforge.metrics.prdc import density_coverage, precision_recall


def test_identical_sets_score_one_and_disjoint_clusters_zero():
    x = torch.randn(300, 8, generator=torch.Generator().manual_seed(0))
    assert precision_recall(x, x) == {"precision": 1.0, "recall": 1.0}
    dc = density_coverage(x, x)
    # each real ball holds its centre and its k neighbours: density = (k + 1) / k on identical sets
    assert dc["coverage"] == 1.0 and dc["density"] == pytest.approx(4 / 3)
    fresh = torch.randn(3000, 8, generator=torch.Generator().manual_seed(5))
    assert density_coverage(fresh[:1500], fresh[1500:])["density"] == pytest.approx(1.0, abs=0.15)  # same law
    far = x + 100.0
    assert precision_recall(x, far) == {"precision": 0.0, "recall": 0.0}
    assert density_coverage(x, far) == {"density": 0.0, "coverage": 0.0}


def test_half_the_modes_gives_full_precision_half_recall():
    g = torch.Generator().manual_seed(1)
    centres = torch.tensor([[0.0, 0.0], [50.0, 0.0]])
    real = torch.cat([centres[0] + torch.randn(400, 2, generator=g), centres[1] + torch.randn(400, 2, generator=g)])
    fake = centres[0] + torch.randn(400, 2, generator=g)
    pr = precision_recall(real, fake)
    assert pr["precision"] > 0.95 and 0.45 < pr["recall"] < 0.55
    assert 0.45 < density_coverage(real, fake)["coverage"] < 0.55


def test_blocked_computation_equals_unblocked(monkeypatch):
    g = torch.Generator().manual_seed(2)
    real, fake = torch.randn(200, 5, generator=g), torch.randn(150, 5, generator=g) + 0.3
    whole = {**precision_recall(real, fake), **density_coverage(real, fake)}
    monkeypatch.setattr(prdc, "BLOCK_ELEMENTS", 1000)  # 5 rows per block
    assert {**precision_recall(real, fake), **density_coverage(real, fake)} == whole


def test_toy_mode_metrics_hand_computed():
    centres = [[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]]
    std = 0.01
    samples = torch.tensor([[1.0, 0.0], [1.02, 0.0], [0.0, 1.029], [0.5, 0.5]], dtype=torch.float64)
    # 3 high-quality samples (the 4th is 0.71 from every mode): 2 on mode 0, 1 on mode 1. PacGAN's
    # reverse KL is over the high-quality samples' histogram: p = (2/3, 1/3, 0, 0) against 1/4 each.
    result = toy_mode_metrics(samples, centres, std)
    assert result["modes"] == 2 and result["high_quality"] == 0.75
    expected_kl = 2 / 3 * math.log(2 / 3 * 4) + 1 / 3 * math.log(1 / 3 * 4)
    assert result["reverse_kl"] == pytest.approx(expected_kl)
    uniform = torch.tensor(centres).repeat(5, 1)
    assert toy_mode_metrics(uniform, centres, std) == {"modes": 4.0, "high_quality": 1.0, "reverse_kl": 0.0}


def test_toy_mode_metrics_follow_pacgan_exactly():
    """The published rule (PacGAN's MetricLogger): strictly within 3 std; modes need >= 1 such sample;
    reverse KL of the high-quality histogram; no high-quality sample at all -> log K."""
    centres = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=torch.float64)
    on_boundary = torch.tensor([[1.75, 0.0], [-1.0, 0.0]], dtype=torch.float64)  # 3 std exactly: not high quality
    result = toy_mode_metrics(on_boundary, centres, 0.25)
    assert result == {"modes": 1.0, "high_quality": 0.5, "reverse_kl": pytest.approx(math.log(2))}
    # Far-away samples count against quality, not against the evenness of the histogram.
    spread = torch.cat([centres.repeat(50, 1), torch.full((100, 2), 5.0, dtype=torch.float64)])
    assert toy_mode_metrics(spread, centres, 0.01) == {"modes": 2.0, "high_quality": 0.5, "reverse_kl": 0.0}
    nothing = torch.zeros(10, 2, dtype=torch.float64)
    assert toy_mode_metrics(nothing, centres, 0.01) == {"modes": 0.0, "high_quality": 0.0,
                                                       "reverse_kl": pytest.approx(math.log(2))}
    # 25-mode grid: 3 of 25 modes hit, 80/10/10 split.
    axis = torch.arange(-4.0, 5.0, 2.0, dtype=torch.float64)
    grid = torch.cartesian_prod(axis, axis)
    x = torch.cat([grid[0].repeat(80, 1), grid[7].repeat(10, 1), grid[24].repeat(10, 1) + 0.1])
    result = toy_mode_metrics(x, grid, 0.05)
    p = torch.tensor([0.8, 0.1, 0.1], dtype=torch.float64)
    assert result["modes"] == 3 and result["high_quality"] == 1.0
    assert result["reverse_kl"] == pytest.approx(float((p * (p * 25).log()).sum()))
    with pytest.raises(GanforgeError, match="samples"):
        toy_mode_metrics(torch.zeros(4, 3), grid, 0.05)


def test_stacked_mnist_counts_digit_triples():
    class FakeDigitClassifier(torch.nn.Module):  # reads the digit off the mean pixel value
        def forward(self, x):
            digit = ((x.mean((1, 2, 3)) + 1) * 4.5).round().long().clamp(0, 9)
            return torch.nn.functional.one_hot(digit, 10).float()

    digits = torch.tensor([[1, 2, 3], [1, 2, 3], [9, 0, 0]])
    images = (digits.float() / 4.5 - 1)[:, :, None, None].expand(-1, -1, 4, 4)
    result = stacked_mnist_modes(images, FakeDigitClassifier())
    assert result["modes"] == 2
    p = torch.tensor([2 / 3, 1 / 3])
    assert result["reverse_kl"] == pytest.approx(float((p * (p * 1000).log()).sum()))
