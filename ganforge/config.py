"""The typed training configuration.

One flat dataclass with defaults (flat so that every key is a CLI flag: ``lr_d`` -> ``--lr-d``).
Resolution order, later wins: dataclass defaults < ``configs/<recipe>.yaml`` (only what the recipe
changes) < ``configs/data/<data>.yaml`` (what the dataset suggests, for any recipe or tuned for this
one) < the user's ``--config file.yaml`` < command-line overrides.
"""
from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ganforge.errors import GanforgeError


def _opt(default, help: str, choices: tuple | None = None, **kw):
    meta = {"help": help}
    if choices:
        meta["choices"] = choices
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta, **kw)


# Resource guards: refuse absurd sizes with a message before allocating anything.
MAX_BATCH_SIZE = 65536
MAX_IMAGE_SIZE = 1024
MAX_STEPS = 10**9


@dataclass
class Config:
    # --- what to train -------------------------------------------------------------------
    recipe: str = _opt("dcgan", "GAN variant (see `ganforge list`)")
    data: str = _opt("digits", "dataset name (see `ganforge list`)")
    data_dir: str | None = _opt(None, "directory holding the dataset files (default: $GANFORGE_DATA)")
    data_path: str | None = _opt(None, "a single data file (tabular CSV)")
    target: str | None = _opt(None, "label column of a tabular dataset")
    image_size: int | None = _opt(None, "resize images to this size (default: the dataset's own)")
    # --- networks ------------------------------------------------------------------------
    architecture: str = _opt("", "network family (default: the recipe's): dcgan, mlp, resnet, ...")
    z_dim: int = _opt(100, "latent dimension")
    g_width: int = _opt(64, "generator base width (channels or hidden units)")
    d_width: int = _opt(64, "discriminator base width")
    spectral_norm: bool = _opt(False, "spectral normalisation on every discriminator layer")
    pack: int = _opt(1, "PacGAN packing: the discriminator judges packs of this many samples (1: off)")
    mbstd_group: int = _opt(0, "minibatch standard deviation layer in the discriminator, group size (0: off)")
    # --- objective -----------------------------------------------------------------------
    loss: str = _opt("nonsaturating", "GAN objective: nonsaturating, minimax, wasserstein, hinge, lsgan, ragan")
    # --- optimisation --------------------------------------------------------------------
    steps: int = _opt(3000, "generator steps to train")
    batch_size: int = _opt(64, "batch size per process (global batch = batch_size x world size)")
    optimizer: str = _opt("adam", "optimiser", ("adam", "rmsprop"))
    lr_g: float = _opt(2e-4, "generator learning rate")
    lr_d: float = _opt(2e-4, "discriminator learning rate (TTUR: set it apart from lr_g)")
    beta1: float = _opt(0.5, "Adam beta1")
    beta2: float = _opt(0.999, "Adam beta2")
    n_critic: int = _opt(1, "discriminator steps per generator step")
    grad_clip: float = _opt(0.0, "clip each network's gradient norm to this value (0: off)")
    ema_decay: float = _opt(0.999, "EMA decay of generator weights used for sampling (0: off)")
    ema_start: int = _opt(0, "step at which the EMA starts (before: copies the generator)")
    lr_decay_start: float = _opt(0.0, "decay every learning rate linearly to 0 from this step to the last; below 1: "
                                    "a fraction of steps (0.5: the second half, pix2pix / CycleGAN style; it moves if a resume "
                                    "changes --steps); 0: off")
    # --- fine-tuning (docs/ADAPT.md) -----------------------------------------------------
    init_from: str | None = _opt(None, "start from this run's (or checkpoint's) network weights, matched by name "
                                       "(fine-tuning; fresh optimisers and step count)")
    freeze_d: int = _opt(0, "FreezeD: keep the first K blocks of every discriminator fixed (0: off; needs init_from "
                            "to make sense)")
    # --- regularisers and stabilisers -----------------------------------------------------
    gp_weight: float = _opt(0.0, "gradient penalty weight (WGAN-GP: 10)")
    clip_value: float = _opt(0.0, "critic weight clipping bound (WGAN: 0.01; 0: off)")
    r1_gamma: float = _opt(0.0, "R1 penalty gamma (0: off)")
    r1_interval: int = _opt(16, "lazy R1: apply every this many steps")
    label_smoothing: float = _opt(0.0, "one-sided label smoothing: real target = 1 - this")
    instance_noise: float = _opt(0.0, "initial std of instance noise, annealed to 0 over training")
    diffaugment: str = _opt("", "DiffAugment policy, e.g. 'color,translation,cutout' ('' : off)")
    ms_weight: float = _opt(0.0, "mode-seeking regulariser (MSGAN, Mao et al. 2019): G loss += this / (mean abs(G(z1) - G(z2)) / "
                                 "mean abs(z1 - z2) + 1e-5) over pairs of fakes with one label (0: off)")
    ada: str = _opt("", "adaptive discriminator augmentation (ADA) pipeline: bgc, bg, b, g or c ('': off)")
    ada_target: float = _opt(0.6, "ADA: target of the overfitting heuristic r_t = E[sign(D(real))]")
    ada_kimg: float = _opt(500.0, "ADA: thousands of real images over which p can move from 0 to 1")
    # --- boundary calibration (BC-loss) ---------------------------------------------------
    bc_weight: float = _opt(0.0, "weight of the boundary-calibration loss (0: off)")
    bc_kernel: str = _opt("linear", "BC statistic: linear (posterior means) or rbf (posterior MMD)", ("linear", "rbf"))
    bc_classifiers: str = _opt("logreg,mlp,cnn", "frozen classifier ensemble of the BC-loss")
    bc_source: str = _opt("batch", "real posteriors from the current real batch or a rolling buffer", ("batch", "buffer"))
    bc_temperature: float = _opt(1.0, "BC posteriors are softmax(logits / this): > 1 softens the frozen classifiers' "
                                      "over-confident posteriors (temperature scaling, Guo et al. 2017)")
    # --- runtime -------------------------------------------------------------------------
    seed: int = _opt(0, "random seed")
    deterministic: bool = _opt(False, "deterministic algorithms (bit-exact resume on CPU)")
    device: str = _opt("auto", "auto, cpu, cuda, cuda:N")
    precision: str = _opt("auto", "compute precision (bf16: autocast, losses stay fp32; auto: bf16 where the "
                                  "hardware runs it natively, else fp32; run.json records the choice)",
                          ("fp32", "bf16", "auto"))
    threads: int = _opt(0, "intra-op CPU threads for training (0: PyTorch's default, one per core). Tiny networks "
                           "(8x8 digits, 2-D toys) run fastest on 1: their ops are too small to split")
    compile: bool = _opt(False, "torch.compile the networks")
    channels_last: bool = _opt(True, "channels_last memory format for image networks")
    sync_batchnorm: bool = _opt(False, "SyncBatchNorm under distributed training")
    # --- output and monitoring -----------------------------------------------------------
    out: str | None = _opt(None, "run folder (default: runs/<recipe>-<data>)")
    log_every: int = _opt(50, "log losses every N steps")
    sample_every: int = _opt(500, "save a fixed-noise sample grid every N steps (0: off)")
    checkpoint_every: int = _opt(500, "write a checkpoint every N steps (0: only at the end)")
    keep_checkpoints: int = _opt(3, "keep the last K checkpoints")
    eval_every: int = _opt(0, "evaluate metrics every N steps (0: off)")
    eval_metrics: str = _opt("fid", "metrics evaluated during training")
    eval_extractor: str = _opt("classifier", "feature extractor for metrics during training")
    eval_samples: int = _opt(1000, "samples per evaluation during training")
    tensorboard: bool = _opt(False, "also log losses, metrics and sample grids to RUN/tensorboard (pip install ganforge[tensorboard])")
    # --- reliability ---------------------------------------------------------------------
    divergence: str = _opt("rollback", "on NaN/Inf or exploding gradients", ("rollback", "stop", "off"))
    rollback_lr_factor: float = _opt(0.5, "multiply learning rates by this after a rollback")
    max_rollbacks: int = _opt(3, "give up after this many rollbacks")
    max_grad_norm: float = _opt(1e4, "a gradient norm above this counts as divergence")
    collapse_warning: bool = _opt(True, "warn (progress bar + metrics.jsonl event) when the sample diversity of a "
                                        "fixed batch drops sharply: a sign of mode collapse")
    collapse_threshold: float = _opt(0.25, "mode-collapse warning when diversity falls below this fraction of "
                                           "its running maximum")
    # --- recipe-specific extras (documented by each recipe) -------------------------------
    options: dict = _opt({}, "typed options of the recipe, dataset and architecture, e.g. {pac: 10} (each "
                             "documents its own; an unknown key is an error naming the valid ones)")

    def replace(self, **changes) -> "Config":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


