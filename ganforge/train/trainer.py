"""The generic training loop. It knows nothing about any GAN variant: it runs the recipe's phases.

One training step = every phase due at that step (see ``Recipe.phases``), each: draw a real batch,
compute the loss under autocast, backward, optional gradient clipping, optimiser step, recipe hook.
Host syncs (``.item()``) happen only every ``log_every`` steps, where the divergence guard also
looks at the NaN/Inf and gradient-norm flags accumulated on the device meanwhile.
"""
from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge import __version__
from ganforge.config import Config
from ganforge.data import BatchSampler, Dataset, load_dataset
from ganforge.errors import CheckpointError, DivergenceError, GanforgeError
from ganforge.recipes import RECIPES, Recipe
from ganforge.train import checkpoint as ckpt
from ganforge.train import distributed
from ganforge.train.ema import EMA
from ganforge.utils.files import atomic_write_text


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GanforgeError(f"device {name!r} was requested but no CUDA GPU is available; use --device cpu.")
    return device


def seed_everything(seed: int, deterministic: bool) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def build_recipe(cfg: Config, dataset: Dataset) -> Recipe:
    from ganforge.train.guards import check_model_size

    check_model_size(cfg, dataset, RECIPES.get(cfg.recipe))  # before allocating: shapes only
    recipe = RECIPES.get(cfg.recipe)(cfg, dataset)
    if cfg.bc_weight > 0:
        from ganforge.losses.bc import BoundaryCalibration  # heavy: trains/loads classifiers

        recipe.bc = BoundaryCalibration(cfg, dataset)
    return recipe


def make_optimizer(cfg: Config, params, lr: float) -> torch.optim.Optimizer:
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    return torch.optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2))


