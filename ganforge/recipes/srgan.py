"""Super-resolution: SRResNet (the MSE baseline) and SRGAN (Ledig et al. 2017), on any image dataset.

The data is the high-resolution images (``--data fashion-mnist``, ``--data image-folder``, ...); the
low-resolution input is made from each one by the standard bicubic downsampling (x ``scale``, with
antialiasing, like MATLAB's ``imresize``; quantised to 8 bits like a saved LR image), as SRGAN's
protocol does. The networks are ``ganforge.nets.srresnet``.

- ``srresnet``: G trained on the pixel-wise MSE (the paper's SRResNet-MSE), Adam 1e-4 (0.9, 0.999).
- ``srgan``: the same G, first ``pretrain_steps`` steps on MSE alone (the paper initialises SRGAN with
  the trained SRResNet), then content loss + 1e-3 x adversarial loss (non-saturating) against the
  VGG-style D. Content loss: MSE, the paper's SRGAN-MSE variant — its VGG54 feature loss needs ImageNet
  VGG weights, which are not available offline (``content: mse`` is the only choice for now).

Sampling: ``inputs`` are low-resolution images (size / scale); ``ganforge sample RUN --input DIR``
resizes a folder to that size. Evaluation (``ganforge eval``): PSNR / SSIM on the Y channel
(``psnr_y``, ``ssim_y``) against the HR test images, ``--baseline bicubic`` for the bicubic upsampling.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.nets.srresnet import SRDiscriminator, SRResNet
from ganforge.options import option_field
from ganforge.recipes import RECIPES
from ganforge.recipes.base import OptimizerGroup, Phase
from ganforge.recipes.translation import ImageToImage, adversarial


@dataclass
class SROptions:
    scale: int = option_field(4, "upscaling factor: 2, 4 or 8")
    blocks: int = option_field(16, "residual blocks of G (the paper: 16)")
    adversarial_weight: float = option_field(1e-3, "weight of the adversarial loss (srgan)")
    pretrain_steps: int = option_field(-1, "srgan: steps of MSE-only training before the GAN (SRResNet init; "
                                           "-1: half of --steps)")
    content: str = option_field("mse", "content loss: mse (VGG weights are not available offline)")


def downsample(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """Bicubic x1/scale with antialiasing, on the 8-bit grid (model space in and out)."""
    lr = F.interpolate(hr.float(), scale_factor=1 / scale, mode="bicubic", antialias=True, align_corners=False)
    return ((lr.clamp(-1, 1) + 1) * 127.5).round() / 127.5 - 1


def bicubic_up(lr: torch.Tensor, scale: int) -> torch.Tensor:
    return F.interpolate(lr.float(), scale_factor=scale, mode="bicubic", align_corners=False).clamp(-1, 1)


class SRResNetRecipe(ImageToImage):
    inference_networks = ("generator",)
    Options = SROptions
    gan = False

    def __init__(self, cfg, dataset):
        super().__init__(cfg, dataset)
        o = self.options
        if dataset.kind != "image":
            raise GanforgeError(f"{cfg.recipe} super-resolves images; dataset {dataset.name!r} holds {dataset.kind}.")
        size = dataset.shape[-1]
        if o.scale not in (2, 4, 8) or size % o.scale:
            raise GanforgeError(f"scale {o.scale} must be 2, 4 or 8 and divide the image size {size}.")
        if getattr(o, "content", "mse") != "mse":
            raise GanforgeError(f"content loss {o.content!r} is not available; use mse.")
        self.build_networks(dataset.shape[0])

    def build_networks(self, channels: int):
        o, cfg = self.options, self.cfg
        self.add_network("generator", SRResNet(channels, o.scale, cfg.g_width, o.blocks))
        if self.gan:
            self.add_network("discriminator", SRDiscriminator(channels, cfg.d_width))

    def optimizer_groups(self):
        betas = (self.cfg.beta1, self.cfg.beta2)
        groups = {"generator": OptimizerGroup(("generator",), self.cfg.lr_g, betas)}
        if self.gan:
            groups["discriminator"] = OptimizerGroup(("discriminator",), self.cfg.lr_d, betas)
        return groups

    def phases(self):
        if not self.gan:
            return [Phase("G", "generator", self.mse_loss)]
        pre = self.options.pretrain_steps if self.options.pretrain_steps >= 0 else self.cfg.steps // 2
        return [Phase("MSE", "generator", self.mse_loss, when=lambda step: step < pre),
                Phase("D", "discriminator", self.discriminator_loss, when=lambda step: step >= pre),
                Phase("G", "generator", self.generator_loss, when=lambda step: step >= pre, new_batch=False)]

    def mse_loss(self, batch, step):
        sr = self.generator(downsample(batch.x, self.options.scale))
        loss = F.mse_loss(sr.float(), batch.x.float())
        return loss, {"mse": loss.detach()}

    def discriminator_loss(self, batch, step):
        with torch.no_grad():
            sr = self.generator(downsample(batch.x, self.options.scale))
        loss = adversarial("vanilla", self.discriminator(batch.x), True) + adversarial("vanilla", self.discriminator(sr), False)
        return loss, {"d_loss": loss.detach()}

    def generator_loss(self, batch, step):
        sr = self.generator(downsample(batch.x, self.options.scale))
        content = F.mse_loss(sr.float(), batch.x.float())
        adv = adversarial("vanilla", self.discriminator(sr), True)
        return content + self.options.adversarial_weight * adv, {"mse": content.detach(), "g_loss": adv.detach()}

    # -- sampling and evaluation ------------------------------------------------------------------
    def input_shape(self):
        c, h, w = self.dataset.shape
        return (c, h // self.options.scale, w // self.options.scale)

    def translate_batch(self, net, inputs, **knobs):
        return net(inputs).clamp(-1, 1)

    def preview_inputs(self):
        hr = self.dataset.to_model(self.dataset.x[:8], "image")
        return downsample(hr, self.options.scale), hr

    def preview(self, n, seed=0, nets=None):
        """Rows: bicubic upsampling | output | ground truth (the LR input is smaller than a grid cell)."""
        lr, hr = self.preview_inputs()
        out = self.sample(len(lr), nets=nets, inputs=lr).x
        from ganforge.recipes.base import Samples

        return Samples(torch.cat([bicubic_up(lr, self.options.scale), out, hr]), extra={"nrow": len(lr)})

    def eval_pairs(self, dataset, **knobs):
        hr = dataset.to_model(dataset.x, "image")
        return torch.cat([downsample(c, self.options.scale) for c in hr.split(1024)]), hr, knobs

    def eval_reference(self, dataset):
        return dataset.to_model(dataset.x, "image")

    def baseline(self, name: str, inputs: torch.Tensor, **knobs):
        if name == "bicubic":
            return bicubic_up(inputs, self.options.scale)
        return None


@RECIPES.register("srresnet")
class SRResNetMSE(SRResNetRecipe):
    pass


@RECIPES.register("srgan")
class SRGAN(SRResNetRecipe):
    gan = True
