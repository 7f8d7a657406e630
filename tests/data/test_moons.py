"""The 2-D boundary datasets: shapes, labels, determinism, independent splits, real boundary mass."""
from __future__ import annotations

import pytest
import torch

from ganforge.config import Config
from ganforge.data import load_dataset
from ganforge.data.moons import gaussian_centres
from ganforge.errors import GanforgeError


@pytest.mark.parametrize("name,classes", [("moons", 2), ("overlapping-gaussians", 3)])
def test_shapes_labels_and_determinism(name, classes):
    cfg = Config(data=name, options={"n_samples": 500, "n_test_samples": 300})
    train, again, test = load_dataset(cfg, "train"), load_dataset(cfg, "train"), load_dataset(cfg, "test")
    assert train.kind == "vector" and train.shape == (2,) and train.x.dtype == torch.float32
    assert len(train) == 500 and len(test) == 300 and train.num_classes == classes
    assert sorted(train.y.unique().tolist()) == list(range(classes))
    assert torch.equal(train.x, again.x) and torch.equal(train.y, again.y)  # fixed data seed
    assert not torch.equal(train.x[:300], test.x)                          # independent draws
    other = load_dataset(cfg.replace(seed=5), "train")                      # training seed: same data
    assert torch.equal(train.x, other.x)


def test_overlap_is_real():
    """The nearest-centre (Bayes) rule misclassifies a sizeable share: mass near the boundary."""
    data = load_dataset(Config(data="overlapping-gaussians"), "test")
    centres = gaussian_centres(3, 1.5)
    pred = ((data.x.numpy()[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
    assert 0.78 < (pred == data.y.numpy()).mean() < 0.9


def test_bad_option():
    with pytest.raises(GanforgeError, match="noise"):
        load_dataset(Config(data="moons", options={"noise": -1}), "train")
    with pytest.raises(GanforgeError, match="n_classes"):
        load_dataset(Config(data="overlapping-gaussians", options={"n_classes": 1}), "train")
    assert torch.isfinite(load_dataset(Config(data="moons", options={"noise": 0.0, "n_samples": 10}), "train").x).all()
