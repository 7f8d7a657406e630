"""BEGAN on Fashion-MNIST / emoji: the convergence measure M_global and k_t over training, samples, and a
Frechet distance against an untrained generator.

    nice -n 10 python bench/bench_began.py --data fashion-mnist --data-dir ../shared/data/fashion-mnist \\
        --steps 3000 --out bench/results/began-fashion-mnist.json --img docs/img/began-fashion-mnist
    nice -n 10 python bench/bench_began.py --data image-folder --data-dir ../shared/data/emoji/openmoji/color \\
        --image-size 32 --steps 3000 --out bench/results/began-emoji.json --img docs/img/began-emoji

Trains ``recipe began`` (``configs/began.yaml`` plus ``--overrides``) into a run folder, so ``metrics.jsonl``
holds ``m_global`` and ``k`` every ``--log-every`` steps; writes ``IMG-mglobal.png`` (M_global and k_t vs
step) and ``IMG-samples.png``. The score is FID with the ``classifier`` extractor (a CNN trained on the labelled
data; ``--extractor inception`` for the Inception one) of 2,000 samples vs the test split, next to the same
score of the untrained generator. Anchor: Lucic et al. 2018's best BEGAN FID (Inception) on Fashion-MNIST is
22.9, after 100k+ steps on a GPU; a CPU run of minutes is not comparable, only the trend is.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import torch

from ganforge.config import make_config
from ganforge.data import load_dataset
from ganforge.metrics import evaluate
from ganforge.train.trainer import Trainer
from ganforge.utils.images import save_grid
from ganforge.utils.plots import _pyplot


def plot(metrics_path, out):
    steps, m, k = [], [], []
    for line in open(metrics_path):
        record = json.loads(line)
        if "m_global" in record:
            steps.append(record["step"]), m.append(record["m_global"]), k.append(record["k"])
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(steps, m, color="tab:blue", label="M_global")
    ax.set_xlabel("step")
    ax.set_ylabel("M_global", color="tab:blue")
    twin = ax.twinx()
    twin.plot(steps, k, color="tab:orange", label="k_t")
    twin.set_ylabel("k_t", color="tab:orange")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return list(zip(steps, m, k))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="fashion-mnist")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--image-size", type=int, default=None)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--overrides", default="{}", help="config overrides as JSON")
    p.add_argument("--extractor", default="classifier", help="classifier, inception, or none (no score)")
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--img", required=True, help="prefix of the PNGs")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    run = tempfile.mkdtemp(prefix="began-")
    cfg = make_config({"recipe": "began", "data": args.data, "data_dir": args.data_dir, "image_size": args.image_size,
                       "steps": args.steps, "seed": args.seed, "log_every": args.log_every, "sample_every": 0,
                       "checkpoint_every": 0, "device": "cpu", "channels_last": False, "out": run,
                       **json.loads(args.overrides)})
    train = load_dataset(cfg, "train")
    test = load_dataset(cfg, "test")
    trainer = Trainer(cfg, dataset=train)
    untrained = trainer.recipe.sample(args.samples, seed=1).x
    start = time.process_time()
    trainer.fit()
    cpu = time.process_time() - start
    x = trainer.recipe.sample(args.samples, seed=1).x
    options = {"train_dataset": train} if args.extractor == "classifier" else {}
    score = baseline = None
    if args.extractor != "none":
        score = round(evaluate(x, test, ["fid"], extractor=args.extractor, **options)["fid"], 2)
        baseline = round(evaluate(untrained, test, ["fid"], extractor=args.extractor, **options)["fid"], 2)
    curve = plot(os.path.join(run, "metrics.jsonl"), f"{args.img}-mglobal.png")
    save_grid(train.from_model(x[:64]), f"{args.img}-samples.png", nrow=8)
    record = {"data": args.data, "image_size": train.shape[-1], "steps": trainer.step, "train_cpu_s": round(cpu, 1),
              "fid": score, "fid_untrained": baseline, "extractor": args.extractor,
              "final_k": float(trainer.recipe.k), "m_global_first_last": [curve[0][1], curve[-1][1]] if curve else None,
              "curve": curve, "config": {k: v for k, v in cfg.to_dict().items() if v is not None},
              "anchor": "Lucic et al. 2018 best BEGAN FID on Fashion-MNIST: 22.9 (Inception)", "threads": args.threads,
              "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(record, f, indent=1)
    print(json.dumps({k: v for k, v in record.items() if k not in ("curve", "config")}))


if __name__ == "__main__":
    main()
