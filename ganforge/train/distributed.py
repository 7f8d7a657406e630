"""DistributedDataParallel through torchrun: gloo on CPU, NCCL on GPU, chosen automatically.

``torchrun --nproc_per_node N -m ganforge train ...`` sets RANK / WORLD_SIZE / LOCAL_RANK (and the
rendezvous address); without them everything here is a no-op and training is single-process.
See docs/DISTRIBUTED.md for the commands and for why each choice below was made. In short:

- every rank trains on its own disjoint shard (``BatchSampler(rank, world_size)``); DDP averages the
  gradients, so one step uses a *global* batch of ``batch_size x world_size``;
- only the network being stepped takes weight gradients (``set_trainable``): the G phase still
  back-propagates *through* D, but D's weights get no gradient and DDP all-reduces nothing for D;
- buffers (batch-norm running statistics, spectral-norm power-iteration vectors) are synchronised
  from rank 0 once, when the networks are wrapped, and not before every forward (``_BUFFER_SYNC``);
- control decisions (stop, divergence) are agreed on a CPU gloo group, so they never sync a GPU.
"""
from __future__ import annotations

import atexit
import contextlib
import datetime
import inspect
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from ganforge.errors import GanforgeError


@dataclass
class DistInfo:
    enabled: bool = False
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    backend: str | None = None
    control_group: Any = None  # a gloo group for CPU-side flags (the default group when it is gloo)


def _device_for(device_name: str, local_rank: int) -> torch.device:
    """The device of this process: one GPU per process (cuda:LOCAL_RANK), or the CPU."""
    wants_cuda = device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available())
    if not wants_cuda:
        return torch.device(device_name if device_name != "auto" else "cpu")
    if not torch.cuda.is_available():
        raise GanforgeError(f"device {device_name!r} was requested but no CUDA GPU is available; "
                            f"use --device cpu (gloo) for distributed CPU training.")
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise GanforgeError(f"process with LOCAL_RANK {local_rank} has no GPU of its own (this node has {count}); "
                            f"run one process per GPU: torchrun --nproc_per_node {count} ...")
    return torch.device("cuda", local_rank)  # under torchrun a process always owns GPU LOCAL_RANK


def init_from_env(device_name: str = "auto") -> DistInfo:
    """Join the process group torchrun set up (env://), or return a disabled DistInfo."""
    if "RANK" not in os.environ or int(os.environ.get("WORLD_SIZE", "1")) < 2:
        return DistInfo()
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = _device_for(device_name, local_rank)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        # How long a rank waits for the others (rank 0 evaluating, a slow checkpoint); torch's default otherwise.
        dist.init_process_group(backend, **_timeout())
        atexit.register(_shutdown)
    backend = dist.get_backend()
    global _CONTROL_GROUP
    if backend != "gloo" and _CONTROL_GROUP is None:  # once per process: creating a group is a collective
        # Flags are one-element CPU tensors: reducing them on NCCL would need a GPU copy and a host sync.
        _CONTROL_GROUP = dist.new_group(backend="gloo")
    return DistInfo(True, rank, world, local_rank, device, backend, None if backend == "gloo" else _CONTROL_GROUP)


_CONTROL_GROUP = None


def _timeout() -> dict[str, datetime.timedelta]:
    value = os.environ.get("GANFORGE_DIST_TIMEOUT")
    if not value:
        return {}
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise GanforgeError(f"GANFORGE_DIST_TIMEOUT={value!r} is not a positive number of seconds; e.g. 3600.")
    return {"timeout": datetime.timedelta(seconds=seconds)}


def _shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


# Buffers are synchronised once (at wrap time), never before each forward. Newer torch spells this
# forward_sync_buffers=False (which still syncs at construction); older torch has only
# broadcast_buffers=False (which also skips the construction sync, so wrap_recipe does it itself).
_HAS_FORWARD_SYNC = "forward_sync_buffers" in inspect.signature(
    torch.nn.parallel.DistributedDataParallel.__init__).parameters
_BUFFER_SYNC = {"forward_sync_buffers": False} if _HAS_FORWARD_SYNC else {"broadcast_buffers": False}


def _has_batchnorm(net: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())


