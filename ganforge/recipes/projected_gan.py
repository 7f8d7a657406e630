"""Projected GAN (Sauer, Chitta, Müller, Geiger, "Projected GANs Converge Faster", NeurIPS 2021).

The discriminator looks at images through a **frozen pretrained feature network** (4 scales of its
features), mixed by **fixed random projections** (CCM: random 1x1 convolutions per scale; CSM: random
3x3 convolutions with bilinear upsampling from the deeper scale to the shallower, U-Net-like), and
judges each scale with its own small discriminator (spectral norm, BN, LeakyReLU; ``ganforge.nets.
projected``). Only those per-scale discriminators and G train. The paper's other settings: hinge loss,
DiffAugment (color, translation, cutout) on real and fake before the feature network, the FastGAN
("lite") generator, Adam lr 2e-4 with betas (0, 0.99), batch 64, EMA half-life 10 kimg per 32 images.

Feature network (``feature_net``; ``ganforge.nets.feature_pyramid``): the paper uses an ImageNet
EfficientNet-lite0. Offline, the only pretrained vision network is the FID Inception, so the default is
``pyramid-cnn``, a 4-stage CNN that ganforge trains on the run's labelled training data (cached; it
needs labels), and ``inception`` taps the FID Inception. Any TorchScript file or
``package.module:factory`` plugs in. The feature network is never saved in checkpoints: the run records
its name and sha256 in the recipe state, loads it at every start, and refuses to resume on other weights.
A run whose D used the Inception must be evaluated with another extractor (Kynkäänniemi et al., "The
Role of ImageNet Classes in Fréchet Inception Distance", ICLR 2023): ``ganforge eval`` refuses
``--extractor inception`` for it (``discriminator_feature_extractors``).

Sampling a trained run needs no data; with a file or factory ``feature_net`` it needs that file or
module (the discriminator's shape is read from the network).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ganforge.errors import GanforgeError
from ganforge.losses import discriminator_loss, generator_loss
from ganforge.nets.feature_pyramid import load_feature_net, probe
from ganforge.nets.projected import FastGANGenerator, MultiScaleDiscriminator, RandomProjector
from ganforge.options import option_field
from ganforge.recipes import RECIPES
from ganforge.recipes.gan import GANRecipe


@dataclass
class ProjectedGANOptions:
    feature_net: str = option_field("pyramid-cnn", "frozen feature network of D: pyramid-cnn (trained by ganforge on "
                                    "the labelled data), inception (the FID Inception: evaluate such runs with "
                                    "--extractor classifier), a TorchScript file, or package.module:factory")
    feature_resolution: int = option_field(0, "resize images to this size before the feature network (0: as they "
                                           "are; the inception: 64)")
    feature_seed: int = option_field(0, "training seed of the pyramid-cnn feature network")
    projection: int = option_field(2, "random projections: 1 = CCM, 2 = CCM + CSM (the paper's best)")
    projection_channels: int = option_field(32, "channels of the first CCM scale (x1, x2, x4, x8 over the scales; "
                                            "the paper: 64, CPU-sized here)")
    projection_seed: int = option_field(0, "seed of the fixed random projections")


@RECIPES.register("projected-gan")
class ProjectedGAN(GANRecipe):
    Options = ProjectedGANOptions

    def __init__(self, cfg, dataset):
        if dataset.kind != "image":
            raise GanforgeError(f"projected-gan's discriminator sees images through a feature network; dataset "
                                f"{dataset.name!r} holds {dataset.kind} data.")
        if cfg.r1_gamma > 0 or cfg.gp_weight > 0 or cfg.bc_weight > 0:
            raise GanforgeError("projected-gan's discriminator takes feature maps, not images: drop --r1-gamma, "
                                "--gp-weight and --bc-weight (the paper uses none).")
        self.feature, self.feature_ready, self.expected_sha256 = None, False, ""
        super().__init__(cfg, dataset)

    def build_networks(self):
        o, cfg = self.options, self.cfg
        c, h, w = self.dataset.shape
        if h != w:
            raise GanforgeError(f"projected-gan makes square images; got {h}x{w}: resize with --image-size.")
        if o.projection_channels < 1 or o.feature_resolution < 0:
            raise GanforgeError("projection_channels must be at least 1 and feature_resolution at least 0.")
        # The pyramid-cnn is trained on the data only when training starts (phases()): a run restored for
        # sampling has a one-sample stand-in dataset, and its shapes are all D needs. Built on the CPU even
        # under the trainer's meta-device size check, since it runs once here to read its shapes.
        with torch.device("cpu"):
            self.feature = load_feature_net(o.feature_net, self.dataset, o.feature_resolution or None, o.feature_seed,
                                            trained=o.feature_net != "pyramid-cnn")
            channels, sizes = probe(self.feature, (c, h, w))
        self.feature_ready = o.feature_net != "pyramid-cnn"
        projector = RandomProjector(channels, o.projection_channels, o.projection, o.projection_seed)
        self.add_network("projector", projector, frozen=True)  # fixed, but saved: a resume keeps them exactly
        discriminator = MultiScaleDiscriminator(projector.channels, projector.output_sizes(sizes), cfg.d_width)
        return FastGANGenerator(cfg.z_dim, c, h, cfg.g_width), discriminator

    @property
    def discriminator_feature_extractors(self) -> tuple[str, ...]:
        """Metric extractors that share D's feature network: evaluating with them is unreliable."""
        return self.feature.sees

    # -- the frozen feature network (outside self.nets: never checkpointed, never trained) -----------
    def to(self, device):
        super().to(device)
        if self.feature is not None:
            self.feature.module.to(self.device)
        return self

    def ensure_features(self) -> None:
        if not self.feature_ready:
            o = self.options
            self.feature = load_feature_net(o.feature_net, self.dataset, o.feature_resolution or None, o.feature_seed)
            self.feature.module.to(self.device)
            self.feature_ready = True
        if self.expected_sha256 and self.feature.sha256 != self.expected_sha256:
            raise GanforgeError(
                f"feature_net {self.feature.name!r} has sha256 {self.feature.sha256[:16]}... but this run's "
                f"discriminator was trained on {self.expected_sha256[:16]}...; resume with the same feature network.")

    def phases(self):
        self.ensure_features()  # trains / loads it before the first step, not inside one
        return super().phases()

    def project(self, x: torch.Tensor) -> list[torch.Tensor]:
        self.ensure_features()
        return self.projector(self.feature.module(x))

    # -- losses (hinge by default: cfg.loss) ----------------------------------------------------------
    def discriminator_loss(self, batch, fake, fake_labels, step):
        with torch.no_grad():  # nothing before the per-scale discriminators trains
            real_features, fake_features = self.project(batch.x), self.project(fake)
        real_logits, fake_logits = self.discriminator(real_features), self.discriminator(fake_features)
        loss = discriminator_loss(self.cfg.loss, real_logits, fake_logits, real_target=1.0 - self.cfg.label_smoothing)
        logs = {"d_loss": loss.detach(), "d_real": real_logits.detach().float().mean(),
                "d_fake": fake_logits.detach().float().mean()}
        if self.ada is not None:
            logs["real_sign"] = real_logits.detach().float().sign().mean()
        return loss, logs

    def generator_loss(self, batch, fake, fake_labels, step):
        fake_logits = self.discriminator(self.project(fake))  # gradients flow through the frozen network to G
        real_logits = None
        if self.cfg.loss == "ragan":
            with torch.no_grad():
                real_logits = self.discriminator(self.project(batch.x))
        loss = generator_loss(self.cfg.loss, fake_logits, real_logits)
        return loss, {"g_loss": loss.detach()}

    # -- state: which feature network D was trained on -----------------------------------------------
    def state_dict(self) -> dict:
        sha = self.feature.sha256 if self.feature_ready else self.expected_sha256
        return {**super().state_dict(), "feature_net": self.options.feature_net, "feature_sha256": sha,
                "projection_seed": self.options.projection_seed}

    def load_state_dict(self, state: dict) -> None:
        state = dict(state)
        name, sha = state.pop("feature_net", None), state.pop("feature_sha256", "")
        seed = state.pop("projection_seed", None)
        if name is not None and (name != self.options.feature_net or seed != self.options.projection_seed):
            raise GanforgeError(f"this checkpoint's discriminator used feature_net {name!r} and projection_seed {seed}; "
                                "resume with the same options.")
        self.expected_sha256 = sha or ""
        super().load_state_dict(state)
