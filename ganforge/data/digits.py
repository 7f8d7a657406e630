"""scikit-learn's bundled 8x8 digits: the embedded default, no download needed."""
from __future__ import annotations

import torch

from ganforge.data.base import Dataset

DIGITS_TEST_FRACTION = 0.2  # a fixed, seeded 80/20 split: sklearn ships one set only


def load_digits_split(split: str) -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # Pixel values are 0..16: scale to the 0..255 range every image dataset uses.
    x = torch.from_numpy((bunch.images * (255.0 / 16.0)).round()).to(torch.uint8)[:, None]
    y = torch.from_numpy(bunch.target).long()
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(1234))
    n_test = int(len(x) * DIGITS_TEST_FRACTION)
    idx = perm[n_test:] if split == "train" else perm[:n_test]
    return Dataset("digits", x[idx], y[idx], 10, [str(d) for d in range(10)], kind="image")


def _register():
    from ganforge.data import DATASETS

    DATASETS.register("digits")(lambda cfg, split: load_digits_split(split))


_register()
