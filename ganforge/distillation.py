"""Generator distillation: train a narrower student of the same architecture to reproduce a teacher.

``distill(teacher_run, width, out)`` (``ganforge distill RUN --width W --out RUN2``) builds the
teacher's recipe again with ``g_width = W`` (same architecture family, fewer channels), and trains
its generator on the teacher's own inputs: each step draws latents (and labels, for conditional
recipes), runs both generators on them and minimises

* a pixel loss ``|S(z) - T(z)|_1`` (output-level knowledge distillation, Aguinaldo et al.,
  "Compressing GANs using Knowledge Distillation", 2019);
* a feature loss: the L1 distance of the teacher discriminator's block activations (the FreezeD
  blocks of ``ganforge.train.transfer``) on student vs teacher images, a perceptual loss in a
  network that already knows what matters for this data (as GAN Compression, Li et al. 2020, and
  Content-Aware GAN Compression, Liu et al. 2021, match intermediate features);
* optionally (``adversarial > 0``) a non-saturating adversarial term from a copy of the teacher's
  discriminator fine-tuned to tell teacher images (as "real") from student images, which keeps
  the student's outputs sharp where regression alone averages (Aguinaldo et al. 2019).

No training data is needed: the teacher is the data. The student's EMA is kept (decay 0.999) and
saved as a normal run folder (config.yaml with the new width, data.json, run.json, a checkpoint with
the student generator, its EMA and the teacher's discriminator), so ``ganforge.load``, ``sample``,
``export``, ``serve`` and ``train --init-from`` all take it.
"""
from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ganforge.config import make_config
from ganforge.data import restore_dataset
from ganforge.errors import GanforgeError
from ganforge.recipes import RECIPES
from ganforge.train.checkpoint import load_module_state, resolve_checkpoint, save_checkpoint
from ganforge.train.state import recipe_state_from
from ganforge.train.transfer import blocks
from ganforge.utils.files import atomic_write_text, ensure_writable_dir
from ganforge.version import __version__


class _Features:
    """Outputs of a network's blocks (all but the last, the head), collected by forward hooks."""

    def __init__(self, module: torch.nn.Module):
        self.module, self.outputs = module, []
        parts = blocks(module)[:-1]
        self.hooks = [part[-1].register_forward_hook(lambda m, i, o: self.outputs.append(o)) for part in parts]

    def __call__(self, x, y=None) -> tuple[torch.Tensor, list[torch.Tensor]]:
        self.outputs = []
        logits = self.module(x, y)
        return logits, self.outputs


def _teacher(run: str | Path):
    import ganforge

    teacher = ganforge.load(run)
    recipe = teacher.recipe
    if recipe.task not in ("noise", "class") or not hasattr(recipe, "latent"):
        raise GanforgeError(f"distill trains students of generators that sample from noise; recipe "
                            f"{recipe.cfg.recipe!r} maps from {recipe.task}.")
    meta, tensors = resolve_checkpoint(run)
    return teacher, meta, tensors


