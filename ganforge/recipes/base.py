"""The Recipe base: a GAN variant owns its networks and its loss phases; the trainer runs them.

A phase is one optimiser step of one network with one loss, stylegan2-ada style: the main phases
run every step (the discriminator's ``repeat`` times: n_critic), lazy regularisation phases run
every ``interval`` steps. A recipe usually only writes ``discriminator_loss`` and ``generator_loss``;
the base draws the fake samples, so shared additions (the BC-loss, regularisers) apply to every recipe.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ganforge.data import Batch, Dataset
from ganforge.errors import GanforgeError
from ganforge.losses import LOSSES
from ganforge.losses.diffaugment import DiffAugment
from ganforge.losses.regularizers import (
    add_instance_noise, apply_spectral_norm, clip_weights, gradient_penalty, instance_noise_std, r1_penalty,
    smoothed_real_target,
)
from ganforge.nets import build_networks
from ganforge.nets.packing import check_packing

LossResult = tuple[torch.Tensor, dict[str, torch.Tensor]]


@dataclass
class Phase:
    name: str                                   # "D", "D_reg", "G", ...
    network: str                                # "discriminator" or "generator": whose optimiser steps
    loss: Callable[[Batch, int], LossResult]    # (real batch, step) -> (scalar fp32 loss, detached logs)
    repeat: int = 1                             # consecutive steps per training step (n_critic)
    interval: int = 1                           # run when step % interval == 0 (lazy regularisation)


class Recipe:
    default_architecture = "dcgan"
    conditional = False  # class-conditional: G(z, y) and D(x, y) see labels
    conditioning = "concat"  # how labels enter the nets: concat | aux (ACGAN) | projection (ganforge.nets.conditional)

    def __init__(self, cfg, dataset: Dataset):
        self.cfg, self.dataset = cfg, dataset
        if self.conditional and not dataset.num_classes:
            raise GanforgeError(
                f"recipe {cfg.recipe!r} is class-conditional but dataset {dataset.name!r} has no labels; "
                f"use a labelled dataset (or --target for tables) or an unconditional recipe."
            )
        self.num_classes = dataset.num_classes if self.conditional else 0
        self.objective = LOSSES.get(cfg.loss)  # an unknown --loss fails here, before anything is built
        self.augment = DiffAugment(cfg.diffaugment)
        if self.augment and dataset.kind != "image":
            raise GanforgeError(f"diffaugment={cfg.diffaugment!r} augments images; dataset {dataset.name!r} holds "
                                "vectors: drop --diffaugment.")
        generator, discriminator = self.build_networks()
        check_packing(cfg, discriminator)  # --pack: D must be packed (nets.build_networks does it)
        if cfg.spectral_norm:  # before the trainer builds optimisers: they must see the parametrised weights
            apply_spectral_norm(discriminator)
        self.nets = {"generator": generator, "discriminator": discriminator}
        # The trainer may swap these callables for DDP / compiled wrappers: always call through them.
        self.generator, self.discriminator = generator, discriminator
        self.device = torch.device("cpu")
        self.bc = None  # boundary calibration, built by the trainer when cfg.bc_weight > 0
        self._fake_for_generator = None  # fakes the discriminator phase hands to the generator phase

    # -- construction ---------------------------------------------------------------------------
    def build_networks(self):
        return build_networks(self.cfg, self.dataset, self.default_architecture, self.num_classes, self.conditioning)

    def to(self, device) -> "Recipe":
        self.device = torch.device(device)
        for net in self.nets.values():
            net.to(self.device)
        return self

    # -- sampling helpers -----------------------------------------------------------------------
    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.cfg.z_dim, device=self.device, generator=generator)

    def random_labels(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor | None:
        if not self.num_classes:
            return None
        return torch.randint(0, self.num_classes, (n,), device=self.device, generator=generator)

    def fake(self, n: int, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator(self.latent(n), y)

    # -- phases ---------------------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        phases = [Phase("D", "discriminator", self.discriminator_phase, repeat=self.cfg.n_critic)]
        if self.has_lazy_regularizer():
            phases.append(Phase("D_reg", "discriminator", self.discriminator_regularizer, interval=self.cfg.r1_interval))
        phases.append(Phase("G", "generator", self.generator_phase))
        return phases

    def discriminator_phase(self, batch: Batch, step: int) -> LossResult:
        y = self.random_labels(len(batch.x))
        # With one critic step per generator step, the generator phase reuses these fakes (as the
        # classic DCGAN loop does): one generator forward per step instead of two. G is not updated
        # in between, so its graph is still valid when the generator phase backpropagates.
        reuse = self.cfg.n_critic == 1
        with torch.set_grad_enabled(reuse):
            fake = self.fake(len(batch.x), y)
        self._fake_for_generator = (fake, y) if reuse else None
        fake = fake.detach()
        real = Batch(self.discriminator_input(batch.x, step), batch.y)
        fake = self.discriminator_input(fake, step)
        loss, logs = self.discriminator_loss(real, fake, y, step)
        if self.cfg.gp_weight > 0:
            gp = gradient_penalty(self.discriminator, real.x, fake, batch.y if self.num_classes else None,
                                  pack=self.cfg.pack)
            loss = loss + self.cfg.gp_weight * gp
            logs["gp"] = gp.detach()
        return loss, logs

    def generator_phase(self, batch: Batch, step: int) -> LossResult:
        reused, self._fake_for_generator = self._fake_for_generator, None
        if reused is not None and len(reused[0]) == len(batch.x):
            fake, y = reused
        else:
            y = self.random_labels(len(batch.x))
            fake = self.fake(len(batch.x), y)
        # D sees augmented / noised inputs in the G phase too (DiffAugment: G learns through the augmentation).
        seen = Batch(self.discriminator_input(batch.x, step), batch.y)
        loss, logs = self.generator_loss(seen, self.discriminator_input(fake, step), y, step)
        if self.bc is not None:  # only built when bc_weight > 0, so λ=0 is the base recipe bit for bit
            bc = self.bc(fake, y, batch)
            loss = loss + self.cfg.bc_weight * bc
            logs["bc_loss"] = bc.detach()
        return loss, logs

    # -- shared regularisers (each off unless its config key is set) -------------------------------
    @property
    def real_target(self) -> float:
        """The discriminator's target for reals: 1, or 1 - label_smoothing (one-sided smoothing)."""
        return smoothed_real_target(self.cfg.label_smoothing)

    def discriminator_input(self, x: torch.Tensor, step: int) -> torch.Tensor:
        """What D sees of a real or fake batch: DiffAugment (one policy for both) + annealed instance noise."""
        x = self.augment(x)
        if self.cfg.instance_noise > 0:
            x = add_instance_noise(x, instance_noise_std(self.cfg.instance_noise, step, self.cfg.steps))
        return x

    def has_lazy_regularizer(self) -> bool:
        return self.cfg.r1_gamma > 0

    def discriminator_regularizer(self, batch: Batch, step: int) -> LossResult:
        """Lazy R1 on reals, every r1_interval steps; scaled by the interval (StyleGAN2) so its
        average strength is gamma/2 * E||grad D(x)||^2 whatever the interval."""
        real = self.discriminator_input(batch.x, step)
        r1 = r1_penalty(self.discriminator, real, batch.y if self.num_classes else None, pack=self.cfg.pack)
        return 0.5 * self.cfg.r1_gamma * self.cfg.r1_interval * r1, {"r1": r1.detach()}

    def after_step(self, phase: Phase) -> None:
        """Called after each optimiser step: WGAN weight clipping of the critic."""
        if phase.network == "discriminator" and self.cfg.clip_value > 0:
            clip_weights(self.nets["discriminator"], self.cfg.clip_value)

    # -- what a recipe defines ------------------------------------------------------------------
    def discriminator_loss(self, batch: Batch, fake: torch.Tensor, fake_labels, step: int) -> LossResult:
        raise NotImplementedError

    def generator_loss(self, batch: Batch, fake: torch.Tensor, fake_labels, step: int) -> LossResult:
        raise NotImplementedError
