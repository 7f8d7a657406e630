"""Drawing samples from a trained recipe, reproducibly (own RNG: never disturbs training).

Sampling is the recipe's (``Recipe.sample``): these helpers only pick the networks to sample with
(the EMA copies where training kept them) and keep the older ``generate`` signature.
"""
from __future__ import annotations

import torch

from ganforge.recipes.gan import class_labels  # noqa: F401  (re-exported: part of the public API)


def generate(recipe, module: torch.nn.Module | dict | None = None, n: int = 64, seed: int = 0, labels=None,
             **knobs) -> tuple[torch.Tensor, torch.Tensor | None]:
    """n samples in model space (CPU float32) and their labels. ``module``: the network to sample with
    (for two-player recipes, the generator or its EMA copy), or a ``{name: module}`` mapping."""
    nets = module if isinstance(module, dict) or module is None else {recipe.inference_networks[0]: module}
    if labels is not None:
        knobs["labels"] = labels
    out = recipe.sample(n, seed=seed, nets=nets, **knobs)
    return out.x, out.y
