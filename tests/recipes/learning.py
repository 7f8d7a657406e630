"""Shared helpers of the recipe tests: short CPU training runs and the checks that they learned.

Training runs write nothing (``run_dir=None``) and use one thread: the nets are tiny, so thread
hand-offs cost more than the maths on shared CI cores.
"""
from __future__ import annotations

import contextlib

import pytest
import torch

from ganforge.classifiers import pretrained
from ganforge.config import make_config
from ganforge.data import load_dataset
from ganforge.sampling import generate
from ganforge.train.trainer import Trainer

QUIET = dict(sample_every=0, checkpoint_every=0, log_every=10**6, channels_last=False, device="cpu")
# Toy mixtures: tiny MLPs, big batches, TTUR (D 5x faster than G: stable on the ring in few steps).
TOY = dict(data="toy-ring", architecture="mlp", z_dim=8, g_width=64, d_width=64, batch_size=256,
           lr_g=2e-4, lr_d=1e-3, ema_decay=0.0, options={"std": 0.05})
# Digits (8x8): MLPs, and the EMA generator for sampling (it averages out the game's oscillations).
DIGITS = dict(data="digits", architecture="mlp", z_dim=16, g_width=128, d_width=128, batch_size=128,
              lr_g=2e-4, lr_d=2e-4, ema_decay=0.995, n_critic=1)


@contextlib.contextmanager
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def train(**overrides) -> Trainer:
    cfg = make_config({**QUIET, **overrides})
    with one_thread():
        trainer = Trainer(cfg, run_dir=None, dataset=load_dataset(cfg))
        trainer.fit()
    return trainer


def mode_coverage(trainer: Trainer, n: int = 2000, seed: int = 1) -> dict:
    """Mode metrics of the generator on a toy mixture: modes hit, the fraction of high-quality
    samples, and the median distance of a sample to its nearest mode.

    A sample is high quality within 3 standard deviations of its nearest mode (PacGAN's metric);
    a mode is hit when at least one high-quality sample lands on it. The median distance rules out
    a generator that hits every mode by spraying points everywhere."""
    data = trainer.dataset
    n_modes = int(data.y.max()) + 1
    centers = torch.stack([data.x[data.y == k].mean(0) for k in range(n_modes)])
    std = (data.x - centers[data.y]).std().item()
    x, _ = generate(trainer.recipe, trainer.recipe.nets["generator"], n, seed=seed)
    dist, nearest = torch.cdist(x, centers).min(dim=1)
    good = dist < 3 * std
    hits = torch.bincount(nearest[good], minlength=n_modes)
    return {"hit": int((hits > 0).sum()), "modes": n_modes, "quality": round(float(good.float().mean()), 4),
            "median_distance": round(float(dist.median()), 4)}


def class_agreement(trainer: Trainer, per_class: int = 100) -> list[float]:
    """For each class c: the fraction of samples generated for c that a real-data CNN classifies as c."""
    data = trainer.dataset
    classifier = pretrained(data, "cnn")
    generator = trainer.ema.model if trainer.ema is not None else trainer.recipe.nets["generator"]
    agreement = []
    with one_thread():
        for c in range(data.num_classes):
            x, y = generate(trainer.recipe, generator, per_class, seed=c, labels=c)
            assert (y == c).all()
            with torch.no_grad():
                agreement.append(float((classifier(x).argmax(dim=1) == c).float().mean()))
    return agreement


def assert_generates_the_requested_classes(trainer: Trainer) -> None:
    """A real-data classifier agrees with the requested class on >= 90% of samples, for every class."""
    agreement = class_agreement(trainer)
    assert min(agreement) >= 0.9, [round(a, 2) for a in agreement]


def assert_samples_a_class_and_refuses_a_missing_one(trainer: Trainer) -> None:
    from ganforge.errors import GanforgeError

    x, y = generate(trainer.recipe, trainer.ema.model, 8, labels=3)
    assert x.shape[0] == 8 and (y == 3).all()
    with pytest.raises(GanforgeError, match="does not exist"):
        generate(trainer.recipe, trainer.ema.model, 8, labels=trainer.recipe.num_classes)
