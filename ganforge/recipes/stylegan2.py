"""StyleGAN2 (Karras et al., "Analyzing and Improving the Image Quality of StyleGAN", CVPR 2020), config
E/F at small resolution, trained as in the official stylegan2-ada-pytorch ``loss.py``.

Networks: ``ganforge.nets.stylegan2`` (mapping network with lr multiplier 0.01, modulated/demodulated
convs, noise inputs, skip generator, residual discriminator with minibatch stddev, equalised lr).

Phases (each one optimiser step):
* ``D``: non-saturating logistic loss, softplus(D(G(z))) + softplus(-D(x));
* ``D_reg``: lazy R1, gamma/2 E||grad_x D(x)||^2 on reals, every ``r1_interval`` (16) steps, times the
  interval (gradient taken with respect to the images before augmentation, as the official code);
* ``G``: softplus(-D(G(z)));
* ``G_reg``: path-length regularisation every ``pl_interval`` (4) steps on half a batch:
  a = ||J_w^T y||_2 with y ~ N(0, I)/sqrt(H W), penalty (a - a_mean)^2 times ``pl_weight`` (2) and the
  interval; a_mean is a running mean (decay 0.01) kept in the recipe state (checkpointed).
Both optimiser groups get the lazy-regularisation correction (lr*c, beta**c, c = k/(k+1)). Style mixing
regularisation: with probability ``style_mixing`` (0.9) a batch's ws after a random layer come from a
second z. The generator's EMA (``ema_decay`` in configs/stylegan2.yaml) is the official half-life of
10 kimg at the YAML's batch size; the EMA copy follows the live ``w_avg``.

Sampling knobs: ``truncation`` (psi: w_avg + psi (w - w_avg); 0 gives the mean w's image for every seed,
1 is untruncated), ``mix`` ((seed A, seed B): coarse styles from A, the layers ``mix_layers`` from B),
``interpolate`` ((seed A, seed B): n frames along a linear path in w from A to B), ``labels`` when
``options.conditional``. Sampling uses the generator's fixed noise (``noise_mode="const"``, as the
official generate.py), so a seed always gives the same image. ADA (``ada: bgc``) is GANRecipe's.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ganforge.data import Batch
from ganforge.errors import GanforgeError
from ganforge.nets.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator
from ganforge.recipes import RECIPES
from ganforge.recipes.base import LossResult, OptimizerGroup, Phase, Samples
from ganforge.recipes.gan import class_labels
from ganforge.recipes.objective import ObjectiveGAN

TRUNCATION_SWEEP = (1.0, 0.75, 0.5, 0.25, 0.0)


@dataclass
class StyleGAN2Options:
    w_dim: int = 0                  # 0: z_dim
    mapping_layers: int = 8
    mapping_lr_mul: float = 0.01
    style_mixing: float = 0.9       # probability of style mixing regularisation
    pl_weight: float = 2.0          # path-length regularisation weight (0: off)
    pl_interval: int = 4
    pl_batch_shrink: int = 2
    pl_decay: float = 0.01
    conditional: bool = False       # class-conditional (labelled data): embedding in mapping, projection in D


def parse_layers(spec, num_ws: int) -> list[int]:
    """'4-9', '4-' (4 to the last), '6' (just 6) or a list of ints -> sorted layer indices in [0, num_ws)."""
    if spec is None:
        return list(range(num_ws // 2 - 1, num_ws))  # default: the fine half (16x16 and up at 64x64)
    if isinstance(spec, (list, tuple)):
        layers = [int(v) for v in spec]
    else:
        text = str(spec).strip()
        try:
            if "-" in text:
                a, b = text.split("-", 1)
                layers = list(range(int(a), (int(b) if b.strip() else num_ws - 1) + 1))
            else:
                layers = [int(text)]
        except ValueError:
            layers = []
    if not layers or min(layers) < 0 or max(layers) >= num_ws:
        raise GanforgeError(f"--mix-layers {spec!r} must be layers in 0..{num_ws - 1}, e.g. 4-{num_ws - 1} "
                            f"(a range) or 5 (one layer).")
    return sorted(set(layers))


def seed_pair(value, what: str) -> tuple[int, int]:
    try:
        a, b = (int(v) for v in value)
    except (TypeError, ValueError):
        raise GanforgeError(f"{what} needs two seeds (SEED_A, SEED_B), got {value!r}.") from None
    return a, b


@RECIPES.register("stylegan2")
class StyleGAN2(ObjectiveGAN):
    Options = StyleGAN2Options

    def __init__(self, cfg, dataset):
        self.conditional = bool((cfg.options or {}).get("conditional", False))
        super().__init__(cfg, dataset)
        o = self.options
        if o.pl_interval < 1 or o.pl_batch_shrink < 1 or not 0 <= o.style_mixing <= 1:
            raise GanforgeError("stylegan2 options: pl_interval and pl_batch_shrink must be >= 1, style_mixing in [0, 1].")
        self.pl_mean = torch.zeros(())

    @property
    def knobs(self) -> tuple[str, ...]:
        return ("truncation", "mix", "mix_layers", "interpolate") + (("labels",) if self.num_classes else ())

    def image_geometry(self) -> tuple[int, int]:
        """(channels, size) of the dataset's images, which must be square with a power-of-two size."""
        c, res = self.dataset.shape[0], self.dataset.shape[-1]
        if self.dataset.kind != "image" or res < 4 or res & (res - 1) or self.dataset.shape[-2] != res:
            raise GanforgeError(f"{self.cfg.recipe} needs square images of a power-of-two size; dataset "
                                f"{self.dataset.name!r} is {tuple(self.dataset.shape)}: pass --image-size 32 (or 16, 64, ...).")
        return c, res

    def build_discriminator(self, res: int, channels: int) -> StyleGAN2Discriminator:
        return StyleGAN2Discriminator(res, channels, self.cfg.d_width, self.num_classes, self.cfg.mbstd_group or 4)

    def build_networks(self):
        c, res = self.image_geometry()
        o = self.options
        g = StyleGAN2Generator(self.cfg.z_dim, o.w_dim or self.cfg.z_dim, res, c, self.cfg.g_width, self.num_classes,
                               o.mapping_layers, o.mapping_lr_mul)
        return g, self.build_discriminator(res, c)

    def optimizer_groups(self) -> dict[str, OptimizerGroup]:
        groups = super().optimizer_groups()
        if self.options.pl_weight > 0:
            groups["generator"].lazy_interval = self.options.pl_interval
        if self.cfg.r1_gamma > 0:
            groups["discriminator"].lazy_interval = self.cfg.r1_interval
        return groups

    def phases(self) -> list[Phase]:
        phases = super().phases()
        if self.options.pl_weight > 0:
            phases.append(Phase("G_reg", "generator", self.path_length_phase, interval=self.options.pl_interval))
        return phases

    # -- training -------------------------------------------------------------------------------
    def mixing(self, n: int):
        """Style mixing regularisation: with probability p, ws[cutoff:] from a second z (cutoff uniform
        in 1..num_ws-1, one per batch, as the official code); drawn on the CPU RNG (checkpointed)."""
        num_ws = self.nets["generator"].num_ws
        if self.options.style_mixing <= 0 or float(torch.rand(())) >= self.options.style_mixing:
            return None
        return self.latent(n), int(torch.randint(1, num_ws, ()))

    def fake(self, n: int, y=None) -> torch.Tensor:
        return self.generator(self.latent(n), y, mix=self.mixing(n))

    def discriminator_regularizer(self, batch: Batch, step: int) -> LossResult:
        with torch.autocast(device_type=batch.x.device.type, enabled=False):
            real = batch.x.detach().float().requires_grad_(True)
            logits = self.discriminator(self.discriminator_input(real, step), batch.y if self.num_classes else None)
            grad, = torch.autograd.grad(logits.sum(), real, create_graph=True)
            r1 = grad.square().flatten(1).sum(dim=1).mean()
        return 0.5 * self.cfg.r1_gamma * self.cfg.r1_interval * r1, {"r1": r1.detach()}

    def path_length_phase(self, batch: Batch, step: int) -> LossResult:
        o = self.options
        n = max(1, batch.size // o.pl_batch_shrink)
        with torch.autocast(device_type=batch.x.device.type, enabled=False):
            y = self.random_labels(n)
            img, ws = self.generator(self.latent(n), y, mix=self.mixing(n), return_ws=True)
            noise = torch.randn_like(img) / (img.shape[2] * img.shape[3]) ** 0.5
            grad, = torch.autograd.grad((img * noise).sum(), ws, create_graph=True)
            lengths = grad.square().sum(dim=2).mean(dim=1).sqrt()
            self.pl_mean = self.pl_mean.to(lengths.device)
            pl_mean = self.pl_mean.lerp(lengths.mean().detach(), o.pl_decay)
            self.pl_mean = pl_mean.detach()
            penalty = (lengths - pl_mean).square().mean()
        return penalty * o.pl_weight * o.pl_interval, {"pl_penalty": penalty.detach(), "pl_mean": pl_mean.detach()}

    def state_dict(self) -> dict:
        return {**super().state_dict(), "pl_mean": self.pl_mean.detach().cpu()}

    def load_state_dict(self, state: dict) -> None:
        state = dict(state)
        if "pl_mean" in state:
            self.pl_mean = torch.as_tensor(state.pop("pl_mean")).float().to(self.device)
        super().load_state_dict(state)

    # -- sampling -------------------------------------------------------------------------------
    def inference_graph(self, nets):
        """Export / serving: the noise graph's z (+ labels) and a per-row truncation psi -> images, as
        ``sample`` draws them (w_avg + psi (w - w_avg) on every layer, synthesis with the fixed noise)."""
        from ganforge.deploy.graph import InferenceGraph, InputSpec, noise_graph

        base, module = noise_graph(self, nets), self.inference(nets, "generator")

        def make_inputs(n: int, seed: int = 0, labels=None, truncation=None) -> dict[str, torch.Tensor]:
            psi = torch.full((n, 1), truncation_psi(truncation), device=self.device)
            return {**base.make_inputs(n, seed, labels=labels), "truncation": psi}

        psi = InputSpec("truncation", ("batch", 1), "float32", "psi per row: 1 untruncated, 0 the mean w", 1.0)
        return InferenceGraph(_StyleGraph(module, bool(self.num_classes)), base.inputs + [psi], make_inputs, base.output,
                              knobs=base.knobs + ("truncation",), meta={**base.meta, "w_dim": int(module.mapping.w_avg.numel())})

    def seed_latents(self, seeds) -> torch.Tensor:
        """z of each seed: the first latent that ``sample(1, seed=s)`` draws, so seeds mean the same everywhere."""
        return torch.cat([self.latent(1, torch.Generator(device=self.device).manual_seed(int(s))) for s in seeds])

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0, nets=None, labels=None, truncation=None, mix=None, mix_layers=None,
               interpolate=None, batch_size: int = 256) -> Samples:
        module = self.inference(nets, "generator")
        psi = truncation_psi(truncation)
        if mix_layers is not None and mix is None:
            raise GanforgeError("--mix-layers needs --mix SEED_A,SEED_B.")
        if mix is not None and interpolate is not None:
            raise GanforgeError("choose one of --mix and --interpolate.")
        if interpolate is not None and n < 2:
            raise GanforgeError(f"--interpolate needs at least 2 frames, got {n}.")
        y = class_labels(n, self.num_classes, labels, self.device)
        was_training = module.training
        module.eval()
        try:
            if interpolate is not None:  # a linear path in w (StyleGAN's PPL in W uses lerp there too)
                a, b = seed_pair(interpolate, "--interpolate")
                ya = None if y is None else y[:2]
                ws = module.styles(self.seed_latents([a, b]), ya, psi)
                t = torch.linspace(0, 1, n, device=self.device).view(n, 1, 1)
                ws = ws[0:1].lerp(ws[1:2], t)
                z = self.seed_latents([a, b])
            else:
                if mix is not None:  # image i: coarse styles from seed A+i, the mix layers from seed B+i
                    a, b = seed_pair(mix, "--mix")
                    z = self.seed_latents([a + i for i in range(n)])
                    fine = module.styles(self.seed_latents([b + i for i in range(n)]), y, psi)
                    ws = module.styles(z, y, psi)
                    layers = parse_layers(mix_layers, module.num_ws)
                    ws[:, layers] = fine[:, layers]
                else:
                    z = self.latent(n, generator=torch.Generator(device=self.device).manual_seed(seed))
                    ws = torch.cat([module.styles(z[i:i + batch_size], None if y is None else y[i:i + batch_size], psi)
                                    for i in range(0, n, batch_size)])
            x = torch.cat([module(None, ws=ws[i:i + batch_size], noise_mode="const").float().cpu()
                           for i in range(0, len(ws), batch_size)])
        finally:
            module.train(was_training)
        return Samples(x, None if y is None else y[:len(x)].cpu(), {"z": z.cpu()})

    def preview_extras(self, seed: int = 0, nets=None) -> dict[str, Samples]:
        """Grids beside the training samples: a truncation sweep (rows: seeds; columns: psi 1 -> 0) and a
        style-mixing grid (top row: fine-style sources B; left column: coarse-style sources A)."""
        rows = [self.sample(1, seed=seed + r, nets=nets, truncation=psi).x for r in range(6) for psi in TRUNCATION_SWEEP]
        sweep = Samples(torch.cat(rows), extra={"nrow": len(TRUNCATION_SWEEP)})
        k = 5
        a_seeds, b_seeds = [seed + 100 + i for i in range(k)], [seed + 200 + j for j in range(k)]
        images = [torch.ones_like(rows[0])]  # blank corner (white)
        images += [self.sample(1, seed=b, nets=nets).x for b in b_seeds]
        for a in a_seeds:
            images.append(self.sample(1, seed=a, nets=nets).x)
            images += [self.sample(1, nets=nets, mix=(a, b)).x for b in b_seeds]
        return {"truncation": sweep, "mixing": Samples(torch.cat(images), extra={"nrow": k + 1})}


def truncation_psi(truncation) -> float:
    """The truncation knob as psi (None: 1, untruncated), with a clear error out of [0, 2]."""
    psi = 1.0 if truncation is None else float(truncation)
    if not 0.0 <= psi <= 2.0:
        raise GanforgeError(f"--truncation {psi} is out of range; use psi in [0, 1] (1: untruncated), up to 2.")
    return psi


class _StyleGraph(torch.nn.Module):
    """The style-based generator as one traceable call (truncation is a tensor, not a Python float)."""

    def __init__(self, generator, conditional: bool):
        super().__init__()
        self.generator, self.conditional = generator, conditional

    def forward(self, z, *rest):
        labels, psi = (rest[0], rest[1]) if self.conditional else (None, rest[0])
        w = self.generator.mapping(z, labels)
        w = self.generator.mapping.w_avg.lerp(w, psi)  # psi: (N, 1); psi = 1 leaves w as it is
        ws = w[:, None].repeat(1, self.generator.num_ws, 1)
        return self.generator(None, ws=ws, noise_mode="const")
