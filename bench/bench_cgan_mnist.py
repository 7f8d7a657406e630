"""The MNIST cGAN default job (issue 12, item 3): does `ganforge train --recipe cgan --data mnist
--data-dir DIR` (no other flags) make digits a CNN can learn from? Goal: TSTR/TRTR >= 0.95 with the
``cnn`` family of ``ganforge.metrics.compatibility`` (the same number as
``ganforge eval RUN --metrics compatibility --reference test --compat-families cnn``), in <= 20 CPU-minutes
of training. Prints one JSON line per evaluated checkpoint (bench/results/cgan-mnist.json holds the 2026-12-02 runs).

    OMP_NUM_THREADS=1 python bench/bench_cgan_mnist.py --data-dir ../shared/data/mnist-10k [--seeds 0,1] \
        [--eval-at 1000,2000] ['{"g_width": 32, ...}']   # config overrides (JSON); none = the default job

``--eval-at`` also scores intermediate checkpoints of the same run (a learning curve for choosing the
number of steps; the linear lr decay, when on, still ends at the run's last step). CPU time is
``time.process_time()`` of the training process (one thread: ``threads: 1`` in configs/data/mnist.yaml).
"""
from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import ganforge
from ganforge.config import make_config
from ganforge.data import load_dataset
from ganforge.metrics.compatibility import evaluate_compatibility
from ganforge.utils.hardware import describe_machine

def main():
    p = argparse.ArgumentParser()
    p.add_argument("overrides", nargs="?", default="{}", help="config overrides as JSON [default: none]")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--seeds", default="0")
    p.add_argument("--eval-at", default="", help="also score these intermediate steps (comma list)")
    p.add_argument("--output", default=None, help="also write the rows to this JSON file [default: print only]")
    args = p.parse_args()
    job = {"recipe": "cgan", "data": "mnist", "data_dir": args.data_dir}
    base = make_config(job)
    train, test = load_dataset(base, "train"), load_dataset(base, "test")
    eval_at = sorted({int(s) for s in args.eval_at.split(",") if s})
    runs = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        over = {**json.loads(args.overrides), "seed": seed}
        with tempfile.TemporaryDirectory() as tmp:
            every = math.gcd(*eval_at) if eval_at else 0  # checkpoints at every --eval-at step and at the end
            cfg = make_config(job, {"out": tmp + "/run", "sample_every": 0, "checkpoint_every": every, **over})
            cfg = make_config(job, {"out": tmp + "/run", "sample_every": 0, "checkpoint_every": every,
                                    "keep_checkpoints": cfg.steps // every + 1 if every else 1, **over})
            cpu = time.process_time()
            run = ganforge.train(cfg)
            cpu = time.process_time() - cpu
            for step in [s for s in eval_at if s < cfg.steps] + [cfg.steps]:
                ckpt = Path(run) / "checkpoints" / f"step-{step:08d}.json"
                compat = evaluate_compatibility(ganforge.load(ckpt if ckpt.exists() else run), train, test,
                                                families=["cnn"], seed=seed)
                row = {"overrides": over, "step": step, "steps": cfg.steps, "train_cpu_s": round(cpu, 1),
                       "cpu_min": round(cpu / 60, 2), "tstr_cnn": compat["tstr"]["cnn"],
                       "trtr_cnn": compat["trtr"]["cnn"], "ratio": round(compat["ratio"]["cnn"], 4),
                       "cas_per_class": [round(v, 3) for v in compat["cas_per_class"]],
                       "loadavg": describe_machine()["loadavg"]}
                print(json.dumps(row), flush=True)
                runs.append(row)
    if args.output:
        config = {k: v for k, v in base.__dict__.items() if k not in ("data_dir", "out")}
        Path(args.output).write_text(json.dumps({"command": "bench/bench_cgan_mnist.py", "job": job,
                                                 "date": time.strftime("%Y-%m-%d"), "machine": describe_machine(),
                                                 "config": config, "runs": runs}, indent=1) + "\n")


if __name__ == "__main__":
    main()
