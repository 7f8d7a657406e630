"""Building blocks for class-conditional networks, shared by every architecture.

Three ways of conditioning, chosen by the recipe (``conditioning=``):

- ``"concat"`` (cGAN, Mirza & Osindero, 2014): a label embedding concatenated to G's latent and to
  D's input;
- ``"aux"`` (ACGAN, Odena et al., 2017): G as in concat; D has an auxiliary classifier head and
  returns ``(logits, class_logits)``;
- ``"projection"`` (Miyato & Koyama, "cGANs with Projection Discriminator", 2018): D adds
  ``<embed(y), h>`` to its logits; G uses class-conditional batch norm.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ganforge.errors import GanforgeError

CONDITIONINGS = ("concat", "aux", "projection")


def check_conditioning(conditioning: str, num_classes: int) -> None:
    if conditioning not in CONDITIONINGS:
        raise GanforgeError(f"unknown conditioning {conditioning!r}; choose one of {', '.join(CONDITIONINGS)}.")
    if conditioning != "concat" and num_classes < 2:
        raise GanforgeError(
            f"conditioning {conditioning!r} needs a labelled dataset with at least 2 classes; "
            "pick a labelled dataset (digits, mnist, fashion-mnist) or an unconditional recipe."
        )


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose affine gain and bias are looked up per class (de Vries et al., 2017;
    Miyato & Koyama, 2018). Without labels it falls back to a shared, learned affine transform."""

    def __init__(self, num_features: int, num_classes: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features, affine=False)
        self.gain = nn.Embedding(num_classes, num_features)
        self.bias = nn.Embedding(num_classes, num_features)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        if y is None:
            raise GanforgeError("this generator is class-conditional: pass labels y (e.g. `ganforge sample --class 3`).")
        out = self.bn(x)
        return out * self.gain(y)[:, :, None, None].to(out.dtype) + self.bias(y)[:, :, None, None].to(out.dtype)


class DiscriminatorHead(nn.Module):
    """Features h (N, F) [+ labels] -> logits (N,), or (logits, class_logits) for the aux mode.

    ``mode`` "plain" (unconditional or input-concatenated labels), "aux" or "projection"."""

    def __init__(self, in_features: int, num_classes: int = 0, mode: str = "plain"):
        super().__init__()
        self.mode = mode
        self.linear = nn.Linear(in_features, 1)
        if mode == "projection":
            self.embed = nn.Embedding(num_classes, in_features)
            nn.init.xavier_uniform_(self.embed.weight)
        elif mode == "aux":
            self.classifier = nn.Linear(in_features, num_classes)

    def forward(self, h: torch.Tensor, y: torch.Tensor | None = None):
        logits = self.linear(h).flatten()
        if self.mode == "projection":
            if y is None:
                raise GanforgeError("a projection discriminator needs the labels y of its inputs.")
            logits = logits + (self.embed(y).to(h.dtype) * h).sum(dim=1)
        elif self.mode == "aux":
            return logits, self.classifier(h)
        return logits


def head_mode(conditioning: str, num_classes: int) -> str:
    """The discriminator head mode for a conditioning ('plain' when unconditional or concat)."""
    if num_classes and conditioning in ("aux", "projection"):
        return conditioning
    return "plain"
