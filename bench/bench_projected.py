"""Projected GAN vs DCGAN on Fashion-MNIST 32x32 at an equal CPU-time budget: the FID curve over CPU time.

    python bench/bench_projected.py --data-dir ../shared/data --budget 240 --models dcgan,projected-gan [--grids]

Each model trains with its recipe's defaults (configs/<recipe>.yaml; projected-gan's D on the default
``pyramid-cnn`` feature network) on one thread, in its own process, until that process has used
``--budget`` CPU-seconds of training (CPU time, not wall time: the machine is shared). Training the
pyramid-cnn feature network happens before (the paper's feature network comes pretrained) and is
reported apart (``feature_net_cpu_s``). Every quarter of the budget, FID between ``--fid-samples`` EMA
samples and as many test images is computed (not counted in the budget) with the ``classifier``
extractor: ganforge's small CNN (kind ``cnn``), a different network from D's ``pyramid`` CNN (both are
trained on the Fashion-MNIST labels). ``--inception-samples N`` adds a final Inception FID (independent
of both). Results: bench/results/projected-<model>.json; ``--grids`` saves docs/img/projected-<model>.png.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ganforge.classifiers import pretrained  # noqa: E402
from ganforge.config import make_config  # noqa: E402
from ganforge.data import load_dataset  # noqa: E402
from ganforge.metrics import evaluate  # noqa: E402
from ganforge.train.trainer import Trainer  # noqa: E402
from ganforge.utils.hardware import describe_machine  # noqa: E402

RESULTS = ROOT / "bench" / "results"
IMG = ROOT / "docs" / "img"


def run_one(model: str, args) -> dict:
    torch.set_num_threads(1)
    cfg = make_config({"recipe": model, "data": "fashion-mnist", "data_dir": args.data_dir, "image_size": 32,
                       "steps": 10**8, "sample_every": 0, "checkpoint_every": 0, "log_every": 10**8, "device": "cpu",
                       "seed": args.seed})
    dataset, test = load_dataset(cfg), load_dataset(cfg, "test")
    start = time.process_time()
    trainer = Trainer(cfg, run_dir=None, dataset=dataset)  # projected-gan: trains / loads its feature network here
    feature_cpu = time.process_time() - start
    pretrained(dataset, "cnn")  # the evaluation classifier, trained (and cached) outside the budget
    load_start, wall, cpu, eval_cpu = os.getloadavg(), time.time(), time.process_time(), 0.0
    curve, marks = [], [args.budget * k / 4 for k in (1, 2, 3, 4)]

    def score(n: int) -> float:
        g = trainer.ema.model if trainer.ema is not None else trainer.recipe.nets["generator"]
        fake = trainer.recipe.sample(n, seed=1, nets={"generator": g}).x
        return evaluate(fake, test, "fid", extractor="classifier", train_dataset=dataset, real_samples=n)["fid"]

    while marks:
        trainer.train_step()
        trained = time.process_time() - cpu - eval_cpu
        if trained >= marks[0]:
            marks.pop(0)
            t = time.process_time()
            curve.append({"step": trainer.step, "train_cpu_s": round(trained, 1),
                          "fid_classifier": round(score(args.fid_samples), 3)})
            eval_cpu += time.process_time() - t
            print(model, curve[-1], flush=True)
    result = {"model": model, "recipe": cfg.recipe, "data": "fashion-mnist 32x32", "budget_cpu_s": args.budget,
              "steps": trainer.step, "batch_size": cfg.batch_size, "kimg": round(trainer.step * cfg.batch_size / 1000, 2),
              "train_wall_s": round(time.time() - wall, 1), "fid_classifier": curve[-1]["fid_classifier"],
              "fid_samples": args.fid_samples, "extractor": "classifier (cnn, seed 0)", "curve": curve,
              "feature_net": (cfg.options or {}).get("feature_net", "pyramid-cnn") if model == "projected-gan" else None,
              "feature_net_cpu_s": round(feature_cpu, 1), "threads": 1, "loadavg_start": load_start,
              "loadavg_end": os.getloadavg(), "cpu_flags": describe_machine()["cpu_flags"], "torch": torch.__version__,
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    g = trainer.ema.model if trainer.ema is not None else trainer.recipe.nets["generator"]
    if args.inception_samples:
        fake = trainer.recipe.sample(args.inception_samples, seed=1, nets={"generator": g}).x
        result["fid_inception"] = round(evaluate(fake, test, "fid", extractor="inception", precision="fp32",
                                                 real_samples=args.inception_samples, cache=False)["fid"], 2)
        result["inception_samples"] = args.inception_samples
    if args.grids:
        from ganforge.utils.images import save_grid

        save_grid(dataset.from_model(trainer.recipe.sample(64, seed=1, nets={"generator": g}).x),
                  IMG / f"projected-{model}.png", nrow=8)
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", required=True, help="folder holding fashion-mnist/")
    p.add_argument("--budget", type=float, default=240.0, help="training CPU-seconds per model")
    p.add_argument("--models", default="dcgan,projected-gan")
    p.add_argument("--fid-samples", type=int, default=1000)
    p.add_argument("--inception-samples", type=int, default=0, help="final Inception FID on this many samples (0: off)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--grids", action="store_true")
    args = p.parse_args()
    models = args.models.split(",")
    if len(models) > 1:  # one process per model: CPU time and memory measured alone
        for model in models:
            subprocess.run([sys.executable, __file__, *sys.argv[1:], "--models", model], check=True,
                           env={**os.environ, "OMP_NUM_THREADS": "1"})
        return
    result = run_one(models[0], args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"projected-{models[0]}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "curve"}))


if __name__ == "__main__":
    main()
