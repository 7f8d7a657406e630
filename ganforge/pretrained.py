"""Using a trained run: ``ganforge.load(run_or_checkpoint)`` (loads tensors + JSON only, never code).

The recipe is rebuilt from the run's config and data record, its inference networks get their
weights (the EMA copies where training kept them) and its recipe state (what sampling may need: a
progressive level, the mean w of a style generator), and sampling goes through ``Recipe.sample``.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ganforge.config import make_config
from ganforge.data import restore_dataset
from ganforge.errors import CheckpointError, GanforgeError
from ganforge.recipes import RECIPES
from ganforge.train.checkpoint import load_module_state, resolve_checkpoint


class TrainedGenerator:
    """A trained run's sampler: ``sample(n, seed, labels=..., **knobs)``, ``translate(inputs, **knobs)``
    for image-input recipes, and ``gen(z, y)`` (the generator network) for noise-input recipes."""

    def __init__(self, recipe, nets: dict[str, torch.nn.Module], step: int, info: dict):
        self.recipe, self.nets, self.step, self.info = recipe, nets, step, info
        self.config, self.dataset = recipe.cfg, recipe.dataset
        self.module = nets[recipe.inference_networks[0]]

    @classmethod
    def from_path(cls, path: str | Path, device: str = "cpu") -> "TrainedGenerator":
        from ganforge.deploy.hub import is_hub_folder, read_hub  # a folder written by `export --format hub`

        meta, tensors = read_hub(path) if is_hub_folder(path) else resolve_checkpoint(path)
        try:
            cfg = make_config({k: v for k, v in meta["config"].items()}, {"device": device})
            info = meta["data"]
        except KeyError as e:
            raise CheckpointError(f"checkpoint {path} lacks its {e} record; it was not written by ganforge.") from None
        cfg = cfg.replace(bc_weight=0.0)  # sampling needs no classifiers
        try:
            recipe = RECIPES.get(cfg.recipe)(cfg, restore_dataset(info)).to(device)
        except GanforgeError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
            # The JSON is not covered by the tensor hash: a hand-edited record must fail clearly, not crash.
            raise CheckpointError(f"checkpoint {path} has an inconsistent config/data record ({type(e).__name__}: "
                                  f"{e}); it was edited or comes from another ganforge version.") from None
        nets = {}
        for name in recipe.inference_networks:
            module = recipe.nets[name]
            has_ema = any(k.startswith(f"ema.{name}.") for k in tensors)
            load_module_state(module, f"ema.{name}." if has_ema else f"net.{name}.", tensors, name)
            setattr(recipe, name, module)
            nets[name] = module.eval()
        from ganforge.train.state import recipe_state_from  # the same reader resume uses

        try:
            recipe.load_state_dict(recipe_state_from(meta, tensors, 0))
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise CheckpointError(f"checkpoint {path} has a recipe state that does not fit ({e}).") from None
        return cls(recipe, nets, int(meta["step"]), info)

    @property
    def task(self) -> str:
        return self.recipe.task

    @property
    def knobs(self) -> tuple[str, ...]:
        return tuple(self.recipe.knobs)

    @property
    def num_classes(self) -> int:
        return getattr(self.recipe, "num_classes", 0)

    def __call__(self, *inputs):
        with torch.no_grad():
            return self.module(*inputs)

    def sample(self, n: int, seed: int = 0, labels=None, **knobs) -> torch.Tensor:
        """n outputs in model space (images in [-1, 1]); labels: None (balanced), an int, or a tensor."""
        return self.sample_with_labels(n, seed=seed, labels=labels, **knobs)[0]

    def sample_with_labels(self, n: int, seed: int = 0, labels=None, **knobs):
        knobs = self.recipe.check_knobs({"labels": labels, **knobs})
        out = self.recipe.sample(n, seed=seed, nets=self.nets, **knobs)
        return out.x, out.y

    def traversal(self, code: str, images: int = 100, seed: int = 0):
        """A latent-code traversal (recipes with interpretable codes, e.g. InfoGAN): ``Samples`` whose rows
        share noise and whose columns step through the code's values (``extra["nrow"]``, ``extra["values"]``);
        about ``images`` images in all."""
        if not hasattr(self.recipe, "traversal"):
            raise GanforgeError(f"recipe {self.config.recipe!r} has no latent codes to traverse (InfoGAN has).")
        return self.recipe.traversal(code, images=images, seed=seed, nets=self.nets)

    def translate(self, inputs: torch.Tensor, seed: int = 0, **knobs) -> torch.Tensor:
        """Outputs for input samples (model space, e.g. images in [-1, 1]), for image-input recipes."""
        if self.recipe.task not in ("image", "label_map", "audio", "sequence"):
            raise GanforgeError(f"recipe {self.config.recipe!r} generates from {self.recipe.task}, not from inputs; "
                                f"use sample() (the CLI without --input).")
        return self.sample(len(inputs), seed=seed, inputs=inputs, **knobs)

    def decode(self, x: torch.Tensor, labels=None):
        """Model space -> the data's own form (uint8 images; a DataFrame for tables, which need the labels
        of a target column: ``gen.decode(*gen.sample_with_labels(n))``)."""
        return self.dataset.decode(x) if labels is None else self.dataset.decode(x, labels)