def distill(run: str | Path, width: int, out: str | Path, steps: int = 2000, batch_size: int = 64,
            lr: float = 1e-3, pixel: float = 1.0, feature: float = 1.0, adversarial: float = 0.0,
            seed: int = 0, log=None) -> Path:
    """Train a student of width ``width`` on the teacher ``run``; returns the student's run folder."""
    if not 1 <= width <= 100_000:
        raise GanforgeError(f"--width {width} must be a positive integer.")
    if min(pixel, feature, adversarial) < 0 or pixel + feature == 0:
        raise GanforgeError("the loss weights must not be negative, and pixel + feature must be positive.")
    out = Path(out)
    ensure_writable_dir(out, "--out folder")
    if (out / "checkpoints").is_dir():
        raise GanforgeError(f"{out} already holds a run; choose another --out.")
    teacher, meta, tensors = _teacher(run)
    t_recipe = teacher.recipe
    g_name = t_recipe.inference_networks[0]
    cfg = make_config({**t_recipe.cfg.to_dict(), "g_width": width, "out": str(out), "init_from": None,
                       "freeze_d": 0, "seed": seed})
    info = teacher.info
    student_recipe = RECIPES.get(cfg.recipe)(cfg, restore_dataset(info))
    student = student_recipe.nets[g_name]
    discriminator = student_recipe.nets.get("discriminator")
    if discriminator is None or not any(k.startswith("net.discriminator.") for k in tensors):
        raise GanforgeError(f"the teacher run {run} has no discriminator to take features from.")
    load_module_state(discriminator, "net.discriminator.", tensors, "discriminator")
    discriminator.eval().requires_grad_(False)
    # the critic is copied before the feature hooks exist (a deep copy would carry them along)
    critic = copy.deepcopy(discriminator).train().requires_grad_(True) if adversarial > 0 else None
    features = _Features(discriminator)
    t_module = teacher.nets[g_name].eval()

    torch.manual_seed(seed)
    opt = torch.optim.Adam(student.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(critic.parameters(), lr=lr / 5, betas=(0.5, 0.999)) if critic is not None else None
    ema = copy.deepcopy(student).eval().requires_grad_(False)
    student.train()
    start = time.perf_counter()
    for step in range(steps):
        z, y = t_recipe.latent(batch_size), t_recipe.random_labels(batch_size)
        with torch.no_grad():
            target = t_module(z, y)
            _, target_features = features(target, y)
        fake = student(z, y)
        _, fake_features = features(fake, y)
        loss_pixel = F.l1_loss(fake, target)
        loss_feature = sum(F.l1_loss(a, b) for a, b in zip(fake_features, target_features)) / max(1, len(fake_features))
        loss = pixel * loss_pixel + feature * loss_feature
        if critic is not None:
            d_loss = F.softplus(-critic(target, y)).mean() + F.softplus(critic(fake.detach(), y)).mean()
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            critic.requires_grad_(False)
            loss = loss + adversarial * F.softplus(-critic(fake, y)).mean()
            critic.requires_grad_(True)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            decay = min(0.999, (1 + step) / (10 + step))  # warm-up: early averages follow the student closely
            for e, s in zip(ema.parameters(), student.parameters()):
                e.lerp_(s, 1 - decay)
            for e, s in zip(ema.buffers(), student.buffers()):
                e.copy_(s)
        if not torch.isfinite(loss):
            raise GanforgeError(f"distillation diverged at step {step} (loss {loss.item()}); lower --lr.")
        if log is not None and ((step + 1) % 200 == 0 or step + 1 == steps):
            log(f"step {step + 1}/{steps}  pixel {loss_pixel.item():.4f}  feature {float(loss_feature.detach()):.4f}")
    for hook in features.hooks:
        hook.remove()
    try:  # what sampling needs besides weights (a style generator's mean w): the teacher's, if it fits
        student_recipe.load_state_dict(recipe_state_from(meta, tensors, 0))
    except (KeyError, TypeError, ValueError, RuntimeError, GanforgeError):
        pass
    seconds = time.perf_counter() - start
    _write_run(out, cfg, info, student_recipe, ema, critic or discriminator, opt, steps,
               {"teacher": str(run), "width": width, "teacher_g_width": t_recipe.cfg.g_width, "seconds": round(seconds, 1),
                "losses": {"pixel": pixel, "feature": feature, "adversarial": adversarial}})
    return out


def _write_run(out: Path, cfg, info: dict, recipe, ema, discriminator, opt, steps: int, record: dict) -> None:
    g_name = recipe.inference_networks[0]
    nets = {name: net for name, net in recipe.nets.items()}
    nets["discriminator"] = discriminator
    extra = {"rng.torch": torch.get_rng_state()}
    state = {}
    for key, value in recipe.state_dict().items():  # tensors into the safetensors file, the rest into the JSON
        if torch.is_tensor(value):
            extra[f"recipe.rank0.{key}"] = value.detach().cpu().contiguous()
        else:
            state[key] = value
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.yaml", cfg.to_yaml())
    atomic_write_text(out / "data.json", json.dumps(info, indent=1))
    save_checkpoint(out, steps, nets=nets, optimizers={"distill": opt}, emas={g_name: ema}, keep=1, extra_tensors=extra,
                    state={"sampler_drawn": 0, "recipe": cfg.recipe, "config": cfg.to_dict(), "world_size": 1,
                           "ganforge_version": __version__, "data": info, "precision": "fp32",
                           "recipe_state": [state], "distilled": record})
    atomic_write_text(out / "run.json", json.dumps(
        {"status": "complete", "kind": "distilled", "step": steps, "steps": steps, "ganforge_version": __version__,
         "time": time.strftime("%Y-%m-%dT%H:%M:%S"), **record}, indent=1))
