"""Stacked MNIST (Metz et al. 2017, after Che et al. 2017): each sample stacks three MNIST digits drawn
independently at random as the R, G and B channels of one 28x28 image, so the data has 10^3 = 1000 modes
(digit triples). Built from the ``mnist`` files (``--data-dir``; the 10,000-digit subset works) with a
seeded draw: ``n_samples`` images per split (the digits of the test split come from MNIST's test split).
Labels: the triple as one number 100 a + 10 b + c. Mode counting: ``ganforge.metrics.modes.stacked_mnist_modes``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ganforge.data.base import Dataset
from ganforge.errors import GanforgeError
from ganforge.options import option_field, parse_options

NAME = "stacked-mnist"
MAX_SAMPLES = 1_000_000


@dataclass
class StackedMNISTOptions:
    n_samples: int = option_field(50_000, "stacked images per split")
    data_seed: int = option_field(0, "seed of the digit draw")


def load_stacked_mnist(cfg, split: str) -> Dataset:
    from ganforge.data import DATASETS

    opts = parse_options(StackedMNISTOptions, cfg.options, f"dataset {NAME!r}")
    if not 1 <= opts.n_samples <= MAX_SAMPLES:
        raise GanforgeError(f"option 'n_samples' of {NAME!r} is {opts.n_samples}; use 1..{MAX_SAMPLES}.")
    digits = DATASETS.get("mnist")(cfg, split)
    g = torch.Generator().manual_seed(opts.data_seed * 7919 + (0 if split == "train" else 1))
    idx = torch.randint(0, len(digits.x), (opts.n_samples, 3), generator=g)
    x = digits.x[idx].squeeze(2)  # (N, 3, 28, 28): channel c is digit idx[:, c]
    labels = digits.y[idx]
    y = labels[:, 0] * 100 + labels[:, 1] * 10 + labels[:, 2]
    meta = {"source": digits.meta.get("source"), "modes": 1000}
    return Dataset(NAME, x, y, 1000, [f"{i:03d}" for i in range(1000)], meta, kind="image")


def _register():
    from ganforge.data import DATASETS

    DATASETS.register(NAME, options=StackedMNISTOptions)(load_stacked_mnist)


_register()
