"""ProGAN (Karras, Aila, Laine & Lehtinen, "Progressive Growing of GANs for Improved Quality, Stability,
and Variation", ICLR 2018).

Training starts at 4x4 and grows both networks to the data's resolution (networks in
``ganforge.nets.progan``: equalised learning rate, pixel norm, minibatch stddev). Each new resolution
first **fades in** over ``fade_kimg`` thousand real images (alpha rises linearly from 0 to 1 with the
images shown), then **stabilises** for ``stable_kimg`` (the paper: 600k + 600k). The reals are shown at
the current resolution (average-pooled) and blended the same way during a fade-in, as the paper's code
does. The batch size depends on the resolution (``batch_sizes``, the paper's ``minibatch_dict``; at most
``--batch-size``); both optimisers' Adam state is reset whenever a fade-in starts or ends, as the paper's
code does (``reset_opt_for_new_lod``). Objective: WGAN-GP (lambda 10, one critic step) plus the drift
term ``epsilon_drift * E[D(x)^2]`` (0.001) that keeps the critic's output near 0; Adam lr 0.001,
betas (0, 0.99).

The schedule is a pure function of the step (``Growth``), so a run resumed anywhere, mid-fade-in
included, continues bit for bit; the current level, alpha and phase are the recipe state (saved in
each checkpoint; sampling uses them). Samples are upsampled (nearest) to the data's resolution, as the
paper's generator output is, so a run stopped before the last level still yields full-size images.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ganforge.data import Batch
from ganforge.errors import GanforgeError
from ganforge.losses.regularizers import gradient_penalty
from ganforge.nets.progan import ProDiscriminator, ProGenerator, fade, resolutions
from ganforge.recipes import RECIPES
from ganforge.recipes.base import LossResult, Phase, Recipe, Samples, Schedule, adversarial_groups


@dataclass(frozen=True)
class Stage:
    level: int          # 0 = 4x4, 1 = 8x8, ...
    alpha: float        # fade-in of ``level`` (1: stable)
    phase: int          # 0 = stabilise 4x4, then fade-in / stabilise per level: 2*level - 1, 2*level
    start: int          # first step of this phase
    batch_size: int

    @property
    def resolution(self) -> int:
        return 4 * 2 ** self.level


class Growth:
    """The progressive schedule as a function of the step: phase lengths are counted in real images
    (``kimg``), each phase at its resolution's batch size, so phase k lasts ceil(kimg * 1000 / batch)
    steps and alpha = images shown in the fade-in / images it lasts. The last phase never ends."""

    def __init__(self, levels: int, fade_kimg: float, stable_kimg: float, batch_sizes: list[int],
                 start_level: int = 0):
        if fade_kimg <= 0 or stable_kimg < 0:
            raise GanforgeError(f"fade_kimg must be > 0 and stable_kimg >= 0 (got {fade_kimg}, {stable_kimg}).")
        self.levels, self.batch_sizes, self.fade_images = levels, batch_sizes, fade_kimg * 1000
        self.phases: list[tuple[int, bool, int]] = []  # (level, fading, steps)
        for level in range(start_level, levels):
            if level > start_level:
                self.phases.append((level, True, math.ceil(fade_kimg * 1000 / batch_sizes[level])))
            self.phases.append((level, False, math.ceil(stable_kimg * 1000 / batch_sizes[level])))

    def at(self, step: int) -> Stage:
        start = 0
        for index, (level, fading, steps) in enumerate(self.phases):
            if step < start + steps or index == len(self.phases) - 1:
                # alpha = real images shown in this fade-in before this step / images it lasts (the paper's lod)
                alpha = min(1.0, (step - start) * self.batch_sizes[level] / self.fade_images) if fading else 1.0
                return Stage(level, alpha, index, start, self.batch_sizes[level])
            start += steps
        raise AssertionError("unreachable: the last phase never ends")

    def start_of(self, phase: int) -> int:
        return sum(steps for _, _, steps in self.phases[:phase])

    def total_steps(self) -> int:
        """Steps until the last resolution is fully faded in and stabilised once."""
        return sum(steps for _, _, steps in self.phases)


@dataclass
class ProGANOptions:
    fade_kimg: float = field(default=600.0, metadata={"help": "thousands of real images per fade-in (paper: 600)"})
    stable_kimg: float = field(default=600.0, metadata={"help": "thousands of real images per stabilisation (paper: 600)"})
    batch_sizes: dict = field(default_factory=dict, metadata={
        "help": "batch size per resolution, e.g. {4: 128, 32: 64, 64: 32} (missing: the next smaller "
                "resolution's, else --batch-size; each at most --batch-size)"})
    progressive: bool = field(default=True, metadata={"help": "grow from 4x4; false: train at the final resolution"})
    fmap_base: int = field(default=8192, metadata={"help": "width of level s is min(fmap_base / 2**s, fmap_max)"})
    fmap_max: int = field(default=512, metadata={"help": "widest layer (paper: 512)"})
    drift: float = field(default=0.001, metadata={"help": "epsilon_drift: weight of E[D(real)^2] in the critic loss"})


def batch_sizes_per_level(option: dict, levels: int, cap: int) -> list[int]:
    by_resolution = {}
    for key, value in option.items():
        try:
            by_resolution[int(key)] = int(value)
        except (TypeError, ValueError):
            raise GanforgeError(f"batch_sizes must map resolutions to batch sizes, e.g. {{4: 128, 64: 32}}; "
                                f"got {key!r}: {value!r}.") from None
    out, current = [], cap
    for resolution in resolutions(4 * 2 ** (levels - 1)):
        current = by_resolution.get(resolution, current)
        if not 0 < current:
            raise GanforgeError(f"batch size {current} for resolution {resolution} must be positive.")
        out.append(min(current, cap))
    return out


@RECIPES.register("progan")
class ProGAN(Recipe):
    task, knobs = "noise", ()
    ema_networks = inference_networks = ("generator",)
    partial_forward = True  # layers of resolutions not reached yet take no part (DDP: find_unused_parameters)
    Options = ProGANOptions

    def __init__(self, cfg, dataset):
        super().__init__(cfg, dataset)
        if dataset.kind != "image":
            raise GanforgeError(f"recipe {cfg.recipe!r} grows image networks; dataset {dataset.name!r} holds "
                                f"{dataset.kind} data: use an image dataset.")
        channels, height, width = dataset.shape
        if height != width or height < 4 or height & (height - 1):
            raise GanforgeError(f"recipe {cfg.recipe!r} grows square power-of-two images from 4x4; dataset "
                                f"{dataset.name!r} is {height}x{width}: pass --image-size 32 (or 64, 128, ...).")
        self.resolution = height
        opts = self.options
        self.build_networks(channels, height)
        levels = self.nets["generator"].levels
        self.growth = Growth(levels, opts.fade_kimg, opts.stable_kimg,
                             batch_sizes_per_level(opts.batch_sizes, levels, cfg.batch_size),
                             start_level=0 if opts.progressive else levels - 1)
        self.stage = self.growth.at(0)

    def build_networks(self, channels: int, resolution: int) -> None:
        opts, cfg = self.options, self.cfg
        self.add_network("generator", ProGenerator(cfg.z_dim, channels, resolution, opts.fmap_base, opts.fmap_max))
        self.add_network("discriminator", ProDiscriminator(channels, resolution, opts.fmap_base, opts.fmap_max,
                                                           cfg.mbstd_group))

    def optimizer_groups(self):
        return adversarial_groups(self.cfg)

    def phases(self) -> list[Phase]:
        return [Phase("D", "discriminator", self.discriminator_loss, repeat=self.cfg.n_critic),
                Phase("G", "generator", self.generator_loss, new_batch=False)]  # G needs only the batch size

    def schedule(self, step: int) -> Schedule:
        self.stage = self.growth.at(step)
        # The paper's code resets Adam whenever floor(lod) or ceil(lod) changes: a fade-in starts or ends.
        reset = tuple(self.optimizer_groups()) if step == self.stage.start and step > 0 else ()
        base = super().schedule(step)
        return Schedule(lr=base.lr if base else {}, reset=reset, batch_size=self.stage.batch_size)

    # -- losses ---------------------------------------------------------------------------------
    def reals(self, x: torch.Tensor) -> torch.Tensor:
        """The real batch at the current resolution, blended like the fakes during a fade-in."""
        factor = self.resolution // self.stage.resolution
        x = F.avg_pool2d(x, factor) if factor > 1 else x
        if self.stage.alpha < 1.0:
            x = fade(F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest"), x, self.stage.alpha)
        return x

    def noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.cfg.z_dim, device=self.device)

    def generate(self, n: int) -> torch.Tensor:
        return self.generator(self.noise(n), self.stage.level, self.stage.alpha)

    def critic(self, x: torch.Tensor, y=None) -> torch.Tensor:
        return self.discriminator(x, self.stage.level, self.stage.alpha)

    def discriminator_loss(self, batch: Batch, step: int) -> LossResult:
        real = self.reals(batch.x)
        with torch.no_grad():
            fake = self.generate(len(real))
        real_score, fake_score = self.critic(real).float(), self.critic(fake).float()
        wasserstein = fake_score.mean() - real_score.mean()
        gp = gradient_penalty(self.critic, real, fake)
        drift = real_score.pow(2).mean()
        loss = wasserstein + self.cfg.gp_weight * gp + self.options.drift * drift
        return loss, {"d_loss": loss.detach(), "gp": gp.detach(), "drift": drift.detach(),
                      "level": torch.tensor(float(self.stage.level)), "alpha": torch.tensor(self.stage.alpha)}

    def generator_loss(self, batch: Batch, step: int) -> LossResult:
        loss = -self.critic(self.generate(batch.size)).float().mean()
        return loss, {"g_loss": loss.detach()}

    # -- state and sampling ---------------------------------------------------------------------
    def state_dict(self):
        return {"level": self.stage.level, "alpha": self.stage.alpha, "phase": self.stage.phase,
                "resolution": self.stage.resolution}

    def load_state_dict(self, state):
        missing = {"level", "alpha", "phase"} - set(state)
        if missing:
            raise GanforgeError(f"recipe {self.cfg.recipe!r}: the checkpoint's recipe state lacks {sorted(missing)}.")
        level, phase = int(state["level"]), int(state["phase"])
        if not 0 <= phase < len(self.growth.phases) or self.growth.phases[phase][0] != level:
            raise GanforgeError(f"recipe {self.cfg.recipe!r}: the checkpoint's growth phase {phase} (level {level}) "
                                "does not fit this configuration's schedule; resume with the run's own config.")
        self.stage = Stage(level, float(state["alpha"]), phase, self.growth.start_of(phase), self.growth.batch_sizes[level])

    def to_full_size(self, x: torch.Tensor) -> torch.Tensor:
        factor = self.resolution // x.shape[-1]
        return F.interpolate(x, scale_factor=factor, mode="nearest") if factor > 1 else x

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0, nets=None, **knobs) -> Samples:
        net = self.inference(nets, "generator")
        z = torch.randn(n, self.cfg.z_dim, generator=torch.Generator().manual_seed(seed)).to(self.device)
        x = net(z, self.stage.level, self.stage.alpha)
        return Samples(self.to_full_size(x).float().cpu(), extra={"z": z.cpu(), "resolution": x.shape[-1]})
