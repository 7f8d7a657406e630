"""Model compatibility (TSTR vs TRTR): a generator that reproduces the real data scores ~1, a generator
with the wrong labels scores near chance, CAS on images, clear errors, cached TRTR."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ganforge.config import Config
from ganforge.data import load_dataset
from ganforge.errors import GanforgeError
from ganforge.metrics import compatibility
from ganforge.metrics.compatibility import evaluate_compatibility, synthetic_labels
from ganforge.utils.hardware import torch_threads


@pytest.fixture(autouse=True)
def _one_thread():
    """Small models: intra-op threads only add overhead (15x on a busy shared 2-core machine)."""
    with torch_threads(1):  # the previous count is given back afterwards
        yield


class PoolGenerator:
    """A stand-in conditional generator: returns real samples of the requested class from a pool
    (optionally with the class mapping shifted by ``label_shift``: a generator with wrong labels)."""

    def __init__(self, pool, label_shift: int = 0):
        self.pool, self.num_classes, self.shift = pool, pool.num_classes, label_shift

    def sample_with_labels(self, n, seed=0, labels=None):
        g = torch.Generator().manual_seed(seed)
        x = torch.empty((n, *self.pool.x.shape[1:]), dtype=torch.float32)
        for c in range(self.num_classes):
            rows = torch.nonzero(labels == c).squeeze(1)
            source = torch.nonzero(self.pool.y == (c + self.shift) % self.num_classes).squeeze(1)
            x[rows] = self.pool.to_model(self.pool.x[source[torch.randint(len(source), (len(rows),), generator=g)]])
        return x, labels


@pytest.fixture(scope="module")
def gaussians():
    opts = {"n_samples": 800, "n_test_samples": 600}
    train = load_dataset(Config(data="overlapping-gaussians", options=opts), "train")
    test = load_dataset(Config(data="overlapping-gaussians", options=opts), "test")
    pool = load_dataset(Config(data="overlapping-gaussians", options={**opts, "data_seed": 7}), "train")
    return train, test, pool


def test_real_data_as_synthetic_is_fully_compatible(gaussians):
    train, test, pool = gaussians
    result = evaluate_compatibility(PoolGenerator(pool), train, test)
    assert result["families"] == ["logreg", "svm", "knn", "tree", "forest", "mlp"]
    assert result["n_synthetic"] == len(train.y)
    assert 0.75 < result["trtr"]["logreg"] < 0.9  # Bayes accuracy of the mixture is ~0.84
    assert 0.93 < result["compatibility"] < 1.07, result
    for family in result["families"]:
        assert 0.85 < result["ratio"][family] < 1.15, (family, result)
    assert result["tstr_mean"] == pytest.approx(np.mean(list(result["tstr"].values())))


def test_wrong_labels_are_incompatible(gaussians):
    train, test, pool = gaussians
    result = evaluate_compatibility(PoolGenerator(pool, label_shift=1), train, test, families=["logreg", "knn"])
    assert result["tstr_mean"] < 0.2  # every class is learned as its neighbour: below chance (1/3)
    assert result["compatibility"] < 0.3


def test_trtr_is_cached(gaussians, monkeypatch):
    train, test, pool = gaussians
    first = evaluate_compatibility(PoolGenerator(pool), train, test, families=["tree"], seed=3)
    calls = []
    original = compatibility.classifier_scores
    monkeypatch.setattr(compatibility, "classifier_scores", lambda *a, **k: calls.append(1) or original(*a, **k))
    second = evaluate_compatibility(PoolGenerator(pool), train, test, families=["tree"], seed=3)
    assert len(calls) == 1  # TSTR only: TRTR came from the cache
    assert second["trtr"] == first["trtr"]


def test_label_modes():
    y = torch.tensor([0] * 6 + [1] * 3 + [2])
    real = synthetic_labels(y, 3, "real", seed=1)
    assert torch.bincount(real, minlength=3).tolist() == [6, 3, 1] and not torch.equal(real, y)
    assert torch.bincount(synthetic_labels(y, 3, "balanced"), minlength=3).tolist() == [4, 3, 3]
    with pytest.raises(GanforgeError):
        synthetic_labels(y, 3, "uniform")


def test_errors_are_clear(gaussians):
    train, test, pool = gaussians
    unconditional = PoolGenerator(pool)
    unconditional.num_classes = 0
    with pytest.raises(GanforgeError, match="class-conditional generator"):
        evaluate_compatibility(unconditional, train, test)
    with pytest.raises(GanforgeError, match="image data"):
        evaluate_compatibility(PoolGenerator(pool), train, test, families=["cnn"])
    with pytest.raises(GanforgeError, match="unknown classifier family"):
        evaluate_compatibility(PoolGenerator(pool), train, test, families=["xgboost"])


def test_images_get_cnn_and_cas():
    train, test = load_dataset(Config(data="digits"), "train"), load_dataset(Config(data="digits"), "test")
    result = evaluate_compatibility(PoolGenerator(train), train, test, families=["logreg", "cnn"], cnn_steps=200)
    assert result["trtr"]["cnn"] > 0.85
    assert abs(result["cas"] - result["trtr"]["cnn"]) < 0.05
    assert len(result["cas_per_class"]) == 10 and min(result["cas_per_class"]) > 0.5
    wrong = evaluate_compatibility(PoolGenerator(train, label_shift=3), train, test, families=["cnn"],
                                   cnn_steps=200)
    assert wrong["cas"] < 0.1 and max(wrong["cas_per_class"]) < 0.2


def test_registered_metric_through_evaluate(gaussians):
    from ganforge.metrics import evaluate

    train, test, pool = gaussians
    gen = PoolGenerator(pool)
    scores = evaluate(pool.x[:50], test, ["compatibility"], generator=gen, train_dataset=train,
                      compat_families="logreg,tree")
    direct = evaluate_compatibility(gen, train, test, families=["logreg", "tree"])
    assert scores["compatibility"] == pytest.approx(direct["compatibility"])
    assert scores["tstr_logreg"] == pytest.approx(direct["tstr"]["logreg"])
    assert set(scores) >= {"tstr_mean", "trtr_mean", "trtr_tree", "tstr_f1_tree"}
    with pytest.raises(GanforgeError, match="held-out"):
        evaluate(pool.x[:50], train, ["compatibility"], generator=gen, train_dataset=train)
    with pytest.raises(GanforgeError, match="generator"):
        evaluate(pool.x[:50], test, ["compatibility"], train_dataset=train)


def test_cli_eval_of_a_bc_run(tmp_path, capsys):
    """`ganforge eval RUN --metrics compatibility` on a conditional run trained with the BC-loss;
    an unconditional run is refused with exit code 2 and one clear message."""
    import json

    import ganforge
    from ganforge.cli import main

    common = {"architecture": "mlp", "data": "overlapping-gaussians", "steps": 30, "batch_size": 32, "g_width": 32,
              "d_width": 32, "z_dim": 4, "sample_every": 0, "checkpoint_every": 0, "ema_decay": 0.0,
              "channels_last": False, "options": {"n_samples": 600, "n_test_samples": 300}}
    run = ganforge.train({**common, "recipe": "cgan", "bc_weight": 1.0, "bc_classifiers": "logreg",
                          "out": str(tmp_path / "cgan")})
    capsys.readouterr()
    assert main(["eval", str(run), "--metrics", "compatibility", "--samples", "50", "--json"]) == 0
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0 < scores["compatibility"] < 1.5 and 0.6 < scores["trtr_mean"] < 0.95
    assert {f"tstr_{f}" for f in ("logreg", "svm", "knn", "tree", "forest", "mlp")} <= set(scores)
    plain = ganforge.train({**common, "recipe": "vanilla", "out": str(tmp_path / "vanilla")})
    capsys.readouterr()
    assert main(["eval", str(plain), "--metrics", "compatibility", "--samples", "50"]) == 2
    assert "class-conditional generator" in capsys.readouterr().err
