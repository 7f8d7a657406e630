"""ProGAN / StyleGAN against DCGAN at equal CPU time (Fashion-MNIST 32x32 or emoji 64x64).

Each recipe trains single-threaded, with its YAML defaults (the progressive ones with the fade-in /
stabilisation length given by ``--kimg``), until its process has used ``--budget`` CPU-seconds or
``--wall`` seconds passed (on a shared machine the CPU time is the fair measure; when the machine is so
loaded that a CPU budget would not finish, run the three in parallel at one niceness with a wall limit:
they then share the CPU about equally, and the JSON records both).
The progressive recipes save a grid of EMA samples at the end of each resolution's stabilisation
(docs/img/progressive-<recipe>-<data>-<res>.png). Then ``--report`` scores 1000 EMA samples of each
against the test split (FID on the features of a classifier trained on the real data, the repository's
default extractor for these sets) and writes bench/results/progan-<data>.json.

    nice -n 10 python bench/bench_progan.py --recipe progan --data fashion-mnist --data-dir ../shared/data/fashion-mnist
    (likewise --recipe stylegan and --recipe dcgan; they may run in parallel)
    nice -n 10 python bench/bench_progan.py --report --data fashion-mnist --data-dir ../shared/data/fashion-mnist
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
sys.path.insert(0, str(ROOT))

from ganforge.config import make_config  # noqa: E402
from ganforge.data import load_dataset  # noqa: E402
from ganforge.metrics import evaluate  # noqa: E402
from ganforge.train.callbacks import Callback, sampling_nets  # noqa: E402
from ganforge.train.trainer import Trainer  # noqa: E402
from ganforge.utils.files import atomic_write_text  # noqa: E402
from ganforge.utils.images import save_grid  # noqa: E402

IMAGE_SIZE = {"fashion-mnist": 32, "image-folder": 64}
WORK = Path(os.environ.get("PROGAN_BENCH_DIR", "/tmp/progan-bench"))


def machine() -> dict:
    flags = ""
    if Path("/proc/cpuinfo").is_file():
        line = next((x for x in Path("/proc/cpuinfo").read_text().splitlines() if x.startswith("flags")), "")
        flags = " ".join(f for f in line.split() if f.startswith(("avx", "fma", "amx")))
    return {"loadavg": Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").is_file() else None,
            "cpu_flags": flags, "cpus": os.cpu_count(), "torch": torch.__version__, "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


class Budget(Callback):
    """Stops the run once this process used ``seconds`` of CPU time or ``wall`` seconds passed, whichever
    comes first; grids at each resolution's end."""

    def __init__(self, seconds: float, wall: float, tag: str):
        self.seconds, self.wall, self.tag, self.grids = seconds, wall, tag, {}
        self.start, self.wall_start = time.process_time(), time.time()

    def on_start(self, trainer):
        # dataset loading and network construction are not training
        self.start, self.wall_start = time.process_time(), time.time()

    def on_step(self, trainer):
        recipe = trainer.recipe
        growth = getattr(recipe, "growth", None)
        if growth is not None:
            stage, upcoming = recipe.stage, growth.at(trainer.step)
            if upcoming.phase != stage.phase and stage.alpha == 1.0:
                self.grid(trainer, stage.resolution)
        if time.process_time() - self.start > self.seconds or time.time() - self.wall_start > self.wall:
            trainer.cfg.steps = trainer.step  # the loop ends after this step (and writes nothing: run_dir None)

    def grid(self, trainer, resolution: int) -> None:
        x = trainer.recipe.sample(64, seed=0, nets=sampling_nets(trainer)).x
        x = x[..., :: x.shape[-1] // resolution, :: x.shape[-1] // resolution]  # native size (samples are upsampled)
        save_grid(trainer.dataset.from_model(x), ROOT / "docs/img" / f"progressive-{self.tag}-{resolution}.png", nrow=8)
        self.grids[resolution] = {"step": trainer.step, "cpu_seconds": round(time.process_time() - self.start, 1)}


def knobs_grids(trainer, tag: str) -> None:
    """Truncation sweep (rows: psi 1, 0.75, 0.5, 0.25, 0; columns: seeds) and mixing strips (rows: seed
    pairs; columns: all A's styles -> all B's, the crossover moving from the finest layer to the coarsest)."""
    recipe, nets = trainer.recipe, sampling_nets(trainer)
    sweep = [recipe.sample(8, seed=0, nets=nets, truncation=psi).x for psi in (1.0, 0.75, 0.5, 0.25, 0.0)]
    save_grid(trainer.dataset.from_model(torch.cat(sweep)), ROOT / "docs/img" / f"progressive-{tag}-truncation.png", nrow=8)
    strips = [recipe.sample(8, nets=nets, mix=(a, b)).x for a, b in ((1, 2), (3, 4), (5, 6), (7, 8))]
    save_grid(trainer.dataset.from_model(torch.cat(strips)), ROOT / "docs/img" / f"progressive-{tag}-mixing.png", nrow=8)


def config(args, recipe: str):
    extra = {}
    if recipe in ("progan", "stylegan"):
        defaults = make_config({"recipe": recipe}).options
        extra["options"] = {**defaults, "fade_kimg": args.kimg, "stable_kimg": args.kimg}
    return make_config({"recipe": recipe, "data": args.data, "data_dir": args.data_dir, "image_size": IMAGE_SIZE[args.data],
                        "steps": 10**7, "sample_every": 0, "checkpoint_every": 0, "log_every": 10**7, "device": "cpu",
                        "collapse_warning": False, **extra})


def train(args) -> None:
    torch.set_num_threads(1)
    cfg = config(args, args.recipe)
    tag = f"{args.recipe}-{args.data}"
    budget = Budget(args.budget, args.wall, tag)
    trainer = Trainer(cfg, run_dir=None, callbacks=[budget])
    trainer.fit()
    x = trainer.recipe.sample(1000, seed=1, nets=sampling_nets(trainer)).x
    save_grid(trainer.dataset.from_model(x[:64]), ROOT / "docs/img" / f"progressive-{tag}-final.png", nrow=8)
    if args.recipe == "stylegan":
        knobs_grids(trainer, tag)
    WORK.mkdir(parents=True, exist_ok=True)
    torch.save(x, WORK / f"{tag}.pt")
    stage = getattr(trainer.recipe, "stage", None)
    info = {"recipe": args.recipe, "steps": trainer.step, "cpu_seconds": round(time.process_time() - budget.start, 1),
            "wall_seconds": round(time.time() - budget.wall_start, 1), "options": cfg.options, "batch_size": cfg.batch_size,
            "final_resolution": stage.resolution if stage else IMAGE_SIZE[args.data],
            "final_alpha": stage.alpha if stage else 1.0, "grids": budget.grids, "machine_at_end": machine()}
    (WORK / f"{tag}.json").write_text(json.dumps(info, indent=1))


def report(args) -> None:
    cfg = config(args, "dcgan")
    train_set, test_set = load_dataset(cfg, "train"), load_dataset(cfg, "test")
    real = test_set.to_model(test_set.x[:1000])
    runs = []
    for recipe in ("dcgan", "progan", "stylegan"):
        tag = f"{recipe}-{args.data}"
        if not (WORK / f"{tag}.json").is_file():
            continue
        info = json.loads((WORK / f"{tag}.json").read_text())
        fake = torch.load(WORK / f"{tag}.pt")
        info.update({k: round(v, 3) for k, v in evaluate(fake, real, "fid", extractor="classifier",
                                                         train_dataset=train_set).items()})
        runs.append(info)
    out = {"data": args.data, "image_size": IMAGE_SIZE[args.data], "budget_cpu_seconds": args.budget, "budget_wall_seconds": args.wall,
           "metric": "FID on classifier features, 1000 EMA samples vs 1000 test images", "runs": runs,
           "machine_at_report": machine(), "command": " ".join(sys.argv)}
    atomic_write_text(ROOT / "bench/results" / f"progan-{args.data}.json", json.dumps(out, indent=1) + "\n")
    for r in runs:
        print(f"{r['recipe']:>9}: FID {r['fid']:.2f}  steps {r['steps']}  cpu {r['cpu_seconds']}s  res {r['final_resolution']}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", choices=("dcgan", "progan", "stylegan"))
    p.add_argument("--report", action="store_true")
    p.add_argument("--data", default="fashion-mnist", choices=tuple(IMAGE_SIZE))
    p.add_argument("--data-dir", required=True)
    p.add_argument("--budget", type=float, default=600.0, help="CPU-seconds of training per recipe")
    p.add_argument("--wall", type=float, default=float("inf"),
                   help="also stop after this many wall-clock seconds (on a loaded machine: run all three in "
                        "parallel at the same niceness so that they share the CPU equally)")
    p.add_argument("--kimg", type=float, default=5.0, help="thousands of images per fade-in and per stabilisation")
    args = p.parse_args()
    if args.report:
        report(args)
    elif args.recipe:
        train(args)
    else:
        p.error("give --recipe or --report")


if __name__ == "__main__":
    main()
