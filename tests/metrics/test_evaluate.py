"""evaluate(): classifier features on real data, cached reference statistics, modes, clear errors."""
from __future__ import annotations

import pytest
import torch

from ganforge.config import Config
from ganforge.data import load_dataset
from ganforge.errors import GanforgeError
from ganforge.metrics import evaluate
from ganforge.metrics.extractors.classifier import ClassifierExtractor


@pytest.fixture(scope="module")
def digits():
    return load_dataset(Config(data="digits"), "train"), load_dataset(Config(data="digits"), "test")


def test_real_test_split_scores_far_better_than_noise(digits):
    train, test = digits
    real_like = test.to_model(test.x)
    noise = torch.rand(len(test.x), 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    good = evaluate(real_like, train, "fid,kid,pr,dc,is", train_dataset=train, real_samples=1000)
    bad = evaluate(noise, train, "fid,kid,pr,dc,is", train_dataset=train, real_samples=1000)
    assert good["fid"] < bad["fid"] / 10 and good["kid"] < bad["kid"] / 10
    assert good["precision"] > 0.7 and good["recall"] > 0.7 and bad["precision"] < 0.2
    assert good["is"] > 7 and bad["is"] < good["is"]  # a 10-class classifier: IS <= 10


def test_reference_features_are_cached(digits, monkeypatch):
    train, test = digits
    fake = test.to_model(test.x[:200])
    first = evaluate(fake, test, ["fid"], train_dataset=train)
    calls = []
    original = ClassifierExtractor.extract
    monkeypatch.setattr(ClassifierExtractor, "extract", lambda self, x, logits=True: calls.append(len(x))
                        or original(self, x, logits))
    second = evaluate(fake, test, ["fid"], train_dataset=train)
    assert calls == [200]  # only the fake samples; the 200 real ones came from the cache
    assert second == first


def test_modes_metric_on_toy_data():
    cfg = Config(data="toy-ring", options={"n_test_samples": 2500})
    real = load_dataset(cfg, "test")
    result = evaluate(real.x, real, "modes")
    assert result["modes"] == 8 and result["high_quality"] > 0.98 and result["reverse_kl"] < 0.01
    collapsed = torch.tensor([[1.0, 0.0]]).repeat(2500, 1)
    result = evaluate(collapsed, real, "modes")
    assert result["modes"] == 1 and result["reverse_kl"] == pytest.approx(torch.log(torch.tensor(8.0)).item())


def test_errors_are_clear(digits):
    train, test = digits
    fake = test.to_model(test.x[:50])
    with pytest.raises(GanforgeError, match="Did you mean 'fid'"):
        evaluate(fake, test, "fdi")
    with pytest.raises(GanforgeError, match="same kind"):
        evaluate(torch.zeros(50, 64), test, "fid")
    with pytest.raises(GanforgeError, match="labelled training data"):
        evaluate(fake, fake, "fid")  # tensors only: nothing to train the classifier on
    with pytest.raises(GanforgeError, match="toy dataset"):
        evaluate(fake, test, "modes")
