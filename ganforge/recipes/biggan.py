"""BigGAN (Brock, Donahue & Simonyan, "Large Scale GAN Training for High Fidelity Natural Image Synthesis",
ICLR 2019).

Networks (``ganforge.nets.biggan``): hierarchical latent, shared class embedding into conditional
batch norm, self-attention, projection discriminator, spectral norm in G and D, orthogonal init.
Training, the paper's settings (``configs/biggan.yaml``): hinge loss; Adam with beta1 = 0, beta2 =
0.999, lr 5e-5 for G and 2e-4 for D, two D steps per G step; an EMA of G's weights (decay 0.9999) for
sampling; **orthogonal regularisation** of G, ``beta * sum ||W W^T ⊙ (1 - I)||_F^2`` with beta = 1e-4
(option ``ortho_beta``); large batches by **gradient accumulation** (option ``accumulate``: every D and
G step sums the gradients of that many batches, the paper's 2048 = 8 x 256).
Sampling takes a class (``--class``) and the **truncation trick** (``--truncation T``: entries of z
beyond magnitude T are resampled; smaller T trades variety for fidelity).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ganforge.errors import GanforgeError
from ganforge.nets.biggan import BigGANDiscriminator, BigGANGenerator, orthogonal_penalty, truncated_normal
from ganforge.options import option_field
from ganforge.recipes import RECIPES
from ganforge.recipes.base import Samples
from ganforge.recipes.gan import class_labels
from ganforge.recipes.objective import ObjectiveGAN


@dataclass
class BigGANOptions:
    shared_dim: int = option_field(128, "size of the shared class embedding")
    attention: int = option_field(-1, "self-attention resolution in G and D (-1: half the image size; 0: off)")
    ortho_beta: float = option_field(1e-4, "orthogonal regularisation strength on G (0: off)")
    accumulate: int = option_field(1, "batches whose gradients each D and G step sums (effective batch = "
                                      "batch_size x accumulate)")


@RECIPES.register("biggan")
class BigGAN(ObjectiveGAN):
    conditional = True
    conditioning = "projection"
    Options = BigGANOptions

    @property
    def knobs(self) -> tuple[str, ...]:
        return ("labels", "truncation")

    def build_networks(self):
        data, opts = self.dataset, self.options  # checked here: the base builds the nets first thing
        if opts.accumulate < 1:
            raise GanforgeError(f"option 'accumulate' is {opts.accumulate}; it must be at least 1 (1: no accumulation).")
        if not opts.ortho_beta >= 0:
            raise GanforgeError(f"option 'ortho_beta' is {opts.ortho_beta}; it must be >= 0 (the paper: 1e-4).")
        if data.kind != "image":
            raise GanforgeError(f"BigGAN generates images; dataset {data.name!r} holds {data.kind} data.")
        if opts.shared_dim < 1:
            raise GanforgeError(f"option 'shared_dim' is {opts.shared_dim}; it must be at least 1 (the paper: 128).")
        channels, size = data.shape[0], data.shape[-1]
        generator = BigGANGenerator(self.cfg.z_dim, channels, size, self.num_classes, self.cfg.g_width,
                                    opts.shared_dim, opts.attention)
        discriminator = BigGANDiscriminator(channels, size, self.num_classes, self.cfg.d_width, opts.attention)
        return generator, discriminator

    def phases(self):
        phases = super().phases()
        for phase in phases:
            phase.accumulate = self.options.accumulate
        return phases

    def generator_loss(self, batch, fake, fake_labels, step):
        loss, logs = super().generator_loss(batch, fake, fake_labels, step)
        if self.options.ortho_beta > 0:
            ortho = orthogonal_penalty(self.nets["generator"].regularized_weights())
            loss = loss + self.options.ortho_beta * ortho
            logs["ortho"] = ortho.detach()
        return loss, logs

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0, nets=None, labels=None, truncation: float | None = None,
               batch_size: int = 512) -> Samples:
        module = self.inference(nets, "generator")
        g = torch.Generator(device=self.device).manual_seed(seed)
        if truncation is None:
            z = self.latent(n, generator=g)
        else:
            z = truncated_normal(n, self.cfg.z_dim, float(truncation), generator=g, device=self.device)
        y = class_labels(n, self.num_classes, labels, self.device)
        was_training = module.training
        module.eval()
        try:
            chunks = [module(z[i:i + batch_size], y[i:i + batch_size]).float().cpu() for i in range(0, n, batch_size)]
        finally:
            module.train(was_training)
        return Samples(torch.cat(chunks), y.cpu(), {"z": z.cpu()})
