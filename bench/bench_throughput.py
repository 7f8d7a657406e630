"""Training throughput of ganforge's dcgan vs the classic DCGAN loop (../shared/bench/peer_dcgan.py).

Both train the same 64x64 DCGAN (nz 100, width 64, Adam 2e-4/0.5, batch 64) on Fashion-MNIST; runs
alternate peer / ours / ours-bf16 ... `--repeats` times and the medians and the median of the
per-round ratios are reported (ratios within one round share the machine's state).

    python bench/bench_throughput.py --data-dir ../shared/data/fashion-mnist \
        --peer ../shared/bench/peer_dcgan.py --steps 30 --repeats 3

Writes bench/results/throughput.json and prints a Markdown table for docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from ganforge.utils.hardware import describe_machine  # noqa: E402  (CPU flags in every result)


def run_json(cmd: list[str], env: dict) -> dict:
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"command failed: {' '.join(cmd)}\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", required=True, help="folder with Fashion-MNIST's train-images-idx3-ubyte.gz")
    p.add_argument("--peer", required=True, help="path of peer_dcgan.py")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--variants", default="fp32,bf16", help="comma list of ours: fp32, bf16, bf16-compile, fp32-compile")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "throughput.json"))
    a = p.parse_args()

    env = {**os.environ, "OMP_NUM_THREADS": str(a.threads)}
    idx = str(Path(a.data_dir) / "train-images-idx3-ubyte.gz")
    peer_cmd = [sys.executable, a.peer, "--idx", idx, "--steps", str(a.steps), "--warmup", str(a.warmup),
                "--batch-size", str(a.batch_size), "--image-size", "64"]

    def ours_cmd(variant: str) -> list[str]:
        precision, *rest = variant.split("-")
        return [sys.executable, "-m", "ganforge", "bench", "train", "--recipe", "dcgan", "--data", "fashion-mnist",
                "--data-dir", a.data_dir, "--image-size", "64", "--batch-size", str(a.batch_size),
                "--steps", str(a.steps), "--warmup", str(a.warmup), "--precision", precision,
                "--compile", "true" if "compile" in rest else "false", "--json"]

    variants = a.variants.split(",")
    rounds = []
    for r in range(a.repeats):
        row = {"peer": run_json(peer_cmd, env)["img_per_s"]}
        for v in variants:
            row[v] = run_json(ours_cmd(v), env)["img_per_s"]
        rounds.append(row)
        print(f"round {r + 1}: " + ", ".join(f"{k} {v:.1f} img/s" for k, v in row.items()), file=sys.stderr)

    result = {
        "date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()} {os.cpu_count()} cores, "
        f"{platform.processor() or 'CPU'}, no GPU", "machine_facts": describe_machine(), "threads": a.threads, "steps": a.steps, "batch_size": a.batch_size,
        "rounds": rounds,
        "median_img_per_s": {k: statistics.median(r[k] for r in rounds) for k in rounds[0]},
        "median_ratio_vs_peer": {v: statistics.median(r[v] / r["peer"] for r in rounds) for v in variants},
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=1))
    print("| variant | img/s (median) | ratio vs peer (median of rounds) |")
    print("| --- | --- | --- |")
    print(f"| peer_dcgan.py | {result['median_img_per_s']['peer']:.1f} | 1.00 |")
    for v in variants:
        print(f"| ganforge dcgan {v} | {result['median_img_per_s'][v]:.1f} | {result['median_ratio_vs_peer'][v]:.2f} |")


if __name__ == "__main__":
    main()
