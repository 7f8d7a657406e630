"""2-D Gaussian mixtures: ``toy-ring`` and ``toy-grid`` (the PacGAN / VEEGAN mode-collapse benchmarks).

Defaults are PacGAN's settings (Lin et al. 2018, after Metz et al. 2017):
- ``toy-ring``: 8 modes evenly spaced on a circle of radius 1, each an isotropic Gaussian with std 0.01;
- ``toy-grid``: 25 modes on the grid {-4, -2, 0, 2, 4}^2, std 0.05.

Every sample picks a mode uniformly at random; its label ``y`` is that mode's index (so the mode
metric and conditional models can use it). The points are generated from a *fixed data seed*, not
``cfg.seed``: changing the training seed must not change the data. Train and test use different
seeds, so they are independent draws from the same mixture.

Configurable through ``cfg.options`` (shared with recipe options, hence unknown keys are ignored):
``n_modes`` (ring: any >= 1; grid: a perfect square k^2), ``radius`` (ring), ``spacing`` (grid:
distance between neighbouring modes, the grid is centred on 0), ``std``, ``n_samples`` (train,
default 50,000), ``n_test_samples`` (default 10,000), ``data_seed`` (default 0).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ganforge.data.base import Dataset
from ganforge.errors import GanforgeError

TOY_DEFAULTS = {
    "toy-ring": {"n_modes": 8, "radius": 1.0, "std": 0.01},
    "toy-grid": {"n_modes": 25, "spacing": 2.0, "std": 0.05},
}
DEFAULT_TRAIN_SAMPLES = 50_000   # 400 KB of float32: small, and plenty for a 2-D mixture
DEFAULT_TEST_SAMPLES = 10_000
MAX_SAMPLES = 10_000_000
MAX_MODES = 10_000
# Fixed offsets of the two splits' seeds: the test draw never repeats the training draw.
SPLIT_SEED_OFFSET = {"train": 0x7A1, "test": 0x7E5}


def _number(options: dict, key: str, default, *, integer: bool, low, high, name: str):
    value = options.get(key, default)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok and integer:
        ok = float(value).is_integer()
    if ok:
        ok = math.isfinite(value) and low <= value <= high
    if not ok:
        kind = "an integer" if integer else "a number"
        raise GanforgeError(
            f"option {key!r} of dataset {name!r} is {value!r}; it must be {kind} in [{low}, {high}] "
            f"(e.g. --options '{{{key}: {default}}}')."
        )
    return int(value) if integer else float(value)


def toy_modes(name: str, options: dict | None = None) -> tuple[np.ndarray, float]:
    """The mixture's mode centres ``(K, 2)`` float64 and its per-mode std, as configured by ``options``."""
    if name not in TOY_DEFAULTS:
        raise GanforgeError(f"unknown toy dataset {name!r}; choose one of {', '.join(TOY_DEFAULTS)}.")
    options = options or {}
    defaults = TOY_DEFAULTS[name]
    n_modes = _number(options, "n_modes", defaults["n_modes"], integer=True, low=1, high=MAX_MODES, name=name)
    std = _number(options, "std", defaults["std"], integer=False, low=1e-12, high=1e6, name=name)
    if name == "toy-ring":
        radius = _number(options, "radius", defaults["radius"], integer=False, low=1e-12, high=1e6, name=name)
        angles = 2 * np.pi * np.arange(n_modes) / n_modes
        centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    else:
        side = math.isqrt(n_modes)
        if side * side != n_modes:
            raise GanforgeError(
                f"option 'n_modes' of dataset 'toy-grid' is {n_modes}; a square grid needs a perfect square "
                f"(e.g. 9, 16, 25)."
            )
        spacing = _number(options, "spacing", defaults["spacing"], integer=False, low=1e-12, high=1e6, name=name)
        axis = spacing * (np.arange(side) - (side - 1) / 2)  # 5 modes, spacing 2 -> -4, -2, 0, 2, 4
        gx, gy = np.meshgrid(axis, axis, indexing="ij")
        centres = np.stack([gx.ravel(), gy.ravel()], axis=1)
    return centres, std


def sample_toy(name: str, n: int, seed: int, options: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points ``(n, 2)`` float32 and their mode indices ``(n,)`` int64, deterministic in ``seed``."""
    centres, std = toy_modes(name, options)
    rng = np.random.default_rng(seed)
    modes = rng.integers(0, len(centres), size=n)
    points = centres[modes] + std * rng.standard_normal((n, 2))
    return points.astype(np.float32), modes.astype(np.int64)


def load_toy(cfg, split: str, name: str) -> Dataset:
    options = dict(cfg.options or {})
    centres, std = toy_modes(name, options)
    if split == "train":
        n = _number(options, "n_samples", DEFAULT_TRAIN_SAMPLES, integer=True, low=1, high=MAX_SAMPLES, name=name)
    else:
        n = _number(options, "n_test_samples", DEFAULT_TEST_SAMPLES, integer=True, low=1, high=MAX_SAMPLES,
                    name=name)
    data_seed = _number(options, "data_seed", 0, integer=True, low=0, high=2**31, name=name)
    points, modes = sample_toy(name, n, data_seed * 10_007 + SPLIT_SEED_OFFSET[split], options)
    meta = {"toy": name, "centres": centres.tolist(), "std": std}
    return Dataset(name, torch.from_numpy(points), torch.from_numpy(modes), len(centres),
                   [f"mode{i}" for i in range(len(centres))], meta, kind="vector")


def _register():
    from ganforge.data import DATASETS

    from ganforge.options import Option

    common = {"n_modes": Option(int, None, "number of modes (grid: a perfect square)"),
              "std": Option((int, float), None, "per-mode standard deviation"),
              "n_samples": Option(int, DEFAULT_TRAIN_SAMPLES, "training points"),
              "n_test_samples": Option(int, DEFAULT_TEST_SAMPLES, "test points"),
              "data_seed": Option(int, 0, "seed of the data draw (not the training seed)")}
    extra = {"toy-ring": {"radius": Option((int, float), 1.0, "radius of the ring")},
             "toy-grid": {"spacing": Option((int, float), 2.0, "distance between neighbouring modes")}}
    for toy_name in TOY_DEFAULTS:
        DATASETS.register(toy_name, options={**common, **extra[toy_name]})(lambda cfg, split, _name=toy_name: load_toy(cfg, split, _name))


_register()
