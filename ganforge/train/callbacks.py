"""Callbacks observe the loop (rank 0 only): progress bar, metrics log, sample grids, loss curve, collapse
warning, TensorBoard. (Evaluation during training is ``ganforge.metrics.callback.Evaluate``: metrics
sit above the training layer, so the trainer never imports them.)"""
from __future__ import annotations

import json
import sys
import time

import torch

from ganforge.utils.files import atomic_write_text

GRID_SAMPLES = 100  # 10x10: one row per class for 10-class conditional models
AUDIO_SAMPLES = 16  # clips per audio preview (unconditional): ~17 s of listening at 1 s a clip
TEXT_SAMPLES = 20  # sentences per text preview


class Callback:
    def on_start(self, trainer) -> None: ...
    def on_step(self, trainer) -> None: ...
    def on_log(self, trainer, logs: dict[str, float]) -> None: ...
    def on_rollback(self, trainer, where: str) -> None: ...
    def on_end(self, trainer) -> None: ...


def sampling_nets(trainer) -> dict[str, torch.nn.Module]:
    """The networks to sample with: the EMA copies where training keeps them, else the live ones."""
    return {name: ema.model for name, ema in trainer.emas.items()}


def sampling_module(trainer) -> torch.nn.Module:
    """The first inference network (EMA copy if any): the generator of two-player recipes."""
    name = trainer.recipe.inference_networks[0]
    return trainer.emas[name].model if name in trainer.emas else trainer.recipe.nets[name]


class ProgressBar(Callback):
    """tqdm bar with the latest losses and ETA (updated at log steps: no extra host syncs)."""

    def on_start(self, trainer):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=trainer.cfg.steps, initial=trainer.step, desc=f"{trainer.cfg.recipe}/{trainer.cfg.data}",
                        unit="step", dynamic_ncols=True, mininterval=0.5)

    def on_step(self, trainer):
        self.bar.update(trainer.step - self.bar.n)

    def on_log(self, trainer, logs):
        self.bar.set_postfix({k: f"{v:.3g}" for k, v in logs.items() if "/" not in k}, refresh=False)

    def on_rollback(self, trainer, where):
        self.bar.write(f"divergence detected before {where}: rolled back to step {trainer.step}, "
                       f"learning rates x{trainer.lr_scale:g}")
        self.bar.n = trainer.step

    def on_end(self, trainer):
        self.bar.close()


