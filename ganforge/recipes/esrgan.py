"""ESRGAN (Wang et al., "ESRGAN: Enhanced Super-Resolution Generative Adversarial Networks", ECCV
Workshops 2018), on any image dataset (the HR images; LR made by bicubic downsampling, as ``srgan``).

- G: the RRDBNet (``ganforge.nets.rrdb``: Residual-in-Residual Dense Blocks, no batch norm, residual
  scaling 0.2, nearest-neighbour + conv upsampling, Kaiming x 0.1 init);
- stage 1, ``pretrain_steps`` (the paper's PSNR-oriented model): L1 pixel loss only;
- stage 2: L_G = perceptual + lambda x L_G^Ra + eta x L1 (lambda = 5e-3, eta = 1e-2), with the
  **relativistic average** discriminator (``ganforge.losses.gan``'s ``ragan``; both D's and G's losses
  averaged over their real and fake terms, as the authors' code does) against the VGG-style D;
- Adam (0.9, 0.999).

The perceptual loss: the paper's is an L1 on VGG19 conv5_4 features *before* the activation. ImageNet
VGG weights are not available offline, so ``perceptual_net`` is a TorchScript file the user provides
(a VGG19 truncated at conv5_4 exported once where it can be downloaded, or any frozen feature network
taking model-space images in [-1, 1]). Without one (the default) the perceptual term is the L1 on
pixels (identity features) at the same weight, so the GAN stage trains on (1 + eta) x L1 + lambda x
L_G^Ra: the content term still dominates as in the paper (dropping it lets the GAN term, 5e-3 against
1e-2, wreck the PSNR-oriented start: measured PSNR_y 8.8 dB vs 17.4 before the GAN stage) — say so
when reporting such runs. The feature
network is loaded from its path at every start (not copied into checkpoints): a run that used one
needs the file to resume training, not to sample.

Network interpolation (the paper's section 3.4: theta = (1 - alpha) theta_PSNR + alpha theta_GAN) is
``ganforge.recipes.esrgan.interpolate_networks``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.losses.gan import LOSSES
from ganforge.nets.rrdb import RRDBNet
from ganforge.nets.srresnet import SRDiscriminator
from ganforge.options import option_field
from ganforge.recipes import RECIPES
from ganforge.recipes.base import Phase
from ganforge.recipes.srgan import SRResNetRecipe, downsample


@dataclass
class ESRGANOptions:
    scale: int = option_field(4, "upscaling factor: 2, 4 or 8")
    blocks: int = option_field(23, "RRDB blocks of G (the paper: 23)")
    growth: int = option_field(32, "growth channels of each dense block (the paper: 32)")
    adversarial_weight: float = option_field(5e-3, "lambda: weight of the relativistic GAN loss")
    l1_weight: float = option_field(1e-2, "eta: weight of the L1 pixel loss in the GAN stage")
    perceptual_weight: float = option_field(1.0, "weight of the perceptual loss (with perceptual_net)")
    perceptual_net: str = option_field("", "TorchScript feature network for the perceptual loss ('': L1 on pixels)")
    pretrain_steps: int = option_field(-1, "steps of the PSNR-oriented L1 stage (-1: half of --steps)")


def interpolate_networks(psnr_state: dict, gan_state: dict, alpha: float) -> dict:
    """ESRGAN's network interpolation: (1 - alpha) x PSNR-oriented weights + alpha x GAN weights."""
    if psnr_state.keys() != gan_state.keys():
        raise GanforgeError("the two generators differ in their tensors: interpolate runs of the same architecture.")
    return {k: torch.lerp(psnr_state[k].float(), gan_state[k].float(), alpha).to(psnr_state[k].dtype)
            if psnr_state[k].is_floating_point() else gan_state[k] for k in psnr_state}


def load_feature_network(path: str, channels: int, device) -> torch.nn.Module:
    file = Path(path)
    if not file.is_file():
        raise GanforgeError(f"perceptual_net {path!r} is not a file; pass a TorchScript feature network "
                            f"(e.g. a VGG19 cut at conv5_4, saved with torch.jit.save) or leave it empty.")
    try:
        with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript; it is still the portable format here
            warnings.simplefilter("ignore", DeprecationWarning)
            net = torch.jit.load(str(file), map_location=device).eval()
        with torch.no_grad():
            net(torch.zeros(1, channels, 32, 32, device=device))
    except Exception as e:  # noqa: BLE001 - any failure to load or run is the same user-facing problem
        raise GanforgeError(f"perceptual_net {path!r} could not run on {channels}-channel images: "
                            f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
    for p in net.parameters():
        p.requires_grad_(False)
    return net


@RECIPES.register("esrgan")
class ESRGAN(SRResNetRecipe):
    Options = ESRGANOptions
    gan = True

    def build_networks(self, channels: int):
        o, cfg = self.options, self.cfg
        self.add_network("generator", RRDBNet(channels, o.scale, cfg.g_width, o.blocks, o.growth))
        self.add_network("discriminator", SRDiscriminator(channels, cfg.d_width))
        self.perceptual = load_feature_network(o.perceptual_net, channels, self.device) if o.perceptual_net else None

    def phases(self):
        pre = self.options.pretrain_steps if self.options.pretrain_steps >= 0 else self.cfg.steps // 2
        return [Phase("L1", "generator", self.l1_loss, when=lambda step: step < pre),
                Phase("D", "discriminator", self.discriminator_loss, when=lambda step: step >= pre),
                Phase("G", "generator", self.generator_loss, when=lambda step: step >= pre, new_batch=False)]

    def l1_loss(self, batch, step):
        sr = self.generator(downsample(batch.x, self.options.scale))
        loss = F.l1_loss(sr.float(), batch.x.float())
        return loss, {"l1": loss.detach()}

    def discriminator_loss(self, batch, step):
        with torch.no_grad():
            sr = self.generator(downsample(batch.x, self.options.scale))
        loss = 0.5 * LOSSES.get("ragan").discriminator(self.discriminator(batch.x), self.discriminator(sr))
        return loss, {"d_loss": loss.detach()}

    def generator_loss(self, batch, step):
        o, hr = self.options, batch.x
        sr = self.generator(downsample(hr, o.scale))
        with torch.no_grad():
            real_logits = self.discriminator(hr)
        adv = 0.5 * LOSSES.get("ragan").generator(self.discriminator(sr), real_logits)
        l1 = F.l1_loss(sr.float(), hr.float())
        loss = o.adversarial_weight * adv + o.l1_weight * l1
        logs = {"g_loss": adv.detach(), "l1": l1.detach()}
        if self.perceptual is not None:
            with torch.no_grad():
                target = self.perceptual(hr.float())
            percep = F.l1_loss(self.perceptual(sr.float()), target)
        else:  # no feature network: the content term is the L1 on pixels (identity features), same weight
            percep = l1
        loss = loss + o.perceptual_weight * percep
        logs["perceptual"] = percep.detach()
        return loss, logs
