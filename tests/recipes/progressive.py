"""Shared helpers of the ProGAN / StyleGAN tests: tiny configurations and the pixel-space check."""
from __future__ import annotations

import torch
from safetensors.torch import load_file

from ganforge.config import make_config
from ganforge.metrics.fid import feature_stats, frechet_distance
from ganforge.train.callbacks import sampling_nets
from ganforge.train.checkpoint import latest_checkpoint

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
