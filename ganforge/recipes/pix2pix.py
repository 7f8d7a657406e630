"""Pix2Pix (Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks", CVPR 2017).

- G: the U-Net (``ganforge.nets.unet``): skip connections, batch norm, dropout 0.5 in the first three
  decoder layers as the noise z (no input noise vector);
- D: the conditional PatchGAN (``ganforge.nets.patchgan``) on (input, output) pairs, 70x70 at 256x256,
  scaled to the image size (16x16 patches at 64x64);
- objective: G minimises the non-saturating GAN loss + lambda * L1 (lambda = 100); D's loss is halved
  (the paper's "divide the objective by 2 while optimizing D");
- Adam lr 2e-4, betas (0.5, 0.999), constant then linear decay to 0 (``lr_decay_start``).

Inference runs the generator in eval mode (batch-norm running statistics, no dropout); the paper
(and the official code without ``--eval``) keeps training mode at test time, ``test_dropout: true``
restores that.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ganforge.errors import GanforgeError
from ganforge.nets.patchgan import PatchGAN, layers_for
from ganforge.nets.unet import UNet
from ganforge.options import option_field
from ganforge.recipes import RECIPES
from ganforge.recipes.base import Phase, adversarial_groups
from ganforge.recipes.translation import ImageToImage, adversarial


@dataclass
class Pix2PixOptions:
    l1_weight: float = option_field(100.0, "weight lambda of the L1 term")
    gan_loss: str = option_field("vanilla", "vanilla (the paper's BCE) or lsgan")
    norm: str = option_field("batch", "batch (the paper) or instance")
    d_layers: int = option_field(0, "PatchGAN layers (0: scaled to the image size; 3 = 70x70 at 256)")
    dropout: bool = option_field(True, "dropout 0.5 in the three innermost decoder layers (pix2pix's noise)")
    test_dropout: bool = option_field(False, "keep dropout / batch statistics at inference, as the paper does")


@RECIPES.register("pix2pix")
class Pix2Pix(ImageToImage):
    inference_networks = ("generator",)
    Options = Pix2PixOptions

    def __init__(self, cfg, dataset):
        super().__init__(cfg, dataset)
        if "target" not in dataset.fields:
            raise GanforgeError(f"pix2pix needs paired data (a 'target' image field); dataset {dataset.name!r} has "
                                f"none. Use --data paired-folder.")
        o = self.options
        if o.norm not in ("batch", "instance") or o.gan_loss not in ("vanilla", "lsgan"):
            raise GanforgeError("pix2pix options: norm is batch or instance, gan_loss is vanilla or lsgan.")
        c_in, size = dataset.shape[0], dataset.shape[-1]
        c_out = dataset.fields["target"].shape[1]
        if size & (size - 1) or size < 8:
            raise GanforgeError(f"pix2pix's U-Net needs a power-of-two image size >= 8, got {size}; pass --image-size.")
        self.add_network("generator", UNet(c_in, c_out, size, cfg.g_width, o.norm, o.dropout))
        self.add_network("discriminator", PatchGAN(c_in + c_out, cfg.d_width, o.d_layers or layers_for(size), o.norm,
                                                   cfg.spectral_norm))
        for net in self.nets.values():
            init_weights(net)

    def optimizer_groups(self):
        return adversarial_groups(self.cfg)

    def phases(self):
        # The official order: G forward, D step on the detached fake, G step on the same batch.
        return [Phase("D", "discriminator", self.discriminator_loss),
                Phase("G", "generator", self.generator_loss, new_batch=False)]

    def discriminator_loss(self, batch, step):
        x, y = batch.x, batch["target"]
        with torch.no_grad():
            fake = self.generator(x)
        self._fake = fake
        real_logits = self.discriminator(torch.cat([x, y], 1))
        fake_logits = self.discriminator(torch.cat([x, fake], 1))
        loss = 0.5 * (adversarial(self.options.gan_loss, real_logits, True)
                      + adversarial(self.options.gan_loss, fake_logits, False))
        return loss, {"d_loss": loss.detach()}

    def generator_loss(self, batch, step):
        x, y = batch.x, batch["target"]
        fake = self.generator(x)
        adv = adversarial(self.options.gan_loss, self.discriminator(torch.cat([x, fake], 1)), True)
        l1 = (fake.float() - y.float()).abs().mean()
        return adv + self.options.l1_weight * l1, {"g_loss": adv.detach(), "l1": l1.detach()}

    def sample(self, n, seed=0, nets=None, inputs=None, **knobs):
        if self.options.test_dropout and inputs is not None:
            with torch.no_grad():
                net = self.inference(nets, "generator")
                was = net.training
                net.train()
                g = torch.random.fork_rng()
                with g:
                    torch.manual_seed(seed)
                    out = net(inputs.to(self.device).float()).float().cpu()
                net.train(was)
            from ganforge.recipes.base import Samples
            return Samples(out)
        return super().sample(n, seed=seed, nets=nets, inputs=inputs, **knobs)


def init_weights(net, gain: float = 0.02):
    """The official init: conv weights N(0, 0.02), norm weights N(1, 0.02), biases 0."""
    for m in net.modules():
        name = type(m).__name__
        if ("Conv" in name or "Linear" in name) and getattr(m, "weight", None) is not None:
            torch.nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                torch.nn.init.zeros_(m.bias)
        elif "BatchNorm2d" in name and m.weight is not None:
            torch.nn.init.normal_(m.weight, 1.0, gain)
            torch.nn.init.zeros_(m.bias)
