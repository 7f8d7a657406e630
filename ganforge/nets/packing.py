"""PacGAN packing (Lin, Khetan, Fanti & Oh, "PacGAN: The power of two samples in generative
adversarial networks", NeurIPS 2018) for any discriminator: ``--pack m``.

The discriminator judges *packs* of m samples, all real or all generated, instead of single samples.
A generator that drops modes produces packs whose members are too alike, which a packed discriminator
sees much more easily than a single sample (the paper's hypothesis-testing argument); so packing
penalises mode collapse at almost no cost.

``PackedDiscriminator`` wraps an inner discriminator built by the same architecture for inputs with
m times as many features (vectors: the m samples' features concatenated; images: their channels
concatenated, as in the paper). Consecutive samples of a batch form a pack: rows ``[0, m)``,
``[m, 2m)``, ... The recipes call the discriminator on real and generated batches separately, so
real and fake packs are never mixed. The batch size must be a multiple of m.

The gradient penalties take ``pack=m`` (``ganforge.losses.regularizers``): WGAN-GP interpolates
whole packs (one mixing coefficient per pack) and takes the norm of the gradient with respect to the
whole pack; R1 penalises the squared norm of that gradient per pack.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ganforge.errors import GanforgeError


class PackedShape:
    """A view of a dataset whose samples are packs of m samples: what the inner discriminator is built
    for (features or channels multiplied by m); everything else is the dataset's own."""

    def __init__(self, dataset, pack: int):
        self._dataset, self._pack = dataset, pack
        shape = tuple(dataset.shape)
        self.shape = (shape[0] * pack,) + shape[1:]

    def __getattr__(self, name):
        return getattr(self._dataset, name)


class PackedDiscriminator(nn.Module):
    """``D(x)`` on packs: x ``(N, *shape)`` -> logits ``(N / pack,)``, one per pack."""

    def __init__(self, inner: nn.Module, pack: int):
        super().__init__()
        if pack < 2:
            raise GanforgeError(f"a packed discriminator needs pack >= 2, got {pack}.")
        self.inner, self.pack = inner, pack

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None):
        return self.inner(pack_samples(x, self.pack))


def pack_samples(x: torch.Tensor, pack: int) -> torch.Tensor:
    """``(N, C, ...)`` -> ``(N / pack, pack * C, ...)``: consecutive samples side by side along dim 1."""
    n = x.shape[0]
    if n % pack:
        raise GanforgeError(
            f"--pack {pack} needs batches whose size is a multiple of {pack}; got a batch of {n}. "
            f"Set --batch-size to a multiple of {pack} (e.g. {max(pack, n - n % pack)})."
        )
    return x.reshape(n // pack, pack * x.shape[1], *x.shape[2:])


def packed_discriminator(build, cfg, dataset, pack: int, num_classes: int = 0, conditioning: str = "concat"):
    """Build the architecture's discriminator for packs of ``pack`` samples and wrap it."""
    if num_classes:
        raise GanforgeError(
            f"--pack {pack} packs the samples of an unconditional discriminator; recipe {cfg.recipe!r} is "
            "class-conditional (a pack would mix labels): drop --pack or use an unconditional recipe."
        )
    if cfg.batch_size % pack:
        raise GanforgeError(
            f"--pack {pack} needs a batch size that is a multiple of {pack}; --batch-size is {cfg.batch_size}."
        )
    _, inner = build(cfg, PackedShape(dataset, pack), 0)
    return PackedDiscriminator(inner, pack)


def check_packing(cfg, discriminator: nn.Module) -> None:
    """Called by the Recipe base after building the networks: a recipe that builds its own
    discriminator (tabular-gan has its own ``pac`` option) must not silently ignore ``--pack``."""
    pack = getattr(cfg, "pack", 1)
    if pack > 1 and not isinstance(discriminator, PackedDiscriminator):
        raise GanforgeError(
            f"recipe {cfg.recipe!r} builds its own discriminator and does not take --pack; drop --pack "
            "(tabular-gan packs with its own option: --options '{pac: 10}')."
        )
