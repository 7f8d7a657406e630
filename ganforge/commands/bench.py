"""Measure training throughput (images/s) of a recipe on a dataset, without writing a run.

img/s = generator steps x batch size / seconds, after --warmup steps (the convention of
bench/peer_dcgan.py: real images consumed per training step).

example:
  ganforge bench train --recipe dcgan --data fashion-mnist --data-dir DATA --image-size 64 \
      --batch-size 64 --steps 30 --precision bf16 --json
"""
from __future__ import annotations

import json
import time

from ganforge.commands.common import add_config_flags, check_device, config_overrides
from ganforge.config import load_config

HELP = "benchmark training throughput (img/s)"


def add_arguments(p):
    p.add_argument("what", choices=["train"], help="what to benchmark")
    p.add_argument("--config", metavar="YAML")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first [default: 3]")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_config_flags(p)


def measure_training(cfg, warmup: int) -> dict:
    import torch

    from ganforge.train.trainer import Trainer
    from ganforge.utils.hardware import describe_machine, torch_threads

    trainer = Trainer(cfg, run_dir=None)
    with torch_threads(cfg.threads):
        for _ in range(warmup):
            trainer.train_step()
        trainer.pop_logs()  # flush queued work before timing
        start = time.perf_counter()
        for _ in range(cfg.steps):
            trainer.train_step()
        trainer.pop_logs()  # one sync: all work done
        seconds = time.perf_counter() - start
        threads = torch.get_num_threads()
    return {"img_per_s": cfg.steps * cfg.batch_size / seconds, "steps": cfg.steps, "batch_size": cfg.batch_size,
            "seconds": seconds, "recipe": cfg.recipe, "data": cfg.data, "image_size": trainer.dataset.shape[-1],
            "precision": getattr(trainer, "precision", cfg.precision),  # resolved ("auto" -> bf16/fp32)
            "compile": cfg.compile, "threads": threads, "machine": describe_machine(trainer.device)}


def run(args) -> int:
    overrides = {"steps": 30, "divergence": "off", **config_overrides(args)}
    cfg = load_config(args.config, overrides)
    check_device(cfg.device)
    result = measure_training(cfg, args.warmup)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['img_per_s']:.1f} img/s ({cfg.recipe}, {cfg.data}, batch {cfg.batch_size}, {result['precision']})")
    return 0
