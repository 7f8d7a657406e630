"""Network families by name: ``ARCHITECTURES.get(name)(cfg, dataset) -> (generator, discriminator)``.

Recipes with networks of their own shape (U-Nets, style generators) build them directly; these are the
shared generator/discriminator pairs of the classic two-player recipes.

Every generator is called as ``G(z, y=None)`` and every discriminator as ``D(x, y=None)``, returning
everything the recipe needs from ``forward`` (so DistributedDataParallel wrappers stay transparent).
"""
from __future__ import annotations

import importlib

from ganforge.registry import Registry

ARCHITECTURES: Registry = Registry("architecture")

for _module in ("dcgan", "mlp", "resnet"):
    try:
        importlib.import_module(f"ganforge.nets.{_module}")
    except ModuleNotFoundError as e:
        if e.name != f"ganforge.nets.{_module}":
            raise


# The data kinds an architecture models; a recipe's default architecture that cannot model the data
# gives way to the first one that can (``ganforge train --recipe wgan-gp --data toy-ring`` gets MLPs).
DATA_KINDS = {"dcgan": ("image",), "resnet": ("image",), "mlp": ("image", "vector", "table")}
FALLBACK = ("mlp",)


def choose_architecture(cfg, dataset, default: str) -> str:
    """``--architecture`` if given, else the recipe's default when it fits the data kind, else a fallback."""
    if cfg.architecture:
        return cfg.architecture
    if dataset.kind in DATA_KINDS.get(default, (dataset.kind,)):
        return default
    return next((name for name in FALLBACK if dataset.kind in DATA_KINDS[name]), default)


def build_networks(cfg, dataset, default: str, num_classes: int = 0, conditioning: str = "concat"):
    """num_classes > 0 builds class-conditional networks (label inputs); ``conditioning`` says how the
    labels enter them: concat, aux (ACGAN head) or projection (see ``ganforge.nets.conditional``).
    ``cfg.pack > 1`` wraps the discriminator for PacGAN packing (``ganforge.nets.packing``)."""
    build = ARCHITECTURES.get(choose_architecture(cfg, dataset, default))
    if num_classes and conditioning != "concat":
        generator, discriminator = build(cfg, dataset, num_classes, conditioning=conditioning)
    else:
        generator, discriminator = build(cfg, dataset, num_classes)
    pack = getattr(cfg, "pack", 1)
    if pack > 1:  # PacGAN: D rebuilt for packs of `pack` samples (ganforge.nets.packing)
        from ganforge.nets.packing import packed_discriminator

        discriminator = packed_discriminator(build, cfg, dataset, pack, num_classes, conditioning)
    return generator, discriminator
