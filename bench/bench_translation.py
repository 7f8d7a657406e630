"""Translation benchmarks: a short run per method on the emoji data, then held-out scores of the model
and of the trivial baselines (identity, mean training target), through `ganforge train` / `ganforge eval`.

    OMP_NUM_THREADS=1 python bench/bench_translation.py --data ../shared/data/emoji --methods pix2pix \
        --steps 1500 --out bench/runs

Prints one markdown row per (method, scored thing) and writes bench/results/translation.json.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from pathlib import Path

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


def cli() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/data/emoji")
    p.add_argument("--methods", default="pix2pix,cyclegan,stargan")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--seeds", default="0")
    p.add_argument("--out", default="bench/runs")
    p.add_argument("--results", default="bench/results/translation.json")
    args = p.parse_args()
    results = [run(m, args.data, args.steps, Path(args.out), int(s)) for m in args.methods.split(",")
               for s in args.seeds.split(",")]
    path = Path(args.results)
    old = json.loads(path.read_text()) if path.is_file() else []
    path.write_text(json.dumps(old + results, indent=2) + "\n")
    for r in results:
        for what in ("model", "identity", "mean"):
            print(f"| {r['method']} s{r['seed']} | {what} | " + ", ".join(f"{k} {v:.4g}" for k, v in r[what].items()) + " |")


if __name__ == "__main__":
    cli()
