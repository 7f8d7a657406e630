"""CycleGAN (Zhu et al., "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial
Networks", ICCV 2017), on two unpaired domains (``--data unpaired-folder``).

- G_AB, G_BA: the ResNet translators (``ganforge.nets.resnet_translator``: c7s1-64, d128, d256, 6 or 9
  residual blocks, u128, u64, c7s1-3, instance norm, reflection padding);
- D_A, D_B: 70x70 PatchGANs with instance norm, scaled to the image size (``ganforge.nets.patchgan``);
- objective: least-squares GAN (LSGAN) + lambda_cycle * (|G_BA(G_AB(a)) - a| + |G_AB(G_BA(b)) - b|)
  (lambda_cycle = 10) + identity loss lambda_identity * lambda_cycle * (|G_AB(b) - b| + |G_BA(a) - a|)
  (lambda_identity = 0.5); D's loss halved;
- each D sees a history of generated images: an image pool of 50 (Shrivastava et al.): with
  probability 1/2 a stored fake replaces the new one (which takes its place in the pool);
- Adam lr 2e-4, betas (0.5, 0.999); constant, then linear decay to 0 (``lr_decay_start``);
- weights initialised N(0, 0.02).

The pools and their random generator are recipe state (checkpointed: resume is exact). Sampling:
``domain`` B (default: A -> B with G_AB) or A (B -> A with G_BA).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ganforge.errors import GanforgeError
from ganforge.nets.patchgan import PatchGAN, layers_for
from ganforge.nets.resnet_translator import ResnetTranslator, blocks_for
from ganforge.options import option_field
from ganforge.recipes import RECIPES
from ganforge.recipes.base import Phase, Samples, adversarial_groups
from ganforge.recipes.pix2pix import init_weights
from ganforge.recipes.translation import ImageToImage, adversarial, evaluating

DOMAINS = ("B", "A")


@dataclass
class CycleGANOptions:
    lambda_cycle: float = option_field(10.0, "weight of the cycle-consistency L1 losses")
    lambda_identity: float = option_field(0.5, "identity loss weight, relative to lambda_cycle (0: off)")
    pool_size: int = option_field(50, "image pool of past fakes shown to each D (0: off)")
    n_blocks: int = option_field(0, "residual blocks of G (0: 6 below 256x256, 9 from 256)")
    d_layers: int = option_field(0, "PatchGAN layers (0: scaled to the image size; 3 = 70x70 at 256)")
    gan_loss: str = option_field("lsgan", "lsgan (the paper) or vanilla")


class ImagePool:
    """The history buffer: ``query(images)`` returns as many images, each (once the pool is full) either
    the new one or, with probability 1/2, a stored one that the new image replaces."""

    def __init__(self, size: int, generator: torch.Generator):
        self.size, self.generator = size, generator
        self.images = torch.zeros(0)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        images = images.detach()
        if self.images.numel() == 0:
            self.images = images.new_zeros((0, *images.shape[1:]))
        out = []
        for image in images:
            if len(self.images) < self.size:
                self.images = torch.cat([self.images, image[None]])
                out.append(image)
            elif torch.rand((), generator=self.generator) < 0.5:
                i = int(torch.randint(self.size, (), generator=self.generator))
                out.append(self.images[i].clone())
                self.images[i] = image
            else:
                out.append(image)
        return torch.stack(out)


@RECIPES.register("cyclegan")
class CycleGAN(ImageToImage):
    knobs = ("inputs", "domain")
    inference_networks = ("g_ab", "g_ba")
    translator = "g_ab"
    Options = CycleGANOptions

    def __init__(self, cfg, dataset):
        super().__init__(cfg, dataset)
        if set(dataset.sources) != {"A", "B"}:
            raise GanforgeError(f"{cfg.recipe} needs two unpaired domains A and B (--data unpaired-folder); dataset "
                                f"{dataset.name!r} has {'sources ' + ', '.join(dataset.sources) if dataset.sources else 'one'}.")
        a, b = dataset.sources["A"].shape, dataset.sources["B"].shape
        if a[1:] != b[1:]:
            raise GanforgeError(f"domains A {a} and B {b} differ in size; pass --image-size.")
        self.build_networks(a, b)
        self.rng = torch.Generator().manual_seed(cfg.seed + 1)
        pool = getattr(self.options, "pool_size", 0)
        self.pools = {"A": ImagePool(pool, self.rng), "B": ImagePool(pool, self.rng)}
        self._fakes = {}

    def build_networks(self, a_shape, b_shape):
        """G_AB, G_BA, D_A, D_B (subclasses with other architectures override this)."""
        o, cfg = self.options, self.cfg
        size, blocks = a_shape[-1], o.n_blocks or blocks_for(a_shape[-1])
        self.add_network("g_ab", ResnetTranslator(a_shape[0], b_shape[0], cfg.g_width, blocks))
        self.add_network("g_ba", ResnetTranslator(b_shape[0], a_shape[0], cfg.g_width, blocks))
        layers = o.d_layers or layers_for(size)
        self.add_network("d_a", PatchGAN(a_shape[0], cfg.d_width, layers, "instance", cfg.spectral_norm))
        self.add_network("d_b", PatchGAN(b_shape[0], cfg.d_width, layers, "instance", cfg.spectral_norm))
        for net in self.nets.values():
            init_weights(net)

    def optimizer_groups(self):
        return adversarial_groups(self.cfg, ("g_ab", "g_ba"), ("d_a", "d_b"), names=("generators", "discriminators"))

    def phases(self):
        return [Phase("G", "generators", self.generator_loss),
                Phase("D", "discriminators", self.discriminator_loss, new_batch=False)]

    def generator_loss(self, batch, step):
        o, kind = self.options, self.options.gan_loss
        a, b = batch["A"], batch["B"]
        fake_b, fake_a = self.g_ab(a), self.g_ba(b)
        adv = adversarial(kind, self.d_b(fake_b), True) + adversarial(kind, self.d_a(fake_a), True)
        cycle = (self.g_ba(fake_b) - a).abs().mean() + (self.g_ab(fake_a) - b).abs().mean()
        loss = adv + o.lambda_cycle * cycle
        logs = {"g_loss": adv.detach(), "cycle": cycle.detach()}
        if o.lambda_identity > 0 and a.shape[1] == b.shape[1]:
            identity = (self.g_ab(b) - b).abs().mean() + (self.g_ba(a) - a).abs().mean()
            loss = loss + o.lambda_identity * o.lambda_cycle * identity
            logs["identity"] = identity.detach()
        self._fakes = {"A": fake_a.detach(), "B": fake_b.detach()}
        return loss, logs

    def discriminator_loss(self, batch, step):
        kind = self.options.gan_loss
        if not self._fakes:  # a D phase without the step's G phase (not in the default schedule)
            with torch.no_grad():
                self._fakes = {"A": self.g_ba(batch["B"]), "B": self.g_ab(batch["A"])}
        fake_a, fake_b = self.pools["A"].query(self._fakes["A"]), self.pools["B"].query(self._fakes["B"])
        self._fakes = {}
        loss_a = 0.5 * (adversarial(kind, self.d_a(batch["A"]), True) + adversarial(kind, self.d_a(fake_a), False))
        loss_b = 0.5 * (adversarial(kind, self.d_b(batch["B"]), True) + adversarial(kind, self.d_b(fake_b), False))
        return loss_a + loss_b, {"d_loss": (loss_a + loss_b).detach()}

    # -- state: the pools and their generator (exact resume) --------------------------------------
    def state_dict(self):
        return {"pool_a": self.pools["A"].images.cpu().clone(), "pool_b": self.pools["B"].images.cpu().clone(),
                "pool_rng": self.rng.get_state()}

    def load_state_dict(self, state):
        if not state:
            return
        self.pools["A"].images = state["pool_a"].to(self.device)
        self.pools["B"].images = state["pool_b"].to(self.device)
        self.rng.set_state(state["pool_rng"].to(torch.uint8).cpu())

    # -- sampling ---------------------------------------------------------------------------------
    def _direction(self, domain):
        domain = "B" if domain is None else str(domain)
        if domain not in DOMAINS:
            raise GanforgeError(f"--domain {domain!r}: cyclegan translates to domain B (from A) or A (from B).")
        return domain

    def input_shape(self, domain="B"):
        return tuple(self.dataset.sources["A" if domain == "B" else "B"].shape)

    @torch.no_grad()
    def sample(self, n, seed=0, nets=None, inputs=None, domain=None, **knobs):
        domain = self._direction(domain)
        if inputs is None:
            raise GanforgeError("cyclegan translates images: give inputs (ganforge sample RUN --input DIR).")
        if inputs.dim() != 4 or tuple(inputs.shape[1:]) != self.input_shape(domain):
            raise GanforgeError(f"inputs have shape {tuple(inputs.shape[1:])} but G takes {self.input_shape(domain)} "
                                f"images; resize them to the training size.")
        net = self.inference(nets, "g_ab" if domain == "B" else "g_ba")
        with evaluating(net):
            out = torch.cat([net(c.to(self.device).float()).float().cpu() for c in inputs.split(256)])
        return Samples(out)

    def preview_inputs(self):
        a = self.dataset.sources["A"]
        return a.to_model(a.x[:8], "image"), None

    def preview(self, n, seed=0, nets=None):
        """Rows: A | G_AB(A) | G_BA(G_AB(A)) | B | G_BA(B)."""
        a, b = self.dataset.sources["A"], self.dataset.sources["B"]
        xa, xb = a.to_model(a.x[:8], "image"), b.to_model(b.x[:8], "image")
        fake_b = self.sample(8, nets=nets, inputs=xa).x
        rec_a = self.sample(8, nets=nets, inputs=fake_b, domain="A").x
        fake_a = self.sample(8, nets=nets, inputs=xb, domain="A").x
        rows = [xa, fake_b, rec_a, xb, fake_a]
        c = max(r.shape[1] for r in rows)
        rows = [r.expand(-1, c, -1, -1) for r in rows]
        return Samples(torch.cat(rows), extra={"nrow": 8})

    def eval_pairs(self, dataset, domain="B"):
        """A -> B on the test split; ground truth where the data knows each image's counterpart."""
        target = dataset.fields.get("target")
        a = dataset.to_model(dataset.x if target is not None else dataset.sources["A"].x, "image")
        return a, None if target is None else dataset.to_model(target, "image"), {"domain": domain}

    def eval_reference(self, dataset):
        b = dataset.sources["B"]
        return b.to_model(b.x, "image")
