"""Pix2PixHD on palette-derived OpenMoji label maps (64x64): G1 alone vs the coarse-to-fine G1 + G2 (one
local enhancer, the paper's schedule) at about equal training CPU time, one thread.

    OMP_NUM_THREADS=1 python bench/bench_pix2pixhd.py --data ../shared/data/emoji --steps 120,160

``--steps A,B``: training steps of G1 alone (A) and of G1 + G2 (B: half G1 alone at 32x32, then G2 with G1
frozen for a tenth of the rest, then both), chosen so that their CPU times roughly match. Scores on the
451 held-out emoji: L1 / PSNR against the real image and the palette consistency (the fraction of output
pixels whose nearest palette colour is the class the map asks for; 1.0 for the real images), for the
untrained models (step 0, the control), the trained ones and the mean training image. Writes
bench/results/pix2pixhd.json and, with ``--grid``, a PNG of map | G1 | G1+G2 | real for 8 test emoji.
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
sys.path.insert(0, str(ROOT))  # this checkout's ganforge, whatever is installed

from ganforge.config import make_config  # noqa: E402
from ganforge.data import load_dataset  # noqa: E402
from ganforge.data.label_maps import palette_consistency  # noqa: E402
from ganforge.metrics.translation import paired_scores  # noqa: E402
from ganforge.train.trainer import Trainer  # noqa: E402
from ganforge.utils.hardware import torch_threads  # noqa: E402

DATA = {"images": "color", "labels": "", "exclude": "group=flags"}
COMMON = dict(recipe="pix2pixhd", data="label-maps", batch_size=8, d_width=16, lr_g=1e-3, lr_d=1e-3, seed=0,
              sample_every=0, checkpoint_every=0, log_every=10**6, channels_last=False, device="cpu", threads=1)
MODELS = {"g1": dict(g_width=16, options=DATA),
          "g1+g2": dict(g_width=8, options={**DATA, "n_local_enhancers": 1})}


def scores(recipe, test) -> dict:
    maps, truth, knobs = recipe.eval_pairs(test)
    with torch_threads(1):
        out = recipe.sample(len(maps), inputs=maps, **knobs).x
    s = paired_scores(out, truth, ("l1", "psnr"))
    return {**{k: round(v, 4) for k, v in s.items()},
            "consistency": round(palette_consistency(test.from_model(out), maps), 4)}, out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "emoji"))
    p.add_argument("--steps", default="120,160", help="steps of G1 alone, G1 + G2")
    p.add_argument("--grid", default="", help="write map | G1 | G1+G2 | real of 8 test emoji to this PNG")
    args = p.parse_args()
    steps = dict(zip(MODELS, (int(s) for s in args.steps.split(","))))
    results, outs = {"date": time.strftime("%Y-%m-%d"), "loadavg_start": open("/proc/loadavg").read().split()[:3],
                     "cpu_flags": sorted({f for line in open("/proc/cpuinfo") if line.startswith("flags")
                                          for f in line.split()[2:]} & {"avx2", "avx512f", "fma"}),
                     "torch_threads": 1, "models": {}}, {}
    train = test = None
    for name, extra in MODELS.items():
        cfg = make_config({**COMMON, **extra, "data_dir": str(Path(args.data) / "openmoji"), "steps": steps[name],
                           "lr_decay_start": steps[name] // 2})
        if train is None:  # the same data for both models
            train, test = load_dataset(cfg), load_dataset(cfg, "test")
        with torch_threads(1):
            trainer = Trainer(cfg, run_dir=None, dataset=train, callbacks=[])
            untrained, _ = scores(trainer.recipe, test)
            cpu = time.process_time()
            trainer.fit()
            cpu = time.process_time() - cpu
        trained, outs[name] = scores(trainer.recipe, test)
        params = {n: sum(p.numel() for p in net.parameters()) for n, net in trainer.recipe.nets.items()}
        results["models"][name] = {"steps": steps[name], "train_cpu_s": round(cpu, 1), "untrained": untrained,
                                   "trained": trained, "params": params, "config": {**COMMON, **extra}}
        print(name, json.dumps(results["models"][name]), flush=True)
    recipe = trainer.recipe
    mean = recipe.eval_reference(trainer.dataset).mean(0, keepdim=True)
    maps, truth, _ = recipe.eval_pairs(test)
    mean_scores = paired_scores(mean.expand_as(truth), truth, ("l1", "psnr"))
    results["mean_image"] = {**{k: round(v, 4) for k, v in mean_scores.items()},
                             "consistency": round(palette_consistency(test.from_model(mean.expand_as(truth)), maps), 4)}
    results["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    results["test_images"] = len(maps)
    out = ROOT / "bench" / "results" / "pix2pixhd.json"
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results["mean_image"]), "->", out)
    if args.grid:
        from ganforge.utils.images import save_grid

        rows = [recipe.colour(maps[:8]), outs["g1"][:8], outs["g1+g2"][:8], truth[:8]]
        save_grid(test.from_model(torch.cat(rows)), Path(args.grid), nrow=8)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
