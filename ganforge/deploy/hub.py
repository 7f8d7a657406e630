"""Shareable model folders in the layout of the Hugging Face Hub mixins, loaded offline.

    ganforge export runs/dcgan --format hub --out my-dcgan/      # writes the folder
    gen = ganforge.load("my-dcgan")                              # reads it back (no network, no code)

Layout (what ``PyTorchModelHubMixin.save_pretrained`` writes, plus a model card):

* ``config.json``: ``{"format": "ganforge-hub", "version": 1, "library_name": "ganforge", "recipe",
  "step", "config" (the resolved training config), "data" (the data record the networks are built
  from), "recipe_state", "networks", "sha256" (of model.safetensors), "metrics" (the run's last
  evaluation, if any)}``;
* ``model.safetensors``: the inference networks (``net.<name>.*``, the EMA weights when training kept
  them) and the recipe's tensor state (``recipe.rank0.*``) — nothing else (no optimiser, no D);
* ``README.md``: a model card (YAML front matter with ``library_name: ganforge`` and tags; training
  data, config, metrics, the sample grid, how to load it);
* ``samples.png``: a sample grid (image data).

Loading goes through the checkpoint reader's checks: the tensor file's sha256 against config.json,
then the JSON field by field (``ganforge.train.checkpoint._schema_problem``), safetensors only.
Upload with ``huggingface-cli upload`` if you want it on the Hub; ganforge itself never downloads.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ganforge.errors import CheckpointError
from ganforge.utils.files import atomic_write, atomic_write_text, sha256_file

FORMAT = "ganforge-hub"
VERSION = 1
MAX_CONFIG_BYTES = 1 << 24


def is_hub_folder(path: str | Path) -> bool:
    path = Path(path)
    return path.is_dir() and (path / "config.json").is_file() and not (path / "checkpoints").is_dir()


def export_hub(gen, out: Path, source=None) -> Path:
    from ganforge.version import __version__

    tensors: dict[str, torch.Tensor] = {}
    for name, module in gen.nets.items():
        for key, value in module.state_dict().items():
            tensors[f"net.{name}.{key}"] = value.detach().cpu().contiguous().clone()
    state = gen.recipe.state_dict() or {}
    json_state = {}
    for key, value in state.items():
        if isinstance(value, torch.Tensor):
            tensors[f"recipe.rank0.{key}"] = value.detach().cpu().contiguous().clone()
        else:
            json_state[key] = value
    metrics = _last_metrics(source)
    out.mkdir(parents=True, exist_ok=True)
    tensor_path = atomic_write(out / "model.safetensors", lambda tmp: save_file(tensors, str(tmp)))
    config = {
        "format": FORMAT, "version": VERSION, "library_name": "ganforge", "ganforge_version": __version__,
        "recipe": gen.config.recipe, "task": gen.recipe.task, "knobs": list(gen.recipe.knobs), "step": gen.step,
        "tensors": "model.safetensors", "sha256": sha256_file(tensor_path),
        "networks": list(gen.nets), "config": gen.config.to_dict(),
        "data": gen.info, "recipe_state": [json_state], "metrics": metrics,
    }
    grid = _sample_grid(gen, out)
    atomic_write_text(out / "README.md", model_card(config, grid))
    atomic_write_text(out / "config.json", json.dumps(config, indent=1))  # last: the folder is complete
    return out


def _last_metrics(source) -> dict:
    if source is None:
        return {}
    path = Path(source) / "metrics.jsonl"
    if not path.is_file():
        return {}
    found = {}
    try:
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                for key, value in record.items():
                    if key.startswith("eval/") and isinstance(value, (int, float)):
                        found[key[5:]] = value
                        found["_step"] = record.get("step")
    except OSError:
        return {}
    return found


def _sample_grid(gen, out: Path) -> str | None:
    if gen.dataset.kind != "image" or gen.recipe.task not in ("noise", "class"):
        return None
    from ganforge.utils.images import save_grid

    n = 8 * max(1, min(gen.num_classes, 8)) if gen.num_classes else 64
    x = gen.sample(n, seed=0)
    save_grid(gen.dataset.from_model(x), out / "samples.png", nrow=8)
    return "samples.png"


def model_card(config: dict, grid: str | None) -> str:
    cfg, data, metrics = config["config"], config["data"], config.get("metrics") or {}
    classes = data.get("class_names") or []
    lines = ["---", "library_name: ganforge", "tags:", "- gan", f"- {config['recipe']}", f"- {config['task']}",
             "datasets:", f"- {data.get('name', cfg.get('data'))}", "---", "",
             f"# {config['recipe']} on {data.get('name', cfg.get('data'))}", "",
             f"A ganforge `{config['recipe']}` generator (task `{config['task']}`), trained for {config['step']} steps. "
             "Weights are safetensors; loading runs no code.", "",
             "## Use", "", "```python", "import ganforge", "", 'gen = ganforge.load("PATH/TO/THIS/FOLDER")   # offline',
             "images = gen.sample(16, seed=0)            # model space, [-1, 1]"]
    if classes:
        lines.append("threes = gen.sample(16, labels=3)")
    lines += ["```", "", "or `ganforge sample FOLDER -n 64 --out grid.png`, `ganforge serve FOLDER`.", "",
              "## Training data", "",
              f"- dataset: `{data.get('name', cfg.get('data'))}`, kind `{data.get('kind')}`, sample shape "
              f"{data.get('shape')}" + (f", {len(classes)} classes: {', '.join(map(str, classes))}" if classes else ""),
              "", "## Training configuration", "", "| key | value |", "|---|---|"]
    for key in ("recipe", "architecture", "loss", "image_size", "z_dim", "g_width", "d_width", "batch_size", "steps",
                "lr_g", "lr_d", "ema_decay", "bc_weight", "precision", "seed"):
        if key in cfg:
            lines.append(f"| {key} | {cfg[key]} |")
    lines += ["", "## Metrics", ""]
    if metrics:
        step = metrics.get("_step")
        lines += [f"Last evaluation during training (step {step}):", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v:.4g} |" for k, v in metrics.items() if k != "_step"]
    else:
        lines.append("No evaluation was logged during training; run `ganforge eval FOLDER --metrics fid,kid`.")
    if grid:
        lines += ["", "## Samples", "", f"![samples]({grid})"]
    lines += ["", "## Limitations", "",
              "A GAN reproduces its training data's biases and can memorise training samples; check it before use.", ""]
    return "\n".join(lines)


def read_hub(path: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """(meta, tensors) of a hub folder, in the form ``TrainedGenerator.from_path`` reads checkpoints."""
    from ganforge.train.checkpoint import _schema_problem

    path = Path(path)
    config_path = path / "config.json"
    try:
        if config_path.stat().st_size > MAX_CONFIG_BYTES:
            raise CheckpointError(f"{config_path} is larger than {MAX_CONFIG_BYTES >> 20} MiB; it is not a ganforge model.")
        meta = json.loads(config_path.read_text())
    except (ValueError, UnicodeDecodeError):
        raise CheckpointError(f"{config_path} is corrupt (not JSON); export the model again.") from None
    except OSError as e:
        raise CheckpointError(f"{config_path} cannot be read ({e.strerror or e}).") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} has a config.json but is not a ganforge model folder (format "
                              f"{meta.get('format') if isinstance(meta, dict) else None!r}); pass a run folder or a "
                              "folder written by `ganforge export --format hub`.")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{path} has hub format version {meta.get('version')!r}; this ganforge reads {VERSION}.")
    problem = _schema_problem(meta)
    if problem is None and not isinstance(meta.get("config"), dict):
        problem = "'config' is missing"
    if problem is None and not isinstance(meta.get("data"), dict):
        problem = "'data' is missing"
    if problem:
        raise CheckpointError(f"{config_path} is corrupt or tampered ({problem}); export the model again.")
    tensor_path = path / meta["tensors"]
    if not tensor_path.is_file():
        raise CheckpointError(f"{path} lacks {meta['tensors']}; the folder is incomplete.")
    if sha256_file(tensor_path) != meta["sha256"]:
        raise CheckpointError(f"{tensor_path} does not match the hash in config.json (truncated or tampered).")
    try:
        tensors = load_file(str(tensor_path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{tensor_path} cannot be read ({e}).") from None
    return meta, tensors


