"""BEGAN (Berthelot, Schumm & Metz, "BEGAN: Boundary Equilibrium Generative Adversarial Networks", 2017).

* **Discriminator = auto-encoder.** D(v) reconstructs its input; its "energy" is the pixel-wise L1
  reconstruction loss ``L(v) = mean |v - D(v)|`` (the paper's eta = 1).
* **Losses** (paper eq. 4): ``L_D = L(x) - k_t L(G(z_D))``, ``L_G = L(G(z_G))``.
* **Equilibrium by proportional control**: ``k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z_G))), 0, 1)``
  with ``k_0 = 0``; gamma (the diversity ratio ``E[L(G(z))] / E[L(x)]``) trades diversity for quality.
  ``k_t`` is recipe state: checkpointed, and a resumed run continues bit for bit.
* **Convergence measure** ``M_global = L(x) + |gamma L(x) - L(G(z_G))|``, logged every step as ``m_global``
  (with ``k_t`` as ``k``, ``l_real``, ``l_fake``) into ``metrics.jsonl``.
* **Networks** (paper fig. 1): encoder = blocks of two 3x3 conv + ELU, down-sampled by a stride-2 conv
  with filters growing linearly (n, 2n, 3n, ...), then a fully connected embedding h (no activation);
  decoder = FC h -> 8x8xn (7x7 on 28x28 images), blocks of two 3x3 conv + ELU with nearest-neighbour
  up-sampling, a 3x3 conv to the image (no tanh, no batch norm). G has the decoder's architecture.
  z ~ U(-1, 1), N_z = h (``z_dim``, 64 here). Adam 1e-4 (beta1 0.5 as in the authors' reference code),
  batch 16; the learning rate is halved every ``lr_halve_every`` steps (the paper decays it by 2 "when the
  measure of convergence stalls"; 0 turns it off).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.options import option_field, parse_options
from ganforge.recipes import RECIPES
from ganforge.recipes.base import Schedule
from ganforge.recipes.gan import GANRecipe


@dataclass
class BEGANOptions:
    gamma: float = option_field(0.5, "diversity ratio gamma = E[L(G(z))] / E[L(x)] (paper: 0.3 - 0.7)")
    lambda_k: float = option_field(0.001, "proportional gain of k_t (paper: 0.001)")
    k_init: float = option_field(0.0, "k_0 (paper: 0)")
    lr_halve_every: int = option_field(0, "halve both learning rates every this many steps (0: off)")


def began_plan(size: int) -> tuple[int, int]:
    """(base, up-samplings): halve while the result stays even and >= 7 (64 -> 8 x3, 28 -> 7 x2, 32 -> 8 x2)."""
    base, n = size, 0
    while base % 2 == 0 and base // 2 >= 7:
        base, n = base // 2, n + 1
    if base > 16:
        raise GanforgeError(f"BEGAN's networks cannot produce {size}x{size} images; use --image-size 8 * 2^k "
                            "or 7 * 2^k (16, 28, 32, 64, 128).")
    return base, n


def _block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, 1, 1), nn.ELU(), nn.Conv2d(c_out, c_out, 3, 1, 1), nn.ELU()]


class BEGANDecoder(nn.Module):
    """h -> image: FC to base x base x n, then (two 3x3 conv + ELU, nearest-neighbour x2) per level."""

    def __init__(self, h: int, channels: int, size: int, n: int):
        super().__init__()
        self.base, ups = began_plan(size)
        self.n = n
        self.fc = nn.Linear(h, self.base * self.base * n)
        layers: list[nn.Module] = []
        for _ in range(ups):
            layers += _block(n, n) + [nn.Upsample(scale_factor=2, mode="nearest")]
        layers += _block(n, n) + [nn.Conv2d(n, channels, 3, 1, 1)]
        self.main = nn.Sequential(*layers)

    def forward(self, h: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.main(self.fc(h).view(-1, self.n, self.base, self.base))


class BEGANEncoder(nn.Module):
    """image -> h: 3x3 conv, then per level two 3x3 conv + ELU and a stride-2 conv to the next width."""

    def __init__(self, h: int, channels: int, size: int, n: int):
        super().__init__()
        self.base, downs = began_plan(size)
        layers: list[nn.Module] = [nn.Conv2d(channels, n, 3, 1, 1), nn.ELU()]
        width = n
        for level in range(downs):
            layers += _block(width, width) + [nn.Conv2d(width, n * (level + 2), 3, 2, 1), nn.ELU()]
            width = n * (level + 2)
        layers += _block(width, width)
        self.main = nn.Sequential(*layers)
        self.fc = nn.Linear(self.base * self.base * width, h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.main(x).flatten(1))


class AutoEncoder(nn.Module):
    """BEGAN's discriminator: returns the reconstruction D(x)."""

    def __init__(self, h: int, channels: int, size: int, n: int):
        super().__init__()
        self.encoder = BEGANEncoder(h, channels, size, n)
        self.decoder = BEGANDecoder(h, channels, size, n)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def reconstruction_loss(autoencoder, x: torch.Tensor) -> torch.Tensor:
    """L(v) = mean |v - D(v)| (pixel-wise L1; the paper's eta = 1), in fp32."""
    return (autoencoder(x).float() - x.float()).abs().mean()


