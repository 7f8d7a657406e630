"""Fixture recipes of shapes the classic two-player base does not have (registered by the tests that use them).

``ThreeNets``: an encoder and a generator trained by one optimiser group, a discriminator by another,
a frozen feature network inside the discriminator's loss, recipe state that the losses read (a
running mean of D's real scores and a counter), a pre-training stage that switches to adversarial
training at step ``switch_at``, gradient accumulation and a phase that reuses the step's batch.

``Translate``: an image-to-image recipe (task "image"): G maps a digit to its negative; sampling
needs input images.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.data import Batch, Dataset
from ganforge.options import option_field
from ganforge.recipes import OptimizerGroup, Phase, Recipe, Samples


def mlp(i, o, h=16):
    return nn.Sequential(nn.Linear(i, h), nn.LeakyReLU(0.2), nn.Linear(h, o))


@dataclass
class ThreeNetsOptions:
    switch_at: int = option_field(8, "first adversarial step (before: reconstruction pre-training)")


class ThreeNets(Recipe):
    task = "noise"
    ema_networks = ("generator",)
    inference_networks = ("generator",)
    Options = ThreeNetsOptions

    def __init__(self, cfg, dataset: Dataset):
        super().__init__(cfg, dataset)
        d = dataset.shape[0]
        self.add_network("encoder", mlp(d, cfg.z_dim))
        self.add_network("generator", mlp(cfg.z_dim, d))
        self.add_network("discriminator", mlp(d, 1))
        self.add_network("features", mlp(d, 4), frozen=True)  # a fixed feature network
        self.real_mean = torch.zeros(())   # recipe state: running mean of D(real)
        self.updates = 0                   # recipe state: JSON counter

    def optimizer_groups(self):
        return {"autoencoder": OptimizerGroup(("encoder", "generator"), 1e-3, (0.5, 0.99)),
                "discriminator": OptimizerGroup(("discriminator",), 1e-3, (0.5, 0.99), weight_decay=1e-4)}

    def stage(self, step: int) -> str:
        return "pretrain" if step < self.options.switch_at else "adversarial"

    def phases(self):
        adversarial = lambda step: self.stage(step) == "adversarial"  # noqa: E731
        return [Phase("AE", "autoencoder", self.reconstruction, when=lambda step: not adversarial(step)),
                Phase("D", "discriminator", self.discriminator_phase, when=adversarial, accumulate=2),
                Phase("G", "autoencoder", self.generator_phase, when=adversarial, new_batch=False)]

    def reconstruction(self, batch: Batch, step: int):
        x = batch.x
        rec = self.generator(self.encoder(x))
        loss = F.mse_loss(rec, x) + F.mse_loss(self.features(rec), self.features(x))
        return loss, {"rec": loss.detach()}

    def discriminator_phase(self, batch: Batch, step: int):
        fake = self.generator(torch.randn(batch.size, self.cfg.z_dim, device=self.device)).detach()
        real_scores = self.discriminator(batch.x).squeeze(1)
        loss = F.softplus(-(real_scores - self.real_mean)).mean() + F.softplus(self.discriminator(fake)).mean()
        with torch.no_grad():
            self.real_mean.mul_(0.9).add_(0.1 * real_scores.mean())
        self.updates += 1
        return loss, {"d_loss": loss.detach()}

    def generator_phase(self, batch: Batch, step: int):
        fake = self.generator(torch.randn(batch.size, self.cfg.z_dim, device=self.device))
        loss = F.softplus(-(self.discriminator(fake) - self.real_mean)).mean()
        loss = loss + 0.1 * F.mse_loss(self.features(fake).mean(0), self.features(batch.x).mean(0))
        return loss, {"g_loss": loss.detach()}

    def state_dict(self):
        return {"real_mean": self.real_mean.clone(), "updates": self.updates}

    def load_state_dict(self, state):
        self.real_mean = state["real_mean"].clone().to(self.device)
        self.updates = int(state["updates"])

    def to(self, device):
        super().to(device)
        self.real_mean = self.real_mean.to(self.device)
        return self

    @torch.no_grad()
    def sample(self, n, seed=0, nets=None, **knobs):
        g = torch.Generator().manual_seed(seed)
        return Samples(self.inference(nets, "generator")(torch.randn(n, self.cfg.z_dim, generator=g)).cpu())


class Translate(Recipe):
    """G: image -> image (a digit -> its negative); L1 + a patch discriminator, pix2pix-shaped."""
    task = "image"
    knobs = ("inputs",)
    inference_networks = ("generator",)

    def __init__(self, cfg, dataset: Dataset):
        super().__init__(cfg, dataset)
        c = dataset.shape[0]
        self.add_network("generator", nn.Sequential(nn.Conv2d(c, 8, 3, padding=1), nn.ReLU(),
                                                    nn.Conv2d(8, c, 3, padding=1), nn.Tanh()))
        self.add_network("discriminator", nn.Sequential(nn.Conv2d(2 * c, 8, 3, padding=1), nn.LeakyReLU(0.2),
                                                        nn.Conv2d(8, 1, 3, padding=1)))

    def optimizer_groups(self):
        return {"generator": OptimizerGroup(("generator",), 2e-3), "discriminator": OptimizerGroup(("discriminator",), 2e-3)}

    def phases(self):
        return [Phase("D", "discriminator", self.discriminator_phase),
                Phase("G", "generator", self.generator_phase, new_batch=False)]

    def discriminator_phase(self, batch, step):
        fake = self.generator(batch.x).detach()
        real = self.discriminator(torch.cat([batch.x, batch["target"]], 1))
        fake = self.discriminator(torch.cat([batch.x, fake], 1))
        loss = F.softplus(-real).mean() + F.softplus(fake).mean()
        return loss, {"d_loss": loss.detach()}

    def generator_phase(self, batch, step):
        fake = self.generator(batch.x)
        adv = F.softplus(-self.discriminator(torch.cat([batch.x, fake], 1))).mean()
        l1 = (fake - batch["target"]).abs().mean()
        return adv + 100 * l1, {"g_loss": adv.detach(), "l1": l1.detach()}

    @torch.no_grad()
    def sample(self, n, seed=0, nets=None, inputs=None, **knobs):
        if inputs is None:
            raise ValueError("translation needs inputs")
        return Samples(self.inference(nets, "generator")(inputs.to(self.device)).float().cpu())

    def preview(self, n, seed=0, nets=None):
        x = self.dataset.to_model(self.dataset.x[:8])
        out = self.sample(8, nets=nets, inputs=x).x
        return Samples(torch.cat([x, out]), extra={"nrow": 8})


def load_negatives(cfg, split):
    """Paired digits: input = the digit, target = its negative (a learnable image-to-image task)."""
    from ganforge.data import DATASETS

    digits = DATASETS.get("digits")(cfg, split)
    return Dataset("digits-negative", digits.x, kind="image", fields={"target": 255 - digits.x},
                   field_kinds={"target": "image"})


class CustomStep(ThreeNets):
    """A step that is not a list of phases (as unrolled GANs and policy gradients need): the recipe draws
    its batch and steps its groups itself, through the context that keeps the trainer's guards."""

    def train_step(self, step, ctx):
        batch = ctx.batch()
        d_loss, d_logs = self.discriminator_phase(batch, step)
        ctx.step("discriminator", d_loss, d_logs)
        g_loss, g_logs = self.generator_phase(batch, step)
        ctx.step("autoencoder", g_loss, g_logs)
