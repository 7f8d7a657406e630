"""Unrolled GAN (Metz et al. 2017): modes captured vs unrolling steps K.

    # Stacked MNIST (1,000 modes), the paper's small-discriminator setting (D at 1/4 of G's width)
    python bench/bench_unrolled.py stacked --data-dir ../shared/data/mnist-10k --ks 0,1,5 --steps 1500 \\
        --out bench/results/unrolled-stacked.json
    # PacGAN-protocol toy ring / grid (2,500 samples, modes / high-quality / reverse KL)
    python bench/bench_unrolled.py toy --ks 0,5 --steps 2000 --out bench/results/unrolled-toy.json

Anchor (Metz et al. 2017, Table 2, Stacked MNIST, discriminator at 1/4 size): 30.6 / 65.4 / 236.4 / 327.2
modes for K = 0 / 1 / 5 / 10 (reverse KL 5.99 / 5.91 / 4.67 / 4.66), after far longer training than here.
Each run is trained in memory and timed with ``time.process_time``; the JSON records the machine's load.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch

from ganforge.classifiers import pretrained
from ganforge.config import make_config
from ganforge.data import load_dataset
from ganforge.metrics.modes import stacked_mnist_modes, toy_mode_metrics
from ganforge.train.trainer import Trainer

QUIET = dict(sample_every=0, checkpoint_every=0, log_every=10**6, device="cpu", collapse_warning=False,
             channels_last=False)
ANCHOR = {0: 30.6, 1: 65.4, 5: 236.4, 10: 327.2}


def train(cfg: dict):
    config = make_config({**QUIET, **cfg})
    start = time.process_time()
    trainer = Trainer(config, run_dir=None, dataset=load_dataset(config))
    trainer.fit()
    return trainer, time.process_time() - start


def stacked(args) -> list[dict]:
    digits = load_dataset(make_config({"data": "mnist", "data_dir": args.data_dir}))
    classifier = pretrained(digits, "cnn")
    rows = []
    for seed in args.seeds:
        for k in args.ks:
            cfg = dict(recipe="unrolled", data="stacked-mnist", data_dir=args.data_dir, architecture="dcgan",
                       loss=args.loss, steps=args.steps, batch_size=args.batch_size, z_dim=args.z_dim,
                       g_width=args.g_width, d_width=max(1, args.g_width // 4), lr_g=args.lr, lr_d=args.lr,
                       seed=seed, options={"unroll_steps": k, "n_samples": args.n_data})
            trainer, cpu = train(cfg)
            x = trainer.recipe.sample(args.samples, seed=1000 + seed).x
            result = stacked_mnist_modes(x, classifier)
            rows.append({"k": k, "seed": seed, "modes": result["modes"], "reverse_kl": round(result["reverse_kl"], 3),
                         "anchor_modes": ANCHOR.get(k), "cpu_s": round(cpu, 1), "config": cfg})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def toy(args) -> list[dict]:
    rows = []
    for data in ("toy-ring", "toy-grid"):
        for seed in args.seeds:
            for k in args.ks:
                cfg = dict(recipe="unrolled", data=data, architecture="mlp", loss=args.loss, steps=args.steps,
                           batch_size=args.batch_size, z_dim=args.z_dim, g_width=args.g_width, d_width=args.g_width,
                           lr_g=args.lr, lr_d=args.lr, seed=seed, options={"unroll_steps": k})
                trainer, cpu = train(cfg)
                x = trainer.recipe.sample(2500, seed=12345).x
                meta = trainer.dataset.meta
                metrics = {m: round(v, 4) for m, v in toy_mode_metrics(x, meta["centres"], meta["std"]).items()}
                rows.append({"data": data, "k": k, "seed": seed, **metrics, "cpu_s": round(cpu, 1), "config": cfg})
                print(json.dumps(rows[-1]), flush=True)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("task", choices=("stacked", "toy"))
    p.add_argument("--data-dir", default=None, help="MNIST files (stacked)")
    p.add_argument("--ks", default="0,1,5", help="unrolling steps to compare")
    p.add_argument("--seeds", default="0")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--z-dim", type=int, default=100)
    p.add_argument("--g-width", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--loss", default="nonsaturating")
    p.add_argument("--samples", type=int, default=10_000, help="generated samples whose modes are counted")
    p.add_argument("--n-data", type=int, default=50_000, help="stacked training images")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    args.ks = [int(k) for k in args.ks.split(",")]
    args.seeds = [int(s) for s in args.seeds.split(",")]
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    rows = stacked(args) if args.task == "stacked" else toy(args)
    flags = next((line.split(":", 1)[1].split() for line in open("/proc/cpuinfo") if line.startswith("flags")), [])
    record = {"task": args.task, "rows": rows, "anchor_modes": ANCHOR if args.task == "stacked" else None,
              "loadavg_before": load_before, "loadavg_after": os.getloadavg(), "threads": args.threads,
              "machine": platform.processor() or platform.machine(), "avx512": any(f.startswith("avx512") for f in flags),
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(record, f, indent=1)


if __name__ == "__main__":
    main()
