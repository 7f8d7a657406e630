"""WaveGAN (Donahue, McAuley & Puckette, "Adversarial Audio Synthesis", ICLR 2019) and its
class-conditional variant cWaveGAN.

Raw waveforms (16,384 samples at 16 kHz) from the paper's 1-D transposed-convolution generator,
scored by a critic with phase shuffle (n=2) and LeakyReLU(0.2) (``ganforge.nets.wavegan``), trained
with WGAN-GP exactly as the paper does: lambda 10, 5 critic steps per generator step, Adam 1e-4 with
betas (0.5, 0.9), batch 64, z ~ U(-1, 1)^100 (the authors' code draws uniform noise), model size
d = 64 (``--g-width`` / ``--d-width``). The data is an audio dataset (``spoken-digits``, ``drums``,
``audio-folder``: ``ganforge.data.audio``).

``cwavegan`` conditions both networks on the class (the spoken digit): G sees a label embedding
beside z, D a projection term; ``ganforge sample RUN --class 3`` says "three". Metrics: the audio
Inception score, the Fréchet distance on a digit classifier's features and, for cWaveGAN, the
classifier's accuracy on the requested digit (``ganforge.metrics.audio``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ganforge.errors import GanforgeError
from ganforge.nets.wavegan import WaveGANDiscriminator, WaveGANGenerator
from ganforge.recipes import RECIPES
from ganforge.recipes.objective import ObjectiveGAN


@dataclass
class WaveGANOptions:
    phase_shuffle: int = field(default=2, metadata={"help": "phase shuffle radius n of the critic (0: off)"})


@RECIPES.register("wavegan")
class WaveGAN(ObjectiveGAN):
    Options = WaveGANOptions

    def build_networks(self):
        data, cfg = self.dataset, self.cfg
        if data.kind != "audio" or data.x.dim() != 3:
            raise GanforgeError(f"recipe {cfg.recipe!r} generates audio; dataset {data.name!r} holds {data.kind} data: "
                                "use an audio dataset (spoken-digits, drums, audio-folder).")
        if self.options.phase_shuffle < 0:
            raise GanforgeError(f"option 'phase_shuffle' is {self.options.phase_shuffle}; it must be 0 or more.")
        channels, length = data.shape
        generator = WaveGANGenerator(cfg.z_dim, cfg.g_width, length, channels, self.num_classes)
        discriminator = WaveGANDiscriminator(cfg.d_width, length, channels, self.num_classes, self.options.phase_shuffle)
        return generator, discriminator

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        # The authors' code samples z uniformly in [-1, 1] (train_wavegan.py), not from a Gaussian.
        return torch.rand(n, self.cfg.z_dim, device=self.device, generator=generator) * 2 - 1


@RECIPES.register("cwavegan")
class ConditionalWaveGAN(WaveGAN):
    conditional = True
