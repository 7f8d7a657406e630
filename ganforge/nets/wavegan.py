"""WaveGAN's networks (Donahue, McAuley & Puckette, "Adversarial Audio Synthesis", ICLR 2019, Table 2/3).

DCGAN flattened to one dimension: every 5x5 kernel becomes a length-25 kernel and every stride 2 a
stride 4, so five transposed convolutions take a (16, 16d) tensor to 16,384 samples.

* Generator: z (100) -> dense -> (16d, 16) -> ReLU -> [ConvTranspose1d(k=25, stride 4) -> ReLU] x4 ->
  ConvTranspose1d(k=25, stride 4) -> tanh. No batch norm (the paper's WaveGAN has none).
* Discriminator: [Conv1d(k=25, stride 4) -> LeakyReLU(0.2) -> phase shuffle(n)] x4 -> Conv1d -> LeakyReLU
  -> dense -> 1. Phase shuffle shifts the activations of each layer by a random -n..n samples with reflect
  padding, so D cannot reject generated audio by the phase of the transposed convolutions' periodic
  artefacts; as in the authors' implementation one shift is drawn per layer call (for the batch), and
  only while training.

``length`` = 16 * 4^k with k layers (k=5: 16,384, the paper). A shorter length keeps the same layers
minus the first (widest) ones; it is a smaller task, not the paper's, and is named as such where used.
Conditional networks (cWaveGAN, ``num_classes`` > 0): G concatenates a learned label embedding to z;
D either adds the projection term <embed(y), h> to its logit (``conditioning="projection"``, Miyato &
Koyama, 2018) or, label-blind, gets an auxiliary classifier head on the same features
(``conditioning="aux"``, AC-GAN, Odena et al., 2017, as combined with WGAN-GP by Gulrajani et al., 2017).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ganforge.errors import GanforgeError

CONDITIONING = ("aux", "projection")
KERNEL, STRIDE, PADDING = 25, 4, 11  # 'same' padding: each layer scales the length by exactly 4


def layers_for(length: int) -> int:
    """Number of stride-4 layers between the 16-sample seed and ``length`` (16 * 4^k)."""
    k = round(math.log(max(length, 1) / 16, 4)) if length >= 64 else 0
    if k < 1 or 16 * 4 ** k != length:
        raise GanforgeError(f"WaveGAN generates 16 * 4^k samples (1,024, 4,096, 16,384, 65,536); the clips have "
                            f"{length}: set the dataset option 'length' to one of those.")
    return k


def phase_shuffle(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Shift (N, C, L) activations by one random offset in [-radius, radius], reflect-padding the edge."""
    if radius <= 0:
        return x
    shift = int(torch.randint(-radius, radius + 1, ()).item())
    if shift == 0:
        return x
    padded = F.pad(x, (max(shift, 0), max(-shift, 0)), mode="reflect")
    return padded[..., :x.shape[-1]] if shift > 0 else padded[..., -shift:]


class WaveGANGenerator(nn.Module):
    def __init__(self, z_dim: int = 100, d: int = 64, length: int = 16384, channels: int = 1, num_classes: int = 0):
        super().__init__()
        k = layers_for(length)
        self.num_classes, self.width = num_classes, d * 2 ** (k - 1)
        self.embed = nn.Embedding(num_classes, num_classes) if num_classes else None
        self.dense = nn.Linear(z_dim + num_classes, 16 * self.width)
        widths = [d * 2 ** (k - 1 - i) for i in range(k)] + [channels]
        self.convs = nn.ModuleList(
            nn.ConvTranspose1d(widths[i], widths[i + 1], KERNEL, STRIDE, PADDING, output_padding=1) for i in range(k))

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            if y is None:
                raise GanforgeError("this WaveGAN is conditional: pass the digit (e.g. `ganforge sample --class 3`).")
            z = torch.cat([z, self.embed(y).to(z.dtype)], dim=1)
        h = F.relu(self.dense(z).view(len(z), self.width, 16))
        for i, conv in enumerate(self.convs):
            h = conv(h)
            h = torch.tanh(h) if i == len(self.convs) - 1 else F.relu(h)
        return h


class WaveGANDiscriminator(nn.Module):
    def __init__(self, d: int = 64, length: int = 16384, channels: int = 1, num_classes: int = 0,
                 phase_shuffle: int = 2, conditioning: str = "projection"):
        super().__init__()
        if conditioning not in CONDITIONING:
            raise GanforgeError(f"conditioning {conditioning!r} is unknown; use one of {', '.join(CONDITIONING)}.")
        k = layers_for(length)
        widths = [channels] + [d * 2 ** i for i in range(k)]
        self.convs = nn.ModuleList(nn.Conv1d(widths[i], widths[i + 1], KERNEL, STRIDE, PADDING) for i in range(k))
        self.radius, features = phase_shuffle, 16 * widths[-1]
        self.linear = nn.Linear(features, 1)
        projection, aux = num_classes and conditioning == "projection", num_classes and conditioning == "aux"
        self.embed = nn.Embedding(num_classes, features) if projection else None
        self.classifier = nn.Linear(features, num_classes) if aux else None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for i, conv in enumerate(self.convs):
            h = F.leaky_relu(conv(h), 0.2)
            if self.training and i < len(self.convs) - 1:
                h = phase_shuffle(h, self.radius)
        return h.flatten(1)

    def critic(self, h: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        logits = self.linear(h).flatten()
        if self.embed is not None:
            if y is None:
                raise GanforgeError("a conditional WaveGAN discriminator needs the labels of its inputs.")
            logits = logits + (self.embed(y).to(h.dtype) * h).sum(dim=1)
        return logits

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The critic's score; an auxiliary-classifier D ignores ``y`` (the gradient penalty passes it)."""
        return self.critic(self.features(x), y)

    def classify(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(critic score, class logits) of one pass (one phase-shuffle draw) of an auxiliary-classifier D."""
        if self.classifier is None:
            raise GanforgeError("this WaveGAN discriminator has no auxiliary classifier (conditioning='aux').")
        h = self.features(x)
        return self.critic(h, None), self.classifier(h)
