"""Training-by-sampling conditions (CTGAN): log-frequency draws that match real rows, data-like generation."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ganforge.errors import GanforgeError
from ganforge.tabular import ConditionSampler


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 4000
    labels = (rng.random(n) < 0.1).astype(np.int64)                       # 90/10 imbalanced label
    col0 = np.where(labels == 1, rng.choice(3, n, p=[0.1, 0.1, 0.8]), rng.choice(3, n, p=[0.7, 0.29, 0.01]))
    col1 = rng.choice(2, n, p=[0.98, 0.02])                                # a rare category
    return np.stack([col0, col1], axis=1), labels


def test_training_conditions_match_their_real_rows(data):
    codes, labels = data
    sampler = ConditionSampler.from_data(codes, [3, 2], labels, num_classes=2)
    cond = sampler.sample_train(5000, np.random.default_rng(1))
    assert cond.cond.shape == (5000, sampler.cond_dim) == (5000, 2 + 3 + 2)
    assert np.array_equal(cond.labels, labels[cond.rows])                          # label = the row's label
    assert np.array_equal(cond.cond[:, :2].argmax(1), cond.labels)
    active = cond.column >= 0
    assert np.array_equal(codes[cond.rows[active], cond.column[active]], cond.category[active])
    assert np.all(cond.cond[:, 2:].sum(1) == active)                               # at most one active column
    expected_one_hot = 2 + np.array([0, 3])[cond.column[active]] + cond.category[active]
    assert np.array_equal(cond.cond[active, 2:].argmax(1) + 2, expected_one_hot)


def test_training_by_sampling_uses_log_frequencies(data):
    codes, labels = data
    sampler = ConditionSampler.from_data(codes, [3, 2], labels, num_classes=2)
    cond = sampler.sample_train(30000, np.random.default_rng(2))
    # conditioning column chosen uniformly among target + 2 features
    assert np.allclose(np.bincount(cond.column + 1, minlength=3) / 30000, 1 / 3, atol=0.02)
    rare = cond.category[cond.column == 1]
    counts = np.bincount(codes[:, 1], minlength=2)
    expected = np.log1p(counts[1]) / np.log1p(counts).sum()
    assert abs((rare == 1).mean() - expected) < 0.03
    assert (rare == 1).mean() > 5 * counts[1] / counts.sum()  # the rare category is seen far more often
    target_draws = cond.labels[cond.column == -1]
    label_counts = np.bincount(labels)
    assert abs(target_draws.mean() - np.log1p(label_counts[1]) / np.log1p(label_counts).sum()) < 0.03


def test_generation_conditions_follow_the_data_and_survive_json(data):
    codes, labels = data
    sampler = ConditionSampler.from_state(json.loads(json.dumps(
        ConditionSampler.from_data(codes, [3, 2], labels, 2).to_state())))
    cond = sampler.sample_original(40000, np.random.default_rng(3))
    assert abs(cond.labels.mean() - labels.mean()) < 0.01
    for label in (0, 1):
        drawn = cond.category[(cond.column == 0) & (cond.labels == label)]
        real = codes[labels == label, 0]
        assert np.allclose(np.bincount(drawn, minlength=3) / len(drawn),
                           np.bincount(real, minlength=3) / len(real), atol=0.03)
    fixed = sampler.sample_original(2000, np.random.default_rng(4), column=0, category=2)
    assert np.all(fixed.category == 2) and np.all(fixed.column == 0)
    real_p = labels[codes[:, 0] == 2].mean()
    assert abs(fixed.labels.mean() - real_p) < 0.05  # labels ~ p(label | category)
    with pytest.raises(GanforgeError, match="training-by-sampling needs the data"):
        sampler.sample_train(10, np.random.default_rng(0))


def test_without_target_or_categories():
    sampler = ConditionSampler.from_data(np.zeros((50, 0), np.int64), [], None, num_classes=0)
    cond = sampler.sample_train(20, np.random.default_rng(0))
    assert cond.cond.shape == (20, 0) and cond.rows.min() >= 0 and cond.rows.max() < 50
    assert sampler.sample_original(7, np.random.default_rng(0)).cond.shape == (7, 0)
    only_features = ConditionSampler.from_data(np.array([[0], [1], [1]]), [2], None, num_classes=0)
    cond = only_features.sample_train(10, np.random.default_rng(0))
    assert cond.cond.shape == (10, 2) and np.all(cond.cond.sum(1) == 1)
