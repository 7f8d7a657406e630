"""Mode-collapse protocol runs (PacGAN: 2,500 samples, 3 std) for a config: python bench/toy_sweep.py DATA SEED 'yaml overrides'."""
import json, sys, time

import torch

torch.set_num_threads(1)
import yaml

from ganforge.config import make_config
from ganforge.data import load_dataset
from ganforge.metrics.modes import toy_mode_metrics
from ganforge.sampling import generate
from ganforge.train.trainer import Trainer

QUIET = dict(sample_every=0, checkpoint_every=0, log_every=10**6, device="cpu", collapse_warning=False)


class Curve:
    """Protocol metrics every `every` steps (not timed: they come out of process_time at the end)."""

    def __init__(self, every):
        self.every, self.points, self.spent = every, [], 0.0

    def on_start(self, trainer): ...
    def on_log(self, trainer, logs): ...
    def on_rollback(self, trainer, where): ...
    def on_end(self, trainer): ...

    def on_step(self, trainer):
        if self.every and trainer.step % self.every == 0 and trainer.step < trainer.cfg.steps:
            t = time.process_time()
            self.points.append((trainer.step, evaluate(trainer)))
            self.spent += time.process_time() - t


def evaluate(trainer):
    gen = trainer.ema.model if trainer.ema is not None else trainer.recipe.nets["generator"]
    x, _ = generate(trainer.recipe, gen, 2500, seed=12345)
    meta = trainer.dataset.meta
    return {k: round(v, 4) for k, v in toy_mode_metrics(x, meta["centres"], meta["std"]).items()}


def run(data, seed, overrides, every=0):
    cfg = make_config({**QUIET, "data": data, "seed": seed, **overrides})
    curve = Curve(every)
    trainer = Trainer(cfg, run_dir=None, callbacks=[curve])
    t = time.process_time(); w = time.time()
    trainer.fit()
    cpu, wall = time.process_time() - t - curve.spent, time.time() - w
    m = evaluate(trainer)
    return {"data": data, "seed": seed, **m, "curve": curve.points, "cpu_s": round(cpu, 1),
            "wall_s": round(wall, 1), "cfg": {k: getattr(cfg, k) for k in ("recipe", "architecture", "steps", "batch_size", "pack", "mbstd_group", "lr_g", "lr_d", "beta1", "beta2", "z_dim", "g_width", "d_width", "loss", "ema_decay", "n_critic")}, "overrides": overrides}


if __name__ == "__main__":
    data, seeds, overrides = sys.argv[1], sys.argv[2], yaml.safe_load(sys.argv[3]) if len(sys.argv) > 3 else {}
    every = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    for seed in [int(s) for s in seeds.split(",")]:
        r = run(data, seed, overrides, every)
        print(json.dumps(r), flush=True)
