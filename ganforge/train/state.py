"""What a checkpoint holds of a training run, and putting it back (exact resume).

Tensors (safetensors): every network (``net.<name>.``), every EMA (``ema.<name>.``), every optimiser
group's state (``optim.<group>.``), each rank's RNG (``rng.torch.rank<r>``, and ``rng.torch`` =
rank 0's, as format 1 wrote it) and each rank's recipe state (``recipe.rank<r>.<key>`` for tensors;
JSON values in ``recipe_state``). JSON: step, sampler position, rollback counters, config, data.
Per-rank RNG and recipe state are gathered to rank 0 on the CPU control group, so a multi-process run
resumes bit-exactly on every rank.
"""
from __future__ import annotations

from typing import Any

import torch

from ganforge.errors import CheckpointError, DivergenceError
from ganforge.train import checkpoint as ckpt
from ganforge.train import distributed
from ganforge.version import __version__

list_checkpoints = ckpt.list_checkpoints
latest_checkpoint = ckpt.latest_checkpoint


def dataset_info(dataset) -> dict[str, Any]:
    """What a run must remember of its data to build networks and decode samples without it."""
    info = {"name": dataset.name, "shape": list(dataset.shape), "dtype": str(dataset.x.dtype).replace("torch.", ""),
            "num_classes": dataset.num_classes, "class_names": list(dataset.class_names), "meta": dataset.meta,
            "kind": dataset.kind}
    if dataset.fields:
        info["fields"] = {name: {"kind": dataset.field_kinds[name], "shape": list(t.shape[1:]),
                                 "dtype": str(t.dtype).replace("torch.", "")} for name, t in dataset.fields.items()}
    if dataset.sources:
        info["sources"] = {name: dataset_info(ds) for name, ds in dataset.sources.items()}
    return info


def trainer_state(trainer) -> dict[str, Any]:
    return {"sampler_drawn": trainer.sampler.drawn, "lr_scale": trainer.lr_scale, "rollbacks": trainer.rollbacks,
            "recipe": trainer.cfg.recipe, "config": trainer.cfg.to_dict(), "world_size": trainer.dist.world_size,
            "ganforge_version": __version__, "data": dataset_info(trainer.dataset), "precision": trainer.precision}


def _split_state(state: dict[str, Any], prefix: str, tensors: dict) -> dict[str, Any]:
    """Recipe state -> tensors into ``tensors`` (under ``prefix``), the JSON-able rest returned."""
    rest = {}
    for key, value in state.items():
        if torch.is_tensor(value):
            tensors[prefix + key] = value.detach().cpu().contiguous()
        else:
            rest[key] = value
    return rest


def _local_state(trainer) -> dict[str, Any]:
    out = {"rng": torch.get_rng_state(), "recipe": trainer.recipe.state_dict()}
    if trainer.device.type == "cuda":
        out["cuda_rng"] = torch.cuda.get_rng_state(trainer.device)
    return out


def save(trainer) -> None:
    if trainer.run_dir is None:
        return
    per_rank = distributed.gather(trainer.dist, _local_state(trainer))  # every rank takes part
    if trainer.is_main:
        if not trainer.weights_finite():  # never write a NaN into a checkpoint
            raise DivergenceError(f"weights are not finite at step {trainer.step}; not checkpointing.")
        extra: dict[str, torch.Tensor] = {"rng.torch": per_rank[0]["rng"]}
        recipe_state = []
        for rank, local in enumerate(per_rank):
            extra[f"rng.torch.rank{rank}"] = local["rng"]
            if "cuda_rng" in local:
                extra[f"rng.cuda.rank{rank}"] = local["cuda_rng"]
            recipe_state.append(_split_state(local["recipe"], f"recipe.rank{rank}.", extra))
        ckpt.save_checkpoint(trainer.run_dir, trainer.step, nets=trainer.recipe.nets, optimizers=trainer.optimizers,
                             emas={name: ema.model for name, ema in trainer.emas.items()},
                             state={**trainer_state(trainer), "recipe_state": recipe_state}, keep=trainer.cfg.keep_checkpoints,
                             extra_tensors=extra)
    distributed.barrier(trainer.dist)


def recipe_state_from(meta: dict, tensors: dict, rank: int) -> dict[str, Any]:
    saved = meta.get("recipe_state") or []
    if not saved:
        return {}
    rank = rank if rank < len(saved) else 0  # another world size: every rank starts from rank 0's state
    prefix = f"recipe.rank{rank}."
    state = dict(saved[rank]) if isinstance(saved[rank], dict) else {}
    state.update({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
    return state


def restore(trainer, meta_tensors) -> None:
    meta, tensors = meta_tensors
    cfg, rank = trainer.cfg, trainer.dist.rank
    if meta.get("recipe") != cfg.recipe:
        raise CheckpointError(
            f"the checkpoint was written by recipe {meta.get('recipe')!r}, this run uses {cfg.recipe!r}; "
            f"resume with the run's own config."
        )
    for name, net in trainer.recipe.nets.items():
        ckpt.load_module_state(net, f"net.{name}.", tensors, name)
    for name, ema in trainer.emas.items():
        if any(k.startswith(f"ema.{name}.") for k in tensors):
            ckpt.load_module_state(ema.model, f"ema.{name}.", tensors, f"EMA {name}")
        else:
            ema.model.load_state_dict(trainer.recipe.nets[name].state_dict())
    for name, opt in trainer.optimizers.items():
        if name not in meta["optimizers"]:
            raise CheckpointError(f"the checkpoint has no optimiser state for group {name!r}; resume with the run's "
                                  f"own config.")
        ckpt.load_optimizer_state(opt, f"optim.{name}", meta["optimizers"][name], tensors)
    try:
        trainer.recipe.load_state_dict(recipe_state_from(meta, tensors, rank))
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"the checkpoint's recipe state does not fit recipe {cfg.recipe!r} ({e}).") from None
    trainer.step = int(meta["step"])
    trainer.lr_scale, trainer.rollbacks = float(meta.get("lr_scale", 1.0)), int(meta.get("rollbacks", 0))
    # Same world size: continue the exact stream; another one: continue from the same epoch position.
    saved_world = int(meta.get("world_size", 1))
    trainer.sampler.drawn = int(meta["sampler_drawn"]) * saved_world // trainer.dist.world_size
    rng = tensors.get(f"rng.torch.rank{rank}", tensors.get("rng.torch") if rank == 0 else None)
    if trainer.dist.world_size == saved_world and rng is not None:
        torch.set_rng_state(rng)
    else:
        torch.manual_seed(cfg.seed + rank + 7919 * trainer.step)
    cuda_rng = tensors.get(f"rng.cuda.rank{rank}", tensors.get("rng.cuda.0") if rank == 0 else None)
    if trainer.device.type == "cuda" and cuda_rng is not None and trainer.dist.world_size == saved_world:
        torch.cuda.set_rng_state(cuda_rng, trainer.device)
    trainer.reset_accumulators()  # learning rates: train_step applies the schedule at the restored step
