"""The generic training loop. It knows no network names: it runs the recipe's phases on its groups.

One training step = ``recipe.train_step(step, ctx)``, by default every phase due at that step, each:
draw a batch (or reuse the step's), compute the loss under autocast, backward (accumulating over
``phase.accumulate`` batches), optional gradient clipping, optimiser step of the phase's group,
``recipe.after_step``. Host syncs (``.item()``) happen only every ``log_every`` steps, where the
divergence guard also looks at the NaN/Inf and gradient-norm flags accumulated on the device.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from ganforge.config import Config
from ganforge.data import Batch, Dataset, load_dataset, make_sampler
from ganforge.errors import GanforgeError
from ganforge.recipes import Phase
from ganforge.train import distributed, guards, run_folder, state, transfer
from ganforge.train.ema import EMA
from ganforge.train.setup import build_recipe, resolve_device, seed_everything
from ganforge.train.state import dataset_info  # noqa: F401  (re-exported)
from ganforge.utils.files import ensure_writable_dir
from ganforge.utils.hardware import torch_threads


class StepContext:
    """What ``Recipe.train_step`` works with: run a phase, or draw batches and step a group itself
    (for steps that are not a list of phases), always under the trainer's guards, DDP and logging."""

    def __init__(self, trainer: "Trainer"):
        self.trainer, self.phases = trainer, trainer.phases
        self._batch: Batch | None = None

    def batch(self, new: bool = True) -> Batch:
        if new or self._batch is None:
            self._batch = self.trainer.sampler.next()
            if self.trainer.batch_size is not None:  # the schedule's batch size (progressive growth)
                self._batch = self._batch.take(self.trainer.batch_size)
        return self._batch

    def run(self, phase: Phase) -> None:
        t = self.trainer
        with distributed.trainable(t.recipe, t.groups[phase.group].networks + phase.keep_trainable):
            for _ in range(phase.repeat):
                t.optimizers[phase.group].zero_grad(set_to_none=True)
                for k in range(phase.accumulate):
                    batch = self.batch(phase.new_batch or k > 0)
                    with distributed.no_sync(t.recipe, t.groups[phase.group].networks, k < phase.accumulate - 1):
                        with t.autocast():
                            loss, logs = phase.loss(batch, t.step)
                        (loss / phase.accumulate).backward()
                    t.record(phase.name, loss, logs)
                self.step(phase.group, phase=phase)

    def step(self, group: str, loss: torch.Tensor | None = None, logs: dict | None = None,
             phase: Phase | None = None) -> None:
        """Optimiser step of ``group`` (after a backward of ``loss`` when given): clip, guard, step, zero."""
        t = self.trainer
        if loss is not None:
            t.optimizers[group].zero_grad(set_to_none=True)
            loss.backward()
            t.record(group, loss, logs or {})
        params = t.group_params[group]
        if t.cfg.grad_clip > 0 or t.cfg.divergence != "off":
            # clip_grad_norm_ with an infinite bound just measures (one fused reduction, no sync)
            limit = t.cfg.grad_clip if t.cfg.grad_clip > 0 else float("inf")
            norm = torch.nn.utils.clip_grad_norm_(params, limit)
            t._bad |= ~(norm < t.cfg.max_grad_norm)
        t.optimizers[group].step()
        if phase is not None:
            t.recipe.after_step(phase)


