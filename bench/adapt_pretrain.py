"""Pretrain the source generator of the adaptation benchmarks: DCGAN (width 32) on Fashion-MNIST
without dresses, 2000 steps, written as a normal run folder ($ADAPT_RUNS/source, default /tmp/adapt-runs).

    nice -n 10 python bench/adapt_pretrain.py
"""
from __future__ import annotations

import sys
import time

import torch

from adapt_common import COMMON, RUNS, fashion_dir, split

from ganforge.config import make_config
from ganforge.train.trainer import Trainer


def main() -> int:
    torch.set_num_threads(1)
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    source, _, _ = split("train")
    cfg = make_config({**COMMON, "steps": steps, "checkpoint_every": 1000, "data_dir": fashion_dir(),
                       "out": str(RUNS / "source")})
    start = time.perf_counter()
    Trainer(cfg, dataset=source, callbacks=[]).fit()
    print(f"pretrained {steps} steps in {time.perf_counter() - start:.0f} s -> {RUNS / 'source'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
