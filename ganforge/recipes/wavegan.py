"""WaveGAN (Donahue, McAuley & Puckette, "Adversarial Audio Synthesis", ICLR 2019) and its
class-conditional variant cWaveGAN.

Raw waveforms (16,384 samples at 16 kHz) from the paper's 1-D transposed-convolution generator,
scored by a critic with phase shuffle (n=2) and LeakyReLU(0.2) (``ganforge.nets.wavegan``), trained
with WGAN-GP exactly as the paper does: lambda 10, 5 critic steps per generator step, Adam 1e-4 with
betas (0.5, 0.9), batch 64, z ~ U(-1, 1)^100 (the authors' code draws uniform noise), model size
d = 64 (``--g-width`` / ``--d-width``). The data is an audio dataset (``spoken-digits``, ``drums``,
``audio-folder``: ``ganforge.data.audio``).

``cwavegan`` conditions both networks on the class (the spoken digit): G sees a label embedding
beside z; D has an auxiliary classifier head (AC-GAN, Odena et al. 2017, with WGAN-GP as in Gulrajani
et al. 2017, "Improved Training of Wasserstein GANs": the default) or a projection term (Miyato &
Koyama 2018), option ``conditioning``; ``ganforge sample RUN --class 3`` says "three". Metrics: the audio
Inception score, the Fréchet distance on a digit classifier's features and, for cWaveGAN, the
classifier's accuracy on the requested digit (``ganforge.metrics.audio``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.losses import discriminator_loss, generator_loss
from ganforge.nets.wavegan import CONDITIONING, WaveGANDiscriminator, WaveGANGenerator
from ganforge.recipes import RECIPES
from ganforge.recipes.objective import ObjectiveGAN


@dataclass
class WaveGANOptions:
    phase_shuffle: int = field(default=2, metadata={"help": "phase shuffle radius n of the critic (0: off)"})


@RECIPES.register("wavegan")
class WaveGAN(ObjectiveGAN):
    Options = WaveGANOptions
    latent_prior = "uniform"  # the authors' code samples z uniformly in [-1, 1] (train_wavegan.py)

    def build_networks(self):
        data, cfg = self.dataset, self.cfg
        if data.kind != "audio" or data.x.dim() != 3:
            raise GanforgeError(f"recipe {cfg.recipe!r} generates audio; dataset {data.name!r} holds {data.kind} data: "
                                "use an audio dataset (spoken-digits, drums, audio-folder).")
        if self.options.phase_shuffle < 0:
            raise GanforgeError(f"option 'phase_shuffle' is {self.options.phase_shuffle}; it must be 0 or more.")
        channels, length = data.shape
        generator = WaveGANGenerator(cfg.z_dim, cfg.g_width, length, channels, self.num_classes)
        conditioning = getattr(self.options, "conditioning", "aux")  # wavegan has no labels: unused there
        discriminator = WaveGANDiscriminator(cfg.d_width, length, channels, self.num_classes,
                                             self.options.phase_shuffle, conditioning)
        return generator, discriminator


@dataclass
class ConditionalWaveGANOptions(WaveGANOptions):
    conditioning: str = field(default="aux", metadata={
        "help": "how D uses the digit: aux (AC-GAN classifier head, AC-WGAN-GP) or projection (Miyato & Koyama)"})
    aux_weight: float = field(default=1.0, metadata={"help": "aux: weight of D's cross-entropy on real clips"})
    aux_weight_g: float = field(default=0.1, metadata={"help": "aux: weight of G's cross-entropy on its clips"})


@RECIPES.register("cwavegan")
class ConditionalWaveGAN(WaveGAN):
    """With ``conditioning="aux"`` (the default) D is label-blind and classifies the digit of real clips
    (cross-entropy x ``aux_weight``); G adds ``aux_weight_g`` x the cross-entropy of D's classification of
    its clips against the requested digits. The weights 1.0 / 0.1 are those of Gulrajani et al.'s
    AC-WGAN-GP (CIFAR-10); D does not classify fakes, so G and D cannot agree on labels of clips that
    do not sound like the digit. ``projection`` keeps the projection critic and the plain WGAN losses."""

    conditional = True
    Options = ConditionalWaveGANOptions

    def build_networks(self):
        o = self.options
        if o.conditioning not in CONDITIONING:
            raise GanforgeError(f"option 'conditioning' is {o.conditioning!r}; use one of {', '.join(CONDITIONING)}.")
        if not (o.aux_weight >= 0 and o.aux_weight_g >= 0):
            raise GanforgeError(f"options 'aux_weight' / 'aux_weight_g' are {o.aux_weight!r} / {o.aux_weight_g!r}; "
                                "they must be non-negative numbers (e.g. 1.0 / 0.1).")
        return super().build_networks()

    @property
    def aux(self) -> bool:
        return self.options.conditioning == "aux"

    def discriminator_loss(self, batch, fake, fake_labels, step):
        if not self.aux:
            return super().discriminator_loss(batch, fake, fake_labels, step)
        real_logits, real_classes = self.discriminator.classify(batch.x)
        fake_logits = self.discriminator(fake)
        adversarial = discriminator_loss(self.cfg.loss, real_logits, fake_logits)
        classification = F.cross_entropy(real_classes.float(), batch.y)
        accuracy = (real_classes.argmax(1) == batch.y).float().mean()
        return adversarial + self.options.aux_weight * classification, {
            "d_loss": adversarial.detach(), "d_aux": classification.detach(), "d_real_acc": accuracy.detach()}

    def generator_loss(self, batch, fake, fake_labels, step):
        if not self.aux:
            return super().generator_loss(batch, fake, fake_labels, step)
        fake_logits, fake_classes = self.discriminator.classify(fake)
        adversarial = generator_loss(self.cfg.loss, fake_logits)
        classification = F.cross_entropy(fake_classes.float(), fake_labels)
        return adversarial + self.options.aux_weight_g * classification, {
            "g_loss": adversarial.detach(), "g_aux": classification.detach()}
