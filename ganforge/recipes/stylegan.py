"""StyleGAN (Karras, Laine & Aila, "A Style-Based Generator Architecture for Generative Adversarial
Networks", CVPR 2019).

The style-based generator of ``ganforge.nets.stylegan`` (mapping network with lr x0.01, learned constant
input, AdaIN, per-layer noise) grown progressively exactly like ProGAN (this recipe extends
``ganforge.recipes.progan``: fade-in, batch size per resolution, Adam resets, exact mid-fade resume) or
trained at the final resolution (``options: {progressive: false}``). The discriminator is ProGAN's with
StyleGAN's blur before each downsampling.

* **Style mixing regularisation** (§3.1): with probability ``style_mixing`` (0.9) a generated batch uses
  two latents, switching from the first to the second at one random layer among those in use.
* **Truncation trick in w** (§3.1 / App. B): ``w_avg`` (a generator buffer, so checkpointed and resumed)
  tracks the mean w with decay 0.995 during training; ``ganforge sample RUN --truncation PSI`` draws
  ``w_avg + psi (w - w_avg)`` (on the first ``truncation_cutoff`` layers; 0 = all): psi 0 gives the same
  image for every seed, psi 1 the untruncated distribution.
* ``--mix SEED_A,SEED_B``: a strip of images from all-A to all-B styles, the crossover layer moving from
  the finest to the coarsest, so the coarse styles (pose, shape) of A give way to B's last.
* Objective (the paper's FFHQ setting): non-saturating logistic loss with R1 on reals, gamma 10, every
  step; ``options: {loss: wgan-gp}`` uses ProGAN's WGAN-GP + drift (its CelebA-HQ setting).
  Adam lr 0.001, betas (0, 0.99), EMA generator.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ganforge.data import Batch
from ganforge.errors import GanforgeError
from ganforge.losses.regularizers import r1_penalty
from ganforge.nets.progan import ProDiscriminator
from ganforge.nets.stylegan import StyleGenerator
from ganforge.recipes import RECIPES
from ganforge.recipes.base import LossResult, Samples
from ganforge.recipes.progan import ProGAN, ProGANOptions

LOSSES = ("logistic-r1", "wgan-gp")


@dataclass
class StyleGANOptions(ProGANOptions):
    w_dim: int = field(default=0, metadata={"help": "dimension of w (0: z_dim; paper: 512)"})
    mapping_layers: int = field(default=8, metadata={"help": "fully-connected layers of the mapping network"})
    mapping_lr_mult: float = field(default=0.01, metadata={"help": "learning-rate multiplier of the mapping network"})
    style_mixing: float = field(default=0.9, metadata={"help": "probability of mixing two latents in a batch"})
    w_avg_beta: float = field(default=0.995, metadata={"help": "decay of the tracked mean w (truncation centre)"})
    truncation_cutoff: int = field(default=0, metadata={"help": "truncate the first N layers only (0: all)"})
    loss: str = field(default="logistic-r1", metadata={"help": "logistic-r1 (FFHQ) or wgan-gp (ProGAN's + drift)"})


@RECIPES.register("stylegan")
class StyleGAN(ProGAN):
    knobs = ("truncation", "mix")
    Options = StyleGANOptions

    def build_networks(self, channels: int, resolution: int) -> None:
        opts, cfg = self.options, self.cfg
        if opts.loss not in LOSSES:
            raise GanforgeError(f"stylegan loss {opts.loss!r} is unknown; use one of {', '.join(LOSSES)}.")
        if not 0.0 <= opts.style_mixing <= 1.0:
            raise GanforgeError(f"style_mixing is a probability; got {opts.style_mixing}.")
        self.add_network("generator", StyleGenerator(cfg.z_dim, opts.w_dim or cfg.z_dim, channels, resolution,
                                                     opts.fmap_base, opts.fmap_max, opts.mapping_layers,
                                                     opts.mapping_lr_mult))
        self.add_network("discriminator", ProDiscriminator(channels, resolution, opts.fmap_base, opts.fmap_max,
                                                           cfg.mbstd_group, blur=True))

    def layers_in_use(self) -> int:
        return 2 * (self.stage.level + 1)

    def generate(self, n: int) -> torch.Tensor:
        """A training batch of fakes: style mixing with probability ``style_mixing`` (one crossover per
        batch, as in the paper's code), and the mean w tracked."""
        mix_z = cutoff = None
        if self.options.style_mixing > 0 and float(torch.rand(())) < self.options.style_mixing:
            cutoff = int(torch.randint(1, self.layers_in_use(), ())) if self.layers_in_use() > 1 else 1
            mix_z = self.noise(n)
        z = self.noise(n)
        return self.generator(z, self.stage.level, self.stage.alpha, mix_z=mix_z, mix_cutoff=cutoff,
                              w_avg_beta=self.options.w_avg_beta)

    def discriminator_loss(self, batch: Batch, step: int) -> LossResult:
        if self.options.loss == "wgan-gp":
            return super().discriminator_loss(batch, step)
        real = self.reals(batch.x)
        with torch.no_grad():
            fake = self.generate(len(real))
        real_score, fake_score = self.critic(real).float(), self.critic(fake).float()
        adversarial = F.softplus(fake_score).mean() + F.softplus(-real_score).mean()
        r1 = r1_penalty(self.critic, real) if self.cfg.r1_gamma > 0 else torch.zeros((), device=real.device)
        loss = adversarial + 0.5 * self.cfg.r1_gamma * r1
        return loss, {"d_loss": adversarial.detach(), "r1": r1.detach(),
                      "level": torch.tensor(float(self.stage.level)), "alpha": torch.tensor(self.stage.alpha)}

    def generator_loss(self, batch: Batch, step: int) -> LossResult:
        if self.options.loss == "wgan-gp":
            return super().generator_loss(batch, step)
        loss = F.softplus(-self.critic(self.generate(batch.size)).float()).mean()
        return loss, {"g_loss": loss.detach()}

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0, nets=None, truncation: float | None = None,
               mix: tuple[int, int] | None = None) -> Samples:
        net = self.inference(nets, "generator")
        latent = lambda count, s: torch.randn(count, self.cfg.z_dim,  # noqa: E731
                                              generator=torch.Generator().manual_seed(s)).to(self.device)
        kwargs = dict(noise="const", psi=1.0 if truncation is None else float(truncation),
                      truncation_cutoff=self.options.truncation_cutoff)
        if mix is not None:
            a, b = (int(s) for s in mix)
            z, mix_z = latent(1, a).expand(n, -1), latent(1, b).expand(n, -1)
            # image i takes A's w below its crossover layer: all A first, all B last
            cutoff = torch.linspace(self.layers_in_use(), 0, n).round().long() if n > 1 else torch.tensor([0])
            x = net(z, self.stage.level, self.stage.alpha, mix_z=mix_z, mix_cutoff=cutoff.to(self.device), **kwargs)
            extra = {"mix": (a, b), "crossover": cutoff.tolist()}
        else:
            z = latent(n, seed)
            x = net(z, self.stage.level, self.stage.alpha, **kwargs)
            extra = {"z": z.cpu()}
        return Samples(self.to_full_size(x).float().cpu(), extra={**extra, "resolution": x.shape[-1]})
