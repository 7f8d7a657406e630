"""StackGAN (Zhang, Xu, Li, Zhang, Wang, Huang & Metaxas, "StackGAN: Text to Photo-realistic Image
Synthesis with Stacked Generative Adversarial Networks", ICCV 2017), on captioned images
(``--data captions``).

Three stages of one run (``options.encoder_steps``, ``options.stage1_steps``, the rest of ``--steps``):

0. **text encoder**: no pretrained char-CNN-RNN exists offline, so the caption encoder is trained here
   first, with an image encoder, by the sentence-level DAMSM matching loss (``ganforge.recipes.text_encoder``);
   it is frozen afterwards (the paper also uses a fixed, pre-trained text embedding);
1. **stage I**: conditioning augmentation CA_1 (mu, sigma from the text embedding, c = mu + sigma * eps,
   KL(N(mu, sigma) || N(0, I)) weighted by lambda = 1) and G_1([c, z]) draws a low-resolution image
   (half the final size: 32x32 for 64x64 data, as 64 -> 256 in the paper); the matching-aware D_1
   (Reed et al. 2016) learns real image + right text -> 1, fake + right text -> 0, real image + wrong
   text -> 0: L_D = BCE(real, right) + (BCE(fake, right) + BCE(real, wrong)) / 2, L_G = BCE(fake, right)
   + lambda * KL;
2. **stage II**: G_1 frozen; its own CA_2 and G_2(stage-I image, c) draw the full-size image (the same z
   feeds G_1); D_2 is matching-aware at full size; same losses.

Adam lr 2e-4, betas (0.5, 0.999) for every network; each stage's learning rate halves
``lr_halvings`` times at equal intervals (the paper: 600 epochs per stage, halved every 100). The
wrong text of a batch is the next sample's caption (the batch rolled by one, as the authors' code).
The discriminators see the text embedding through their own fully-connected compression (the paper's
N_d = 128).

Sampling: ``prompt`` (a string or a list of strings; ``ganforge sample RUN --prompt "red heart"``).
Words not in the training vocabulary are dropped (reported in ``Samples.extra["unknown_words"]`` and
by the CLI); a prompt with no known word is an error.
"""
from __future__ import annotations

import warnings
from contextlib import ExitStack
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.losses.matching import matching_loss
from ganforge.nets.stackgan import ConditioningAugmentation, MatchingDiscriminator, StageOneGenerator, StageTwoGenerator
from ganforge.nets.text import ImageEncoder, TextEncoder
from ganforge.options import option_field
from ganforge.recipes import RECIPES
from ganforge.recipes.base import OptimizerGroup, Phase, Recipe, Samples, Schedule
from ganforge.recipes.pix2pix import init_weights
from ganforge.recipes.text_encoder import caption_vocab, prompt_tokens
from ganforge.recipes.translation import evaluating

GROUPS = {"encoder": ("text_encoder", "image_encoder"), "d1": ("d1",), "g1": ("ca1", "g1"),
          "d2": ("d2",), "g2": ("ca2", "g2")}


