"""SRGAN vs its MSE baseline at equal length (issue 13: "the GAN trades <= 2.5 dB PSNR against its MSE
baseline for a lower FID"; SRGAN vs SRResNet on Set5 lost ~2.3 dB in mmagic's tables).

    python bench/bench_sr.py --data-dir ../shared/data/fashion-mnist \
        --inception ../shared/models/inception-2015-12-05-pool3.torchscript.pt --steps 2000 --test 1000

Trains, each with its recipe's YAML (the paper's networks: 16 residual blocks, width 64, Adam 1e-4) and
only ``--steps`` changed, on Fashion-MNIST x4 (7x7 -> 28x28, bicubic-downsampled LR, SRGAN's protocol):
``srresnet`` (MSE) for N steps and ``srgan`` (its first N/2 steps the same MSE pre-training, then N/2
steps of MSE content + 1e-3 adversarial) for N steps, from the same seed. Scores the first ``--test``
held-out images: PSNR_y / SSIM_y / L1 against the HR image, and Inception-FID of the SR outputs vs the HR
images (the same n on both sides: FID at small n is biased upwards, compare rows of this table only);
bicubic upsampling as the floor. Writes bench/results/sr-fashion-mnist.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ganforge.config import make_config  # noqa: E402
from ganforge.data import load_dataset  # noqa: E402
from ganforge.metrics.extractors.inception import InceptionExtractor  # noqa: E402
from ganforge.metrics.fid import feature_stats, frechet_distance  # noqa: E402
from ganforge.metrics.translation import paired_scores  # noqa: E402
from ganforge.recipes.srgan import bicubic_up  # noqa: E402
from ganforge.train.trainer import Trainer  # noqa: E402
from ganforge.utils.hardware import describe_machine, torch_threads  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "sr-fashion-mnist.json"


def train(recipe: str, args) -> tuple[Trainer, float]:
    cfg = make_config({"recipe": recipe, "data": "fashion-mnist", "data_dir": args.data_dir, "steps": args.steps,
                       "seed": args.seed, "threads": args.threads, "sample_every": 0, "checkpoint_every": 0,
                       "log_every": 10**8, "device": "cpu"})
    trainer = Trainer(cfg, run_dir=None)
    cpu = time.process_time()
    trainer.fit()
    return trainer, time.process_time() - cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True, help="the Fashion-MNIST folder")
    p.add_argument("--inception", required=True, help="the FID Inception weights")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--test", type=int, default=1000, help="held-out images scored")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--fid-precision", default="fp32", choices=["fp32", "bf16", "auto"])
    args = p.parse_args()
    load_start, started = os.getloadavg(), time.time()
    rows, outputs = {}, {}
    for recipe in ("srresnet", "srgan"):
        trainer, cpu = train(recipe, args)
        test = load_dataset(trainer.cfg, "test").subset(args.test)
        lr, hr, _ = trainer.recipe.eval_pairs(test)
        with torch_threads(args.threads), torch.no_grad():
            outputs[recipe] = trainer.recipe.sample(len(lr), inputs=lr).x
        pre = trainer.recipe.options.pretrain_steps
        rows[recipe] = {"steps": trainer.step, "train_cpu_s": round(cpu, 1), "precision": trainer.precision,
                        "mse_steps": trainer.step if recipe == "srresnet" else (pre if pre >= 0 else trainer.step // 2)}
    outputs["bicubic"] = bicubic_up(lr, 4)
    rows["bicubic"] = {}
    extractor = InceptionExtractor(args.inception, precision=args.fid_precision)
    with torch_threads(args.threads):
        real = feature_stats(extractor.extract(hr)[0])
        for name, out in outputs.items():
            scores = paired_scores(out, hr, ("l1", "psnr_y", "ssim_y"))
            fid = frechet_distance(*real, *feature_stats(extractor.extract(out)[0]))
            rows[name].update({k: round(float(v), 4) for k, v in scores.items()}, fid=round(fid, 2))
    result = {"task": "fashion-mnist x4 (7x7 -> 28x28, bicubic LR)", "steps": args.steps, "test_images": len(hr),
              "seed": args.seed, "threads": args.threads, "fid_precision": extractor.precision, "rows": rows,
              "psnr_y_cost_db": round(rows["srresnet"]["psnr_y"] - rows["srgan"]["psnr_y"], 2),
              "command": "python bench/bench_sr.py " + " ".join(sys.argv[1:]),
              "machine": describe_machine(), "loadavg_start": load_start, "loadavg_end": os.getloadavg(),
              "wall_s": round(time.time() - started), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print("| model | steps | train CPU-s | L1 | PSNR_y | SSIM_y | FID |")
    print("|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r.get('steps', '-')} | {r.get('train_cpu_s', '-')} | {r['l1']} | {r['psnr_y']} | "
              f"{r['ssim_y']} | {r['fid']} |")


if __name__ == "__main__":
    main()