class Trainer:
    """``Trainer(cfg).fit()`` trains and returns the run folder. ``run_dir=None`` writes nothing (benchmarks)."""

    def __init__(self, cfg: Config, run_dir: str | Path | None = "auto", callbacks: list | None = None,
                 resume: bool = False, dataset: Dataset | None = None):
        self.cfg = cfg
        self.dist = distributed.init_from_env(cfg.device)
        self.device = resolve_device(cfg.device) if not self.dist.enabled else self.dist.device
        seed_everything(cfg.seed + self.dist.rank, cfg.deterministic)
        # Everything that can fail on user input happens before the run folder exists.
        self.dataset = dataset if dataset is not None else load_dataset(cfg, "train")
        self.recipe = build_recipe(cfg, self.dataset).to(self.device)
        self.image_data = self.dataset.kind == "image"
        if cfg.channels_last and self.image_data:
            for net in self.recipe.nets.values():
                net.to(memory_format=torch.channels_last)
        self.phases = self.recipe.phases()
        self.optimizers = {name: make_optimizer(cfg, net.parameters(), cfg.lr_g if name == "generator" else cfg.lr_d)
                           for name, net in self.recipe.nets.items()}
        # The EMA is only read on rank 0 (samples, evaluation, checkpoints): other ranks skip it.
        self.ema = (EMA(self.recipe.nets["generator"], cfg.ema_decay, cfg.ema_start)
                    if cfg.ema_decay > 0 and self.dist.rank == 0 else None)
        self.sampler = BatchSampler(self.dataset, cfg.batch_size, cfg.seed, self.device, self.dist.rank,
                                    self.dist.world_size, channels_last=cfg.channels_last)
        distributed.wrap_recipe(self.recipe, self.dist, cfg)
        if cfg.compile:
            self.recipe.generator = torch.compile(self.recipe.generator)
            self.recipe.discriminator = torch.compile(self.recipe.discriminator)
        self.autocast = contextlib.nullcontext
        if cfg.precision == "bf16":
            self.autocast = lambda: torch.autocast(self.device.type, dtype=torch.bfloat16)
        self.step, self.lr_scale, self.rollbacks = 0, 1.0, 0
        self.run_dir = None if run_dir is None else Path(cfg.out or f"runs/{cfg.recipe}-{cfg.data}") if run_dir == "auto" else Path(run_dir)
        self.is_main = self.dist.rank == 0
        self._stop_signal: int | None = None
        self._reset_accumulators()
        if resume:
            if self.run_dir is None or ckpt.list_checkpoints(self.run_dir) or not (self.run_dir / "config.yaml").is_file():
                self.restore(ckpt.latest_checkpoint(self.run_dir))
            # else: the run was killed before its first checkpoint; it starts again at step 0 with the
            # same seed, which makes it the same run (tests/reliability/test_crash_safety.py).
        elif self.run_dir is not None and self.is_main:
            if ckpt.list_checkpoints(self.run_dir):
                raise GanforgeError(
                    f"run folder {self.run_dir} already holds checkpoints; continue it with "
                    f"`ganforge train --resume {self.run_dir}` or choose another --out."
                )
        self.callbacks = list(callbacks) if callbacks is not None else self.default_callbacks()

    def default_callbacks(self) -> list:
        from ganforge.train import callbacks as cb

        if self.run_dir is None or not self.is_main:
            return []
        out = [cb.ProgressBar(), cb.MetricsLog(), cb.SampleGrid(), cb.LossCurve()]
        if self.cfg.collapse_warning:
            out.insert(1, cb.CollapseWarning())  # before MetricsLog: its diversity goes into the log record
        if self.cfg.eval_every:
            out.append(cb.Evaluate())
        if self.cfg.tensorboard:
            out.append(cb.TensorBoard())
        return out

    # -- one step -------------------------------------------------------------------------------
    def _reset_accumulators(self) -> None:
        self._log_sums: dict[str, torch.Tensor] = {}
        self._log_count = 0
        self._bad = torch.zeros((), dtype=torch.bool, device=self.device)  # NaN/Inf or exploding grads

    def train_step(self) -> None:
        step = self.step
        for phase in self.phases:
            if step % phase.interval:
                continue
            optimizer = self.optimizers[phase.network]
            params = self.recipe.nets[phase.network].parameters
            distributed.set_trainable(self.recipe.nets, phase.network)  # no weight grads for the other net
            for _ in range(phase.repeat):
                batch = self.sampler.next()
                with self.autocast():
                    loss, logs = phase.loss(batch, step)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if self.cfg.grad_clip > 0 or self.cfg.divergence != "off":
                    # clip_grad_norm_ with an infinite bound just measures (one fused reduction, no sync)
                    limit = self.cfg.grad_clip if self.cfg.grad_clip > 0 else float("inf")
                    norm = torch.nn.utils.clip_grad_norm_(list(params()), limit)
                    self._bad |= ~torch.isfinite(loss.detach()) | ~(norm < self.cfg.max_grad_norm)
                optimizer.step()
                self.recipe.after_step(phase)
                for key, value in logs.items():
                    key = key if phase.name in ("D", "G") else f"{phase.name}/{key}"
                    self._log_sums[key] = self._log_sums.get(key, 0) + value.detach().float()
        distributed.set_trainable(self.recipe.nets, None)
        self._log_count += 1
        if self.ema is not None:
            self.ema.update(self.recipe.nets["generator"], step)
        self.step += 1

    def pop_logs(self) -> dict[str, float]:
        """Mean of the logged values since the last call: the one host sync per log interval."""
        if not self._log_sums:
            return {}
        keys = list(self._log_sums)
        values = torch.stack([torch.as_tensor(self._log_sums[k], device=self.device) for k in keys]).tolist()
        n = max(self._log_count, 1)
        logs = {k: v / n for k, v in zip(keys, values)}
        self._log_sums, self._log_count = {}, 0
        return logs

    # -- the loop -------------------------------------------------------------------------------
    def fit(self) -> Path | None:
        if self.run_dir is not None and self.is_main:
            self._write_run_files("running")
        try:
            return self._fit()
        except BaseException as e:
            if self.run_dir is not None and self.is_main:  # a run folder never looks complete after a failure
                self._write_run_files("failed", error=f"{type(e).__name__}: {e}")
            raise

    def _fit(self) -> Path | None:
        cfg = self.cfg
        for cb in self.callbacks:
            cb.on_start(self)
        previous_handlers = self._install_signal_handlers()
        try:
            while self.step < cfg.steps:
                self.train_step()
                stop = self._stop_agreed()
                if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    if self._check_divergence():
                        continue  # rolled back: self.step moved back
                    logs = self.pop_logs()
                    for cb in self.callbacks:
                        cb.on_log(self, logs)
                for cb in self.callbacks:
                    cb.on_step(self)
                due = cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0
                if due or self.step == cfg.steps or stop:
                    if self._check_divergence():
                        continue
                    self.save_checkpoint()
                if stop:
                    break
        finally:
            self._restore_signal_handlers(previous_handlers)
        status = "interrupted" if self._stop_signal is not None else "complete"
        for cb in self.callbacks:
            cb.on_end(self)
        if self.run_dir is not None and self.is_main:
            self._write_run_files(status)
        distributed.barrier(self.dist)
        return self.run_dir

    # -- divergence guard -----------------------------------------------------------------------
    def weights_finite(self) -> bool:
        """Parameters *and* float buffers (BatchNorm statistics) of every network and the EMA: all that a
        checkpoint stores of them. One host sync."""
        modules = list(self.recipe.nets.values()) + ([self.ema.model] if self.ema is not None else [])
        flags = [torch.isfinite(t).all() for m in modules for t in (*m.parameters(), *m.buffers()) if t.is_floating_point()]
        return bool(torch.stack(flags).all())

    def _check_divergence(self) -> bool:
        """True if training diverged and was rolled back; raises DivergenceError if it cannot be."""
        if self.cfg.divergence == "off":
            return False
        bad = bool(self._bad) or not self.weights_finite()
        bad = distributed.any_rank(self.dist, bad)
        if not bad:
            return False
        where = f"step {self.step}"
        if self.cfg.divergence == "stop" or self.run_dir is None or self.rollbacks >= self.cfg.max_rollbacks:
            raise DivergenceError(
                f"training diverged before {where} (NaN/Inf loss or weights, or gradient norm above "
                f"{self.cfg.max_grad_norm:g}) after {self.rollbacks} rollback(s); lower the learning rates, "
                f"enable --grad-clip, or resume from an earlier checkpoint."
            )
        try:
            meta_tensors = ckpt.latest_checkpoint(self.run_dir)
        except CheckpointError:
            raise DivergenceError(f"training diverged before {where} and there is no checkpoint to roll back to; "
                                  f"lower the learning rates or enable --grad-clip.") from None
        # The counters outlive the restore (the checkpoint holds the older values).
        rollbacks, lr_scale = self.rollbacks + 1, self.lr_scale * self.cfg.rollback_lr_factor
        self.restore(meta_tensors)
        self.rollbacks, self.lr_scale = rollbacks, lr_scale
        self._apply_lr_scale()
        for cb in self.callbacks:
            cb.on_rollback(self, where)
        return True

    def _apply_lr_scale(self) -> None:
        for name, opt in self.optimizers.items():
            base = self.cfg.lr_g if name == "generator" else self.cfg.lr_d
            for group in opt.param_groups:
                group["lr"] = base * self.lr_scale

    # -- checkpoints ----------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {"sampler_drawn": self.sampler.drawn, "lr_scale": self.lr_scale, "rollbacks": self.rollbacks,
                "recipe": self.cfg.recipe, "config": self.cfg.to_dict(), "world_size": self.dist.world_size,
                "ganforge_version": __version__, "data": dataset_info(self.dataset)}

    def save_checkpoint(self) -> None:
        if self.run_dir is None:
            return
        if self.is_main:
            if not self.weights_finite():  # never write a NaN into a checkpoint
                raise DivergenceError(f"weights are not finite at step {self.step}; not checkpointing.")
            ckpt.save_checkpoint(self.run_dir, self.step, nets=self.recipe.nets, optimizers=self.optimizers,
                                 ema=self.ema.model if self.ema else None, state=self.state(),
                                 keep=self.cfg.keep_checkpoints)
        distributed.barrier(self.dist)

    def restore(self, meta_tensors) -> None:
        meta, tensors = meta_tensors
        if meta.get("recipe") != self.cfg.recipe:
            raise CheckpointError(
                f"the checkpoint was written by recipe {meta.get('recipe')!r}, this run uses {self.cfg.recipe!r}; "
                f"resume with the run's own config."
            )
        for name, net in self.recipe.nets.items():
            ckpt.load_module_state(net, f"net.{name}.", tensors, name)
        if self.ema is not None:
            if meta.get("has_ema"):
                ckpt.load_module_state(self.ema.model, "ema.generator.", tensors, "EMA generator")
            else:
                self.ema.model.load_state_dict(self.recipe.nets["generator"].state_dict())
        for name, opt in self.optimizers.items():
            ckpt.load_optimizer_state(opt, f"optim.{name}", meta["optimizers"][name], tensors)
        self.step = int(meta["step"])
        self.lr_scale, self.rollbacks = float(meta.get("lr_scale", 1.0)), int(meta.get("rollbacks", 0))
        # Same world size: continue the exact stream; another one: continue from the same epoch position.
        drawn = int(meta["sampler_drawn"]) * int(meta.get("world_size", 1)) // self.dist.world_size
        self.sampler.drawn = drawn
        if self.dist.world_size == int(meta.get("world_size", 1)) and self.dist.rank == 0:
            torch.set_rng_state(tensors["rng.torch"])
        else:
            torch.manual_seed(self.cfg.seed + self.dist.rank + 7919 * self.step)
        if torch.cuda.is_available() and "rng.cuda.0" in tensors and self.device.type == "cuda":
            torch.cuda.set_rng_state(tensors["rng.cuda.0"], self.device)
        self._reset_accumulators()

    def _write_run_files(self, status: str, error: str | None = None) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.run_dir / "config.yaml", self.cfg.to_yaml())
        atomic_write_text(self.run_dir / "data.json", json.dumps(dataset_info(self.dataset), indent=1))
        atomic_write_text(self.run_dir / "run.json", json.dumps(
            {"status": status, "step": self.step, "steps": self.cfg.steps, "rollbacks": self.rollbacks,
             "ganforge_version": __version__, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
             "distributed": distributed.describe(self.dist, self.cfg),
             **({"error": error} if error else {})}, indent=1))

    # -- signals: SIGINT / SIGTERM save a checkpoint and exit cleanly -----------------------------
    def _install_signal_handlers(self):
        if self.run_dir is None or not _in_main_thread():
            return {}
        previous = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, self._on_signal)
        return previous

    @property
    def stop_signal(self) -> int | None:
        """The signal (SIGINT/SIGTERM) that stopped ``fit`` early, or None."""
        return self._stop_signal

    def _stop_agreed(self) -> bool:
        """Stop now? Decided once per step and, under DDP, by all ranks together: a signal reaches
        each rank at a different moment, and ranks that disagree would deadlock in their collectives."""
        stop = distributed.any_rank(self.dist, self._stop_signal is not None)
        if stop and self._stop_signal is None:
            self._stop_signal = signal.SIGTERM  # another rank was signalled
        return stop

    def _on_signal(self, signum, frame) -> None:
        if self._stop_signal is not None:  # second Ctrl-C: stop now
            raise KeyboardInterrupt
        self._stop_signal = signum

    @staticmethod
    def _restore_signal_handlers(previous) -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def dataset_info(dataset: Dataset) -> dict[str, Any]:
    """What a run must remember of its data to build networks and decode samples without it."""
    return {"name": dataset.name, "shape": list(dataset.shape), "dtype": str(dataset.x.dtype).replace("torch.", ""),
            "num_classes": dataset.num_classes, "class_names": list(dataset.class_names), "meta": dataset.meta}


def train(cfg: Config, resume: bool = False, callbacks: list | None = None) -> Path:
    """Train ``cfg`` and return the run folder (``resume=True`` continues ``cfg.out``)."""
    return Trainer(cfg, callbacks=callbacks, resume=resume).fit()