@RECIPES.register("began")
class BEGAN(GANRecipe):
    Options = BEGANOptions
    latent_prior = "uniform"  # z ~ U(-1, 1), as in the paper

    def __init__(self, cfg, dataset):
        opts = self.parse(cfg)
        if dataset.kind != "image":
            raise GanforgeError(f"recipe 'began' models images; dataset {dataset.name!r} holds {dataset.kind} data.")
        if cfg.n_critic != 1 or cfg.loss not in ("nonsaturating",) or cfg.pack > 1:
            raise GanforgeError("recipe 'began' has its own losses and one D step per G step; drop --n-critic, "
                                "--loss and --pack.")
        super().__init__(cfg, dataset)
        self.gamma, self.lambda_k, self.halve_every = float(opts.gamma), float(opts.lambda_k), int(opts.lr_halve_every)
        self.k = torch.tensor(float(opts.k_init))
        self._real_loss = None  # L(x) of the D phase, used by the k_t update after the G phase

    @staticmethod
    def parse(cfg) -> BEGANOptions:
        opts = parse_options(BEGANOptions, cfg.options, "recipe 'began'")
        checks = (("gamma", 0 < opts.gamma <= 1, "in (0, 1], e.g. 0.5"), ("lambda_k", opts.lambda_k >= 0, ">= 0, e.g. 0.001"),
                  ("k_init", 0 <= opts.k_init <= 1, "in [0, 1]"), ("lr_halve_every", opts.lr_halve_every >= 0, ">= 0"))
        for name, ok, want in checks:
            if not ok:
                raise GanforgeError(f"option {name!r} of recipe 'began' is {getattr(opts, name)!r}; it must be {want}.")
        return opts

    def build_networks(self):
        channels, size = self.dataset.shape[0], self.dataset.shape[-1]
        h = self.cfg.z_dim  # the paper ties N_z = h
        return BEGANDecoder(h, channels, size, self.cfg.g_width), AutoEncoder(h, channels, size, self.cfg.d_width)

    def to(self, device):
        super().to(device)
        self.k = self.k.to(self.device)
        return self

    def discriminator_loss(self, batch, fake, fake_labels, step):
        real_loss = reconstruction_loss(self.discriminator, batch.x)
        fake_loss = reconstruction_loss(self.discriminator, fake)
        self._real_loss = real_loss.detach()
        loss = real_loss - self.k * fake_loss
        return loss, {"d_loss": loss.detach(), "l_real": real_loss.detach(), "l_fake_d": fake_loss.detach()}

    def generator_loss(self, batch, fake, fake_labels, step):
        fake_loss = reconstruction_loss(self.discriminator, fake)
        real_loss = self._real_loss if self._real_loss is not None else reconstruction_loss(self.discriminator, batch.x).detach()
        balance = self.gamma * real_loss - fake_loss.detach()
        # Proportional control of k_t, on the device (no host sync): k in [0, 1].
        self.k = (self.k + self.lambda_k * balance).clamp(0.0, 1.0)
        m_global = real_loss + balance.abs()
        return fake_loss, {"g_loss": fake_loss.detach(), "l_fake": fake_loss.detach(), "k": self.k.detach(),
                           "m_global": m_global}

    def schedule(self, step):
        if not self.halve_every:
            return super().schedule(step)
        factor = 0.5 ** (step // self.halve_every)
        return Schedule(lr={group: factor for group in self.optimizer_groups()})

    def state_dict(self):
        return {**super().state_dict(), "k": self.k.detach().clone()}  # super: ADA's p when --ada is on

    def load_state_dict(self, state):
        self.k = state["k"].detach().clone().to(self.device).float()
        super().load_state_dict({name: value for name, value in state.items() if name != "k"})
