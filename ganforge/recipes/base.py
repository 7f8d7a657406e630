"""The Recipe base: a recipe owns its networks, optimiser groups, loss phases, state and sampling.

The trainer is generic; everything that makes a GAN variant what it is lives in its recipe:

* **networks** — ``self.add_network(name, module, frozen=False)``: any number, each reachable as
  ``self.<name>`` (the callable the trainer may wrap for DDP / ``torch.compile``: always call through
  it) and ``self.nets[name]`` (the raw module, for state and parameters). A frozen network (a fixed
  feature extractor, a pre-trained stage-I generator) never gets gradients, whatever a phase does.
* **optimiser groups** — ``optimizer_groups() -> {group: OptimizerGroup(networks, lr, betas, ...)}``:
  which networks each optimiser trains (CycleGAN: both generators in one group, both discriminators
  in another), with its own lr, betas, weight decay and StyleGAN2's lazy-regularisation correction.
* **phases** — ``phases() -> [Phase(name, group, loss, ...)]``: one optimiser step of one group with
  one loss, gated by interval and/or a predicate (a training stage), repeated (n_critic), with
  gradient accumulation, on a fresh batch or the step's batch (stylegan2-ada's ``loss.py`` idea).
  Recipes whose step is not a list of phases override ``train_step(step, ctx)`` and still run under
  the trainer's guards, DDP and checkpoints through ``ctx``.
* **EMA and inference networks** — ``ema_networks`` get an exponential moving average (when
  ``cfg.ema_decay > 0``); ``inference_networks`` are what a trained run loads to sample.
* **state** — ``state_dict()`` / ``load_state_dict()``: everything a recipe changes while training
  besides weights (image pools, k_t, ADA's p, a progressive level): saved in every checkpoint.
* **schedule** — ``schedule(step) -> Schedule``: per-group learning-rate factors and optimiser
  resets (linear lr decay, progressive growth, stage switches).
* **sampling** — ``task`` (what sampling maps from), ``knobs`` (what it accepts) and ``sample(...)``.
  The CLI, the training grids, evaluation, export and serving all go through it.
* **options** — ``Options``: a dataclass of the recipe's own typed options (``cfg.options``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from ganforge.data import Batch, Dataset
from ganforge.errors import GanforgeError
from ganforge.options import parse_options

LossResult = tuple[torch.Tensor, dict[str, torch.Tensor]]


@dataclass
class OptimizerGroup:
    """One optimiser over the parameters of some networks."""
    networks: tuple[str, ...]
    lr: float
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.0
    optimizer: str = "adam"         # adam | adamw | rmsprop
    lazy_interval: int = 0          # StyleGAN2: a phase regularised every k steps: lr*c, beta**c, c = k/(k+1)

    def effective(self) -> tuple[float, tuple[float, float]]:
        if self.lazy_interval > 0:
            c = self.lazy_interval / (self.lazy_interval + 1)
            return self.lr * c, (self.betas[0] ** c, self.betas[1] ** c)
        return self.lr, self.betas

    def build(self, params) -> torch.optim.Optimizer:
        lr, betas = self.effective()
        if self.optimizer == "rmsprop":
            return torch.optim.RMSprop(params, lr=lr, weight_decay=self.weight_decay)
        if self.optimizer == "adamw":
            return torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=self.weight_decay)
        if self.optimizer == "adam":
            return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=self.weight_decay)
        raise GanforgeError(f"unknown optimiser {self.optimizer!r}; use adam, adamw or rmsprop.")


def adversarial_groups(cfg, generators: tuple[str, ...] = ("generator",),
                       discriminators: tuple[str, ...] = ("discriminator",),
                       names: tuple[str, str] = ("generator", "discriminator")) -> dict[str, OptimizerGroup]:
    """The two groups of an adversarial recipe: generators at ``lr_g``, discriminators at ``lr_d``, both with
    the config's optimiser and betas."""
    betas = (cfg.beta1, cfg.beta2)
    return {names[0]: OptimizerGroup(generators, cfg.lr_g, betas, optimizer=cfg.optimizer),
            names[1]: OptimizerGroup(discriminators, cfg.lr_d, betas, optimizer=cfg.optimizer)}


@dataclass
class Phase:
    name: str                                   # "D", "D_reg", "G", ... (logs of other phases get "name/")
    group: str                                  # the optimiser group it steps
    loss: Callable[[Batch, int], LossResult]    # (real batch, step) -> (scalar fp32 loss, detached logs)
    repeat: int = 1                             # consecutive optimiser steps per training step (n_critic)
    interval: int = 1                           # run when step % interval == 0 (lazy regularisation)
    when: Callable[[int], bool] | None = None   # and only while this holds (a training stage)
    accumulate: int = 1                         # gradients of this many batches per optimiser step
    new_batch: bool = True                      # False: reuse the batch the previous phase drew
    keep_trainable: tuple[str, ...] = ()        # other networks left trainable (a later phase reuses a graph)

    def due(self, step: int) -> bool:
        return step % self.interval == 0 and (self.when is None or bool(self.when(step)))


@dataclass
class Schedule:
    """What changes at a step: lr factor per group (missing: 1), optimiser groups to reset (their state
    starts afresh, e.g. when progressive growth adds layers), and the batch size to train with (at most
    ``cfg.batch_size``: batches are drawn at that size and the first ``batch_size`` samples used, so the
    sampler's position, and resume, do not depend on the schedule)."""
    lr: dict[str, float] = field(default_factory=dict)
    reset: tuple[str, ...] = ()
    batch_size: int | None = None


