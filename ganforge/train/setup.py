"""Setting a run up: the device, the seeds, and the recipe (checked before anything is allocated)."""
from __future__ import annotations

import os
import random

import numpy as np
import torch

from ganforge.config import Config
from ganforge.data import Dataset
from ganforge.errors import GanforgeError
from ganforge.recipes import RECIPES, Recipe
from ganforge.train import guards


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GanforgeError(f"device {name!r} was requested but no CUDA GPU is available; use --device cpu.")
    return device


def seed_everything(seed: int, deterministic: bool) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def build_recipe(cfg: Config, dataset: Dataset) -> Recipe:
    guards.check_options(cfg, dataset)
    guards.check_model_size(cfg, dataset, RECIPES.get(cfg.recipe))  # before allocating: shapes only
    recipe = RECIPES.get(cfg.recipe)(cfg, dataset)
    if cfg.ms_weight > 0 and not getattr(recipe, "supports_mode_seeking", False):
        raise GanforgeError(f"--ms-weight needs a recipe that draws its fakes with the shared GAN phases (e.g. cgan, "
                            f"dcgan, acgan); {cfg.recipe!r} draws its own, so the term would be skipped: drop --ms-weight.")
    if cfg.bc_weight > 0:
        if not hasattr(recipe, "bc"):
            raise GanforgeError(f"--bc-weight needs a generator/discriminator recipe; {cfg.recipe!r} is not one.")
        from ganforge.losses.bc import BoundaryCalibration  # heavy: trains/loads classifiers

        recipe.bc = BoundaryCalibration(cfg, dataset)
    return recipe
