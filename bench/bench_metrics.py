"""Evaluation benchmarks: Fréchet distance speed, extraction throughput, real-data FID/KID floors.

    python bench/bench_metrics.py --data-root ../shared/data --inception ../shared/models/inception-2015-12-05-pool3.torchscript.pt

Writes bench/results/metrics.json (the table in docs/BENCHMARKS.md is made from it).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from ganforge.config import Config
from ganforge.data import load_dataset
from ganforge.data.base import Dataset
from ganforge.metrics import evaluate
from ganforge.metrics.extractors.classifier import ClassifierExtractor
from ganforge.metrics.extractors.inception import InceptionExtractor
from ganforge.metrics.fid import feature_stats, frechet_distance


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def bench_frechet(dim=2048):
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(4096, dim, generator=g), torch.randn(4096, dim, generator=g) * 1.1
    s1, s2 = feature_stats(a), feature_stats(b)
    frechet_distance(*s1, *s2)  # warm-up
    runs = [timed(lambda: frechet_distance(*s1, *s2))[1] for _ in range(3)]
    return {"dim": dim, "seconds_min": min(runs), "seconds_all": runs}


def throughput(extractor, x, repeats=1):
    extractor.extract(x[:4])  # warm-up
    _, seconds = timed(lambda: extractor.extract(x))
    return len(x) / seconds


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data-root", required=True)
    p.add_argument("--inception", required=True)
    p.add_argument("--inception-n", type=int, default=200, help="real vs real samples per side for inception FID")
    p.add_argument("--out", default="bench/results/metrics.json")
    args = p.parse_args()
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
                          f"{torch.get_num_threads()} threads", "date": "2026-11-22"}
    results["frechet_2048"] = bench_frechet()
    print("frechet", results["frechet_2048"], flush=True)

    fcfg = Config(data="fashion-mnist", data_dir=str(Path(args.data_root) / "fashion-mnist"))
    ftrain, ftest = load_dataset(fcfg, "train"), load_dataset(fcfg, "test")
    (clf, train_s) = timed(lambda: ClassifierExtractor(dataset=ftrain))
    from ganforge.classifiers import classifier_accuracy

    results["fashion_cnn"] = {"train_seconds_or_cache": train_s, "test_accuracy": classifier_accuracy(clf.model, ftest)}
    sample = ftest.to_model(ftest.x[:5000])
    results["classifier_img_per_s"] = throughput(clf, sample)
    print("classifier", results["fashion_cnn"], results["classifier_img_per_s"], flush=True)

    inc32 = InceptionExtractor(inception_weights=args.inception, precision="fp32", batch_size=50)
    inc16 = InceptionExtractor(inception_weights=args.inception, precision="bf16", batch_size=50)
    probe = ftest.to_model(ftest.x[:50])
    results["inception_img_per_s"] = {"fp32": throughput(inc32, probe), "bf16": throughput(inc16, probe)}
    print("inception", results["inception_img_per_s"], flush=True)
    rate = results["inception_img_per_s"]["fp32"]
    results["estimated_10k_fid_seconds"] = {"inception_fp32_fake_only_cached_reference": 10_000 / rate,
                                            "inception_fp32_both_sides": 20_000 / rate,
                                            "classifier_both_sides": 20_000 / results["classifier_img_per_s"]}

    # Real-data floors. Classifier: full sets. Inception: a seeded subset of n per side.
    (r, s) = timed(lambda: evaluate(ftest, ftrain, "fid,kid", train_dataset=ftrain, real_samples=len(ftrain.x)))
    results["fashion_train_vs_test_classifier"] = {**r, "n_real": len(ftrain.x), "n_fake": len(ftest.x), "seconds": s}
    print(results["fashion_train_vs_test_classifier"], flush=True)

    mcfg = Config(data="mnist", data_dir=str(Path(args.data_root) / "mnist-10k"))
    mtrain, mtest = load_dataset(mcfg, "train"), load_dataset(mcfg, "test")
    allx, ally = torch.cat([mtrain.x, mtest.x]), torch.cat([mtrain.y, mtest.y])
    perm = torch.randperm(len(allx), generator=torch.Generator().manual_seed(0))
    half = len(allx) // 2
    a = Dataset("mnist-10k-half-a", allx[perm[:half]], ally[perm[:half]], 10)
    b = Dataset("mnist-10k-half-b", allx[perm[half:]], ally[perm[half:]], 10)
    (r, s) = timed(lambda: evaluate(b, a, "fid,kid", train_dataset=mtrain, real_samples=half))
    results["mnist10k_halves_classifier"] = {**r, "n_real": half, "n_fake": half, "seconds": s}
    print(results["mnist10k_halves_classifier"], flush=True)

    n = args.inception_n
    g = torch.Generator().manual_seed(1)
    fa = ftrain.x[torch.randperm(len(ftrain.x), generator=g)[:n]]
    fb = ftest.x[torch.randperm(len(ftest.x), generator=g)[:n]]
    for name, (x1, x2) in {"fashion_train_vs_test": (fa, fb), "mnist10k_halves": (a.x[:n], b.x[:n])}.items():
        for precision, ext in (("fp32", inc32), ("bf16", inc16)):
            (r, s) = timed(lambda: evaluate(x2.float() / 127.5 - 1, x1.float() / 127.5 - 1, "fid,kid",
                                            extractor=ext, kid_subset_size=n))
            results[f"{name}_inception_{precision}"] = {**r, "n_real": n, "n_fake": n, "seconds": s}
            print(name, precision, results[f"{name}_inception_{precision}"], flush=True)
        if name == "fashion_train_vs_test":
            break  # MNIST inception in fp32 only below, to bound the CPU time
    (r, s) = timed(lambda: evaluate(b.to_model(b.x[:n]), a.to_model(a.x[:n]), "fid,kid", extractor=inc32,
                                    kid_subset_size=n))
    results["mnist10k_halves_inception_fp32"] = {**r, "n_real": n, "n_fake": n, "seconds": s}
    f32 = results["fashion_train_vs_test_inception_fp32"]["fid"]
    results["bf16_fid_relative_error"] = abs(results["fashion_train_vs_test_inception_bf16"]["fid"] - f32) / f32
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