def decay_start(cfg) -> int:
    """The step where the linear learning-rate decay begins (0: none). ``lr_decay_start`` below 1 is a
    fraction of ``steps``, so the papers' "constant for half, then decay" holds whatever ``--steps``
    a user picks (an absolute 10,000 silently meant no decay at all in a 5,000-step run)."""
    start = float(getattr(cfg, "lr_decay_start", 0) or 0)
    return round(start * cfg.steps) if 0 < start < 1 else int(start)


@dataclass
class Samples:
    """What ``Recipe.sample`` returns: outputs in model space (CPU), their labels, and the inputs used."""
    x: torch.Tensor
    y: torch.Tensor | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Recipe:
    task = "noise"
    knobs: tuple[str, ...] = ()
    ema_networks: tuple[str, ...] = ()
    inference_networks: tuple[str, ...] = ()
    # True when a step uses only part of a network (progressive growing: the layers of resolutions not
    # reached yet). DDP then has to look for parameters without gradients at every step, which costs a
    # graph traversal, so it is off unless a recipe says so.
    partial_forward = False
    Options = None  # a dataclass of typed recipe options, or None

    def __init__(self, cfg, dataset: Dataset):
        self.cfg, self.dataset = cfg, dataset
        self.options = parse_options(self.Options, cfg.options, f"recipe {cfg.recipe!r}")
        self.nets: dict[str, nn.Module] = {}
        self.frozen: set[str] = set()
        self.device = torch.device("cpu")

    # -- construction ---------------------------------------------------------------------------
    def add_network(self, name: str, module: nn.Module, frozen: bool = False) -> nn.Module:
        if hasattr(type(self), name):
            raise ValueError(f"network name {name!r} clashes with an attribute of {type(self).__name__}")
        self.nets[name] = module
        setattr(self, name, module)
        if frozen:
            self.frozen.add(name)
            module.requires_grad_(False).eval()
        return module

    def optimizer_groups(self) -> dict[str, OptimizerGroup]:
        raise NotImplementedError

    def to(self, device) -> "Recipe":
        self.device = torch.device(device)
        for net in self.nets.values():
            net.to(self.device)
        return self

    # -- training -------------------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        raise NotImplementedError

    def train_step(self, step: int, ctx) -> None:
        """One training step. The default runs each due phase; override for steps that are not a list
        of phases (``ctx.run(phase)``, ``ctx.batch()``, ``ctx.step(group, loss, logs)``)."""
        for phase in ctx.phases:
            if phase.due(step):
                ctx.run(phase)

    def after_step(self, phase: Phase) -> None:
        """Called after each optimiser step of a phase (e.g. WGAN's weight clipping)."""

    def schedule(self, step: int) -> Schedule | None:
        """Linear learning-rate decay to 0 from ``cfg.lr_decay_start`` to the last step (pix2pix,
        CycleGAN), on every group. Recipes add progressive growth and stage switches."""
        start = decay_start(self.cfg)
        if not start or step < start:
            return None
        factor = max(0.0, 1.0 - (step - start) / max(1, self.cfg.steps - start))
        return Schedule(lr={group: factor for group in self.optimizer_groups()})

    def state_dict(self) -> dict[str, Any]:
        """Recipe state besides weights: tensors and JSON values (checkpointed, per process)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            raise GanforgeError(f"recipe {self.cfg.recipe!r} keeps no state but the checkpoint has {sorted(state)}.")

    # -- sampling -------------------------------------------------------------------------------
    def sample(self, n: int, seed: int = 0, nets: dict[str, nn.Module] | None = None, **knobs) -> Samples:
        """n outputs in model space from the inference networks (``nets``: e.g. their EMA copies)."""
        raise NotImplementedError

    def preview(self, n: int, seed: int = 0, nets: dict[str, nn.Module] | None = None) -> Samples | None:
        """What training grids and the collapse warning look at: by default n samples from noise.
        Recipes that need inputs (translation, text) show fixed ones, ``extra["nrow"]`` laying out the
        grid (e.g. input | output | target); None: nothing to picture."""
        if self.task in ("noise", "class"):
            return self.sample(n, seed=seed, nets=nets)
        return None

    def preview_extras(self, seed: int = 0, nets: dict[str, nn.Module] | None = None) -> dict[str, Samples]:
        """Further named grids saved beside each training grid (``samples/step-N-<name>.png``): e.g. a
        truncation sweep or a style-mixing grid (``extra["nrow"]`` lays each out). None by default."""
        return {}

    def check_knobs(self, knobs: dict[str, Any]) -> dict[str, Any]:
        """Drop unset knobs; a knob this recipe does not take is a clear error."""
        given = {k: v for k, v in knobs.items() if v is not None}
        unknown = sorted(set(given) - set(self.knobs))
        if unknown == ["labels"] and self.task == "noise":
            raise GanforgeError("this generator is unconditional; drop --class (only conditional recipes take a class).")
        if unknown:
            takes = ", ".join(self.knobs) or "no knobs"
            raise GanforgeError(f"recipe {self.cfg.recipe!r} (task {self.task!r}) does not take "
                                f"{', '.join(unknown)}; it takes {takes}.")
        return given

    def inference(self, nets: dict[str, nn.Module] | None, name: str) -> nn.Module:
        return (nets or {}).get(name, self.nets[name])
