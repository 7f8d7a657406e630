"""Fine-tuning: start a run from another run's weights (``init_from``), optionally with FreezeD.

``init_from: RUN`` (``ganforge train --init-from RUN``) loads, by network name, every network of the
new recipe from RUN's latest checkpoint (or the named ``step-*.json``); EMA copies start from RUN's
EMAs where it kept them. Shapes must match exactly: a missing or mis-shaped tensor is one error line
naming them. Optimisers, the step count, the sampler and the recipe state start afresh: this is a
new run that starts from learned weights (transfer learning), not a resume.

FreezeD (Mo, Cho & Shin, "Freeze the Discriminator: a Simple Baseline for Fine-Tuning GANs", 2020):
``freeze_d: k`` keeps the first k *blocks* of every discriminator fixed while the rest is fine-tuned.
A discriminator is a network of an optimiser group that holds no inference (sampling) network, so
the rule fits any recipe (one D, CycleGAN's two). Its blocks, generically: the network's direct
children in registration order, with containers (``nn.Sequential``, ``nn.ModuleList``) opened up,
modules without parameters skipped, and a normalisation layer (a module whose parameters are all
1-D: BatchNorm, LayerNorm, ...) joined to the block before it. DCGAN's discriminator at 28 px has
the blocks [conv 1] [conv 2 + BN] [head]; a ResNet discriminator has one block per residual block.
Frozen blocks get no optimiser updates and their normalisation layers stop updating running
statistics (momentum 0), so their whole state stays exactly the pretrained one.
"""
from __future__ import annotations

import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.train.checkpoint import resolve_checkpoint

MAX_LISTED = 6  # tensors named in an error line


def _listed(names: list[str]) -> str:
    more = f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else ""
    return ", ".join(names[:MAX_LISTED]) + more


def read_source(path: str) -> tuple[dict, dict[str, torch.Tensor]]:
    from ganforge.errors import CheckpointError

    try:
        return resolve_checkpoint(path)
    except CheckpointError as e:
        raise GanforgeError(f"--init-from {path}: {e}") from None


def _check_fit(module: nn.Module, prefix: str, tensors: dict[str, torch.Tensor], name: str, source: str) -> dict:
    own = module.state_dict()
    given = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    missing = [f"{name}.{k}" for k in own if k not in given]
    shapes = [f"{name}.{k} {tuple(given[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
              if k in given and given[k].shape != v.shape]
    unexpected = [f"{name}.{k}" for k in given if k not in own]
    problems = []
    if shapes:
        problems.append(f"mismatched shapes (source vs this run) {_listed(shapes)}")
    if missing:
        problems.append(f"missing in the source {_listed(missing)}")
    if unexpected:
        problems.append(f"not in this run {_listed(unexpected)}")
    if problems:
        raise GanforgeError(f"--init-from {source}: network {name!r} does not fit: {'; '.join(problems)}; use a "
                            f"source run with the same architecture, widths, z_dim, image size and channels.")
    return given


def load_weights(recipe, source: str) -> dict[str, torch.Tensor]:
    """Load every network of ``recipe`` from the run/checkpoint ``source``; returns the source tensors
    (``load_emas`` takes the EMA copies from them once the trainer has built its EMAs)."""
    meta, tensors = read_source(source)
    absent = [name for name in recipe.nets if not any(k.startswith(f"net.{name}.") for k in tensors)]
    if absent:
        have = sorted({k.split(".")[1] for k in tensors if k.startswith("net.")})
        raise GanforgeError(f"--init-from {source}: the source run (recipe {meta.get('recipe')!r}) has no network "
                            f"{', '.join(map(repr, absent))} (it has {', '.join(have) or 'none'}); fine-tune from a "
                            f"run of a recipe with the same networks.")
    fitted = {name: _check_fit(net, f"net.{name}.", tensors, name, source) for name, net in recipe.nets.items()}
    with torch.no_grad():  # every network checked first: nothing is half-loaded after an error
        for name, net in recipe.nets.items():
            net.load_state_dict(fitted[name], strict=True)
    return tensors


def load_emas(emas: dict, tensors: dict[str, torch.Tensor], source: str) -> None:
    """EMA copies from the source's EMAs where it kept them (else they stay copies of the loaded nets)."""
    for name, ema in emas.items():
        prefix = f"ema.{name}."
        if any(k.startswith(prefix) for k in tensors):
            ema.model.load_state_dict(_check_fit(ema.model, prefix, tensors, f"EMA {name}", source), strict=True)


def discriminator_networks(recipe, groups: dict) -> list[str]:
    """Networks of optimiser groups that hold no inference network (the critics / discriminators)."""
    sampling = set(recipe.inference_networks)
    return [net for group in groups.values() if not sampling & set(group.networks) for net in group.networks]


def _is_norm(module: nn.Module) -> bool:
    params = list(module.parameters(recurse=False))
    return bool(params) and all(p.dim() == 1 for p in params) and not list(module.children())


def blocks(module: nn.Module) -> list[list[nn.Module]]:
    """The FreezeD blocks of a network (see the module docstring)."""
    out: list[list[nn.Module]] = []

    def visit(m: nn.Module):
        for child in m.children():
            if isinstance(child, (nn.Sequential, nn.ModuleList)):
                visit(child)
            elif not any(True for _ in child.parameters()):
                continue
            elif _is_norm(child) and out:
                out[-1].append(child)
            else:
                out.append([child])

    visit(module)
    return out


def freeze_discriminators(recipe, groups: dict, group_params: dict, k: int) -> list[str]:
    """FreezeD: drop the first ``k`` blocks of every discriminator from its optimiser group's
    parameters (in place) and stop their running statistics. Returns what was frozen, for the log."""
    names = discriminator_networks(recipe, groups)
    if not names:
        raise GanforgeError(f"--freeze-d {k}: recipe {recipe.cfg.recipe!r} has no discriminator (no optimiser group "
                            f"without a sampling network); drop --freeze-d.")
    frozen_ids, described = set(), []
    for name in names:
        parts = blocks(recipe.nets[name])
        if k >= len(parts):
            raise GanforgeError(f"--freeze-d {k}: discriminator {name!r} has only {len(parts)} blocks; freeze at most "
                                f"{len(parts) - 1} so that something is trained.")
        for block in parts[:k]:
            for m in block:
                frozen_ids |= {id(p) for p in m.parameters()}
                if isinstance(m, nn.modules.batchnorm._NormBase):
                    m.momentum = 0.0  # running statistics stay the pretrained ones
        described.append(f"{name}: {k}/{len(parts)} blocks")
    for group, params in group_params.items():
        params[:] = [p for p in params if id(p) not in frozen_ids]
        if not params:
            raise GanforgeError(f"--freeze-d {k} leaves optimiser group {group!r} nothing to train; lower it.")
    return described
