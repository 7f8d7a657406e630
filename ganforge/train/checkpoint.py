"""Checkpoints: tensors in safetensors, state in JSON, both written atomically; nothing pickled.

Layout: ``RUN/checkpoints/step-00000500.safetensors`` + ``step-00000500.json``. The JSON is written
last and records the sha256 of the tensor file: it is the commit marker. A tensor file without its
JSON, or whose hash differs (truncated, tampered), is not a checkpoint; loading the latest falls
back to the newest complete one, loading a named one fails with a clear message.
"""
from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ganforge.errors import CheckpointError
from ganforge.utils.files import atomic_write, atomic_write_text, sha256_file

FORMAT = "ganforge-checkpoint"
VERSION = 2  # 2: optimiser groups, EMAs and recipe state by name, per-rank RNG (reads 1 too)
READABLE_VERSIONS = (1, 2)
_NAME = re.compile(r"^step-(\d{8,})\.json$")


def checkpoint_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "checkpoints"


def _flatten_optimizer(prefix: str, optimizer: torch.optim.Optimizer, tensors: dict) -> dict:
    """Optimizer state -> (tensors into ``tensors``, JSON-able rest)."""
    state = optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for index, entry in state["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = value
    return {"param_groups": state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(prefix: str, saved: dict, tensors: dict) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith(prefix + "."):
            index, key = name[len(prefix) + 1:].split(".", 1)
            state.setdefault(int(index), {})[key] = value
    for index, entry in saved["scalars"].items():
        state.setdefault(int(index), {}).update(entry)
    return {"state": state, "param_groups": saved["param_groups"]}


def save_checkpoint(run_dir: str | Path, step: int, *, nets: dict[str, torch.nn.Module],
                    optimizers: dict[str, torch.optim.Optimizer], emas: dict[str, torch.nn.Module] | None = None,
                    state: dict[str, Any], keep: int, extra_tensors: dict[str, torch.Tensor] | None = None) -> Path:
    """Write one checkpoint atomically, then prune to the newest ``keep``. Returns the JSON path.
    ``extra_tensors``: RNG states and recipe state (ganforge.train.state); without them, this process's RNG."""
    tensors: dict[str, torch.Tensor] = {}
    for name, net in nets.items():
        for key, value in net.state_dict().items():
            tensors[f"net.{name}.{key}"] = value.detach().cpu().contiguous()
    for name, ema in (emas or {}).items():
        for key, value in ema.state_dict().items():
            tensors[f"ema.{name}.{key}"] = value.detach().cpu().contiguous()
    optimizer_state = {name: _flatten_optimizer(f"optim.{name}", opt, tensors) for name, opt in optimizers.items()}
    if extra_tensors is None:
        extra_tensors = {"rng.torch": torch.get_rng_state()}
    tensors.update({k: v.detach().cpu().contiguous() for k, v in extra_tensors.items()})
    # Clone tensors that share storage (safetensors refuses aliases, e.g. tied weights).
    seen: set[int] = set()
    for key, value in tensors.items():
        ptr = value.untyped_storage().data_ptr() if value.numel() else id(value)
        if ptr in seen:
            tensors[key] = value.clone()
        seen.add(ptr)

    folder = checkpoint_dir(run_dir)
    stem = f"step-{step:08d}"
    tensor_path = folder / f"{stem}.safetensors"
    atomic_write(tensor_path, lambda tmp: save_file(tensors, str(tmp)))
    meta = {"format": FORMAT, "version": VERSION, "step": step, "tensors": tensor_path.name,
            "sha256": sha256_file(tensor_path), "optimizers": optimizer_state,
            "has_ema": bool(emas), "emas": sorted(emas or {}), **state}
    json_path = atomic_write_text(folder / f"{stem}.json", json.dumps(meta, indent=1))
    prune_checkpoints(run_dir, keep)
    return json_path


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Committed checkpoints (JSON markers), oldest first."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if _NAME.match(p.name)), key=lambda p: int(_NAME.match(p.name)[1]))


def prune_checkpoints(run_dir: str | Path, keep: int) -> None:
    for old in list_checkpoints(run_dir)[:-keep]:
        old.with_suffix(".safetensors").unlink(missing_ok=True)
        old.unlink(missing_ok=True)
    # Orphans: a tensor file whose JSON never got written (killed in between), and stale temp files.
    live = {p.with_suffix(".safetensors").name for p in list_checkpoints(run_dir)}
    for path in checkpoint_dir(run_dir).glob("*.safetensors"):
        if path.name not in live:
            path.unlink(missing_ok=True)
    # Temp files of a killed writer (atomic_write names them .NAME.tmp-PID); ours may be in use.
    for folder in (checkpoint_dir(run_dir), Path(run_dir)):
        for path in folder.glob(".*.tmp-*"):
            if path.name.rsplit("-", 1)[-1] != str(os.getpid()):
                path.unlink(missing_ok=True)
    # safetensors >= 0.6 writes through its own temp file (Rust's tempfile crate: ".tmpXXXXXX") and
    # renames it; a kill mid-write leaves that behind. Nothing writes in checkpoints/ while we prune.
    for path in checkpoint_dir(run_dir).glob(".tmp*"):
        if path.is_file():
            path.unlink(missing_ok=True)


_DTYPES = ("uint8", "int16", "float32", "float64", "int64", "float16", "bfloat16")
MAX_SAMPLE_ELEMENTS = 1 << 28  # per-sample size a checkpoint may declare (a 16k x 16k RGB image is 0.8e9: refused)


def _schema_problem(meta: dict[str, Any]) -> str | None:
    """What is wrong with a checkpoint's JSON (types and ranges of what loading uses), or None."""
    def is_int(v, low=0):
        return isinstance(v, int) and not isinstance(v, bool) and v >= low

    name = meta.get("tensors")
    if not (isinstance(name, str) and name.endswith(".safetensors") and Path(name).name == name and name[0] != "."):
        return f"'tensors' must name a .safetensors file beside it, got {name!r}"
    if not (isinstance(meta.get("sha256"), str) and re.fullmatch(r"[0-9a-f]{64}", meta["sha256"])):
        return "'sha256' is not a sha256 hex digest"
    if not is_int(meta.get("step")):
        return f"'step' must be a non-negative integer, got {meta.get('step')!r}"
    for key in ("optimizers", "config", "data"):
        if key in meta and not isinstance(meta[key], dict):
            return f"{key!r} must be a mapping"
    if not all(isinstance(v, dict) for v in meta.get("optimizers", {}).values()):
        return "'optimizers' must map names to mappings"
    data = meta.get("data")
    if data is not None:
        shape = data.get("shape")
        if not (isinstance(shape, list) and 1 <= len(shape) <= 4 and all(is_int(d, 1) for d in shape)):
            return f"'data.shape' must be 1 to 4 positive integers, got {shape!r}"
        if math.prod(shape) > MAX_SAMPLE_ELEMENTS:
            return f"'data.shape' {shape} is absurdly large"
        if data.get("dtype", "float32") not in _DTYPES:
            return f"'data.dtype' must be one of {', '.join(_DTYPES)}, got {data.get('dtype')!r}"
        if not is_int(data.get("num_classes", 0)) or not isinstance(data.get("class_names", []), list):
            return "'data.num_classes' / 'data.class_names' have the wrong type"
        if not isinstance(data.get("meta", {}), dict) or not isinstance(data.get("name"), str):
            return "'data.name' / 'data.meta' have the wrong type"
    for key in ("sampler_drawn", "world_size", "rollbacks"):
        if key in meta and not is_int(meta[key]):
            return f"{key!r} must be a non-negative integer"
    recipe_state = meta.get("recipe_state", [])
    if not (isinstance(recipe_state, list) and all(isinstance(v, dict) for v in recipe_state)):
        return "'recipe_state' must be a list of mappings (one per process)"
    if data is not None and data.get("kind") is not None:
        from ganforge.data import KINDS

        if data["kind"] not in KINDS:
            return f"'data.kind' must be one of {', '.join(KINDS)}, got {data['kind']!r}"
    if "recipe" in meta and not isinstance(meta["recipe"], str):
        return "'recipe' must be a name"
    lr_scale = meta.get("lr_scale", 1.0)
    if not (isinstance(lr_scale, (int, float)) and not isinstance(lr_scale, bool) and math.isfinite(lr_scale) and lr_scale > 0):
        return "'lr_scale' must be a positive number"
    return None


def read_checkpoint(json_path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read and verify one checkpoint. Raises CheckpointError naming the problem."""
    json_path = Path(json_path)
    try:
        meta = json.loads(json_path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {json_path} does not exist; pass a run folder or a step-*.json file.") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CheckpointError(f"checkpoint {json_path} is corrupt (not JSON); resume from an earlier checkpoint.") from None
    except OSError as e:
        raise CheckpointError(f"checkpoint {json_path} cannot be read ({e.strerror or e}).") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{json_path} is not a ganforge checkpoint.")
    if meta.get("version") not in READABLE_VERSIONS:
        raise CheckpointError(f"checkpoint {json_path} has format version {meta.get('version')}, this ganforge reads "
                              f"{', '.join(map(str, READABLE_VERSIONS))}.")
    problem = _schema_problem(meta)
    if problem:  # the hash covers the tensor file only: the JSON is checked field by field
        raise CheckpointError(f"checkpoint {json_path} is corrupt or tampered ({problem}); use another checkpoint.")
    tensor_path = json_path.with_name(meta["tensors"])
    if not tensor_path.is_file():
        raise CheckpointError(f"checkpoint {json_path} lacks its tensor file {tensor_path.name}; it is incomplete.")
    if sha256_file(tensor_path) != meta.get("sha256"):
        raise CheckpointError(
            f"checkpoint {tensor_path} does not match the hash recorded in {json_path.name} (truncated or "
            f"tampered); resume from an earlier checkpoint."
        )
    try:
        tensors = load_file(str(tensor_path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"checkpoint {tensor_path} cannot be read ({e}).") from None
    return meta, tensors


def latest_checkpoint(run_dir: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The newest checkpoint that verifies; broken newer ones are skipped (a crash mid-write)."""
    problems = []
    for json_path in reversed(list_checkpoints(run_dir)):
        try:
            return read_checkpoint(json_path)
        except CheckpointError as e:
            problems.append(str(e))
    detail = f" ({'; '.join(problems)})" if problems else ""
    raise CheckpointError(f"no complete checkpoint in {checkpoint_dir(run_dir)}{detail}.")


def resolve_checkpoint(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """A run folder (latest checkpoint), a checkpoints/ folder, or one step-*.json / .safetensors file."""
    path = Path(path)
    if path.is_dir():
        run_dir = path.parent if path.name == "checkpoints" else path
        return latest_checkpoint(run_dir)
    if path.suffix == ".safetensors":
        path = path.with_suffix(".json")
    if not path.exists():
        raise CheckpointError(f"{path} does not exist; pass a run folder or one of its checkpoints/step-*.json files.")
    if path.suffix != ".json":
        raise CheckpointError(f"{path} is not a ganforge checkpoint; pass a run folder or one of its "
                              f"checkpoints/step-*.json files (ganforge never loads pickled .pt/.pth/.ckpt files).")
    return read_checkpoint(path)


def load_module_state(module: torch.nn.Module, prefix: str, tensors: dict[str, torch.Tensor], what: str) -> None:
    state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0] if str(e) else "shape mismatch"
        raise CheckpointError(
            f"the checkpoint's {what} does not fit this configuration ({first}); it comes from another recipe, "
            f"architecture or dataset — use the run's own config (ganforge train --resume RUN)."
        ) from None


def load_optimizer_state(optimizer: torch.optim.Optimizer, prefix: str, saved: dict, tensors: dict) -> None:
    try:
        optimizer.load_state_dict(_unflatten_optimizer(prefix, saved, tensors))
    except (ValueError, KeyError, RuntimeError) as e:
        raise CheckpointError(f"the checkpoint's optimiser state does not fit this configuration ({e}).") from None