class Trainer:
    """``Trainer(cfg).fit()`` trains and returns the run folder. ``run_dir=None`` writes nothing (benchmarks)."""

    def __init__(self, cfg: Config, run_dir: str | Path | None = "auto", callbacks: list | None = None,
                 resume: bool = False, dataset: Dataset | None = None, extra_callbacks: list | None = None):
        self.cfg = cfg
        self.dist = distributed.init_from_env(cfg.device)
        self.device = resolve_device(cfg.device) if not self.dist.enabled else self.dist.device
        seed_everything(cfg.seed + self.dist.rank, cfg.deterministic)
        # Everything that can fail on user input happens before the run folder exists.
        self.dataset = dataset if dataset is not None else load_dataset(cfg, "train")
        self.recipe = build_recipe(cfg, self.dataset).to(self.device)
        # Fine-tuning (ganforge.train.transfer): weights from another run; a resume restores its own instead
        # (unless the run was stopped before its first checkpoint: then it starts again, from those weights).
        self.run_dir = None if run_dir is None else Path(cfg.out or f"runs/{cfg.recipe}-{cfg.data}") if run_dir == "auto" else Path(run_dir)
        resumes_weights = resume and self.run_dir is not None and state.list_checkpoints(self.run_dir)
        init_tensors = transfer.load_weights(self.recipe, cfg.init_from) if cfg.init_from and not resumes_weights else None
        if cfg.channels_last and self.dataset.kind == "image":
            for net in self.recipe.nets.values():
                net.to(memory_format=torch.channels_last)
        self.phases = self.recipe.phases()
        self.groups = self.recipe.optimizer_groups()
        self.group_params = {name: guards.group_parameters(self.recipe, name, group) for name, group in self.groups.items()}
        if cfg.freeze_d:
            transfer.freeze_discriminators(self.recipe, self.groups, self.group_params, cfg.freeze_d)
        self.optimizers = {name: group.build(self.group_params[name]) for name, group in self.groups.items()}
        # EMAs are only read on rank 0 (samples, evaluation, checkpoints): other ranks skip them.
        self.emas = ({name: EMA(self.recipe.nets[name], cfg.ema_decay, cfg.ema_start) for name in self.recipe.ema_networks}
                     if cfg.ema_decay > 0 and self.dist.rank == 0 else {})
        if init_tensors is not None:
            transfer.load_emas(self.emas, init_tensors, cfg.init_from)
        self.sampler = make_sampler(self.dataset, cfg.batch_size, cfg.seed, self.device, self.dist.rank,
                                    self.dist.world_size, channels_last=cfg.channels_last)
        distributed.wrap_recipe(self.recipe, self.dist, cfg)
        if cfg.compile:
            for name, net in self.recipe.nets.items():
                setattr(self.recipe, name, torch.compile(getattr(self.recipe, name)))
        self.precision = guards.resolve_precision(cfg.precision, self.device)
        self.autocast = contextlib.nullcontext
        if self.precision == "bf16":
            self.autocast = lambda: torch.autocast(self.device.type, dtype=torch.bfloat16)
        self.step, self.lr_scale, self.rollbacks = 0, 1.0, 0
        self.is_main = self.dist.rank == 0
        if self.run_dir is not None and self.is_main:  # an unwritable --out fails before any work
            ensure_writable_dir(self.run_dir, "run folder (--out)")
        self.signals = run_folder.StopSignals(self.dist)
        self.reset_accumulators()
        if resume:
            if self.run_dir is None or state.list_checkpoints(self.run_dir) or not (self.run_dir / "config.yaml").is_file():
                self.restore(state.latest_checkpoint(self.run_dir))
            # else: the run was killed before its first checkpoint; it starts again at step 0 with the
            # same seed, which makes it the same run (tests/reliability/test_crash_safety.py).
        elif self.run_dir is not None and self.is_main and state.list_checkpoints(self.run_dir):
            raise GanforgeError(f"run folder {self.run_dir} already holds checkpoints; continue it with "
                                f"`ganforge train --resume {self.run_dir}` or choose another --out.")
        self.callbacks = list(callbacks) if callbacks is not None else self.default_callbacks()
        self.callbacks += list(extra_callbacks or []) if self.run_dir is not None and self.is_main else []

    @property
    def ema(self) -> EMA | None:
        """The EMA of the first EMA network (the generator of two-player recipes), or None."""
        return next(iter(self.emas.values()), None)

    def default_callbacks(self) -> list:
        from ganforge.train import callbacks as cb

        if self.run_dir is None or not self.is_main:
            return []
        out = [cb.ProgressBar(), cb.MetricsLog(), cb.SampleGrid(), cb.LossCurve()]
        if self.cfg.collapse_warning:
            out.insert(1, cb.CollapseWarning())  # before MetricsLog: its diversity goes into the log record
        if self.cfg.tensorboard:
            out.append(cb.TensorBoard())
        return out

    # -- one step -------------------------------------------------------------------------------
    def reset_accumulators(self) -> None:
        # Sums and counts per key: a phase repeated n_critic times (or accumulated, or lazy every k steps)
        # logs the mean of its own records, not n_critic times it or a k-th of it.
        self._log_sums: dict[str, torch.Tensor] = {}
        self._log_counts: dict[str, int] = {}
        self._bad = torch.zeros((), dtype=torch.bool, device=self.device)  # NaN/Inf or exploding grads

    def record(self, phase_name: str, loss: torch.Tensor, logs: dict[str, torch.Tensor]) -> None:
        self._bad |= ~torch.isfinite(loss.detach())
        for key, value in logs.items():
            key = key if phase_name in ("D", "G") else f"{phase_name}/{key}"
            self._log_sums[key] = self._log_sums.get(key, 0) + value.detach().float()
            self._log_counts[key] = self._log_counts.get(key, 0) + 1

    def apply_schedule(self) -> None:
        plan = self.recipe.schedule(self.step)
        self.batch_size = plan.batch_size if plan else None
        for name in plan.reset if plan else ():
            self.optimizers[name] = self.groups[name].build(self.group_params[name])
        for name, opt in self.optimizers.items():
            lr = self.groups[name].effective()[0] * self.lr_scale * (plan.lr.get(name, 1.0) if plan else 1.0)
            for group in opt.param_groups:
                group["lr"] = lr

    def train_step(self) -> None:
        self.apply_schedule()
        self.recipe.train_step(self.step, StepContext(self))
        distributed.set_trainable(self.recipe, None)
        for name, ema in self.emas.items():
            ema.update(self.recipe.nets[name], self.step)
        self.step += 1

    def pop_logs(self) -> dict[str, float]:
        """Mean of the logged values since the last call: the one host sync per log interval."""
        if not self._log_sums:
            return {}
        keys = list(self._log_sums)
        values = torch.stack([torch.as_tensor(self._log_sums[k], device=self.device) for k in keys]).tolist()
        logs = {k: v / self._log_counts[k] for k, v in zip(keys, values)}
        self._log_sums, self._log_counts = {}, {}
        return logs

    # -- the loop -------------------------------------------------------------------------------
    def fit(self) -> Path | None:
        with run_folder.RunLock(self.run_dir if self.is_main else None), torch_threads(self.cfg.threads):
            if self.run_dir is not None and self.is_main:
                run_folder.write_run_files(self, "running")
            try:
                return self._fit()
            except BaseException as e:
                if self.run_dir is not None and self.is_main:  # a run folder never looks complete after a failure
                    run_folder.write_run_files(self, "failed", error=f"{type(e).__name__}: {e}")
                raise

    def _fit(self) -> Path | None:
        cfg = self.cfg
        for cb in self.callbacks:
            cb.on_start(self)
        with self.signals.installed(self.run_dir is not None):
            while self.step < cfg.steps:
                self.train_step()
                stop = self.signals.agreed()
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
        for cb in self.callbacks:
            cb.on_end(self)
        if self.run_dir is not None and self.is_main:
            run_folder.write_run_files(self, "interrupted" if self.stop_signal is not None else "complete")
        distributed.barrier(self.dist)
        return self.run_dir

    @property
    def stop_signal(self) -> int | None:
        """The signal (SIGINT/SIGTERM) that stopped ``fit`` early, or None."""
        return self.signals.received

    # -- divergence guard and checkpoints (ganforge.train.guards / .state) -------------------------
    def weights_finite(self) -> bool:
        return guards.weights_finite(self)

    def _check_divergence(self) -> bool:
        """True if training diverged and was rolled back; raises DivergenceError if it cannot be."""
        return guards.check_divergence(self)

    def save_checkpoint(self) -> None:
        state.save(self)

    def restore(self, meta_tensors) -> None:
        state.restore(self, meta_tensors)


def train(cfg: Config, resume: bool = False, callbacks: list | None = None, extra_callbacks: list | None = None) -> Path:
    """Train ``cfg`` and return the run folder (``resume=True`` continues ``cfg.out``)."""
    return Trainer(cfg, callbacks=callbacks, resume=resume, extra_callbacks=extra_callbacks).fit()