@dataclass
class StackGANOptions:
    encoder_steps: int = option_field(2000, "stage 0: steps training the text encoder (matching loss)")
    stage1_steps: int = option_field(10000, "stage I: steps of G_1 / D_1; stage II gets the rest of --steps")
    embed_dim: int = option_field(128, "text embedding dimension")
    cond_dim: int = option_field(128, "conditioning augmentation dimension N_g (and D's text code N_d)")
    kl_weight: float = option_field(1.0, "lambda of the KL term of conditioning augmentation")
    res_blocks: int = option_field(4, "residual blocks of the stage-II generator")
    lr_halvings: int = option_field(5, "halve each stage's learning rate this many times (6 equal periods)")
    gamma: float = option_field(10.0, "matching-loss sharpness of the text encoder stage")


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)), averaged over elements (the authors' ``KL_loss``)."""
    return 0.5 * (mu.float().pow(2) + logvar.float().exp() - 1 - logvar.float()).mean()


@RECIPES.register("stackgan")
class StackGAN(Recipe):
    task = "text"
    knobs = ("prompt",)
    inference_networks = ("g2", "g1", "ca1", "ca2", "text_encoder")
    Options = StackGANOptions

    def __init__(self, cfg, dataset):
        super().__init__(cfg, dataset)
        o = self.options
        self.vocab = caption_vocab(dataset, "stackgan")
        self.max_words = int(dataset.meta.get("max_words", dataset.fields["caption"].shape[1]))
        c, size = dataset.shape[0], dataset.shape[-1]
        if size < 16 or size & (size - 1):
            raise GanforgeError(f"stackgan draws power-of-two images of at least 16x16 (stage I at half size); the "
                                f"data is {size}x{size}: pass --image-size 64.")
        if min(o.encoder_steps, o.stage1_steps) < 1:
            raise GanforgeError(f"stackgan's stages need encoder_steps ({o.encoder_steps}) >= 1 and stage1_steps "
                                f"({o.stage1_steps}) >= 1; stage II runs from their sum to --steps.")
        self.low_size = size // 2
        self.add_network("text_encoder", TextEncoder(len(self.vocab), o.embed_dim))
        self.add_network("image_encoder", ImageEncoder(c, size, o.embed_dim, cfg.d_width))
        self.add_network("ca1", ConditioningAugmentation(o.embed_dim, o.cond_dim))
        self.add_network("g1", StageOneGenerator(o.cond_dim, cfg.z_dim, self.low_size, c, cfg.g_width))
        self.add_network("d1", MatchingDiscriminator(o.embed_dim, self.low_size, c, cfg.d_width, o.cond_dim))
        self.add_network("ca2", ConditioningAugmentation(o.embed_dim, o.cond_dim))
        self.add_network("g2", StageTwoGenerator(o.cond_dim, self.low_size, c, cfg.g_width, o.res_blocks))
        self.add_network("d2", MatchingDiscriminator(o.embed_dim, size, c, cfg.d_width, o.cond_dim))
        for name in ("g1", "d1", "g2", "d2"):
            init_weights(self.nets[name])
        self.stage2_start = o.encoder_steps + o.stage1_steps
        self._fake = None

    # -- training ---------------------------------------------------------------------------------
    def optimizer_groups(self):
        betas = (self.cfg.beta1, self.cfg.beta2)
        lr = {"encoder": self.cfg.lr_d, "d1": self.cfg.lr_d, "d2": self.cfg.lr_d, "g1": self.cfg.lr_g, "g2": self.cfg.lr_g}
        return {g: OptimizerGroup(nets, lr[g], betas, optimizer=self.cfg.optimizer) for g, nets in GROUPS.items()}

    def stage(self, step: int) -> int:
        return 0 if step < self.options.encoder_steps else 1 if step < self.stage2_start else 2

    def phases(self):
        at = lambda k: (lambda step: self.stage(step) == k)  # noqa: E731
        return [Phase("E", "encoder", self.encoder_loss, when=at(0)),
                Phase("D1", "d1", lambda b, s: self.discriminator_loss(b, 1), when=at(1)),
                Phase("G1", "g1", lambda b, s: self.generator_loss(b, 1), when=at(1), new_batch=False),
                Phase("D2", "d2", lambda b, s: self.discriminator_loss(b, 2), when=at(2)),
                Phase("G2", "g2", lambda b, s: self.generator_loss(b, 2), when=at(2), new_batch=False)]

    def schedule(self, step):
        """Each stage's groups start at their base rate and halve ``lr_halvings`` times at equal intervals."""
        o, k = self.options, self.stage(step)
        start, end = [(0, o.encoder_steps), (o.encoder_steps, self.stage2_start), (self.stage2_start, self.cfg.steps)][k]
        periods = o.lr_halvings + 1
        factor = 0.5 ** min(o.lr_halvings, (step - start) * periods // max(1, end - start))
        active = {0: ("encoder",), 1: ("d1", "g1"), 2: ("d2", "g2")}[k]
        return Schedule(lr={g: factor for g in active})

    def encoder_loss(self, batch, step):
        tokens = batch["caption"]
        loss = matching_loss(self.image_encoder(batch.x), self.text_encoder(tokens), tokens, self.options.gamma)
        return loss, {"match_loss": loss.detach()}

    def net(self, nets, name: str):
        """The network to run: a given one (sampling: the loaded / EMA copy), else the trainer's callable."""
        return nets[name] if nets and name in nets else getattr(self, name)

    def embed(self, tokens: torch.Tensor, net=None) -> torch.Tensor:
        """The frozen text embedding (the encoder trains only in stage 0)."""
        net = net or self.text_encoder
        with torch.no_grad(), evaluating(net):
            return net(tokens).float()

    def generate(self, text, z, stage: int, nets=None, eps=None):
        """(images, mu, logvar) of ``stage`` (1: stage-I images; 2: stage II on a frozen stage I)."""
        ca1, g1 = self.net(nets, "ca1"), self.net(nets, "g1")
        if stage == 1:
            c, mu, logvar = ca1(text, None if eps is None else eps[0])
            return g1(c, z), mu, logvar
        with torch.no_grad(), evaluating(g1):
            low = g1(ca1(text, None if eps is None else eps[0])[0], z)
        c, mu, logvar = self.net(nets, "ca2")(text, None if eps is None else eps[1])
        return self.net(nets, "g2")(low, c), mu, logvar

    def _real(self, batch, stage):
        return batch.x if stage == 2 else F.interpolate(batch.x, size=self.low_size, mode="bilinear",
                                                        antialias=True, align_corners=False)

    def discriminator_loss(self, batch, stage):
        d = self.d1 if stage == 1 else self.d2
        text = self.embed(batch["caption"])
        real = self._real(batch, stage)
        z = torch.randn(len(real), self.cfg.z_dim, device=real.device)
        with torch.no_grad():
            fake, _, _ = self.generate(text, z, stage)
        self._fake = (text, z)
        wrong = text.roll(1, dims=0)
        ones, zeros = torch.ones(len(real), device=real.device), torch.zeros(len(real), device=real.device)
        bce = F.binary_cross_entropy_with_logits
        real_right = bce(d(real, text).float(), ones)
        fake_right = bce(d(fake, text).float(), zeros)
        real_wrong = bce(d(real, wrong).float(), zeros)
        loss = real_right + 0.5 * (fake_right + real_wrong)
        return loss, {"d_loss": loss.detach(), "d_real": real_right.detach(), "d_wrong": real_wrong.detach(),
                      "d_fake": fake_right.detach()}

    def generator_loss(self, batch, stage):
        if self._fake is None:  # a G phase without the step's D phase
            self._fake = (self.embed(batch["caption"]), torch.randn(batch.size, self.cfg.z_dim, device=batch.x.device))
        (text, z), self._fake = self._fake, None
        fake, mu, logvar = self.generate(text, z, stage)
        d = self.d1 if stage == 1 else self.d2
        adv = F.binary_cross_entropy_with_logits(d(fake, text).float(), torch.ones(len(fake), device=fake.device))
        kl = kl_divergence(mu, logvar)
        return adv + self.options.kl_weight * kl, {"g_loss": adv.detach(), "kl": kl.detach()}

    # -- sampling ---------------------------------------------------------------------------------
    def tokens_for(self, prompt, n: int) -> tuple[torch.Tensor, list[str]]:
        if prompt is None:
            raise GanforgeError('stackgan draws images from text: pass --prompt "a caption" (e.g. --prompt "red heart").')
        if isinstance(prompt, torch.Tensor):
            tokens, unknown = prompt.long(), []
        else:
            tokens, unknown = prompt_tokens(prompt, self.vocab, self.max_words)
        if len(tokens) not in (1, n):
            raise GanforgeError(f"give one prompt or one per sample ({n}); got {len(tokens)}.")
        return tokens.expand(n, -1) if len(tokens) == 1 else tokens, unknown

    @torch.no_grad()
    def sample(self, n, seed=0, nets=None, prompt=None, stage: int = 2, **knobs):
        """n images for ``prompt`` (one prompt for all, or one per sample; a string, a list, or token ids)."""
        tokens, unknown = self.tokens_for(prompt, n)
        if unknown:
            warnings.warn(f"prompt words not in the training vocabulary were dropped: {', '.join(unknown)}", stacklevel=2)
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.cfg.z_dim, generator=g)
        eps = torch.randn(2, n, self.options.cond_dim, generator=g)
        out = []
        with ExitStack() as stack:
            for name in ("text_encoder", "ca1", "g1", "ca2", "g2"):
                stack.enter_context(evaluating(self.net(nets, name)))
            for i in range(0, n, 256):
                t = self.embed(tokens[i:i + 256].to(self.device), self.net(nets, "text_encoder"))
                e = eps[:, i:i + 256].to(self.device)
                out.append(self.generate(t, z[i:i + 256].to(self.device), stage, nets, (e[0], e[1]))[0].float().cpu())
        return Samples(torch.cat(out), extra={"unknown_words": unknown, "tokens": tokens})

    def preview(self, n, seed=0, nets=None):
        """8 training captions: row 1 the real images, then two rows per seed: stage I (upsampled), stage II."""
        d = self.dataset
        k = min(8, len(d))
        tokens, real = d.fields["caption"][:k], d.to_model(d.x[:k], "image")
        rows = [real]
        for s in range(max(1, min(2, n // (2 * k)))):
            low = self.sample(k, seed=seed + s, nets=nets, prompt=tokens, stage=1).x
            rows += [F.interpolate(low, size=real.shape[-1], mode="nearest"),
                     self.sample(k, seed=seed + s, nets=nets, prompt=tokens).x]
        return Samples(torch.cat(rows), extra={"nrow": k})
