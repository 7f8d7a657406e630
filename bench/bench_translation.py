"""Translation benchmarks: a short run per method on the emoji data, then held-out scores of the model
and of the trivial baselines (identity, mean training target), through `ganforge train` / `ganforge eval`.

    OMP_NUM_THREADS=1 python bench/bench_translation.py --data ../shared/data/emoji --methods pix2pix \
        --steps 1500 --out bench/runs

Prints one markdown row per (method, scored thing) and writes bench/results/translation.json.

``--curve EVERY`` instead trains once in-process (the same config as ``ganforge train`` with the same
flags) and scores the held-out translations every EVERY steps, against the training CPU-seconds so far:

    OMP_NUM_THREADS=1 python bench/bench_translation.py --methods stargan --steps 2000 --curve 250 \
        --image-size 32 --batch-size 16

- stargan: ``domain_acc`` (the fraction of outputs that the domain classifier of ``ganforge eval
  --metrics domain_acc`` assigns to the requested domain), with that classifier's accuracy on the real
  test images as its ceiling, and L1 / PSNR / SSIM against the same subject in the target domain;
- cyclegan: ``noto`` = the fraction of Twemoji -> Noto outputs that a vendor classifier (the same CNN,
  trained on the training images of both vendors: Twemoji = 0, Noto = 1) calls Noto, and L1 / PSNR /
  SSIM against the known Noto counterparts; the untranslated inputs and the true counterparts give
  that score's floor and ceiling.
Step 0 is the untrained model (the control). Results go to bench/results/translation-curves.json.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's ganforge, whatever is installed

from ganforge.cli import main  # noqa: E402

STARGAN_DATA = ('{images: color, domain_column: skintone, domains: "|1|2|3|4|5", missing_domain: default, '
                'group_column: base_hexcode, complete: true}')
METHODS = {
    # method: (train flags, eval metrics); widths / lr scaled for CPU budgets (documented in docs/BENCHMARKS.md)
    "pix2pix": (["--data", "paired-folder", "--data-dir", "{data}/openmoji", "--target", "color", "--options",
                 "{source: line, exclude: group=flags, label_column: group}", "--batch-size", "8", "--g-width", "16",
                 "--d-width", "16", "--lr-g", "2e-3", "--lr-d", "2e-3"], "l1,psnr,ssim,fid,kid"),
    "cyclegan": (["--data", "unpaired-folder", "--data-dir", "{data}/vendors", "--target", "noto", "--options",
                  "{source: twemoji}", "--batch-size", "4", "--g-width", "16", "--d-width", "16"], "l1,psnr,ssim"),
    "stargan": (["--data", "domains", "--data-dir", "{data}/openmoji", "--options", STARGAN_DATA, "--batch-size", "8",
                 "--g-width", "16", "--d-width", "16", "--lr-g", "5e-4", "--lr-d", "5e-4"], "domain_acc,l1,psnr,ssim"),
}


def _eval(run: Path, metrics: str, baseline: str | None) -> dict:
    args = ["eval", str(run), "--metrics", metrics, "--json"] + (["--baseline", baseline] if baseline else [])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(args) == 0, args
    return json.loads(out.getvalue().strip().splitlines()[-1])


def run(method: str, data: str, steps: int, out: Path, seed: int) -> dict:
    flags, metrics = METHODS[method]
    run_dir = out / f"{method}-s{seed}"
    start, cpu = time.perf_counter(), time.process_time()
    args = ["train", "--recipe", method, "--steps", str(steps), "--lr-decay-start", str(steps // 2), "--seed", str(seed),
            "--sample-every", str(max(1, steps // 3)), "--checkpoint-every", str(steps), "--channels-last", "false",
            "--device", "cpu", "--out", str(run_dir)] + [f.replace("{data}", data) for f in flags]
    assert main(args) == 0, args
    result = {"method": method, "steps": steps, "seed": seed, "train_s": round(time.perf_counter() - start, 1),
              "train_cpu_s": round(time.process_time() - cpu, 1), "command": "ganforge " + " ".join(args)}
    result["model"] = _eval(run_dir, metrics, None)
    plain = ",".join(m for m in metrics.split(",") if m not in ("domain_acc",))
    for baseline in ("identity", "mean"):
        result[baseline] = _eval(run_dir, metrics if baseline == "identity" else plain, baseline)
    return result


def machine() -> dict:
    flags = ""
    if Path("/proc/cpuinfo").is_file():
        flags = next((line.split(":", 1)[1].split() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("flags")), [])
    return {"loadavg": Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").is_file() else None,
            "cpus": os.cpu_count(), "threads": torch.get_num_threads(), "torch": torch.__version__,
            "cpu_flags": sorted(f for f in flags if f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16")),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def _vendors(dataset):
    """Both vendors' images of an unpaired split labelled Twemoji (0) / Noto (1): the vendor classifier's data."""
    from ganforge.data.base import Dataset

    a, b = dataset.sources["A"].x, dataset.sources["B"].x
    return Dataset("vendors", torch.cat([a, b]), torch.cat([torch.zeros(len(a)), torch.ones(len(b))]).long(), 2,
                   ["twemoji", "noto"], kind="image")


def _scorer(method: str, train, test, recipe):
    """(inputs, knobs, fixed facts, score(outputs) -> dict) of the held-out translations."""
    from ganforge.classifiers import classifier_accuracy, pretrained
    from ganforge.metrics.translation import (DOMAIN_JUDGE, domain_accuracy, domain_judge_real_accuracy, paired_scores,
                                              to_255)

    inputs, truth, knobs = recipe.eval_pairs(test)
    if method == "stargan":
        facts = {"classifier": DOMAIN_JUDGE, "classifier_real_test_accuracy": domain_judge_real_accuracy(train, test),
                 "identity": {"domain_acc": domain_accuracy(inputs, knobs["domain"], train),
                              **paired_scores(inputs, truth)}}
        return inputs, knobs, facts, lambda out: {"domain_acc": domain_accuracy(out, knobs["domain"], train),
                                                  **paired_scores(out, truth)}
    clf = pretrained(_vendors(train), "cnn")  # cached like every classifier

    def noto(x):
        with torch.no_grad():
            return float((clf(to_255(x).float() / 127.5 - 1).argmax(1) == 1).float().mean())

    facts = {"classifier_real_test_accuracy": classifier_accuracy(clf, _vendors(test)),
             "identity": {"noto": noto(inputs), **paired_scores(inputs, truth)}, "truth": {"noto": noto(truth)}}
    return inputs, knobs, facts, lambda out: {"noto": noto(out), **paired_scores(out, truth)}


def curve(method: str, data: str, steps: int, every: int, seed: int, extra: list[str], save=None) -> dict:
    """One in-process training run of ``method`` scored every ``every`` steps (see the module docstring);
    ``save(result)`` after each point, so a stopped run keeps what it measured."""
    from ganforge.cli import build_parser
    from ganforge.commands.train import resolve_config
    from ganforge.data import load_dataset
    from ganforge.train.trainer import Trainer

    torch.set_num_threads(1)
    flags = [f.replace("{data}", data) for f in METHODS[method][0]] + extra
    args = ["train", "--recipe", method, "--steps", str(steps), "--lr-decay-start", str(steps // 2), "--seed",
            str(seed), "--sample-every", "0", "--checkpoint-every", "0", "--log-every", str(every),
            "--channels-last", "false", "--device", "cpu"] + flags
    cfg = resolve_config(build_parser().parse_args(args))
    train, test = load_dataset(cfg, "train"), load_dataset(cfg, "test")
    trainer = Trainer(cfg, run_dir=None, dataset=train)
    recipe = trainer.recipe
    inputs, knobs, facts, score = _scorer(method, train, test, recipe)
    result = {"method": method, "seed": seed, "command": "ganforge " + " ".join(args), "machine_start": machine(),
              **facts, "points": []}
    cpu = 0.0
    while True:
        out = recipe.sample(len(inputs), inputs=inputs, **knobs).x
        point = {"step": trainer.step, "train_cpu_s": round(cpu, 1), **score(out)}
        result["points"].append(point)
        print(json.dumps(point), flush=True)
        result["machine_end"] = machine()
        if save is not None:
            save(result)
        if trainer.step >= steps:
            break
        start = time.process_time()
        for _ in range(every):
            trainer.train_step()
        cpu += time.process_time() - start
    return result


def cli() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/data/emoji")
    p.add_argument("--methods", default="pix2pix,cyclegan,stargan")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--seeds", default="0")
    p.add_argument("--out", default="bench/runs")
    p.add_argument("--results", default=None, help="default: bench/results/translation[-curves].json")
    p.add_argument("--curve", type=int, default=0, metavar="EVERY", help="score every EVERY steps of one run")
    args, extra = p.parse_known_args()  # --curve: other flags go to `ganforge train` (--image-size 32 ...)
    if args.curve:
        path = Path(args.results or "bench/results/translation-curves.json")
        done = json.loads(path.read_text()) if path.is_file() else []
        for m in args.methods.split(","):
            for s in args.seeds.split(","):
                done.append(curve(m, args.data, args.steps, args.curve, int(s), extra,
                                  save=lambda r: path.write_text(json.dumps(done + [r], indent=2) + "\n")))
        return
    if extra:
        p.error(f"unrecognised arguments: {' '.join(extra)}")
    results = [run(m, args.data, args.steps, Path(args.out), int(s)) for m in args.methods.split(",")
               for s in args.seeds.split(",")]
    path = Path(args.results or "bench/results/translation.json")
    old = json.loads(path.read_text()) if path.is_file() else []
    path.write_text(json.dumps(old + results, indent=2) + "\n")
    for r in results:
        for what in ("model", "identity", "mean"):
            print(f"| {r['method']} s{r['seed']} | {what} | " + ", ".join(f"{k} {v:.4g}" for k, v in r[what].items()) + " |")


if __name__ == "__main__":
    cli()