FIELDS = {f.name: f for f in fields(Config)}


def recipe_defaults(recipe: str) -> dict[str, Any]:
    """The recipe's YAML (only what differs from the dataclass defaults), or {}."""
    if not isinstance(recipe, str) or not recipe.replace("-", "").replace("_", "").isalnum() or len(recipe) > 64:
        return {}  # not a recipe name (a path, 5000 characters: read nothing); RECIPES.get names the error (issue 18)
    path = resources.files("ganforge.configs").joinpath(f"{recipe}.yaml")
    if not path.is_file():
        return {}
    return yaml.safe_load(path.read_text()) or {}


def data_defaults(data: str, recipe: str) -> dict[str, Any]:
    """``configs/data/<data>.yaml``: what a dataset suggests for every recipe (top-level keys, e.g. the
    toy mixtures' MLP) plus, under ``recipes: {<recipe>: ...}``, settings tuned for one recipe on it.
    They override the recipe's YAML and are overridden by the user's file and flags."""
    folder = resources.files("ganforge.configs").joinpath("data")
    files = {p.name: p for p in folder.iterdir()} if folder.is_dir() else {}
    if f"{data}.yaml" not in files:  # a listing, not a path join: a hostile name never reaches the disk
        return {}
    suggested = yaml.safe_load(files[f"{data}.yaml"].read_text()) or {}
    tuned = (suggested.pop("recipes", None) or {}).get(recipe) or {}
    return {**suggested, **tuned}


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise GanforgeError(f"config file {str(p)!r} does not exist; pass the path of a YAML file to --config.")
    try:
        data = yaml.safe_load(p.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        detail = " ".join(str(e).split())  # PyYAML's messages span lines: keep the error on one
        raise GanforgeError(f"config file {str(p)!r} is not valid YAML ({detail}); fix the syntax.") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise GanforgeError(f"config file {str(p)!r} must hold a mapping of keys to values, not {type(data).__name__}.")
    return data


def _coerce(name: str, value: Any) -> Any:
    """Convert a YAML/CLI value to the field's type, with a clear error."""
    f = FIELDS[name]
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    typ = str(f.type)
    if value is None:
        if "None" in typ:
            return None
        raise GanforgeError(f"config key {name!r} cannot be empty; give a value like {default!r}.")
    try:
        if "dict" in typ:
            if isinstance(value, str):
                value = yaml.safe_load(value) or {}
            if not isinstance(value, dict):
                raise ValueError
            return value
        if "bool" in typ:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
                return True
            if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if "int" in typ and "float" not in typ:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float):
                if not value.is_integer():
                    raise ValueError
                return int(value)
            return int(str(value).strip())
        if "float" in typ:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if "str" in typ:
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise ValueError
            return str(value)
    except (ValueError, TypeError, OverflowError, yaml.YAMLError):
        kind = typ.replace(" | None", "").replace("<class '", "").replace("'>", "")
        raise GanforgeError(f"config key {name!r} must be of type {kind}, got {value!r}.") from None
    return value


