"""The two-player recipe (one generator, one discriminator) that the classic GAN variants share.

Phases, stylegan2-ada style: ``D`` (``n_critic`` times), the lazy regulariser ``D_reg`` (every
``r1_interval`` steps, only when R1 is on) and ``G``. A variant usually only writes
``discriminator_loss`` and ``generator_loss``; this base draws the fakes, so shared additions (the
BC-loss, gradient penalty, R1, DiffAugment, ADA, instance noise, weight clipping) apply to every variant.
Sampling maps noise (and a class, for conditional variants) to a sample.
"""
from __future__ import annotations

import torch

from ganforge.data import Batch, Dataset
from ganforge.errors import GanforgeError
from ganforge.losses import LOSSES
from ganforge.losses.ada import AdaptiveAugment
from ganforge.losses.diffaugment import DiffAugment
from ganforge.losses.regularizers import (
    add_instance_noise, apply_spectral_norm, clip_weights, gradient_penalty, instance_noise_std, mode_seeking_term,
    r1_penalty, smoothed_real_target,
)
from ganforge.nets import build_networks
from ganforge.nets.packing import check_packing
from ganforge.recipes.base import LossResult, OptimizerGroup, Phase, Recipe, Samples, adversarial_groups


def class_labels(n: int, num_classes: int, labels=None, device="cpu") -> torch.Tensor | None:
    """Balanced labels (0, 1, ..., C-1, 0, ...) by default; an int asks for one class; a tensor is used as is."""
    if not num_classes:
        if labels is not None:
            raise GanforgeError("this generator is unconditional; drop --class (only conditional recipes take a class).")
        return None
    if labels is None:
        return torch.arange(n, device=device) % num_classes
    if isinstance(labels, int):
        if not 0 <= labels < num_classes:
            raise GanforgeError(f"class {labels} does not exist; this generator has classes 0..{num_classes - 1}.")
        return torch.full((n,), labels, dtype=torch.long, device=device)
    labels = torch.as_tensor(labels, dtype=torch.long, device=device)
    if len(labels) != n or labels.min() < 0 or labels.max() >= num_classes:
        raise GanforgeError(f"labels must be {n} class indices in 0..{num_classes - 1}.")
    return labels


