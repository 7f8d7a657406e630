"""Time-to-quality (issue 12): Inception-FID on Fashion-MNIST against wall-clock, side by side with the
classic DCGAN loop (../shared/bench/peer_dcgan.py).

    python bench/bench_quality.py --data-dir ../shared/data/fashion-mnist \
        --peer ../shared/bench/peer_dcgan.py \
        --inception ../shared/models/inception-2015-12-05-pool3.torchscript.pt \
        [--budgets 5,15,30] [--contestants peer,dcgan,hinge,sngan,wgan-gp] [--fid-samples 10000] \
        [--out bench/results/quality.json] [--plot docs/img/quality-fid.png]
        [--stage all|train|fid --samples-dir DIR] [--append]

Protocol:
- Each contestant trains **alone** (contestants run one after the other; run it on a quiet machine:
  the budgets are wall-clock minutes on all of the machine's cores, the issue's "users feel" number).
- ganforge recipes train once, with their defaults on ``fashion-mnist`` (28x28, `--precision auto`),
  for the largest budget; the EMA generator is saved when each budget is reached (saving and the
  trainer's start-up are not counted: only time inside training steps is).
- The peer cannot be snapshotted, so it runs once per budget (``--seconds B``) and writes its samples
  (its 64x64 generator, as its users sample it).
- FID: ``--fid-samples`` generated images (10,000) against the 10,000 Fashion-MNIST test images, the
  FID Inception with the standard resize (docs/METRICS.md), reference statistics cached.
- Every result is written to the JSON as soon as it exists (a stopped run keeps what it measured),
  with the machine (CPU flags), the load and the date.
- ``--stage train`` trains every contestant and keeps its samples in ``--samples-dir`` (rows with
  ``fid: null``); ``--stage fid`` scores them later. Only training is timed, so the FID passes (about
  as long as the training itself on 2 cores) may then share the machine with other work.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from ganforge.config import make_config
from ganforge.data import load_dataset
from ganforge.metrics import evaluate
from ganforge.train.callbacks import sampling_module, sampling_nets
from ganforge.train.trainer import Trainer
from ganforge.utils.hardware import describe_machine, torch_threads

RECIPES = ("dcgan", "hinge", "sngan", "wgan-gp")


def fid(images: torch.Tensor, test, args) -> float:
    return evaluate(images, test, "fid", extractor="inception", inception_weights=args.inception,
                    real_samples=args.real_samples or len(test.x))["fid"]


def run_recipe(recipe: str, args, budgets_s, record):
    """One training run to the largest budget (only time inside training steps counts), the EMA
    generator kept at each budget, then its samples."""
    cfg = make_config({"recipe": recipe, "data": "fashion-mnist", "data_dir": args.data_dir, "seed": args.seed,
                       "steps": 1_000_000})
    trainer = Trainer(cfg, run_dir=None)
    gen = sampling_module(trainer)
    snapshots, spent = {}, 0.0
    with torch_threads(cfg.threads):
        for budget in sorted(budgets_s):
            while spent < budget:
                start = time.perf_counter()
                trainer.train_step()
                if trainer.step % 100 == 0:
                    trainer.pop_logs()  # the loop's one host sync per log interval
                spent += time.perf_counter() - start
            snapshots[budget] = (trainer.step, {k: v.clone() for k, v in gen.state_dict().items()},
                                 describe_machine()["loadavg"])
    for budget, (step, state, load) in snapshots.items():
        gen.load_state_dict(state)
        with torch.no_grad():
            samples = trainer.recipe.sample(args.fid_samples, seed=1, nets=sampling_nets(trainer)).x
        record(recipe, budget, step, samples, trainer.precision, load)


def run_peer(args, budgets_s, record):
    idx = str(Path(args.data_dir) / "train-images-idx3-ubyte.gz")
    for budget in budgets_s:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "peer.npz"
            line = subprocess.run([sys.executable, args.peer, "--idx", idx, "--seconds", str(budget),
                                   "--samples", str(args.fid_samples), "--out", str(out), "--seed", str(args.seed)],
                                  check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
            data = np.load(out)
            images = torch.from_numpy(data["images"]).float().div(127.5).sub(1)[:, None]
            record("peer", budget, int(json.loads(line).get("steps", data.get("steps", -1))), images, "fp32",
                   describe_machine()["loadavg"])


def plot(results: list[dict], path: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.4), dpi=110)
    for name in dict.fromkeys(r["contestant"] for r in results):
        pts = sorted((r["budget_min"], r["fid"]) for r in results if r["contestant"] == name)
        ax.plot(*zip(*pts), marker="o", label=name)
    ax.axhline(20, ls="--", c="grey", lw=0.8)
    ax.set_xlabel("wall-clock minutes of training (2 cores)")
    ax.set_ylabel("Inception FID (10k vs 10k test)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--peer", required=True)
    p.add_argument("--inception", required=True)
    p.add_argument("--budgets", default="5,15,30", help="wall-clock minutes [default: 5,15,30]")
    p.add_argument("--contestants", default="peer," + ",".join(RECIPES))
    p.add_argument("--fid-samples", type=int, default=10_000)
    p.add_argument("--real-samples", type=int, default=0, help="test images for the reference [default: all "
                   "10,000; fewer only to smoke-test the script: such FIDs are not the protocol's]")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="bench/results/quality.json")
    p.add_argument("--plot", default="")
    p.add_argument("--stage", choices=("all", "train", "fid"), default="all",
                   help="train only (samples kept in --samples-dir), score kept samples only, or both [default: all]")
    p.add_argument("--samples-dir", default="", help="where --stage train keeps samples for --stage fid")
    p.add_argument("--append", action="store_true", help="add rows to --out instead of starting it afresh")
    args = p.parse_args()
    if args.stage != "all" and not args.samples_dir:
        p.error("--stage train/fid needs --samples-dir")
    budgets_s = [float(b) * 60 for b in args.budgets.split(",")]
    test = load_dataset(make_config({"data": "fashion-mnist", "data_dir": args.data_dir}), "test")
    out = Path(args.out)
    if args.stage == "fid" or args.append:
        result = json.loads(out.read_text())
        result["command"] += " ; " + " ".join(sys.argv)
    else:
        result = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": describe_machine(),
                  "command": " ".join(sys.argv), "fid_samples": args.fid_samples,
                  "real_samples": args.real_samples or len(test.x), "results": []}

    def save():
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1) + "\n")

    def score(row, samples):
        row["fid"] = round(fid(samples, test, args), 3)
        row["fid_load"] = describe_machine()["loadavg"]
        print(json.dumps(row), flush=True)
        save()

    def record(name, budget_s, step, samples, precision, load):
        row = {"contestant": name, "budget_min": budget_s / 60, "steps": step, "fid": None,
               "precision": precision, "load": load}
        result["results"].append(row)
        if args.stage == "all":
            score(row, samples)
        else:
            Path(args.samples_dir).mkdir(parents=True, exist_ok=True)
            torch.save(samples.to(torch.float32), Path(args.samples_dir) / f"{name}-{budget_s / 60:g}.pt")
            print(json.dumps(row), flush=True)
            save()

    if args.stage == "fid":
        for row in result["results"]:
            if row["fid"] is None:
                score(row, torch.load(Path(args.samples_dir) / f"{row['contestant']}-{row['budget_min']:g}.pt"))
    else:
        for name in args.contestants.split(","):
            if name == "peer":
                run_peer(args, budgets_s, record)
            else:
                run_recipe(name, args, budgets_s, record)
    if args.plot and all(r["fid"] is not None for r in result["results"]):
        plot(result["results"], args.plot)


if __name__ == "__main__":
    main()
