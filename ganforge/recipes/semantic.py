"""Semantic image synthesis from label maps (``--data label-maps``): SPADE and Pix2PixHD.

- ``spade`` (Park et al., CVPR 2019): the SPADE generator from the label map downsampled to 4x4 (the
  paper's default variant), multi-scale SN-PatchGAN D (2 scales, 4 layers at 256, instance norm) on
  [one-hot map, image], hinge loss averaged over scales, feature matching (lambda 10, / num_D); Adam,
  G 1e-4 and D 4e-4 (TTUR), betas (0, 0.999). ``use_vae: true`` is the paper's multi-modal variant
  (section 3.3, appendix B): an image encoder maps the real image to a Gaussian (mu, logvar) over a 256-d
  style code, z = mu + sigma * eps (reparameterisation) feeds G in place of the downsampled map, a KL
  term to N(0, I) (lambda_kld 0.05) joins G's loss and the encoder trains with G (same optimiser, the
  official code's). Sampling draws z ~ N(0, I) from ``--seed`` (different seeds, different styles) or
  encodes ``style`` images (guided synthesis, z = the posterior mean mu).
- ``pix2pixhd`` (Wang et al., CVPR 2018): its own module, ``ganforge.recipes.pix2pixhd`` (G1, the
  local enhancers G2 and their schedule, instance boundary maps), on the ``LabelToImage`` base here.
Both papers add a VGG19 perceptual loss (lambda 10): ImageNet VGG weights are not available offline, so
it is absent here (feature matching remains the content loss) — say so when comparing with them.
Scaled to the image: D scales so that the coarsest sees >= 8x8; Pix2PixHD's G downsamples
min(4, log2(size) - 3) times.

Sampling: inputs are label maps (int64 (N, H, W) class ids, or one-hot (N, K, H, W));
``ganforge sample RUN --input DIR [--style IMAGE_OR_DIR]`` reads class-id PNGs. Grids: map (palette colours) | output | real.
Evaluation: the test maps -> images vs the real images (l1/psnr/ssim, fid).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ganforge.data.label_maps import PALETTES, read_label_map
from ganforge.errors import GanforgeError
from ganforge.losses.gan import LOSSES
from ganforge.nets.multiscale import MultiscaleDiscriminator, feature_matching, scales_for
from ganforge.nets.spade import ConvEncoder, SPADEGenerator, kl_divergence, reparameterize
from ganforge.options import option_field
from ganforge.recipes import RECIPES
from ganforge.recipes.base import Phase, Samples, adversarial_groups
from ganforge.recipes.translation import ImageToImage, adversarial, evaluating


def one_hot(maps: torch.Tensor, classes: int) -> torch.Tensor:
    if maps.dim() == 4:  # already one-hot (or soft) maps
        return maps.float()
    return F.one_hot(maps.long(), classes).permute(0, 3, 1, 2).float()


@dataclass
class SemanticOptions:
    lambda_fm: float = option_field(10.0, "weight of the discriminator feature-matching loss")
    num_d: int = option_field(0, "discriminator scales (0: the paper's, fewer if the image is small)")
    d_layers: int = option_field(0, "layers per PatchGAN (0: the paper's, scaled to the image)")


class LabelToImage(ImageToImage):
    task = "label_map"
    inference_networks = ("generator",)
    gan_loss = "hinge"
    paper_scales, paper_layers = 2, 4

    def __init__(self, cfg, dataset):
        super().__init__(cfg, dataset)
        if "label_map" not in dataset.fields:
            raise GanforgeError(f"{cfg.recipe} synthesises images from label maps: use --data label-maps "
                                f"(dataset {dataset.name!r} has no label_map field).")
        self.classes = int(dataset.meta["label_classes"])
        c, size = dataset.shape[0], dataset.shape[-1]
        if size < 8 or size & (size - 1):
            raise GanforgeError(f"{cfg.recipe} needs a power-of-two image size >= 8, got {size}; pass --image-size.")
        o = self.options
        self.add_network("generator", self.build_generator(c, size))
        self.d_layers = o.d_layers or max(1, min(self.paper_layers, int(math.log2(size)) - 3))
        scales = o.num_d or scales_for(size, self.paper_scales)
        self.add_network("discriminator", MultiscaleDiscriminator(self.condition_channels() + c, cfg.d_width,
                                                                  self.d_layers, scales, spectral=self.gan_loss == "hinge"))
        self.num_d = scales

    def condition_channels(self) -> int:
        """Channels of the map input that G and D see: the one-hot classes (Pix2PixHD adds a boundary map)."""
        return self.classes

    def optimizer_groups(self):
        return adversarial_groups(self.cfg)

    def phases(self):
        return [Phase("D", "discriminator", self.discriminator_loss),
                Phase("G", "generator", self.generator_loss, new_batch=False)]

    def _d(self, seg, image):
        return self.discriminator(torch.cat([seg, image], 1))

    def d_objective(self, real_out, fake_out) -> torch.Tensor:
        """SPADE: hinge, averaged over D's scales; Pix2PixHD: LSGAN summed over the scales, halved."""
        if self.gan_loss == "hinge":
            return sum(LOSSES.get("hinge").discriminator(r[-1], f[-1]) for r, f in zip(real_out, fake_out)) / len(real_out)
        return 0.5 * sum(adversarial("lsgan", r[-1], True) + adversarial("lsgan", f[-1], False)
                         for r, f in zip(real_out, fake_out))

    def g_objective(self, fake_out) -> torch.Tensor:
        if self.gan_loss == "hinge":
            return sum(LOSSES.get("hinge").generator(f[-1]) for f in fake_out) / len(fake_out)
        return sum(adversarial("lsgan", f[-1], True) for f in fake_out)

    def discriminator_loss(self, batch, step):
        seg = one_hot(batch["label_map"], self.classes)
        with torch.no_grad():
            fake = self.generator(seg)
        loss = self.d_objective(self._d(seg, batch.x), self._d(seg, fake))
        return loss, {"d_loss": loss.detach()}

    def generator_loss(self, batch, step):
        seg = one_hot(batch["label_map"], self.classes)
        fake = self.generator(seg)
        fake_out = self._d(seg, fake)
        with torch.no_grad():
            real_out = self._d(seg, batch.x)
        adv = self.g_objective(fake_out)
        fm = feature_matching(real_out, fake_out) * self.fm_scale()
        return adv + self.options.lambda_fm * fm, {"g_loss": adv.detach(), "feature_matching": fm.detach()}

    def fm_scale(self) -> float:
        return 1.0

    # -- sampling and evaluation ------------------------------------------------------------------
    def input_shape(self):
        return tuple(self.dataset.fields["label_map"].shape[1:])

    def read_inputs(self, files) -> torch.Tensor:
        """Class-id PNGs -> int64 (N, H, W) at the training size (``ganforge sample --input``)."""
        maps = torch.from_numpy(np.stack([read_label_map(f, self.input_shape()[-1]) for f in files]))
        if int(maps.max()) >= self.classes:
            raise GanforgeError(f"the label maps hold class id {int(maps.max())}; this model knows {self.classes} classes.")
        return maps

    def check_maps(self, inputs) -> None:
        if inputs is None:
            raise GanforgeError(f"{self.cfg.recipe} draws images from label maps: give inputs (ganforge sample RUN "
                                f"--input DIR of class-id PNGs, or gen.translate(maps)).")
        size = self.input_shape()
        ok = (inputs.dim() == 3 and tuple(inputs.shape[1:]) == size) or \
             (inputs.dim() == 4 and tuple(inputs.shape[1:]) == (self.classes, *size))
        if not ok:
            raise GanforgeError(f"inputs have shape {tuple(inputs.shape[1:])}; give label maps of class ids "
                                f"{size} or one-hot maps {(self.classes, *size)}.")
        if inputs.dim() == 3 and int(inputs.max()) >= self.classes:
            raise GanforgeError(f"the label maps hold class id {int(inputs.max())}; this model knows {self.classes} classes.")

    @torch.no_grad()
    def sample(self, n, seed=0, nets=None, inputs=None, **knobs):
        self.check_maps(inputs)
        net, outs = self.inference(nets, "generator"), []
        with evaluating(net):
            for chunk in inputs.split(256):
                outs.append(net(one_hot(chunk.to(self.device), self.classes)).float().cpu())
        return Samples(torch.cat(outs))

    def style_images(self, style, n: int) -> torch.Tensor:
        """``style`` (SPADE's VAE, Pix2PixHD's feature encoder) as (1 or n, C, H, W): one image for every
        map or one per map, the training images' shape in model space; anything else is a one-line error."""
        style, shape = torch.as_tensor(style), tuple(self.dataset.shape)
        style = style[None] if style.dim() == 3 else style
        if style.dim() != 4 or tuple(style.shape[1:]) != shape or len(style) not in (1, n):
            raise GanforgeError(f"style images have shape {tuple(style.shape)}; give one image {shape} (for every "
                                f"map) or one per map ({n} x {' x '.join(map(str, shape))}), model space [-1, 1].")
        return style

    def colour(self, maps: torch.Tensor) -> torch.Tensor:
        """Label maps as images (model space) for grids: the palette's colours, else evenly spaced greys."""
        palette = PALETTES["openmoji"] if self.classes <= len(PALETTES["openmoji"]) else \
            [(v, v, v) for v in np.linspace(0, 255, self.classes).astype(int)]
        pal = torch.tensor(palette[:self.classes], dtype=torch.float32) / 127.5 - 1
        return pal[maps.long()].permute(0, 3, 1, 2)[:, :self.dataset.shape[0]]

    def preview(self, n, seed=0, nets=None):
        d = self.dataset
        maps, real = d.fields["label_map"][:8], d.to_model(d.x[:8], "image")
        out = self.sample(len(maps), nets=nets, inputs=maps).x
        return Samples(torch.cat([self.colour(maps), out, real]), extra={"nrow": len(maps)})

    def eval_pairs(self, dataset, **knobs):
        return dataset.fields["label_map"], dataset.to_model(dataset.x, "image"), knobs

    def eval_reference(self, dataset):
        return dataset.to_model(dataset.x, "image")


