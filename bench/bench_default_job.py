"""The main job's quality check (issue 12): does `ganforge train` (no flags) make digits an independent
classifier recognises? 1,000 EMA samples; an MLP trained on sklearn's digits must be confident (> 0.9)
for >= 90% of them with every class >= 5%, within 3 CPU-minutes. Prints one JSON line per run.

    python bench/bench_default_job.py [--seeds 0,1,2] ['{"lr_g": 5e-4, ...}']  # config overrides (JSON)
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np
from sklearn.neural_network import MLPClassifier

import ganforge
from ganforge.config import make_config
from ganforge.data import load_dataset
from ganforge.utils.hardware import describe_machine


def main():
    p = argparse.ArgumentParser()
    p.add_argument("overrides", nargs="?", default="{}", help="config overrides as JSON [default: none]")
    p.add_argument("--seeds", default="0")
    args = p.parse_args()
    train, test = load_dataset(make_config(), "train"), load_dataset(make_config(), "test")
    flat = lambda d: d.to_model(d.x).flatten(1).numpy()  # noqa: E731
    clf = MLPClassifier((256,), max_iter=400, random_state=0).fit(flat(train), train.y.numpy())
    real = clf.predict_proba(flat(test))
    print(json.dumps({"classifier_accuracy": clf.score(flat(test), test.y.numpy()),
                      "real_test_confident": float((real.max(1) > 0.9).mean()), "machine": describe_machine()}))
    for seed in [int(s) for s in args.seeds.split(",")]:
        over = {**json.loads(args.overrides), "seed": seed}
        with tempfile.TemporaryDirectory() as tmp:
            cpu = time.process_time()
            run = ganforge.train(make_config({"out": tmp + "/run", "sample_every": 0, "checkpoint_every": 0, **over}))
            cpu = time.process_time() - cpu
            proba = clf.predict_proba(ganforge.load(run).sample(1000, seed=0).flatten(1).numpy())
        counts = np.bincount(proba.argmax(1), minlength=10)
        print(json.dumps({"overrides": over, "cpu_s": round(cpu, 1), "confident": float((proba.max(1) > 0.9).mean()),
                          "min_class_share": counts.min() / 1000, "counts": counts.tolist(),
                          "load": describe_machine()["loadavg"]}), flush=True)


if __name__ == "__main__":
    main()
