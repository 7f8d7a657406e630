"""Fast intra-class mode-collapse probe for the MNIST cGAN (issue 12, item 3): train ``cgan`` on mnist
for a few hundred steps and print, per checkpoint, the per-pixel std over 200 samples of one class
(mean over the 10 classes) for the EMA and the live generator. Real MNIST-10k: 0.314 (over all
digits: 0.385). A generator that ignores z scores ~0.03; docs/BENCHMARKS.md "cGAN on MNIST-10k".

    OMP_NUM_THREADS=1 python bench/probe_cgan_diversity.py --data-dir ../shared/data/mnist-10k \
        --steps 300 --every 150 ['{"ms_weight": 0}']   # config overrides (JSON)
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import ganforge
from ganforge.config import make_config
from ganforge.train.checkpoint import load_module_state, resolve_checkpoint


def within_class_std(gen, classes: int = 10, n: int = 200) -> list[float]:
    """Per-pixel std over n samples of each class (eval-mode batch norm, as `ganforge sample` draws)."""
    return [gen.sample(n, seed=1, labels=c).std(0).mean().item() for c in range(classes)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("overrides", nargs="?", default="{}", help="config overrides as JSON [default: none]")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--every", type=int, default=150, help="probe every this many steps")
    args = p.parse_args()
    job = {"recipe": "cgan", "data": "mnist", "data_dir": args.data_dir}
    over = json.loads(args.overrides)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = make_config(job, {"out": tmp + "/run", "sample_every": 0, "checkpoint_every": args.every,
                                "keep_checkpoints": args.steps // args.every + 1, "steps": args.steps, **over})
        cpu = time.process_time()
        run = ganforge.train(cfg)
        cpu = time.process_time() - cpu
        for step in range(args.every, args.steps + 1, args.every):
            ckpt = Path(run) / "checkpoints" / f"step-{step:08d}.json"
            gen = ganforge.load(ckpt if ckpt.exists() else run)  # the EMA generator
            ema = within_class_std(gen)
            _, tensors = resolve_checkpoint(ckpt if ckpt.exists() else run)
            load_module_state(gen.recipe.nets["generator"], "net.generator.", tensors, "generator")  # the live one
            live = within_class_std(gen)
            print(json.dumps({"overrides": over, "step": step, "train_cpu_s": round(cpu, 1),
                              "within_class_std_ema": round(sum(ema) / 10, 4),
                              "within_class_std_live": round(sum(live) / 10, 4),
                              "per_class_ema": [round(v, 3) for v in ema]}), flush=True)


if __name__ == "__main__":
    main()
