"""StyleGAN2 (with and without ADA) vs DCGAN on emoji 64x64 at an equal CPU-time budget, scored by FID.

    python bench/bench_stylegan2.py --data-dir ../shared/data/emoji/openmoji/color --budget 600 \
        --models dcgan,stylegan2,stylegan2-ada --fid-samples 500 [--curve-every 150] [--grids]

Each model trains with its recipe's defaults (configs/<recipe>.yaml; ``stylegan2-ada`` = stylegan2 +
``ada: bgc``) on one thread until its process has used ``--budget`` CPU-seconds (CPU time, not wall
time: the machine is shared, and CPU time is what one unloaded core would take), then FID is computed
on the FID Inception's pool3 features between ``--fid-samples`` EMA-generator samples and as many
random training images (FID at small n is biased upwards: compare rows of one table only);
``--curve-every S`` also keeps a copy of the generator every S CPU-seconds and scores each after
training (the FID-vs-CPU-time curve; scoring time is not counted in the budget). Each model
runs in its own process (``--models`` with one name; the parent starts one per model), results go to
bench/results/stylegan2-<model>.json, the curve to docs/img/stylegan2-vs-dcgan-fid.png (``--plot`` redraws
it from the JSONs); ``--grids`` saves each model's samples (and StyleGAN2's extra grids) to docs/img/.

    python bench/bench_stylegan2.py --fashion-grids ../shared/data/fashion-mnist --fashion-steps 600
trains the small Fashion-MNIST model of the learning test longer for the grids in docs/STYLE.md.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ganforge.config import make_config  # noqa: E402
from ganforge.data import load_dataset  # noqa: E402
from ganforge.metrics import evaluate  # noqa: E402
from ganforge.train.trainer import Trainer  # noqa: E402
from ganforge.utils.hardware import describe_machine  # noqa: E402

RESULTS = ROOT / "bench" / "results"
IMG = ROOT / "docs" / "img"
MODELS = {"dcgan": {"recipe": "dcgan"}, "stylegan2": {"recipe": "stylegan2"},
          "stylegan2-ada": {"recipe": "stylegan2", "ada": "bgc"}}


def run_one(model: str, args) -> dict:
    torch.set_num_threads(1)
    cfg = make_config({**MODELS[model], "data": "image-folder", "data_dir": args.data_dir, "steps": 10**8,
                       "sample_every": 0, "checkpoint_every": 0, "log_every": 10**8, "device": "cpu",
                       "seed": args.seed})
    dataset = load_dataset(cfg)
    trainer = Trainer(cfg, run_dir=None, dataset=dataset)
    load_start, wall, cpu = os.getloadavg(), time.time(), time.process_time()
    curve, snapshots, next_snapshot = [], [], args.curve_every or float("inf")

    def current_generator():
        return trainer.ema.model if trainer.ema is not None else trainer.recipe.nets["generator"]

    while time.process_time() - cpu < args.budget:
        trainer.train_step()
        used = time.process_time() - cpu
        if trainer.step % 100 == 0:
            curve.append({"step": trainer.step, "cpu_s": round(used, 1)})
        if used >= next_snapshot and used < args.budget:
            snapshots.append({"step": trainer.step, "cpu_s": round(used, 1), "wall_s": round(time.time() - wall, 1),
                              "generator": copy.deepcopy(current_generator())})
            next_snapshot += args.curve_every
    train_cpu, train_wall = time.process_time() - cpu, time.time() - wall
    generator = current_generator()
    snapshots.append({"step": trainer.step, "cpu_s": round(train_cpu, 1), "wall_s": round(train_wall, 1),
                      "generator": generator})

    def fid_of(module) -> float:
        fake = trainer.recipe.sample(args.fid_samples, seed=1, nets={"generator": module}).x
        return evaluate(fake, dataset, "fid", extractor="inception", real_samples=args.fid_samples,
                        inception_weights=args.inception_weights, precision=args.fid_precision)["fid"]

    fid_curve = [{**{k: v for k, v in snap.items() if k != "generator"}, "fid": round(fid_of(snap["generator"]), 2)}
                 for snap in snapshots]
    scores = {"fid": fid_curve[-1]["fid"]}
    result = {"model": model, "recipe": cfg.recipe, "ada": cfg.ada, "data": f"image-folder {args.data_dir}",
              "image_size": dataset.shape[-1], "budget_cpu_s": args.budget, "steps": trainer.step,
              "kimg": round(trainer.step * cfg.batch_size / 1000, 2), "train_cpu_s": round(train_cpu, 1),
              "train_wall_s": round(train_wall, 1), "fid_inception": round(scores["fid"], 2),
              "fid_samples": args.fid_samples, "fid_precision": args.fid_precision, "fid_curve": fid_curve,
              "precision": trainer.precision, "threads": 1, "loadavg_start": load_start,
              "loadavg_end": os.getloadavg(), "cpu_flags": describe_machine()["cpu_flags"], "torch": torch.__version__,
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "curve": curve}
    if cfg.ada:
        result["ada_p"] = round(trainer.recipe.ada.p, 4)
    if args.grids:
        from ganforge.utils.images import save_grid

        nets = {"generator": generator}
        save_grid(dataset.from_model(trainer.recipe.sample(32, seed=1, nets=nets).x), IMG / f"{model}-samples.png", nrow=8)
    if args.grids and cfg.recipe == "stylegan2":
        for name, grid in trainer.recipe.preview_extras(seed=1, nets=nets).items():
            save_grid(dataset.from_model(grid.x), IMG / f"{model}-{name}.png", nrow=grid.extra["nrow"])
    return result


def fashion_grids(args) -> dict:
    """``--fashion-grids DIR``: the doc grids from a small StyleGAN2 on Fashion-MNIST at 16x16 (the
    learning test's setting, ``--fashion-steps`` steps): samples, truncation sweep, mixing grid."""
    from ganforge.utils.images import save_grid

    torch.set_num_threads(1)
    cfg = make_config({"recipe": "stylegan2", "data": "fashion-mnist", "data_dir": args.fashion_grids, "image_size": 16,
                       "z_dim": 32, "g_width": 8, "d_width": 8, "batch_size": 16, "steps": args.fashion_steps,
                       "ema_decay": 0.99, "sample_every": 0, "checkpoint_every": 0, "log_every": 10**8,
                       "device": "cpu", "seed": args.seed})
    trainer = Trainer(cfg, run_dir=None)
    cpu = time.process_time()
    trainer.fit()
    nets = {"generator": trainer.ema.model}
    data = trainer.dataset
    save_grid(data.from_model(trainer.recipe.sample(64, seed=1, nets=nets).x), IMG / "stylegan2-fashion-samples.png", nrow=8)
    for name, grid in trainer.recipe.preview_extras(seed=1, nets=nets).items():
        save_grid(data.from_model(grid.x), IMG / f"stylegan2-fashion-{name}.png", nrow=grid.extra["nrow"])
    return {"model": "stylegan2", "data": "fashion-mnist 16x16", "steps": cfg.steps, "train_cpu_s": round(time.process_time() - cpu, 1),
            "loadavg_end": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def plot(models: list[str]) -> Path:
    """FID vs training CPU-minutes from the results JSONs of ``models`` (``--plot``; also after a run)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3.2), dpi=100)
    for model in models:
        r = json.loads((RESULTS / f"stylegan2-{model}.json").read_text())
        points = r.get("fid_curve") or [{"cpu_s": r["train_cpu_s"], "fid": r["fid_inception"]}]
        ax.plot([q["cpu_s"] / 60 for q in points], [q["fid"] for q in points], "o-", label=model)
    ax.set_xlabel("training CPU-minutes (one thread)")
    ax.set_ylabel(f"FID (Inception, n={r['fid_samples']})")
    ax.set_title(f"emoji {r['image_size']}x{r['image_size']}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = IMG / "stylegan2-vs-dcgan-fid.png"
    fig.savefig(out)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None, help="the emoji folder (e.g. ../shared/data/emoji/openmoji/color)")
    p.add_argument("--budget", type=float, default=600.0, help="CPU-seconds of training per model")
    p.add_argument("--models", default="dcgan,stylegan2,stylegan2-ada")
    p.add_argument("--fid-samples", type=int, default=500)
    p.add_argument("--fid-precision", default="fp32", choices=["fp32", "bf16", "auto"],
                   help="the Inception's precision (auto: bf16 where native; FID within 0.3%% of fp32, see inception.json)")
    p.add_argument("--curve-every", type=float, default=0.0, help="CPU-seconds between FID curve points (0: only the end)")
    p.add_argument("--inception-weights", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--grids", action="store_true")
    p.add_argument("--fashion-grids", metavar="DIR", help="only train the small Fashion-MNIST model for the doc grids")
    p.add_argument("--fashion-steps", type=int, default=600)
    p.add_argument("--plot", action="store_true", help="only plot FID vs CPU time from the results of --models")
    args = p.parse_args()
    if args.fashion_grids:
        result = fashion_grids(args)
        (RESULTS / "stylegan2-fashion-grids.json").write_text(json.dumps(result, indent=1) + "\n")
        print(json.dumps(result))
        return
    models = args.models.split(",")
    if args.plot:
        print(plot(models))
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    if len(models) > 1:  # one process per model, run side by side
        base = [a for a in sys.argv[1:]]
        i = base.index("--models") if "--models" in base else None
        if i is not None:
            del base[i:i + 2]
        procs = [subprocess.Popen([sys.executable, __file__, *base, "--models", m]) for m in models]
        if any(proc.wait() for proc in procs):
            sys.exit(1)
        rows = [json.loads((RESULTS / f"stylegan2-{m}.json").read_text()) for m in models]
        print("| model | steps | kimg | train CPU-s | FID (Inception, n=%d) |" % args.fid_samples)
        print("|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['model']} | {r['steps']} | {r['kimg']} | {r['train_cpu_s']} | {r['fid_inception']} |")
        print(plot(models))
        return
    result = run_one(models[0], args)
    (RESULTS / f"stylegan2-{models[0]}.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "curve"}))


if __name__ == "__main__":
    main()
