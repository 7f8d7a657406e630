"""SPADE's multi-modal variant (``use_vae``) on palette-derived label maps of the OpenMoji colour images: one
in-process run, scored on the held-out maps every EVERY steps (step 0 = the untrained model, the control).

    OMP_NUM_THREADS=1 nice -n 10 python bench/bench_spade_vae.py --data ../shared/data/emoji --steps 300 \
        --every 100 --grid docs/img/spade-vae-styles.png

Scores (model space [-1, 1], 451 held-out maps):
- ``guided_l1``: L1 of G(map, mu(E(real image))) against that real image (guided synthesis);
- ``shuffled_l1``: the same with the style of *another* held-out image (the encoder's information about
  the particular image vs a plausible style in general), ``random_l1``: with z ~ N(0, I);
- ``diversity``: mean L1 between the outputs of one map for two random z (multi-modality);
- ``consistency_random`` / ``consistency_guided``: fraction of output pixels in the palette class their map
  asks for (1.0 for the real images), and the mean training image's as the floor.
Writes bench/results/spade-vae.json; ``--grid`` saves maps | outputs for 6 seeds | guided | real (a PNG).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's ganforge, whatever is installed

from ganforge.config import make_config  # noqa: E402
from ganforge.data import load_dataset  # noqa: E402
from ganforge.data.label_maps import palette_consistency  # noqa: E402
from ganforge.train.callbacks import Callback  # noqa: E402
from ganforge.train.trainer import Trainer  # noqa: E402

QUIET = dict(sample_every=0, checkpoint_every=0, log_every=10**6, channels_last=False, device="cpu")


def scores(recipe, train, test) -> dict:
    maps, truth, _ = recipe.eval_pairs(test)
    out = lambda **kw: recipe.sample(len(maps), inputs=maps, **kw).x  # noqa: E731
    guided, shuffled = out(style=truth), out(style=truth.roll(1, 0))
    free, other = out(seed=1), out(seed=2)
    l1 = lambda a, b: float((a - b).abs().mean())  # noqa: E731
    mean = recipe.eval_reference(train).mean(0, keepdim=True).expand_as(truth)
    return {"guided_l1": l1(guided, truth), "shuffled_l1": l1(shuffled, truth), "random_l1": l1(free, truth),
            "mean_image_l1": l1(mean, truth), "diversity": l1(free, other),
            "consistency_random": palette_consistency(test.from_model(free), maps),
            "consistency_guided": palette_consistency(test.from_model(guided), maps),
            "consistency_mean_image": palette_consistency(test.from_model(mean), maps)}


class Curve(Callback):
    def __init__(self, every, test):
        self.every, self.test, self.rows, self.eval_cpu, self.start = every, test, [], 0.0, 0.0

    def record(self, trainer):
        t = time.process_time()
        row = {"step": trainer.step, "train_cpu_s": round(t - self.start - self.eval_cpu, 1),
               **{k: round(v, 4) for k, v in scores(trainer.recipe, trainer.dataset, self.test).items()}}
        self.eval_cpu += time.process_time() - t
        self.rows.append(row)
        print(json.dumps(row), flush=True)

    def on_start(self, trainer):
        self.start = time.process_time()
        self.record(trainer)

    def on_step(self, trainer):
        if trainer.step % self.every == 0:
            self.record(trainer)


def save_grid(recipe, test, path: Path, maps_shown: int = 6, seeds: int = 6):
    from ganforge.utils.images import save_grid as write

    maps, truth, _ = recipe.eval_pairs(test)
    idx = torch.linspace(0, len(maps) - 1, maps_shown).long()
    maps, truth = maps[idx], truth[idx]
    columns = [recipe.colour(maps)] + [recipe.sample(len(maps), seed=s, inputs=maps).x for s in range(seeds)]
    columns += [recipe.sample(len(maps), inputs=maps, style=truth).x, truth]
    grid = torch.stack(columns, 1).flatten(0, 1)  # one row per map
    write(test.from_model(grid), path, nrow=len(columns))


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "emoji"))
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--every", type=int, default=100)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--grid", default=None, help="save a styles grid PNG here")
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "spade-vae.json"))
    args = p.parse_args()
    config = dict(recipe="spade", data="label-maps", data_dir=str(Path(args.data) / "openmoji"), threads=1,
                  options={"images": "color", "labels": "", "exclude": "group=flags", "use_vae": True},
                  image_size=args.image_size, steps=args.steps, batch_size=8, g_width=8, d_width=16, lr_g=2e-4,
                  lr_d=8e-4, seed=args.seed, **QUIET)
    cfg = make_config(config)
    test = load_dataset(cfg, "test")
    curve = Curve(args.every, test)
    trainer = Trainer(cfg, run_dir=None, dataset=load_dataset(cfg), callbacks=[curve])
    trainer.fit()
    if args.grid:
        save_grid(trainer.recipe, test, Path(args.grid))
    result = {"config": config, "curve": curve.rows, "date": time.strftime("%Y-%m-%d"),
              "machine": {"cpu": cpu_name(), "torch": torch.__version__,
                          "loadavg": open("/proc/loadavg").read().split()[:3],
                          "omp_threads": os.environ.get("OMP_NUM_THREADS")},
              "command": "OMP_NUM_THREADS=1 nice -n 10 python " + " ".join(sys.argv)}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
