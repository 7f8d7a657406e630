"""Detection benchmark: train on real Fashion-MNIST (nine classes, no dresses) vs the source DCGAN's samples,
then test on held-out real test images vs fresh samples of the seen generator and of generators it did
not see: an LSGAN (same architecture, other loss), a hinge-loss GAN with the ResNet architecture
(nearest-neighbour upsampling instead of transposed convolutions), and the distilled width-8 student
(bench_distill.py). Accuracy at 0.5 and ROC AUC; writes bench/results/detect.json.

    nice -n 10 python bench/adapt_pretrain.py && nice -n 10 python bench/bench_distill.py
    nice -n 10 python bench/bench_detect.py
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np
import torch

from adapt_common import COMMON, ROOT, RUNS, fashion_dir, split

import ganforge
from ganforge.config import make_config
from ganforge.provenance.detect import auc, save_detector, score_images, train_detector
from ganforge.train.trainer import Trainer
from ganforge.utils.files import atomic_write_text

UNSEEN = {"lsgan (dcgan arch)": ("unseen-lsgan", {"recipe": "lsgan", "steps": 500}),
          "hinge (resnet arch)": ("unseen-resnet", {"recipe": "hinge", "architecture": "resnet", "g_width": 16,
                                                    "d_width": 16, "steps": 300})}


def ensure_run(folder: str, extra: dict, source) -> str:
    out = RUNS / folder
    if not (out / "checkpoints").is_dir():
        cfg = make_config({**COMMON, "checkpoint_every": 0, "data_dir": fashion_dir(), "out": str(out), **extra})
        Trainer(cfg, dataset=source, callbacks=[]).fit()
    return str(out)


def samples(run, n: int, seed: int) -> np.ndarray:
    gen = ganforge.load(run)
    return gen.decode(gen.sample(n, seed=seed)).numpy()


def main() -> int:
    torch.set_num_threads(1)
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
    source, _, _ = split("train")
    test_source, _, _ = split("test")
    runs = {"dcgan (seen)": str(RUNS / "source")}
    for name, (folder, extra) in UNSEEN.items():
        runs[name] = ensure_run(folder, extra, source)
    if (RUNS / "student-w8" / "checkpoints").is_dir():
        runs["distilled student w8"] = str(RUNS / "student-w8")
    start = time.process_time()
    det, record = train_detector(source.x[:n].numpy(), samples(runs["dcgan (seen)"], n, seed=10), steps=600, log=print)
    record["train_cpu_seconds"] = round(time.process_time() - start, 1)
    save_detector(det, RUNS / "detector", record)
    real = test_source.x[:1000].numpy()
    p_real = score_images(det, real)
    results = {}
    for name, run in runs.items():
        p_fake = score_images(det, samples(run, 1000, seed=99))
        labels, scores = np.r_[np.zeros(len(p_real)), np.ones(len(p_fake))], np.r_[p_real, p_fake]
        results[name] = {"accuracy": round(float(((scores > 0.5) == labels).mean()), 4),
                         "auc": round(auc(labels, scores), 4), "fakes_called_generated": round(float((p_fake > 0.5).mean()), 4)}
        print(name, results[name], flush=True)
    out = {"train": f"{n} real (train split, nine classes) vs {n} samples of the seen DCGAN, 600 steps",
           "test": "1000 real test images vs 1000 fresh samples of each generator", "results": results,
           "real_called_real": round(float((p_real <= 0.5).mean()), 4), "detector": record,
           "unseen_configs": {k: v[1] for k, v in UNSEEN.items()}, "date": time.strftime("%Y-%m-%d"),
           "command": "python bench/bench_detect.py"}
    atomic_write_text(ROOT / "bench" / "results" / "detect.json", json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
