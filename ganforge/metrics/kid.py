"""Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD² with the cubic polynomial kernel
k(x, y) = (x·y / d + 1)³, averaged over random subsets (default 100 subsets of 1000, or of
min(n_real, n_fake) when smaller). Reported as mean and std over subsets; unbiased, so it can be
slightly negative for identical distributions.

When both sets are no larger than the subset size, every "subset" is the whole set, so the std is 0: it
then says nothing about the estimate's noise (draw more samples, or lower ``kid_subset_size``, to get one).
That matches the reference implementations (Bińkowski et al.'s code, StyleGAN2-ADA's metric), which we
keep for comparable numbers; the single value is computed once instead of ``num_subsets`` times."""
from __future__ import annotations

import numpy as np
import torch

from ganforge.errors import GanforgeError


def _mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    d = x.shape[1]
    m = len(x)
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    sum_xx = kxx.sum() - kxx.diagonal().sum()
    sum_yy = kyy.sum() - kyy.diagonal().sum()
    return float(sum_xx / (m * (m - 1)) + sum_yy / (m * (m - 1)) - 2 * kxy.mean())


def kernel_inception_distance(real, fake, num_subsets: int = 100, subset_size: int = 1000,
                              seed: int = 0) -> tuple[float, float]:
    real, fake = torch.as_tensor(real).double(), torch.as_tensor(fake).double()
    m = min(subset_size, len(real), len(fake))
    if m < 2:
        raise GanforgeError("KID needs at least 2 real and 2 generated samples.")
    if m == len(real) == len(fake):  # every subset would be the whole set (see the module docstring)
        return _mmd2_unbiased(real, fake), 0.0
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(num_subsets):
        ir = torch.from_numpy(rng.choice(len(real), m, replace=False))
        jf = torch.from_numpy(rng.choice(len(fake), m, replace=False))
        values.append(_mmd2_unbiased(real[ir], fake[jf]))
    values = np.asarray(values)
    return float(values.mean()), float(values.std())
