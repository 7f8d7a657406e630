"""Resource guards that need the data: refuse an absurd model before allocating it.

config.validate bounds each size on its own (batch, image size, widths); their product can still be
absurd (a dcgan of width 100000 has 3e11 parameters). The recipe is first built on the ``meta`` device
(shapes only, no memory), its parameters counted, and a clear error raised above the limit.
"""
from __future__ import annotations

import torch

from ganforge.errors import GanforgeError

MAX_PARAMETERS = 2 * 10**9  # 8 GB of fp32 weights, ~32 GB with gradients and Adam's two moments


def check_model_size(cfg, dataset, recipe_class) -> None:
    try:
        with torch.device("meta"):
            recipe = recipe_class(cfg, dataset)
    except GanforgeError:
        raise
    except Exception:  # something in a recipe cannot run on meta: the real build will tell
        return
    counts = {name: sum(p.numel() for p in net.parameters()) for name, net in recipe.nets.items()}
    if sum(counts.values()) > MAX_PARAMETERS:
        detail = ", ".join(f"{name} {n:.2g}" for name, n in counts.items())
        raise GanforgeError(
            f"the networks would have {sum(counts.values()):.2g} parameters ({detail}), more than the "
            f"{MAX_PARAMETERS:.0e} limit; lower --g-width / --d-width / --z-dim or --image-size."
        )


def check_options(cfg, dataset) -> None:
    """``cfg.options`` keys must be declared by the recipe, the dataset or the architecture."""
    from ganforge.data import DATASETS
    from ganforge.nets import ARCHITECTURES, choose_architecture
    from ganforge.options import check_options as check
    from ganforge.recipes import RECIPES

    recipe_class = RECIPES.get(cfg.recipe)
    specs = {f"recipe {cfg.recipe!r}": RECIPES.options(cfg.recipe), f"dataset {cfg.data!r}": DATASETS.options(cfg.data)}
    default = getattr(recipe_class, "default_architecture", None)
    if isinstance(default, str):
        arch = choose_architecture(cfg, dataset, default)
        if arch in ARCHITECTURES:
            specs[f"architecture {arch!r}"] = ARCHITECTURES.options(arch)
    check(cfg.options, specs)


def group_parameters(recipe, name: str, group) -> list[torch.nn.Parameter]:
    """The parameters an optimiser group trains: those of its networks, none of them frozen."""
    params = []
    for net in group.networks:
        if net not in recipe.nets:
            raise ValueError(f"optimiser group {name!r} names network {net!r}, which recipe {type(recipe).__name__} "
                             f"does not have (it has {', '.join(recipe.nets)})")
        if net in recipe.frozen:
            raise ValueError(f"optimiser group {name!r} would train the frozen network {net!r}")
        params += list(recipe.nets[net].parameters())
    return params


def resolve_precision(requested: str, device: torch.device) -> str:
    """fp32 / bf16 as asked; ``auto``: bf16 where the hardware runs it natively, else fp32."""
    from ganforge.utils.hardware import resolve_precision as resolve

    return resolve(requested, device)


def weights_finite(trainer) -> bool:
    """Parameters *and* float buffers (BatchNorm statistics) of every network and EMA: all that a
    checkpoint stores of them. One host sync."""
    modules = list(trainer.recipe.nets.values()) + [ema.model for ema in trainer.emas.values()]
    flags = [torch.isfinite(t).all() for m in modules for t in (*m.parameters(), *m.buffers()) if t.is_floating_point()]
    return bool(torch.stack(flags).all()) if flags else True


def check_divergence(trainer) -> bool:
    """True if training diverged and was rolled back to the last checkpoint (learning rates scaled
    down); raises DivergenceError if it cannot be."""
    from ganforge.errors import CheckpointError, DivergenceError
    from ganforge.train import distributed, state

    cfg = trainer.cfg
    if cfg.divergence == "off":
        return False
    bad = bool(trainer._bad) or not trainer.weights_finite()
    if not distributed.any_rank(trainer.dist, bad):
        return False
    where = f"step {trainer.step}"
    if cfg.divergence == "stop" or trainer.run_dir is None or trainer.rollbacks >= cfg.max_rollbacks:
        raise DivergenceError(
            f"training diverged before {where} (NaN/Inf loss or weights, or gradient norm above "
            f"{cfg.max_grad_norm:g}) after {trainer.rollbacks} rollback(s); lower the learning rates, "
            f"enable --grad-clip, or resume from an earlier checkpoint."
        )
    try:
        meta_tensors = state.latest_checkpoint(trainer.run_dir)
    except CheckpointError:
        raise DivergenceError(f"training diverged before {where} and there is no checkpoint to roll back to; "
                              f"lower the learning rates or enable --grad-clip.") from None
    # The counters outlive the restore (the checkpoint holds the older values).
    rollbacks, lr_scale = trainer.rollbacks + 1, trainer.lr_scale * cfg.rollback_lr_factor
    trainer.restore(meta_tensors)
    trainer.rollbacks, trainer.lr_scale = rollbacks, lr_scale  # applied by the next train_step
    for cb in trainer.callbacks:
        cb.on_rollback(trainer, where)
    return True
