"""BigGAN class control and packed-data streaming, measured on this machine.

    OMP_NUM_THREADS=1 nice -n 10 python bench/bench_biggan.py classes --data-dir ../shared/data/fashion-mnist \
        --cpu-minutes 28 --eval-every 200 --lr-g 2e-4 --lr-d 8e-4 --seed 0 --grid
    nice -n 10 python bench/bench_biggan.py streaming --data-dir ../shared/data/fashion-mnist

``classes``: BigGAN (the recipe's YAML: hinge, SN in G and D, ortho reg, G EMA, two D steps per G step;
learning rates may be raised, keeping the paper's G:D ratio of 1:4) on Fashion-MNIST at 32x32 for a
budget of training CPU time (one thread by default; evaluations and data loading not counted). Every
``--eval-every`` steps the eval classifier (the real-data CNN of ``ganforge.classifiers``, trained on the
train split; its accuracy on the real test split is recorded as the ceiling for reading the numbers)
classifies ``--per-class`` EMA samples per requested class, plain z and truncated z (``--truncations``).
Writes bench/results/biggan-classes-seed<seed>.json and, with ``--grid``, docs/img/biggan-fashion.png
(plain z) and docs/img/biggan-fashion-truncated.png (the last truncation), one row per class.

``streaming``: packs N Fashion-MNIST images (written as PNG class folders first) and reads batches of
64 through the packed dataset with 0 and 2 workers and from memory; reports images/s and the peak
resident memory of a child process (its workers not counted) that draws 200 batches each way under a 4 MiB ``memory_cap_mb``.
Writes bench/results/biggan-streaming.json. Load average and CPU flags are recorded: the machine is shared.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ganforge.config import make_config  # noqa: E402
from ganforge.data import load_dataset  # noqa: E402

RESULTS, IMG = ROOT / "bench" / "results", ROOT / "docs" / "img"


def machine() -> dict:
    from ganforge.utils.hardware import describe_machine

    return describe_machine() | {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def classes(args) -> None:
    from ganforge.classifiers import predict_logits, pretrained
    from ganforge.sampling import generate
    from ganforge.train.callbacks import Callback
    from ganforge.train.trainer import Trainer
    from ganforge.utils.images import save_grid

    torch.set_num_threads(args.threads)
    overrides = {"recipe": "biggan", "data": "fashion-mnist", "data_dir": args.data_dir, "image_size": 32,
                 "steps": args.max_steps, "batch_size": args.batch_size, "g_width": args.width, "d_width": args.width,
                 "seed": args.seed, "threads": args.threads, "sample_every": 0, "checkpoint_every": 0,
                 "log_every": 50, "channels_last": False, "device": "cpu", "collapse_warning": False}
    overrides.update({k: v for k, v in (("lr_g", args.lr_g), ("lr_d", args.lr_d)) if v is not None})
    cfg = make_config(overrides)
    dataset, held_out = load_dataset(cfg), load_dataset(cfg, "test")
    classifier = pretrained(dataset, "cnn")
    # The ceiling for reading agreement: how often the same classifier is right on real held-out images.
    predicted = predict_logits(classifier, held_out).argmax(1)
    real = {"test_accuracy": round(float((predicted == held_out.y).float().mean()), 4),
            "per_class": [round(float((predicted[held_out.y == c] == c).float().mean()), 3)
                          for c in range(dataset.num_classes)]}
    print("eval classifier on real held-out images:", real, flush=True)
    truncations = [None] + [float(t) for t in args.truncations.split(",") if t]
    curve, losses, start, spent = [], {}, time.time(), {"eval_cpu": 0.0, "before_training": 0.0}

    def agreement(trainer, truncation) -> list[float]:
        out = []
        for c in range(dataset.num_classes):
            x, _ = generate(trainer.recipe, trainer.ema.model, args.per_class, seed=c, labels=c, truncation=truncation)
            with torch.no_grad():
                out.append(round(float((classifier(x).argmax(1) == c).float().mean()), 3))
        return out

    def train_cpu() -> float:  # the budget counts training only, not the evaluations
        return time.process_time() - spent["before_training"] - spent["eval_cpu"]

    class Budget(Callback):
        def on_start(self, trainer):
            spent["before_training"] = time.process_time()  # data loading and the classifier are not training

        def on_log(self, trainer, logs):
            losses.update({k: round(float(v), 3) for k, v in logs.items() if "/" not in k})

        def on_step(self, trainer):
            out_of_time = train_cpu() > args.cpu_minutes * 60
            if trainer.step % args.eval_every == 0 or out_of_time:
                before = time.process_time()
                point = {"step": trainer.step, "train_cpu_seconds": round(train_cpu(), 1),
                         "wall_seconds": round(time.time() - start, 1), "losses": dict(losses)}
                for t in truncations:
                    per_class = agreement(trainer, t)
                    point["plain" if t is None else f"truncation {t:g}"] = {
                        "mean": round(sum(per_class) / len(per_class), 3), "min": min(per_class), "per_class": per_class}
                spent["eval_cpu"] += time.process_time() - before
                curve.append(point)
                print(json.dumps(point), flush=True)
            if out_of_time:
                raise OutOfTime

    class OutOfTime(Exception):
        pass

    trainer = Trainer(cfg, run_dir=None, dataset=dataset, callbacks=[Budget()])
    try:
        trainer.fit()
    except OutOfTime:
        pass
    if args.grid:
        IMG.mkdir(exist_ok=True)
        rows = torch.arange(dataset.num_classes).repeat_interleave(8)  # one row per class
        for t, name in ((None, "biggan-fashion.png"), (truncations[-1], "biggan-fashion-truncated.png")):
            x, _ = generate(trainer.recipe, trainer.ema.model, len(rows), seed=0, labels=rows, truncation=t)
            save_grid(dataset.from_model(x), IMG / name, nrow=8)
    result = {"what": "BigGAN class agreement on Fashion-MNIST 32x32: for each class c, the fraction of "
                      f"{args.per_class} EMA samples generated for c that the eval classifier (the real-data CNN of "
                      "ganforge.classifiers, trained on the train split) classifies as c; plain z ~ N(0, I) and "
                      "truncated z (entries beyond T resampled)",
              "command": "python bench/bench_biggan.py " + " ".join(sys.argv[1:]),
              "class_names": getattr(dataset, "class_names", None),
              "eval_classifier_on_real_test_images": real,
              "config": {k: getattr(cfg, k) for k in ("seed", "batch_size", "g_width", "d_width", "z_dim", "lr_g", "lr_d",
                                                      "beta1", "beta2", "n_critic", "loss", "spectral_norm",
                                                      "ema_decay")} | {"options": trainer.recipe.options.__dict__},
              "threads": args.threads, "steps": trainer.step, "train_cpu_seconds": round(train_cpu(), 1),
              "wall_seconds": round(time.time() - start, 1), "curve": curve, "machine": machine()}
    (RESULTS / f"biggan-classes-seed{args.seed}.json").write_text(json.dumps(result, indent=1))


CHILD = """
import resource, sys, time, torch
sys.path.insert(0, {root!r})
from ganforge.config import make_config
from ganforge.data import load_dataset, make_sampler
torch.set_num_threads(1)
cfg = make_config({cfg!r})
data = load_dataset(cfg)
sampler = make_sampler(data, 64, 0)
start, cpu = time.time(), time.process_time()
for _ in range(200):
    sampler.next()
