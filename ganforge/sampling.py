"""Drawing samples from a trained generator, reproducibly (own RNG: never disturbs training)."""
from __future__ import annotations

import torch

from ganforge.errors import GanforgeError


def class_labels(n: int, num_classes: int, labels=None, device="cpu") -> torch.Tensor | None:
    """Balanced labels (0, 1, ..., C-1, 0, ...) by default; an int asks for one class; a tensor is used as is."""
    if not num_classes:
        if labels is not None:
            raise GanforgeError("this generator is unconditional; drop --class (only conditional recipes take a class).")
        return None
    if labels is None:
        return torch.arange(n, device=device) % num_classes
    if isinstance(labels, int):
        if not 0 <= labels < num_classes:
            raise GanforgeError(f"class {labels} does not exist; this generator has classes 0..{num_classes - 1}.")
        return torch.full((n,), labels, dtype=torch.long, device=device)
    labels = torch.as_tensor(labels, dtype=torch.long, device=device)
    if len(labels) != n or labels.min() < 0 or labels.max() >= num_classes:
        raise GanforgeError(f"labels must be {n} class indices in 0..{num_classes - 1}.")
    return labels


@torch.no_grad()
def generate(recipe, module: torch.nn.Module, n: int, seed: int = 0, labels=None,
             batch_size: int = 512) -> tuple[torch.Tensor, torch.Tensor | None]:
    """n samples in model space (CPU float32) from ``module`` (usually the EMA generator), and their labels."""
    device = recipe.device
    g = torch.Generator(device=device).manual_seed(seed)
    z = recipe.latent(n, generator=g)
    y = class_labels(n, recipe.num_classes, labels, device)
    was_training = module.training
    module.eval()
    try:
        chunks = [module(z[i:i + batch_size], None if y is None else y[i:i + batch_size]).float().cpu()
                  for i in range(0, n, batch_size)]
    finally:
        module.train(was_training)
    return torch.cat(chunks), None if y is None else y.cpu()
