"""GAN variants by name. Adding one = a module here (registering a Recipe) + configs/<name>.yaml."""
from __future__ import annotations

import importlib
import pkgutil

from ganforge.recipes.base import OptimizerGroup, Phase, Recipe, Samples, Schedule  # noqa: F401
from ganforge.registry import Registry

RECIPES: Registry = Registry("recipe")

_SKIP = {"base", "gan", "objective"}
from ganforge.recipes.gan import GANRecipe  # noqa: E402,F401

for _info in pkgutil.iter_modules(__path__):
    if _info.name not in _SKIP:
        importlib.import_module(f"{__name__}.{_info.name}")
