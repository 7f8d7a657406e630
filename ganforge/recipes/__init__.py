"""GAN variants by name. Adding one = a module here (registering a Recipe) + configs/<name>.yaml."""
from __future__ import annotations

import importlib
import pkgutil

from ganforge.recipes.base import Phase, Recipe  # noqa: F401
from ganforge.registry import Registry

RECIPES: Registry = Registry("recipe")

_SKIP = {"base", "objective"}
for _info in pkgutil.iter_modules(__path__):
    if _info.name not in _SKIP:
        importlib.import_module(f"{__name__}.{_info.name}")
