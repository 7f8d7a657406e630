"""Inception feature extraction: fp32 vs the fast path (bf16 autocast where native), speed and FID agreement.

    python bench/bench_inception.py --data-dir ../shared/data/fashion-mnist \\
        --inception ../shared/models/inception-2015-12-05-pool3.torchscript.pt --n 2000

Real data: n seeded Fashion-MNIST training images vs n seeded test images (seed 1). Batches of 50
alternate between the two paths (and their order alternates), so that a busy shared machine slows
both alike; every batch records wall-clock, process CPU time and the load average. Results (and
partial results after every batch, so a run stopped early still counts what it did) go to --out.
FID is computed on the first k images of each side that both paths have extracted.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from ganforge.metrics.extractors.inception import InceptionExtractor
from ganforge.metrics.fid import feature_stats, frechet_distance
from ganforge.utils.hardware import describe_machine


def summarise(feats: dict, times: list[dict], names=("fp32", "fast")) -> dict:
    k = min(len(v) for v in feats.values())
    fids = {name: frechet_distance(*feature_stats(feats[f"{name}_a"][:k]), *feature_stats(feats[f"{name}_b"][:k]))
            for name in names}
    out = {"n_per_side": k, "fid": fids,
           "fid_relative_difference": abs(fids[names[1]] - fids[names[0]]) / fids[names[0]],
           "feature_relative_error": float((feats[f"{names[1]}_a"][:k] - feats[f"{names[0]}_a"][:k]).norm()
                                           / feats[f"{names[0]}_a"][:k].norm())}
    for name in names:
        walls = [t[f"{name}_wall"] for t in times]
        cpus = [t[f"{name}_cpu"] for t in times]
        out[name] = {"img_per_s_wall_median": statistics.median(t["batch"] / w for t, w in zip(times, walls)),
                     "img_per_cpu_s_median": statistics.median(t["batch"] / c for t, c in zip(times, cpus))}
    out["speedup_wall_median"] = statistics.median(t[f"{names[0]}_wall"] / t[f"{names[1]}_wall"] for t in times)
    out["speedup_cpu_median"] = statistics.median(t[f"{names[0]}_cpu"] / t[f"{names[1]}_cpu"] for t in times)
    out["load_median"] = statistics.median(float(t["load"]) for t in times)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", required=True, help="Fashion-MNIST IDX folder")
    p.add_argument("--inception", required=True)
    p.add_argument("--n", type=int, default=2000, help="images per side")
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--fast", default="auto", help="precision of the fast path [default: auto]")
    p.add_argument("--threads", type=int, default=None, help="torch threads [default: torch's]")
    p.add_argument("--out", default="bench/results/inception.json")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from ganforge.config import Config
    from ganforge.data import load_dataset

    cfg = Config(data="fashion-mnist", data_dir=args.data_dir)
    train, test = load_dataset(cfg, "train"), load_dataset(cfg, "test")
    g = torch.Generator().manual_seed(1)
    data = {"a": train.to_model(train.x[torch.randperm(len(train.x), generator=g)[:args.n]]),
            "b": test.to_model(test.x[torch.randperm(len(test.x), generator=g)[:args.n]])}
    paths = {"fp32": InceptionExtractor(inception_weights=args.inception, precision="fp32", batch_size=args.batch_size),
             "fast": InceptionExtractor(inception_weights=args.inception, precision=args.fast, batch_size=args.batch_size)}
    base = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": describe_machine(),
            "command": "python bench/bench_inception.py " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()),
            "fast_precision": paths["fast"].precision, "batch_size": args.batch_size}
    feats = {f"{name}_{side}": [] for name in paths for side in data}
    times = []
    for j, i in enumerate(range(0, args.n, args.batch_size)):
        for side, x in data.items():
            rec = {"i": i, "side": side, "batch": len(x[i:i + args.batch_size])}
            for name in (("fp32", "fast") if j % 2 == 0 else ("fast", "fp32")):
                w0, c0 = time.perf_counter(), time.process_time()
                feats[f"{name}_{side}"].append(paths[name].extract(x[i:i + args.batch_size])[0])
                rec[f"{name}_wall"], rec[f"{name}_cpu"] = time.perf_counter() - w0, time.process_time() - c0
            rec["load"] = os.getloadavg()[0]
            times.append(rec)
            print(json.dumps(rec), flush=True)
        joined = {k: torch.cat(v) for k, v in feats.items()}
        result = {**base, **summarise(joined, times), "batches": times}
        tmp = Path(args.out).with_suffix(".tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(result, indent=2) + "\n")
        os.replace(tmp, args.out)
    print(json.dumps({k: v for k, v in result.items() if k not in ("batches", "machine")}, indent=2))


if __name__ == "__main__":
    main()