seconds, cpu = time.time() - start, time.process_time() - cpu
print(200 * 64 / seconds, 200 * 64 / cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def streaming(args) -> None:
    from PIL import Image

    from ganforge.data.packed import pack

    source = load_dataset(make_config({"data": "fashion-mnist", "data_dir": args.data_dir}))
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "png"
        for i in range(args.images):
            target = folder / str(int(source.y[i]))
            target.mkdir(parents=True, exist_ok=True)
            Image.fromarray(source.x[i, 0].numpy()).save(target / f"{i:05d}.png")
        start = time.time()
        pack(folder, Path(tmp) / "fashion.zip", size=32)
        pack_seconds = time.time() - start
        cases = {"in-memory (image-folder)": {"data": "image-folder", "data_dir": str(folder), "image_size": 32},
                 "packed, 0 workers": {"data": "packed", "data_dir": f"{tmp}/fashion.zip",
                                       "options": {"workers": 0, "memory_cap_mb": 4}},
                 "packed, 2 workers": {"data": "packed", "data_dir": f"{tmp}/fashion.zip",
                                       "options": {"workers": 2, "memory_cap_mb": 4}}}
        for name, cfg in cases.items():
            code = CHILD.format(root=str(ROOT), cfg=cfg)
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            images_per_s, per_cpu_s, peak_mib = map(float, out.stdout.split())
            rows[name] = {"images_per_s": round(images_per_s), "images_per_trainer_cpu_s": round(per_cpu_s),
                          "peak_rss_mib": round(peak_mib)}
            print(name, rows[name], flush=True)
    result = {"what": f"{args.images} Fashion-MNIST images at 32x32 (decoded: {args.images * 1024 / 2**20:.1f} MiB), "
                      "batches of 64, 200 batches per case, one child process each (images_per_trainer_cpu_s: per CPU-second of "
                      "the training process only; workers' CPU not counted)",
              "pack_seconds": round(pack_seconds, 1), "cases": rows, "machine": machine()}
    (RESULTS / "biggan-streaming.json").write_text(json.dumps(result, indent=1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["classes", "streaming"])
    p.add_argument("--data-dir", required=True, help="the Fashion-MNIST folder (IDX files)")
    p.add_argument("--cpu-minutes", type=float, default=30, help="classes: training CPU time (evaluations not counted)")
    p.add_argument("--max-steps", type=int, default=10**6)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--per-class", type=int, default=100, help="classes: samples per class for the agreement")
    p.add_argument("--truncations", default="1.0,0.5", help="classes: truncation thresholds measured besides plain z")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--lr-g", type=float, help="classes: G's lr (default: the recipe's, the paper's 5e-5)")
    p.add_argument("--lr-d", type=float, help="classes: D's lr (default: the recipe's, the paper's 2e-4)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--grid", action="store_true", help="classes: write docs/img/biggan-fashion*.png (rows = classes)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--images", type=int, default=20000)
    args = p.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (classes if args.what == "classes" else streaming)(args)


if __name__ == "__main__":
    main()
