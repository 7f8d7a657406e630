"""bf16 vs fp32 training at equal steps (issue 12): does native-bf16 autocast, the `precision: auto`
default on CPUs with AVX512-BF16/AMX, reach the same FID as fp32?

    nice python bench/bench_precision.py --data-dir ../shared/data/fashion-mnist \
        --inception ../shared/models/inception-2015-12-05-pool3.torchscript.pt \
        [--steps 2000] [--seeds 0,1] [--fid-samples 2000] [--out bench/results/precision-fid.json]

Protocol: ``recipe dcgan`` with its Fashion-MNIST defaults, trained ``--steps`` steps in fp32 and in bf16
for each seed (the two precisions alternate, so both see the same machine load), EMA generator sampled
with a fixed seed; Inception-FID (standard resize, docs/METRICS.md) of ``--fid-samples`` samples against
the same number of Fashion-MNIST test images (one cached reference for all arms). The FID extractor's own
precision is the same for every arm, so only the training precision differs. The answer is "same within
seed spread" when |mean(bf16) - mean(fp32)| is no larger than the spread of the seeds in either arm.
Training time per arm is recorded too (process CPU time and wall time).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from statistics import mean

import torch

from ganforge.config import make_config
from ganforge.data import load_dataset
from ganforge.metrics import evaluate
from ganforge.train.callbacks import sampling_nets
from ganforge.train.trainer import Trainer
from ganforge.utils.hardware import describe_machine, torch_threads


def train_and_score(precision: str, seed: int, args, test) -> dict:
    cfg = make_config({"recipe": "dcgan", "data": "fashion-mnist", "data_dir": args.data_dir, "seed": seed,
                       "steps": args.steps, "precision": precision, "threads": args.threads})
    trainer = Trainer(cfg, run_dir=None)
    with torch_threads(cfg.threads):
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(args.steps):
            trainer.train_step()
            if trainer.step % 100 == 0:
                trainer.pop_logs()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        with torch.no_grad():
            samples = trainer.recipe.sample(args.fid_samples, seed=1, nets=sampling_nets(trainer)).x
    fid = evaluate(samples.float(), test, "fid", extractor="inception", inception_weights=args.inception,
                   real_samples=args.fid_samples)["fid"]
    return {"precision": trainer.precision, "seed": seed, "steps": trainer.step, "fid": round(fid, 3),
            "train_cpu_s": round(cpu, 1), "train_wall_s": round(wall, 1),
            "img_per_s": round(args.steps * cfg.batch_size / wall, 1), "load": describe_machine()["loadavg"]}


def summary(rows: list[dict]) -> dict:
    out = {}
    for precision in ("fp32", "bf16"):
        fids = [r["fid"] for r in rows if r["precision"] == precision]
        if fids:
            out[precision] = {"fids": fids, "mean": round(mean(fids), 3), "spread": round(max(fids) - min(fids), 3)}
    if len(out) == 2 and min(len(v["fids"]) for v in out.values()) > 1:
        gap = abs(out["bf16"]["mean"] - out["fp32"]["mean"])
        out["gap"] = round(gap, 3)
        out["same_within_seed_spread"] = gap <= max(out["bf16"]["spread"], out["fp32"]["spread"])
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--inception", required=True)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--fid-samples", type=int, default=2000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="bench/results/precision-fid.json")
    args = p.parse_args()
    test = load_dataset(make_config({"data": "fashion-mnist", "data_dir": args.data_dir}), "test")
    result = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": describe_machine(),
              "command": " ".join(sys.argv), "steps": args.steps, "fid_samples": args.fid_samples, "rows": []}
    for i, seed in enumerate(int(s) for s in args.seeds.split(",")):
        order = ("fp32", "bf16") if i % 2 == 0 else ("bf16", "fp32")  # alternate: neither arm always runs first
        for precision in order:
            result["rows"].append(train_and_score(precision, seed, args, test))
            print(json.dumps(result["rows"][-1]), flush=True)
            result["summary"] = summary(result["rows"])
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["summary"]))


if __name__ == "__main__":
    main()