class MetricsLog(Callback):
    """One JSON object per log step in RUN/metrics.jsonl (appended: resume keeps the history)."""

    def on_start(self, trainer):
        self.path = trainer.run_dir / "metrics.jsonl"
        self.start = time.perf_counter()
        self.start_step = trainer.step
        self._forget_after(trainer.step)

    def _forget_after(self, step: int) -> None:
        """On resume, drop records past the checkpoint (those steps are trained again) and torn lines,
        so a run killed and resumed any number of times has the history of an uninterrupted one."""
        if not self.path.exists():
            return
        lines = self.path.read_text().splitlines()
        kept = []
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and isinstance(record.get("step"), int) and record["step"] <= step:
                kept.append(line)
        if len(kept) != len(lines):
            atomic_write_text(self.path, "".join(line + "\n" for line in kept))

    def write(self, record: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")

    def on_log(self, trainer, logs):
        elapsed = time.perf_counter() - self.start
        rate = (trainer.step - self.start_step) / elapsed if elapsed > 0 else 0.0
        self.write({"step": trainer.step, **logs, "steps_per_s": round(rate, 3)})

    def on_rollback(self, trainer, where):
        self.write({"step": trainer.step, "event": "rollback", "diverged_before": where, "lr_scale": trainer.lr_scale})


class SampleGrid(Callback):
    """Fixed-noise grids every sample_every steps (same z each time, so progress is comparable) and samples.png."""

    def _save(self, trainer, path):
        """What a grid shows is the recipe's (``Recipe.preview``: noise samples, or inputs | outputs for
        translation recipes); a recipe without a picture (``preview`` returns None) gets none."""
        recipe = trainer.recipe
        if trainer.dataset.kind == "vector":
            return self._save_scatter(trainer, path)
        if trainer.dataset.kind == "audio":
            return self._save_audio(trainer, path)
        if trainer.dataset.kind == "tokens":
            return self._save_sentences(trainer, path)
        if trainer.dataset.kind != "image":
            return
        from ganforge.utils.images import save_grid

        shown = recipe.preview(GRID_SAMPLES, seed=trainer.cfg.seed + 1, nets=sampling_nets(trainer))
        if shown is None:
            return
        num_classes = getattr(recipe, "num_classes", 0)
        nrow = shown.extra.get("nrow") or (num_classes if num_classes in range(2, 17) else None)
        # Conditional grids: labels are 0,1,..,C-1 repeated, so each column is one class.
        save_grid(trainer.dataset.from_model(shown.x), path, nrow=nrow)
        for name, extra in recipe.preview_extras(seed=trainer.cfg.seed + 1, nets=sampling_nets(trainer)).items():
            save_grid(trainer.dataset.from_model(extra.x), path.with_name(f"{path.stem}-{name}.png"),
                      nrow=extra.extra.get("nrow"))

    def _save_scatter(self, trainer, path):
        if trainer.dataset.shape != (2,):  # only 2-D points have an obvious picture
            return
        from ganforge.utils.plots import scatter_png

        x = trainer.recipe.sample(2500, seed=trainer.cfg.seed + 1, nets=sampling_nets(trainer)).x
        scatter_png(trainer.dataset.x[:2500].numpy(), x.numpy(), path)

    def _save_audio(self, trainer, path):
        """Audio runs: the clips one after another in a WAV (what WaveGAN's own training previews are, since
        people listen to audio) and their spectrogram grid beside it; conditional runs: a column per class."""
        from ganforge.utils.audio import concatenate, save_spectrogram_grid, save_wav

        num_classes = getattr(trainer.recipe, "num_classes", 0)
        n = 2 * num_classes if num_classes else AUDIO_SAMPLES
        x = trainer.recipe.sample(n, seed=trainer.cfg.seed + 1, nets=sampling_nets(trainer)).x
        clips = trainer.dataset.from_model(x)
        rate = int((trainer.dataset.meta or {}).get("sample_rate") or 16000)
        save_spectrogram_grid(clips, path, rate, num_classes or None)
        save_wav(concatenate(clips, rate), path.with_suffix(".wav"), rate)

    def _save_sentences(self, trainer, path):
        """Token runs (seqgan, mle-lm): decoded sentences, one per line, in ``.txt`` beside where a grid would be."""
        from ganforge.data.text import write_sentences

        x = trainer.recipe.sample(TEXT_SAMPLES, seed=trainer.cfg.seed + 1, nets=sampling_nets(trainer)).x
        write_sentences(trainer.dataset, x, path.with_suffix(".txt"))

    def on_step(self, trainer):
        every = trainer.cfg.sample_every
        if every and trainer.step % every == 0:
            self._save(trainer, trainer.run_dir / "samples" / f"step-{trainer.step:08d}.png")

    def on_end(self, trainer):
        self._save(trainer, trainer.run_dir / "samples.png")


class LossCurve(Callback):
    def on_end(self, trainer):
        from ganforge.utils.plots import loss_curve_png

        loss_curve_png(trainer.run_dir / "metrics.jsonl", trainer.run_dir / "loss.png")


class CollapseWarning(Callback):
    """Mode-collapse alarm: the diversity of a fixed batch, measured at log steps (which sync anyway).

    Diversity = mean pairwise L2 distance between generated samples in model space (pixels in [-1, 1],
    or the vectors), from a fixed noise batch through the raw generator (it collapses before its EMA
    shows it). Conditional models: the mean over classes of the within-class distance, so a generator
    that ignores its noise and draws one sample per class still counts as collapsed. Pixels rather than
    discriminator features: D's features move with D, so a drop there need not be the generator's.
    The scale depends on the data, hence the test is relative: a warning (progress bar and a
    ``{"event": "mode_collapse"}`` record in metrics.jsonl) when diversity falls below
    ``cfg.collapse_threshold`` x its running maximum; once per episode (re-armed when it recovers).
    The value is logged as ``collapse/diversity``.
    """

    SAMPLES = 64

    def on_start(self, trainer):
        self.best, self.warned = 0.0, False

    def diversity(self, trainer) -> float:
        recipe = trainer.recipe
        n = min(max(self.SAMPLES, 4 * getattr(recipe, "num_classes", 0)), 1024)
        shown = recipe.preview(n, seed=trainer.cfg.seed + 3, nets={})  # the live networks
        if shown is None:
            return float("nan")
        x, y = shown.x, shown.y
        flat = x.flatten(1).double()
        if y is None:
            return float(torch.pdist(flat).mean())
        per_class = [torch.pdist(flat[y == c]).mean() for c in y.unique() if int((y == c).sum()) >= 2]
        return float(torch.stack(per_class).mean())

    def on_log(self, trainer, logs):
        value = self.diversity(trainer)
        logs["collapse/diversity"] = value
        if not value == value:  # NaN: the divergence guard's business, not this one's
            return
        self.best = max(self.best, value)
        collapsed = value < trainer.cfg.collapse_threshold * self.best
        if collapsed and not self.warned:
            from tqdm.auto import tqdm

            tqdm.write(f"warning: possible mode collapse at step {trainer.step}: sample diversity {value:.3g} is "
                       f"{value / self.best:.0%} of its maximum {self.best:.3g} (samples look alike); consider "
                       f"a lower lr_g, more n_critic, a gradient penalty or --spectral-norm.", file=sys.stderr)
            with open(trainer.run_dir / "metrics.jsonl", "a") as f:
                f.write(json.dumps({"step": trainer.step, "event": "mode_collapse", "diversity": value,
                                    "max_diversity": self.best}) + "\n")
        self.warned = collapsed


class TensorBoard(Callback):
    """Mirror of metrics.jsonl and the sample grids for TensorBoard (optional extra)."""

    def on_start(self, trainer):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            from ganforge.errors import GanforgeError

            raise GanforgeError("--tensorboard needs the tensorboard package: pip install 'ganforge[tensorboard]'.") from None
        self.writer = SummaryWriter(str(trainer.run_dir / "tensorboard"), purge_step=trainer.step or None)

    def on_log(self, trainer, logs):
        for key, value in logs.items():
            self.writer.add_scalar(key, value, trainer.step)

    def on_step(self, trainer):
        every = trainer.cfg.sample_every
        if every and trainer.step % every == 0 and trainer.dataset.kind == "image":
            shown = trainer.recipe.preview(64, seed=trainer.cfg.seed + 1, nets=sampling_nets(trainer))
            if shown is None:
                return
            from ganforge.utils.images import make_grid

            self.writer.add_image("samples", make_grid(trainer.dataset.from_model(shown.x)), trainer.step,
                                  dataformats="HWC")

    def on_end(self, trainer):
        self.writer.close()
