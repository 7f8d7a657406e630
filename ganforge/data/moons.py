"""Labelled 2-D datasets with real mass near the class boundary (the BCGAN showcase).

- ``moons``: scikit-learn's two interleaving half-circles, label = which moon, Gaussian noise of
  std ``noise`` (default 0.2: the moons touch, about 3% of the points lie across the Bayes boundary);
- ``overlapping-gaussians``: ``n_classes`` (default 3) isotropic unit-variance Gaussians whose
  centres lie on a circle of radius ``radius`` (default 1.5), so neighbouring classes overlap
  strongly (Bayes accuracy about 84% with the defaults).

A generator that only produces the "easy" cores of these classes looks fine to the eye but trains
classifiers with the wrong boundary; the BC-loss is meant to fix exactly that.

Like the toy mixtures, the points come from a fixed *data seed* (``options: {data_seed: N}``), not
``cfg.seed``; train and test are independent draws. Options: ``n_samples`` (train, default 10,000),
``n_test_samples`` (default 5,000), ``noise`` (moons), ``n_classes`` / ``radius`` (gaussians).
"""
from __future__ import annotations

import numpy as np
import torch

from ganforge.data.base import Dataset
from ganforge.data.toy import MAX_SAMPLES, SPLIT_SEED_OFFSET, _number

DEFAULT_TRAIN_SAMPLES = 10_000
DEFAULT_TEST_SAMPLES = 5_000


def sample_moons(n: int, seed: int, noise: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=n, noise=noise, random_state=seed)
    return x.astype(np.float32), y.astype(np.int64)


def gaussian_centres(n_classes: int, radius: float) -> np.ndarray:
    angles = 2 * np.pi * np.arange(n_classes) / n_classes + np.pi / 2
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def sample_overlapping_gaussians(n: int, seed: int, n_classes: int = 3, radius: float = 1.5):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, size=n)
    x = gaussian_centres(n_classes, radius)[y] + rng.standard_normal((n, 2))
    return x.astype(np.float32), y.astype(np.int64)


def _load(cfg, split: str, name: str) -> Dataset:
    options = dict(cfg.options or {})
    if split == "train":
        key, default = "n_samples", DEFAULT_TRAIN_SAMPLES
    else:
        key, default = "n_test_samples", DEFAULT_TEST_SAMPLES
    n = _number(options, key, default, integer=True, low=2, high=MAX_SAMPLES, name=name)
    data_seed = _number(options, "data_seed", 0, integer=True, low=0, high=2**31, name=name)
    seed = data_seed * 10_007 + SPLIT_SEED_OFFSET[split]
    if name == "moons":
        noise = _number(options, "noise", 0.2, integer=False, low=0.0, high=10.0, name=name)
        x, y = sample_moons(n, seed, noise)
        meta, classes = {"noise": noise}, ["upper", "lower"]
    else:
        k = _number(options, "n_classes", 3, integer=True, low=2, high=100, name=name)
        radius = _number(options, "radius", 1.5, integer=False, low=0.0, high=1e6, name=name)
        x, y = sample_overlapping_gaussians(n, seed, k, radius)
        meta, classes = {"n_classes": k, "radius": radius}, [f"class{i}" for i in range(k)]
    return Dataset(name, torch.from_numpy(x), torch.from_numpy(y), len(classes), classes, meta, kind="vector")


def _register():
    from ganforge.data import DATASETS

    from ganforge.options import Option

    common = {"n_samples": Option(int, DEFAULT_TRAIN_SAMPLES, "training points"),
              "n_test_samples": Option(int, DEFAULT_TEST_SAMPLES, "test points"),
              "data_seed": Option(int, 0, "seed of the data draw")}
    extra = {"moons": {"noise": Option((int, float), 0.2, "noise std")},
             "overlapping-gaussians": {"n_classes": Option(int, 3, "classes"),
                                       "radius": Option((int, float), 1.5, "distance of the class means")}}
    for data_name in ("moons", "overlapping-gaussians"):
        DATASETS.register(data_name, options={**common, **extra[data_name]})(lambda cfg, split, _name=data_name: _load(cfg, split, _name))


_register()