class GANRecipe(Recipe):
    default_architecture = "dcgan"  # on vector data the MLP (see ganforge.nets.build_networks)
    conditional = False  # class-conditional: G(z, y) and D(x, y) see labels
    conditioning = "concat"  # how labels enter the nets: concat | aux (ACGAN) | projection (ganforge.nets.conditional)
    ema_networks = ("generator",)
    inference_networks = ("generator",)
    # z's prior: "normal" N(0, I), or "uniform" U(-1, 1)^z_dim where the paper's own code draws that
    latent_prior = "normal"

    def __init__(self, cfg, dataset: Dataset):
        super().__init__(cfg, dataset)
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
        self.ada = self.build_ada(cfg, dataset)
        generator, discriminator = self.build_networks()
        check_packing(cfg, discriminator)  # --pack: D must be packed (nets.build_networks does it)
        if cfg.spectral_norm:  # before the trainer builds optimisers: they must see the parametrised weights
            apply_spectral_norm(discriminator)
        self.add_network("generator", generator)
        self.add_network("discriminator", discriminator)
        self.bc = None  # boundary calibration, built by the trainer when cfg.bc_weight > 0
        self._fake_for_generator = None  # fakes the discriminator phase hands to the generator phase

    @property
    def task(self) -> str:
        return "class" if self.num_classes else "noise"

    @property
    def knobs(self) -> tuple[str, ...]:
        return ("labels",) if self.num_classes else ()

    # -- construction ---------------------------------------------------------------------------
    @staticmethod
    def build_ada(cfg, dataset: Dataset) -> AdaptiveAugment | None:
        """ADA (``cfg.ada``: a pipeline name): augments every D input with an adaptive probability p."""
        if not cfg.ada:
            return None
        if dataset.kind != "image":
            raise GanforgeError(f"ada={cfg.ada!r} augments images; dataset {dataset.name!r} holds {dataset.kind} data: "
                                "drop --ada.")
        dist = torch.distributed
        world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
        return AdaptiveAugment(cfg.ada, cfg.ada_target, cfg.ada_kimg, batch_size=cfg.batch_size, world_size=world)

    def state_dict(self) -> dict:
        return self.ada.state_dict() if self.ada is not None else {}

    def load_state_dict(self, state: dict) -> None:
        ada = {k: v for k, v in state.items() if k.startswith("ada.")}
        if self.ada is not None and ada:
            self.ada.load_state_dict(ada)
        super().load_state_dict({k: v for k, v in state.items() if not k.startswith("ada.")})

    def build_networks(self):
        return build_networks(self.cfg, self.dataset, self.default_architecture, self.num_classes, self.conditioning)

    def optimizer_groups(self) -> dict[str, OptimizerGroup]:
        return adversarial_groups(self.cfg)

    # -- sampling helpers -----------------------------------------------------------------------
    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.latent_prior == "uniform":
            return torch.rand(n, self.cfg.z_dim, device=self.device, generator=generator) * 2 - 1
        return torch.randn(n, self.cfg.z_dim, device=self.device, generator=generator)

    def random_labels(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor | None:
        if not self.num_classes:
            return None
        return torch.randint(0, self.num_classes, (n,), device=self.device, generator=generator)

    def fake(self, n: int, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator(self.latent(n), y)

    def draw_fakes(self, n: int):
        """A training step's ``(fakes, labels, latents)``. With the mode-seeking term on (``ms_weight``),
        sample i + ceil(n/2) gets sample i's label (pairs of one label, two latents: what the term
        compares, as in MSGAN's code) and the latents come back for it; else they are None."""
        if self.cfg.ms_weight > 0:
            half = self.random_labels((n + 1) // 2)
            y = None if half is None else torch.cat([half, half])[:n]
            z = self.latent(n)
            return self.generator(z, y), y, z
        y = self.random_labels(n)
        return self.fake(n, y), y, None

    @property
    def supports_mode_seeking(self) -> bool:
        """The term lives in this class's phases and fake drawing: a recipe that overrides them would skip it."""
        own = ("phases", "discriminator_phase", "generator_phase", "fake", "random_labels")
        return all(getattr(type(self), name) is getattr(GANRecipe, name) for name in own)

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0, nets=None, labels=None, batch_size: int = 512) -> Samples:
        module = self.inference(nets, "generator")
        g = torch.Generator(device=self.device).manual_seed(seed)
        z = self.latent(n, generator=g)
        y = class_labels(n, self.num_classes, labels, self.device)
        was_training = module.training
        module.eval()
        try:
            chunks = [module(z[i:i + batch_size], None if y is None else y[i:i + batch_size]).float().cpu()
                      for i in range(0, n, batch_size)]
        finally:
            module.train(was_training)
        return Samples(torch.cat(chunks), None if y is None else y.cpu(), {"z": z.cpu()})

    # -- phases ---------------------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        # With one critic step per generator step the G phase reuses the D phase's fakes, whose graph
        # through G must exist: G stays trainable during the D phase.
        reuse = ("generator",) if self.cfg.n_critic == 1 else ()
        phases = [Phase("D", "discriminator", self.discriminator_phase, repeat=self.cfg.n_critic, keep_trainable=reuse)]
        if self.has_lazy_regularizer():
            phases.append(Phase("D_reg", "discriminator", self.discriminator_regularizer, interval=self.cfg.r1_interval))
        phases.append(Phase("G", "generator", self.generator_phase))
        return phases

    def discriminator_phase(self, batch: Batch, step: int) -> LossResult:
        n = batch.size
        # With one critic step per generator step, the generator phase reuses these fakes (as the
        # classic DCGAN loop does): one generator forward per step instead of two. G is not updated
        # in between, so its graph is still valid when the generator phase backpropagates.
        reuse = self.cfg.n_critic == 1
        with torch.set_grad_enabled(reuse):
            fake, y, z = self.draw_fakes(n)
        self._fake_for_generator = (fake, y, z) if reuse else None
        fake = fake.detach()
        real = batch.replace(x=self.discriminator_input(batch.x, step))
        fake = self.discriminator_input(fake, step)
        loss, logs = self.discriminator_loss(real, fake, y, step)
        if self.ada is not None:  # the overfitting heuristic r_t reads D's logits on (augmented) reals
            real_sign = logs.pop("real_sign", None)
            if real_sign is None:
                with torch.no_grad():
                    real_sign = self.discriminator(real.x, real.y if self.num_classes else None).float().sign().mean()
            self.ada.observe(real_sign)
            logs["ada_p"] = torch.tensor(self.ada.p)
        if self.cfg.gp_weight > 0:
            gp = gradient_penalty(self.discriminator, real.x, fake, batch.y if self.num_classes else None,
                                  pack=self.cfg.pack)
            loss = loss + self.cfg.gp_weight * gp
            logs["gp"] = gp.detach()
        return loss, logs

    def generator_phase(self, batch: Batch, step: int) -> LossResult:
        reused, self._fake_for_generator = self._fake_for_generator, None
        if reused is not None and len(reused[0]) == batch.size:
            fake, y, z = reused
        else:
            fake, y, z = self.draw_fakes(batch.size)
        # D sees augmented / noised inputs in the G phase too (DiffAugment: G learns through the augmentation).
        seen = batch.replace(x=self.discriminator_input(batch.x, step))
        loss, logs = self.generator_loss(seen, self.discriminator_input(fake, step), y, step)
        if z is not None:  # mode seeking (MSGAN) on the raw fakes, as in the authors' code
            ms = mode_seeking_term(fake, z)
            loss = loss + self.cfg.ms_weight * ms
            logs["ms_loss"] = ms.detach()
        return self.calibrate(loss, logs, fake, y, batch)

    def calibrate(self, loss: torch.Tensor, logs: dict, fake: torch.Tensor, y, batch: Batch) -> LossResult:
        """+ the boundary-calibration loss of the fakes (labels ``y``) against the real ``batch``. Only
        built when bc_weight > 0, so λ=0 is the base recipe bit for bit."""
        if self.bc is not None:
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
        """What D sees of a real or fake batch: DiffAugment (one policy for both), ADA + annealed instance noise."""
        x = self.augment(x)
        if self.ada is not None:
            x = self.ada(x)
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
        if phase.group == "discriminator" and self.cfg.clip_value > 0:
            clip_weights(self.nets["discriminator"], self.cfg.clip_value)

    # -- what a variant defines -----------------------------------------------------------------
    def discriminator_loss(self, batch: Batch, fake: torch.Tensor, fake_labels, step: int) -> LossResult:
        raise NotImplementedError

    def generator_loss(self, batch: Batch, fake: torch.Tensor, fake_labels, step: int) -> LossResult:
        raise NotImplementedError
