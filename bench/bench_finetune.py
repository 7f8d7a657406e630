"""Few-shot adaptation benchmark: Fashion-MNIST all-but-dresses -> dresses with 100 / 300 / 1000 images.

For each target size: train from scratch, and fine-tune from the source run (``init_from``) with
FreezeD (``freeze_d: 1``), for the same number of steps; FID (classifier features, 1000 EMA
samples vs the 1000 test-split dresses). Writes bench/results/finetune.json and docs/img/finetune-fid.png.

    nice -n 10 python bench/adapt_pretrain.py && nice -n 10 python bench/bench_finetune.py
"""
from __future__ import annotations

import json
import platform
import sys
import time

import torch

from adapt_common import COMMON, ROOT, RUNS, fashion_dir, split, subset

import ganforge
from ganforge.config import make_config
from ganforge.metrics import evaluate
from ganforge.sampling import generate
from ganforge.train.trainer import Trainer
from ganforge.utils.files import atomic_write_text

SIZES = (100, 300, 1000)
VARIANTS = {"scratch": {}, "fine-tune + FreezeD": {"init_from": str(RUNS / "source"), "freeze_d": 1}}


def main() -> int:
    torch.set_num_threads(1)
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    _, dresses, full = split("train")
    _, test_dresses, _ = split("test")
    real = test_dresses.to_model(test_dresses.x[:1000])
    score = lambda fake: round(evaluate(fake, real, "fid", extractor="classifier", train_dataset=full)["fid"], 2)  # noqa: E731
    source = ganforge.load(RUNS / "source")
    results = {"source (0 steps)": {str(n): score(source.sample(1000, seed=1)) for n in SIZES}}
    order = torch.randperm(len(dresses.x), generator=torch.Generator().manual_seed(0))
    for name, extra in VARIANTS.items():
        results[name] = {}
        for n in SIZES:
            target = subset(dresses, order[:n], "fashion-mnist")
            cfg = make_config({**COMMON, "steps": steps, "checkpoint_every": 0, "data_dir": fashion_dir(), **extra})
            start = time.perf_counter()
            trainer = Trainer(cfg, run_dir=None, dataset=target, callbacks=[])
            trainer.fit()
            fake, _ = generate(trainer.recipe, trainer.ema.model, 1000, seed=1)
            results[name][str(n)] = score(fake)
            print(name, n, results[name][str(n)], f"{time.perf_counter() - start:.0f} s", flush=True)
    out = {"task": "Fashion-MNIST: pretrain on 9 classes (2000 steps), adapt to dresses", "steps": steps,
           "metric": "FID, classifier features, 1000 EMA samples vs 1000 test dresses (lower is better)",
           "fid": results, "config": {**COMMON, "steps": steps},
           "machine": {"cpu": platform.processor() or platform.machine(), "threads": 1,
                       "loadavg": open("/proc/loadavg").read().split()[:3], "date": time.strftime("%Y-%m-%d")},
           "command": "python bench/adapt_pretrain.py && python bench/bench_finetune.py"}
    atomic_write_text(ROOT / "bench" / "results" / "finetune.json", json.dumps(out, indent=2) + "\n")
    plot(results)
    return 0


def plot(results: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3.2), dpi=100)
    for name, by_size in results.items():
        style = "k:" if name.startswith("source") else "o-"
        ax.plot(SIZES, [by_size[str(n)] for n in SIZES], style, label=name)
    ax.set_xscale("log")
    ax.set_xticks(SIZES, [str(n) for n in SIZES])
    ax.set_xlabel("target images (dresses)")
    ax.set_ylabel("FID (lower is better)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(ROOT / "docs" / "img" / "finetune-fid.png")


if __name__ == "__main__":
    raise SystemExit(main())
