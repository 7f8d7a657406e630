"""The mode-collapse protocol (PacGAN) on the defaults: `ganforge train --data toy-ring|toy-grid` with
nothing else set, seeds 0..2, 2,500 EMA samples, one thread.

    python bench/bench_toy_protocol.py --seeds 0,1,2 --out bench/results/toy_protocol.json --plots docs/img

Each run is the default configuration of ``make_config({"data": DATA, "seed": SEED})`` (the default
recipe with ``ganforge/configs/data/DATA.yaml``), trained in memory (no run folder: sample grids and
checkpoints are the only difference with the CLI) and timed with ``time.process_time`` (CPU seconds
of this process). ``--overrides '{pack: 1}'`` measures a variant. ``--every N`` adds the protocol every N
steps (not timed).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import time

import torch
import yaml

from ganforge.config import make_config
from ganforge.metrics.modes import toy_mode_metrics
from ganforge.sampling import generate
from ganforge.train.callbacks import Callback, sampling_module
from ganforge.train.trainer import Trainer

QUIET = dict(sample_every=0, checkpoint_every=0, log_every=10**6, device="cpu", collapse_warning=False)
KEYS = ("recipe", "architecture", "loss", "steps", "batch_size", "pack", "mbstd_group", "lr_g", "lr_d", "beta1",
        "beta2", "z_dim", "g_width", "d_width", "ema_decay", "n_critic")


def protocol(trainer, seed=12345, module=None):
    """2,500 samples from the EMA generator (or ``module``; PacGAN's protocol) and their mode metrics."""
    x, _ = generate(trainer.recipe, module if module is not None else sampling_module(trainer), 2500, seed=seed)
    meta = trainer.dataset.meta
    return x, {k: round(v, 4) for k, v in toy_mode_metrics(x, meta["centres"], meta["std"]).items()}


class Curve(Callback):
    """Protocol metrics every `every` steps (not timed: their time comes out of process_time at the end)."""

    def __init__(self, every):
        self.every, self.points, self.spent = every, [], 0.0

    def on_step(self, trainer):
        if self.every and trainer.step % self.every == 0 and trainer.step < trainer.cfg.steps:
            t = time.process_time()
            self.points.append([trainer.step, protocol(trainer)[1]])
            self.spent += time.process_time() - t


def run(data, seed, overrides, every=0, plot=None):
    cfg = make_config({"data": data, "seed": seed, **overrides, **QUIET})
    curve = Curve(every)
    trainer = Trainer(cfg, run_dir=None, callbacks=[curve])
    cpu, wall = time.process_time(), time.time()
    trainer.fit()
    cpu, wall = time.process_time() - cpu - curve.spent, time.time() - wall
    x, metrics = protocol(trainer)
    if plot:
        from ganforge.utils.plots import scatter_png

        scatter_png(trainer.dataset.x[:2500].numpy(), x.numpy(), plot)
    return {"data": data, "seed": seed, **metrics, "cpu_s": round(cpu, 1), "wall_s": round(wall, 1),
            "curve": curve.points, "config": {k: getattr(cfg, k) for k in KEYS}, "overrides": overrides}


def machine():
    flags = sorted(set(re.findall(r"\b(avx512_bf16|amx_bf16|avx2)\b", open("/proc/cpuinfo").read())))
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "")
    load = os.getloadavg()[0]
    return {"cpu": model, "flags": flags, "cores": os.cpu_count(), "load_average_1min": round(load, 2),
            "torch": torch.__version__, "python": platform.python_version(),
            "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="toy-ring,toy-grid")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--overrides", default="{}")
    p.add_argument("--every", type=int, default=0)
    p.add_argument("--out", default=None, help="append results to this JSON file")
    p.add_argument("--plots", default=None, help="folder for the seed-0 scatter plots (toy-ring.png ...)")
    a = p.parse_args()
    torch.set_num_threads(1)
    overrides = yaml.safe_load(a.overrides) or {}
    results = []
    for data in a.data.split(","):
        for seed in [int(s) for s in a.seeds.split(",")]:
            plot = os.path.join(a.plots, f"toy-protocol-{data}.png") if a.plots and seed == 0 else None
            r = run(data, seed, overrides, a.every, plot)
            results.append(r)
            print(json.dumps({k: v for k, v in r.items() if k not in ("config", "curve")}), flush=True)
    if a.out:
        record = {"machine": machine(), "results": results}
        old = json.load(open(a.out)) if os.path.exists(a.out) else []
        with open(a.out, "w") as f:
            json.dump(old + [record], f, indent=1)


if __name__ == "__main__":
    main()