def check_sync_batchnorm(cfg, nets: dict[str, nn.Module], device: torch.device) -> None:
    """SyncBatchNorm needs CUDA kernels, and it cannot be differentiated twice (its backward has no
    derivative: pytorch/pytorch#61222), which the gradient penalty and R1 need through D."""
    if not cfg.sync_batchnorm:
        return
    if device.type != "cuda":
        raise GanforgeError("--sync-batchnorm needs CUDA GPUs (PyTorch's SyncBatchNorm has no CPU kernels); "
                            "drop --sync-batchnorm for CPU (gloo) training.")
    if (cfg.gp_weight > 0 or cfg.r1_gamma > 0) and any(_has_batchnorm(net) for net in nets.values()):
        raise GanforgeError("--sync-batchnorm with a gradient penalty (gp_weight / r1_gamma) and batch-norm "
                            "networks: SyncBatchNorm cannot be differentiated twice. Drop --sync-batchnorm, "
                            "or use a discriminator without batch norm (the penalties assume one anyway).")


def wrap_recipe(recipe, info: DistInfo, cfg) -> None:
    """Replace the recipe's network callables (``recipe.<name>``) by DDP wrappers; the raw modules stay
    in ``recipe.nets``. Frozen networks are not wrapped (DDP needs parameters to reduce).

    Call it after the optimisers are built (SyncBatchNorm conversion keeps the same Parameter
    objects, so they stay valid) and before loading a checkpoint into ``recipe.nets``.
    """
    if not info.enabled:
        return
    from torch.nn.parallel import DistributedDataParallel as DDP

    trained = {name: net for name, net in recipe.nets.items() if name not in recipe.frozen}
    check_sync_batchnorm(cfg, trained, info.device)
    for name, net in trained.items():
        if not any(p.requires_grad for p in net.parameters()):
            continue
        if cfg.sync_batchnorm:
            net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
            recipe.nets[name] = net
        if not _HAS_FORWARD_SYNC:
            for buffer in net.buffers():
                dist.broadcast(buffer, src=0)
        ids = [info.device.index] if info.device.type == "cuda" else None
        setattr(recipe, name, DDP(net, device_ids=ids, find_unused_parameters=recipe.partial_forward, **_BUFFER_SYNC))


def set_trainable(recipe, names) -> None:
    """During a phase only the networks it steps (``names``) take weight gradients; ``None``: all but
    the frozen ones (outside a step). Frozen networks never do.

    Why freeze the others? In a generator phase the discriminator's weight gradients would be
    computed, then (under DDP) all-reduced, and then thrown away by the next D phase's zero_grad:
    pure waste. DDP's ``no_sync`` would skip the all-reduce but still compute them. With D frozen,
    autograd still propagates *through* D to G's weights but D's weight-gradient kernels and
    gradient hooks never run, so DDP has nothing to reduce for D. A phase lists in
    ``keep_trainable`` the networks whose graph a later phase reuses (the D phase's fakes when the G
    phase reuses them); its loss sees them detached, so no gradient is computed for them.
    ``recipe`` may also be a plain ``{name: module}`` mapping (no frozen networks).
    """
    nets, frozen = (recipe, set()) if isinstance(recipe, dict) else (recipe.nets, recipe.frozen)
    names = (names,) if isinstance(names, str) else names
    for name, net in nets.items():
        net.requires_grad_(name not in frozen and (names is None or name in names))


@contextlib.contextmanager
def trainable(recipe, names):
    set_trainable(recipe, names)
    try:
        yield
    finally:
        set_trainable(recipe, None)


@contextlib.contextmanager
def no_sync(recipe, names, enabled: bool):
    """Gradient accumulation: skip DDP's all-reduce on the backwards before the last one."""
    with contextlib.ExitStack() as stack:
        if enabled:
            for name in names:
                wrapper = getattr(recipe, name, None)
                if hasattr(wrapper, "no_sync"):
                    stack.enter_context(wrapper.no_sync())
        yield


def gather(info: DistInfo, obj):
    """``obj`` of every rank, in rank order, on every rank (CPU gloo group: RNG states, recipe state)."""
    if not info.enabled:
        return [obj]
    out = [None] * info.world_size
    dist.all_gather_object(out, obj, group=info.control_group)
    return out


def describe(info: DistInfo, cfg) -> dict[str, Any]:
    """What run.json records about the process layout (the global batch in particular)."""
    return {"world_size": info.world_size, "backend": info.backend, "batch_size_per_rank": cfg.batch_size,
            "global_batch_size": cfg.batch_size * info.world_size,
            "sync_batchnorm": bool(cfg.sync_batchnorm and info.enabled)}


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier(group=info.control_group)


def any_rank(info: DistInfo, flag: bool) -> bool:
    """True on every rank if ``flag`` is true on any (every rank must call it at the same point)."""
    if not info.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0])
    dist.all_reduce(t, op=dist.ReduceOp.MAX, group=info.control_group)
    return bool(t.item() > 0)