def make_config(*layers: dict[str, Any]) -> Config:
    """Merge override layers (later wins) onto the recipe's defaults and validate."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            key = str(key).replace("-", "_")
            if key not in FIELDS:
                import difflib

                close = difflib.get_close_matches(key, FIELDS, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else " See `ganforge train --help` for the keys."
                raise GanforgeError(f"unknown config key {key!r}.{hint}")
            merged[key] = _coerce(key, value)
    recipe = merged.get("recipe", FIELDS["recipe"].default)
    base = {k: _coerce(k, v) for k, v in recipe_defaults(recipe).items()}
    data = merged.get("data", FIELDS["data"].default)
    base.update({k: _coerce(k, v) for k, v in data_defaults(data, recipe).items()})
    cfg = Config(**{**base, **merged})
    validate(cfg)
    return cfg


def load_config(path: str | os.PathLike | None = None, overrides: dict[str, Any] | None = None) -> Config:
    return make_config(read_yaml(path) if path else {}, overrides or {})


def validate(cfg: Config) -> None:
    """Refuse bad values before anything is allocated or written."""

    def bad(key, why):
        raise GanforgeError(f"config key {key!r} = {getattr(cfg, key)!r} is invalid: {why}.")

    for f in fields(cfg):
        v = getattr(cfg, f.name)
        if isinstance(v, float) and not math.isfinite(v):
            bad(f.name, "it must be a finite number")
        choices = f.metadata.get("choices")
        if choices and v not in choices:
            bad(f.name, f"choose one of {', '.join(choices)}")
    if not 1 <= cfg.batch_size <= MAX_BATCH_SIZE:
        bad("batch_size", f"it must be between 1 and {MAX_BATCH_SIZE}")
    if not 0 <= cfg.mbstd_group <= MAX_BATCH_SIZE:
        bad("mbstd_group", "it must be 0 (off) or a group size")
    if cfg.image_size is not None and not 4 <= cfg.image_size <= MAX_IMAGE_SIZE:
        bad("image_size", f"it must be between 4 and {MAX_IMAGE_SIZE}")
    if not 1 <= cfg.steps <= MAX_STEPS:
        bad("steps", f"it must be between 1 and {MAX_STEPS}")
    for key in ("z_dim", "g_width", "d_width", "n_critic", "r1_interval", "pack"):
        if not 1 <= getattr(cfg, key) <= 100_000:
            bad(key, "it must be a positive integer (at most 100000)")
    if not 0 <= cfg.threads <= 4096:
        bad("threads", "it must be 0 (PyTorch's default) or a number of threads")
    if cfg.batch_size % cfg.pack:
        bad("batch_size", f"with --pack {cfg.pack} it must be a multiple of {cfg.pack}")
    for key in ("lr_g", "lr_d"):
        if not 0 < getattr(cfg, key) <= 10:
            bad(key, "a learning rate must be in (0, 10]")
    for key in ("beta1", "beta2", "ema_decay"):
        if not 0 <= getattr(cfg, key) < 1:
            bad(key, "it must be in [0, 1)")
    if not 0 <= cfg.label_smoothing < 1:
        bad("label_smoothing", "it must be in [0, 1)")
    if not 0 < cfg.rollback_lr_factor <= 1:
        bad("rollback_lr_factor", "it must be in (0, 1]")
    if not 0 < cfg.collapse_threshold < 1:
        bad("collapse_threshold", "it must be in (0, 1)")
    if not cfg.bc_temperature > 0:
        bad("bc_temperature", "it must be positive")
    for key in ("grad_clip", "gp_weight", "clip_value", "r1_gamma", "instance_noise", "bc_weight", "ms_weight",
                "ema_start", "lr_decay_start", "freeze_d", "log_every", "sample_every", "checkpoint_every", "eval_every", "max_rollbacks"):
        if getattr(cfg, key) < 0:
            bad(key, "it must not be negative")
    if cfg.log_every == 0:
        bad("log_every", "it must be at least 1")
    if cfg.keep_checkpoints < 1:
        bad("keep_checkpoints", "keep at least 1 checkpoint")
    if not 1 <= cfg.eval_samples <= 1_000_000:
        bad("eval_samples", "it must be between 1 and 1000000")
    if not 0 <= cfg.seed < 2**63:  # torch and numpy take seeds in [0, 2**63); 2**80 crashed, -1 broke numpy (issue 18)
        bad("seed", "it must be an integer in [0, 2**63)")
    if not cfg.device.startswith(("auto", "cpu", "cuda", "mps")):
        bad("device", "use auto, cpu, cuda or cuda:N")


def config_markdown() -> str:
    """docs/CONFIG.md, generated from the dataclass so it cannot drift (a test compares them)."""
    lines = ["# Configuration keys", "",
             "Generated from `ganforge/config.py` by `python -m ganforge.config > docs/CONFIG.md`.",
             "Order of precedence, later wins: these defaults < `ganforge/configs/<recipe>.yaml` < "
             "`ganforge/configs/data/<data>.yaml` (what a dataset suggests; docs/RECIPES.md) < "
             "`--config FILE.yaml` < command-line flags (`lr_d` -> `--lr-d`).", "",
             "| key | default | meaning |", "| --- | --- | --- |"]
    for f in fields(Config):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        choices = f.metadata.get("choices")
        meaning = f.metadata.get("help", "") + (f" (one of: {', '.join(choices)})" if choices else "")
        lines.append(f"| `{f.name}` | `{default!r}` | {meaning} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(config_markdown(), end="")
