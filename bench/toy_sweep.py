"""Mode-collapse protocol runs (PacGAN: 2,500 samples, 3 std) for a config: python bench/toy_sweep.py DATA SEED 'yaml overrides'."""
import json, sys, time

import torch

torch.set_num_threads(1)
import yaml

from bench_toy_protocol import QUIET, Curve, protocol  # the same protocol and curve as the benchmark
from ganforge.config import make_config
from ganforge.train.trainer import Trainer


def run(data, seed, overrides, every=0):
    cfg = make_config({**QUIET, "data": data, "seed": seed, **overrides})
    curve = Curve(every)
    trainer = Trainer(cfg, run_dir=None, callbacks=[curve])
    t = time.process_time(); w = time.time()
    trainer.fit()
    cpu, wall = time.process_time() - t - curve.spent, time.time() - w
    m = protocol(trainer)[1]
    return {"data": data, "seed": seed, **m, "curve": curve.points, "cpu_s": round(cpu, 1),
            "wall_s": round(wall, 1), "cfg": {k: getattr(cfg, k) for k in ("recipe", "architecture", "steps", "batch_size", "pack", "mbstd_group", "lr_g", "lr_d", "beta1", "beta2", "z_dim", "g_width", "d_width", "loss", "ema_decay", "n_critic")}, "overrides": overrides}


if __name__ == "__main__":
    data, seeds, overrides = sys.argv[1], sys.argv[2], yaml.safe_load(sys.argv[3]) if len(sys.argv) > 3 else {}
    every = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    for seed in [int(s) for s in seeds.split(",")]:
        r = run(data, seed, overrides, every)
        print(json.dumps(r), flush=True)