@dataclass
class SPADEOptions(SemanticOptions):
    use_vae: bool = option_field(False, "the multi-modal variant: an image encoder gives G a style code z (KL to N(0, I))")
    z_dim: int = option_field(256, "size of the style code z (use_vae)")
    lambda_kld: float = option_field(0.05, "weight of the KL divergence of the encoder's Gaussian from N(0, I) (use_vae)")


@RECIPES.register("spade")
class SPADERecipe(LabelToImage):
    Options = SPADEOptions
    knobs = ("inputs", "style")

    def __init__(self, cfg, dataset):
        super().__init__(cfg, dataset)
        if self.options.use_vae:
            self.add_network("encoder", ConvEncoder(dataset.shape[0], cfg.g_width, dataset.shape[-1], self.options.z_dim))
            self.inference_networks = ("generator", "encoder")

    def build_generator(self, channels, size):
        o = self.options  # parsed by the base class; checked here, before any network exists
        if o.z_dim < 1 or o.lambda_kld < 0:
            raise GanforgeError(f"spade needs z_dim >= 1 and lambda_kld >= 0, got {o.z_dim} and {o.lambda_kld}.")
        return SPADEGenerator(self.classes, channels, self.cfg.g_width, size, o.z_dim if o.use_vae else 0)

    def optimizer_groups(self):
        return adversarial_groups(self.cfg, ("generator", "encoder") if self.options.use_vae else ("generator",))

    # -- the VAE variant: the real image's style code feeds G in both phases --------------------------
    def encode(self, image):
        mu, logvar = self.encoder(image)
        return reparameterize(mu.float(), logvar.float()), mu.float(), logvar.float()

    def discriminator_loss(self, batch, step):
        if not self.options.use_vae:
            return super().discriminator_loss(batch, step)
        seg = one_hot(batch["label_map"], self.classes)
        with torch.no_grad():
            fake = self.generator(seg, self.encode(batch.x)[0])
        loss = self.d_objective(self._d(seg, batch.x), self._d(seg, fake))
        return loss, {"d_loss": loss.detach()}

    def generator_loss(self, batch, step):
        if not self.options.use_vae:
            return super().generator_loss(batch, step)
        seg = one_hot(batch["label_map"], self.classes)
        z, mu, logvar = self.encode(batch.x)
        fake_out = self._d(seg, self.generator(seg, z))
        with torch.no_grad():
            real_out = self._d(seg, batch.x)
        adv, fm, kld = self.g_objective(fake_out), feature_matching(real_out, fake_out), kl_divergence(mu, logvar)
        loss = adv + self.options.lambda_fm * fm + self.options.lambda_kld * kld
        return loss, {"g_loss": adv.detach(), "feature_matching": fm.detach(), "kld": kld.detach()}

    # -- sampling: z ~ N(0, I) from the seed, or the posterior mean of style images ------------------
    def style_codes(self, n, seed, nets, style) -> torch.Tensor:
        """(n, z_dim) codes: drawn from ``seed`` (one per output), or mu of one style image (for every map)
        or of one per map (model space, the training images' shape)."""
        if style is None:
            return torch.randn(n, self.options.z_dim, generator=torch.Generator().manual_seed(seed))
        style = self.style_images(style, n)
        encoder = self.inference(nets, "encoder")
        with evaluating(encoder):
            mu = torch.cat([encoder(chunk.to(self.device).float())[0].float().cpu() for chunk in style.split(256)])
        return mu.expand(n, -1)

    @torch.no_grad()
    def sample(self, n, seed=0, nets=None, inputs=None, style=None, **knobs):
        if not self.options.use_vae:
            if style is not None:
                raise GanforgeError("this spade run has no style encoder (it was trained without use_vae); drop "
                                    "--style / style=, or train with --options '{\"use_vae\": true}'.")
            return super().sample(n, seed=seed, nets=nets, inputs=inputs, **knobs)
        self.check_maps(inputs)
        z = self.style_codes(len(inputs), seed, nets, style)
        net, outs = self.inference(nets, "generator"), []
        with evaluating(net):
            for chunk, codes in zip(inputs.split(256), z.split(256)):
                outs.append(net(one_hot(chunk.to(self.device), self.classes), codes.to(self.device)).float().cpu())
        return Samples(torch.cat(outs))

    def preview(self, n, seed=0, nets=None):
        """VAE runs: map | output from a random z | output in the real image's style | real."""
        if not self.options.use_vae:
            return super().preview(n, seed=seed, nets=nets)
        d = self.dataset
        maps, real = d.fields["label_map"][:8], d.to_model(d.x[:8], "image")
        free = self.sample(len(maps), seed=seed, nets=nets, inputs=maps).x
        guided = self.sample(len(maps), nets=nets, inputs=maps, style=real).x
        return Samples(torch.cat([self.colour(maps), free, guided, real]), extra={"nrow": len(maps)})

