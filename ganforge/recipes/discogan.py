"""DiscoGAN (Kim et al., "Learning to Discover Cross-Domain Relations with Generative Adversarial
Networks", ICML 2017), on two unpaired domains (``--data unpaired-folder``), as the authors' code trains it.

- G_AB, G_BA: encoder-decoders without skips; D_A, D_B: conv encoders returning a logit and their
  intermediate features (``ganforge.nets.discogan``); weights N(0, 0.02);
- reconstruction: MSE(G_BA(G_AB(a)), a) (and the same for b) — the paper's distance function d;
- each generator's GAN term is 0.1 x the non-saturating BCE loss + 0.9 x feature matching (squared
  difference of D's batch-mean features after blocks 2-4, averaged), as in the authors' code;
- G_total = (1 - rate) x GAN terms + rate x reconstruction, rate = 0.01 for the first
  ``gan_curriculum`` steps (strong GAN loss first), then 0.5;
- D: 0.5 x (BCE(real) + BCE(fake)) per domain;
- one optimiser step per training step: D every ``update_interval``-th step (step % 3 == 0), both
  generators on the others; Adam 2e-4 (0.5, 0.999), weight decay 1e-5.

What differs from CycleGAN (same data, same sampling and evaluation): the architecture (no residual
blocks, no skips: a bottleneck that must encode the whole image), MSE reconstruction instead of L1,
feature matching, the curriculum, and no image pools or identity loss.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.nets.discogan import DiscoDiscriminator, DiscoGenerator
from ganforge.options import option_field
from ganforge.recipes import RECIPES
from ganforge.recipes.base import OptimizerGroup, Phase
from ganforge.recipes.cyclegan import CycleGAN
from ganforge.recipes.pix2pix import init_weights
from ganforge.recipes.translation import adversarial


@dataclass
class DiscoGANOptions:
    gan_curriculum: int = option_field(10000, "steps with the strong GAN weighting (rate = starting_rate)")
    starting_rate: float = option_field(0.01, "reconstruction weight during the curriculum")
    default_rate: float = option_field(0.5, "reconstruction weight after it")
    update_interval: int = option_field(3, "D steps on step % update_interval == 0, G steps on the others")
    feature_matching: float = option_field(0.9, "share of feature matching in each GAN term (BCE: the rest)")
    weight_decay: float = option_field(1e-5, "Adam weight decay of all four networks (the authors' code)")


def feature_matching(real_features, fake_features) -> torch.Tensor:
    """Sum over D's blocks of the mean squared difference between batch-mean features."""
    return sum(((r.float().mean(0) - f.float().mean(0)) ** 2).mean() for r, f in zip(real_features, fake_features))


@RECIPES.register("discogan")
class DiscoGAN(CycleGAN):
    Options = DiscoGANOptions

    def build_networks(self, a_shape, b_shape):
        size, cfg = a_shape[-1], self.cfg
        if size % 16 or size < 16:
            raise GanforgeError(f"discogan's networks halve the image 4 times: the size must be a multiple of 16 "
                                f"(got {size}); pass --image-size 64 (the paper's) or 32.")
        self.add_network("g_ab", DiscoGenerator(a_shape[0], b_shape[0], cfg.g_width, size))
        self.add_network("g_ba", DiscoGenerator(b_shape[0], a_shape[0], cfg.g_width, size))
        self.add_network("d_a", DiscoDiscriminator(a_shape[0], cfg.d_width, size))
        self.add_network("d_b", DiscoDiscriminator(b_shape[0], cfg.d_width, size))
        for net in self.nets.values():
            init_weights(net)

    def optimizer_groups(self):
        betas, decay = (self.cfg.beta1, self.cfg.beta2), self.options.weight_decay
        return {"generators": OptimizerGroup(("g_ab", "g_ba"), self.cfg.lr_g, betas, decay),
                "discriminators": OptimizerGroup(("d_a", "d_b"), self.cfg.lr_d, betas, decay)}

    def phases(self):
        k = self.options.update_interval
        return [Phase("D", "discriminators", self.discriminator_loss, when=lambda step: step % k == 0),
                Phase("G", "generators", self.generator_loss, when=lambda step: step % k != 0)]

    def rate(self, step: int) -> float:
        o = self.options
        return o.starting_rate if step < o.gan_curriculum else o.default_rate

    def _gan_term(self, d, real, fake):
        fake_logits, fake_features = d(fake)
        with torch.no_grad():
            _, real_features = d(real)
        fm = self.options.feature_matching
        return (1 - fm) * adversarial("vanilla", fake_logits, True) + fm * feature_matching(real_features, fake_features)

    def generator_loss(self, batch, step):
        a, b = batch["A"], batch["B"]
        fake_b, fake_a = self.g_ab(a), self.g_ba(b)
        recon = F.mse_loss(self.g_ba(fake_b).float(), a.float()) + F.mse_loss(self.g_ab(fake_a).float(), b.float())
        gan = self._gan_term(self.d_b, b, fake_b) + self._gan_term(self.d_a, a, fake_a)
        rate = self.rate(step)
        return (1 - rate) * gan + rate * recon, {"g_loss": gan.detach(), "recon": recon.detach()}

    def discriminator_loss(self, batch, step):
        a, b = batch["A"], batch["B"]
        with torch.no_grad():
            fake_b, fake_a = self.g_ab(a), self.g_ba(b)
        loss = 0.0
        for d, real, fake in ((self.d_a, a, fake_a), (self.d_b, b, fake_b)):
            loss = loss + 0.5 * (adversarial("vanilla", d(real)[0], True) + adversarial("vanilla", d(fake)[0], False))
        return loss, {"d_loss": loss.detach()}

    def state_dict(self):
        return {}  # no pools, no recipe RNG: the weights, optimisers and the trainer's RNG are all of it

    def load_state_dict(self, state):
        pass
