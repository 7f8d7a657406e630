"""Benchmark the objective / conditional recipes on Fashion-MNIST (28 px) under a short fixed CPU budget.

For each recipe: train a fixed number of generator steps (recipe defaults, small widths), save an
8x8 sample grid of the EMA generator to docs/img/recipe-<name>.png, score 1000 samples against the
test split with the classifier-feature FID / KID (``ganforge.metrics.evaluate``), and write
bench/results/recipes.json + the "Recipes" section of docs/BENCHMARKS.md.

    python bench/bench_recipes.py --data-dir ../shared/data            # all recipes
    python bench/bench_recipes.py --data-dir ../shared/data --recipes hinge,sngan --steps-scale 2
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ganforge.config import make_config  # noqa: E402
from ganforge.data import load_dataset  # noqa: E402
from ganforge.metrics import evaluate  # noqa: E402
from ganforge.sampling import generate  # noqa: E402
from ganforge.train.trainer import Trainer  # noqa: E402
from ganforge.utils.files import atomic_write_text  # noqa: E402
from ganforge.utils.images import save_grid  # noqa: E402

# Generator steps per recipe: recipes with 5 critic steps get fewer G steps (similar D-step budget).
STEPS = {"wgan": 120, "wgan-gp": 80, "lsgan": 400, "hinge": 400, "sngan": 80, "ragan": 400,
         "cgan": 400, "acgan": 400, "projection": 80}
COMMON = dict(data="fashion-mnist", image_size=28, g_width=32, d_width=32, batch_size=64, z_dim=64,
              ema_decay=0.99, sample_every=0, checkpoint_every=0, log_every=10**6, device="cpu")


def run_one(name: str, steps: int, data_dir: str, train_set, test_set, img_dir: Path) -> dict:
    cfg = make_config({**COMMON, "recipe": name, "steps": steps, "data_dir": data_dir})
    trainer = Trainer(cfg, run_dir=None, dataset=train_set)
    start = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - start
    generator = trainer.ema.model if trainer.ema is not None else trainer.recipe.nets["generator"]
    fake, _ = generate(trainer.recipe, generator, 1000, seed=0)
    save_grid(train_set.from_model(fake[:64]), img_dir / f"recipe-{name}.png", nrow=8)
    scores = evaluate(fake, test_set.to_model(test_set.x[:1000]), "fid,kid", extractor="classifier",
                      train_dataset=train_set)
    return {"recipe": name, "steps": steps, "n_critic": cfg.n_critic, "architecture": cfg.architecture or
            type(trainer.recipe).default_architecture, "train_seconds": round(seconds, 1),
            **{k: round(v, 4) for k, v in scores.items()}}


def table(results: list[dict], command: str) -> str:
    lines = ["## Recipes", "",
             "Fashion-MNIST, 28 px, recipe defaults with small networks (width 32, batch 64, z 64), a fixed",
             "number of generator steps per recipe on CPU; FID / KID with the classifier extractor",
             "(lower is better), 1000 EMA samples vs 1000 test images. Short runs: compare recipes with",
             "each other, not with published numbers. Timings were taken on a shared 2-core machine",
             "while other jobs ran: treat them as rough.", "",
             f"Command: `{command}`", "",
             "| recipe | arch | G steps | n_critic | train s | FID | KID | samples |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in results:
        lines.append(f"| {r['recipe']} | {r['architecture']} | {r['steps']} | {r['n_critic']} | {r['train_seconds']} "
                     f"| {r.get('fid', float('nan')):.2f} | {r.get('kid', float('nan')):.4f} "
                     f"| ![{r['recipe']}](img/recipe-{r['recipe']}.png) |")
    return "\n".join(lines) + "\n"


def write_section(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(r"^## Recipes\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    atomic_write_text(path, text)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=os.environ.get("GANFORGE_DATA", str(ROOT.parent / "shared" / "data")))
    p.add_argument("--recipes", default=",".join(STEPS))
    p.add_argument("--steps-scale", type=float, default=1.0, help="multiply every recipe's step count")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: small nets on shared cores)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    data_dir = str(Path(args.data_dir) / "fashion-mnist") if (Path(args.data_dir) / "fashion-mnist").is_dir() else args.data_dir
    cfg = make_config({**COMMON, "data_dir": data_dir})
    train_set, test_set = load_dataset(cfg, "train"), load_dataset(cfg, "test")
    img_dir = ROOT / "docs" / "img"
    img_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for name in args.recipes.split(","):
        steps = max(1, int(STEPS[name] * args.steps_scale))
        results.append(run_one(name, steps, data_dir, train_set, test_set, img_dir))
        print(json.dumps(results[-1]), flush=True)
    out = ROOT / "bench" / "results" / "recipes.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    # Merge with earlier runs (a partial --recipes run replaces only its own rows).
    command = "python bench/bench_recipes.py --data-dir ../shared/data" + (
        f" --recipes {args.recipes}" if args.recipes != ",".join(STEPS) else "") + (
        f" --steps-scale {args.steps_scale}" if args.steps_scale != 1.0 else "")
    for r in results:
        r["command"] = command
    previous = json.loads(out.read_text())["results"] if out.exists() else []
    merged = {r["recipe"]: r for r in previous + results}
    results = [merged[name] for name in STEPS if name in merged]
    atomic_write_text(out, json.dumps({"results": results, "config": COMMON}, indent=2) + "\n")
    commands = sorted({r.get("command", command) for r in results})
    write_section(ROOT / "docs" / "BENCHMARKS.md", table(results, "`, `".join(commands)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
