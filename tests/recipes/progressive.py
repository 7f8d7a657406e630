"""Shared helpers of the ProGAN / StyleGAN tests: tiny configurations and the pixel-space check."""
from __future__ import annotations

import torch
from safetensors.torch import load_file

from ganforge.config import make_config
from ganforge.data import load_dataset
from ganforge.metrics.fid import feature_stats, frechet_distance
from ganforge.train.callbacks import sampling_nets
from ganforge.train.checkpoint import latest_checkpoint
from ganforge.train.trainer import Trainer
from tests.recipes.learning import QUIET, one_thread

# digits are 8x8: two levels (4x4, 8x8); 4x4 stable for 4 steps of 16, then a 6-step fade-in of 8x8.
TINY = dict(data="digits", batch_size=16, z_dim=8, steps=12, log_every=4, sample_every=0, checkpoint_every=7,
            deterministic=True, seed=3, device="cpu", channels_last=False, ema_decay=0.9,
            options={"fade_kimg": 0.048, "stable_kimg": 0.064, "fmap_base": 32, "fmap_max": 8,
                     "batch_sizes": {4: 16, 8: 8}})


def tiny(recipe: str, out, **kw):
    return make_config({**TINY, "recipe": recipe, "out": str(out), **kw})


def checkpoint(run):
    meta, _ = latest_checkpoint(run)
    return load_file(str(run / "checkpoints" / meta["tensors"])), meta


def pixel_frechet(trainer, real: torch.Tensor, n: int = 1000) -> float:
    """Fréchet distance between the raw pixels of n EMA samples and ``real`` (model space, flattened):
    at 8x8 the pixels themselves are a meaningful feature space (train vs test images: ~0.1)."""
    fake = trainer.recipe.sample(n, seed=1, nets=sampling_nets(trainer)).x.flatten(1).double()
    return frechet_distance(*feature_stats(fake), *feature_stats(real.flatten(1).double()))


def learn_fashion_mnist_at_8x8(recipe: str, shared_data):
    """(trainer, pixel Fréchet distance untrained, after 250 steps) of the learning tests: 4x4 for 63
    steps, an 8x8 fade-in of 63, then 8x8, on Fashion-MNIST downsized to 8x8, at one thread."""
    cfg = make_config({**QUIET, "recipe": recipe, "data": "fashion-mnist", "data_dir": str(shared_data / "fashion-mnist"),
                       "image_size": 8, "steps": 250, "batch_size": 32, "z_dim": 32, "ema_decay": 0.99,
                       "options": {"fade_kimg": 2, "stable_kimg": 2, "fmap_base": 128, "fmap_max": 32}})
    test = load_dataset(cfg, "test")
    real = test.to_model(test.x[:1000])
    with one_thread():
        trainer = Trainer(cfg, run_dir=None, callbacks=[])
        untrained = pixel_frechet(trainer, real)
        trainer.fit()
        return trainer, untrained, pixel_frechet(trainer, real)
