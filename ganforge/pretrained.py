"""Using a trained generator: ``ganforge.load(run_or_checkpoint)`` (loads tensors + JSON only, never code)."""
from __future__ import annotations

from pathlib import Path

import torch

from ganforge.config import make_config
from ganforge.data import restore_dataset
from ganforge.errors import CheckpointError
from ganforge.recipes import RECIPES
from ganforge.sampling import generate
from ganforge.train.checkpoint import load_module_state, resolve_checkpoint


class TrainedGenerator:
    """Callable generator: ``gen(z, y)`` runs the network; ``gen.sample(n, seed, labels)`` draws samples."""

    def __init__(self, recipe, module: torch.nn.Module, step: int, info: dict):
        self.recipe, self.module, self.step, self.info = recipe, module.eval(), step, info
        self.config, self.dataset = recipe.cfg, recipe.dataset

    @classmethod
    def from_path(cls, path: str | Path, device: str = "cpu") -> "TrainedGenerator":
        meta, tensors = resolve_checkpoint(path)
        try:
            cfg = make_config({k: v for k, v in meta["config"].items()}, {"device": device})
            info = meta["data"]
        except KeyError as e:
            raise CheckpointError(f"checkpoint {path} lacks its {e} record; it was not written by ganforge.") from None
        cfg = cfg.replace(bc_weight=0.0)  # sampling needs no classifiers
        try:
            recipe = RECIPES.get(cfg.recipe)(cfg, restore_dataset(info)).to(device)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
            # The JSON is not covered by the tensor hash: a hand-edited record must fail clearly, not crash.
            raise CheckpointError(f"checkpoint {path} has an inconsistent config/data record ({type(e).__name__}: "
                                  f"{e}); it was edited or comes from another ganforge version.") from None
        module = recipe.nets["generator"]
        prefix = "ema.generator." if meta.get("has_ema") else "net.generator."
        load_module_state(module, prefix, tensors, "generator")
        recipe.generator = module
        return cls(recipe, module, int(meta["step"]), info)

    @property
    def num_classes(self) -> int:
        return self.recipe.num_classes

    def __call__(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        with torch.no_grad():
            return self.module(z, y)

    def sample(self, n: int, seed: int = 0, labels=None) -> torch.Tensor:
        """n samples in model space (images in [-1, 1]); labels: None (balanced), an int, or a tensor."""
        return generate(self.recipe, self.module, n, seed=seed, labels=labels)[0]

    def sample_with_labels(self, n: int, seed: int = 0, labels=None):
        return generate(self.recipe, self.module, n, seed=seed, labels=labels)

    def decode(self, x: torch.Tensor, labels=None):
        """Model space -> the data's own form (uint8 images; a DataFrame for tables, which need the labels
        of a target column: ``gen.decode(*gen.sample_with_labels(n))``)."""
        return self.dataset.decode(x) if labels is None else self.dataset.decode(x, labels)
