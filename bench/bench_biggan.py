"""BigGAN class control and packed-data streaming, measured on this machine.

    nice -n 10 python bench/bench_biggan.py classes --data-dir ../shared/data/fashion-mnist --minutes 20
    nice -n 10 python bench/bench_biggan.py streaming --data-dir ../shared/data/fashion-mnist

``classes``: BigGAN (the recipe's YAML: hinge, SN in G and D, ortho reg, G EMA, two D steps per G step)
on Fashion-MNIST at 32x32 for a wall-clock budget; every ``--eval-every`` steps the eval classifier (the
real-data CNN of ``ganforge.classifiers``) classifies 100 EMA samples per requested class, plain and
truncated at 1.0. Writes bench/results/biggan-classes.json and docs/img/biggan-fashion.png.

``streaming``: packs N Fashion-MNIST images (written as PNG class folders first) and reads batches of
64 through the packed dataset with 0 and 2 workers and from memory; reports images/s and the peak
resident memory of a child process (its workers not counted) that draws 200 batches each way under a 4 MiB ``memory_cap_mb``.
Writes bench/results/biggan-streaming.json. Load average and CPU flags are recorded: the machine is shared.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
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
    flags = ""
    if Path("/proc/cpuinfo").is_file():
        flags = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("flags")), "")
    return {"loadavg": Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").is_file() else None,
            "cpus": os.cpu_count(), "avx512": "avx512f" in flags, "avx2": "avx2" in flags,
            "python": platform.python_version(), "torch": torch.__version__,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def classes(args) -> None:
    from ganforge.classifiers import pretrained
    from ganforge.sampling import generate
    from ganforge.train.callbacks import Callback
    from ganforge.train.trainer import Trainer
    from ganforge.utils.images import save_grid

    torch.set_num_threads(args.threads)
    cfg = make_config({"recipe": "biggan", "data": "fashion-mnist", "data_dir": args.data_dir, "image_size": 32,
                       "steps": 10**6, "batch_size": args.batch_size, "g_width": args.width, "d_width": args.width,
                       "sample_every": 0, "checkpoint_every": 0, "log_every": 50, "channels_last": False,
                       "device": "cpu", "collapse_warning": False})
    dataset = load_dataset(cfg)
    classifier = pretrained(dataset, "cnn")
    curve, start = [], time.time()

    def agreement(trainer, truncation=None) -> list[float]:
        out = []
        for c in range(dataset.num_classes):
            x, _ = generate(trainer.recipe, trainer.ema.model, 100, seed=c, labels=c, truncation=truncation)
            with torch.no_grad():
                out.append(round(float((classifier(x).argmax(1) == c).float().mean()), 3))
        return out

    class Budget(Callback):
        def on_step(self, trainer):
            if trainer.step % args.eval_every == 0:
                plain, truncated = agreement(trainer), agreement(trainer, 1.0)
                curve.append({"step": trainer.step, "seconds": round(time.time() - start, 1),
                              "mean_agreement": round(sum(plain) / len(plain), 3), "min_agreement": min(plain),
                              "mean_agreement_trunc1": round(sum(truncated) / len(truncated), 3), "per_class": plain})
                print(curve[-1], flush=True)
            if time.time() - start > args.minutes * 60:
                raise OutOfTime

    class OutOfTime(Exception):
        pass

    trainer = Trainer(cfg, run_dir=None, dataset=dataset, callbacks=[Budget()])
    try:
        trainer.fit()
    except OutOfTime:
        pass
    x, _ = generate(trainer.recipe, trainer.ema.model, 80, seed=0, labels=torch.arange(10).repeat_interleave(8))
    IMG.mkdir(exist_ok=True)
    save_grid(dataset.from_model(x), IMG / "biggan-fashion.png", nrow=8)
    result = {"what": "BigGAN class agreement on Fashion-MNIST 32x32 (eval classifier: real-data CNN)",
              "config": {k: getattr(cfg, k) for k in ("batch_size", "g_width", "d_width", "z_dim", "lr_g", "lr_d",
                                                      "n_critic", "ema_decay")},
              "threads": args.threads, "steps": trainer.step, "curve": curve, "machine": machine()}
    (RESULTS / "biggan-classes.json").write_text(json.dumps(result, indent=1))


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
    p.add_argument("--minutes", type=float, default=20)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--images", type=int, default=20000)
    args = p.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (classes if args.what == "classes" else streaming)(args)


if __name__ == "__main__":
    main()
