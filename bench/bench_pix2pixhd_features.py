"""Pix2PixHD's instance-wise feature encoder (``feat_num: 3``): does G use the encoded features?

    OMP_NUM_THREADS=1 python bench/bench_pix2pixhd_features.py --data ../shared/data/emoji --steps 600

Trains pix2pixhd (G1 alone, width 8, at 64x64; batch 8, Adam ``--lr`` (the paper's 2e-4), decay over the
second half) with the feature encoder on OpenMoji label maps derived with a **3-colour palette** (white, black, grey): every
coloured area becomes one "fill" class, so the map no longer says which colour a fill is and the
features are the only way for G to know it (with the 12-colour OpenMoji palette the map already fixes
the colour classes). On the 451 held-out emoji it scores L1 / PSNR against the real image for: random
k-means centres (seeds 0 and 1: multi-modal synthesis), the real image's own encoded features
(``style=`` the real image: the paper's encoded-image mode), and the mean training image. If G uses the
features, the encoded outputs are closer to the real image than the random-centre ones, and two seeds
differ. Writes bench/results/pix2pixhd-features.json (one row per run, appended) and, with ``--grid``, a PNG.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's ganforge, whatever is installed

from ganforge.config import make_config  # noqa: E402
from ganforge.data import load_dataset  # noqa: E402
from ganforge.metrics.translation import paired_scores  # noqa: E402
from ganforge.train.trainer import Trainer  # noqa: E402
from ganforge.utils.hardware import torch_threads  # noqa: E402

PALETTE = "255,255,255;0,0,0;160,160,160"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "emoji"))
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--encoder-width", type=int, default=4, help="the paper's nef is 16")
    p.add_argument("--lr", type=float, default=2e-4, help="Adam lr of G, E and D (the paper's 2e-4)")
    p.add_argument("--grid", default="", help="write map | centres seed 0 | seed 1 | seed 2 | encoded real | real "
                                             "of 8 test emoji to this PNG")
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "pix2pixhd-features.json"))
    args = p.parse_args()
    cfg = make_config(dict(recipe="pix2pixhd", data="label-maps", data_dir=str(Path(args.data) / "openmoji"),
                           options={"images": "color", "labels": "", "exclude": "group=flags", "palette": PALETTE,
                                    "feat_num": 3, "encoder_width": args.encoder_width},
                           steps=args.steps, batch_size=8, g_width=8, d_width=16, lr_g=args.lr, lr_d=args.lr,
                           lr_decay_start=args.steps // 2, seed=args.seed, sample_every=0, checkpoint_every=0,
                           log_every=10**6, channels_last=False, device="cpu", threads=1))
    load = open("/proc/loadavg").read().split()[:3]
    with torch_threads(1):
        start = time.process_time()
        trainer = Trainer(cfg, run_dir=None, dataset=load_dataset(cfg), callbacks=[])
        trainer.fit()
        cpu = time.process_time() - start
        recipe, test = trainer.recipe, load_dataset(cfg, "test")
        maps, truth, _ = recipe.eval_pairs(test)
        start = time.process_time()
        centers, counts = recipe.feature_clusters()
        fit_cpu = time.process_time() - start
        outs = {"random_seed0": recipe.sample(len(maps), seed=0, inputs=maps).x,
                "random_seed1": recipe.sample(len(maps), seed=1, inputs=maps).x,
                "encoded_real": recipe.sample(len(maps), inputs=maps, style=truth).x,
                "mean_image": recipe.eval_reference(trainer.dataset).mean(0, keepdim=True).expand_as(truth)}
    row = {"date": time.strftime("%Y-%m-%d"), "loadavg_start": load, "steps": args.steps, "seed": args.seed,
           "encoder_width": args.encoder_width, "lr": args.lr, "train_cpu_s": round(cpu, 1),
           "cluster_fit_cpu_s": round(fit_cpu, 1),
           "centre_spread_per_class": [round(float(centers[c, :counts[c]].std(0).mean()), 4) for c in range(len(counts))],
           "seed_difference_l1": round(float((outs["random_seed0"] - outs["random_seed1"]).abs().mean()), 4),
           "scores": {k: {m: round(v, 4) for m, v in paired_scores(o, truth, ("l1", "psnr")).items()}
                      for k, o in outs.items()}}
    print(json.dumps(row, indent=1))
    if args.grid:
        from ganforge.utils.images import save_grid

        with torch_threads(1):
            third = recipe.sample(8, seed=2, inputs=maps[:8]).x
        rows = [recipe.colour(maps[:8]), outs["random_seed0"][:8], outs["random_seed1"][:8], third,
                outs["encoded_real"][:8], truth[:8]]
        save_grid(test.from_model(torch.cat(rows)), Path(args.grid), nrow=8)
    out = Path(args.out)
    rows = json.loads(out.read_text()) if out.exists() else []
    out.write_text(json.dumps(rows + [row], indent=1) + "\n")


if __name__ == "__main__":
    main()
