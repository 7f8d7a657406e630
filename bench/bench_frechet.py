"""Fréchet distance speed and agreement at 2048-d.

    python bench/bench_frechet.py [--repeats 5] [--out bench/results/frechet.json]

"current" = ``ganforge.metrics.fid.frechet_distance``; "previous" = the implementation of
2026-11-22 (Cholesky + products + ``eigvalsh``; identical on full-rank covariances); "scipy sqrtm" =
the classic pytorch-fid formula, timed once (the slow reference). Each round records wall-clock,
process CPU time and the machine load; ``--threads 1`` gives the CPU time of the work itself, which
a busy shared machine distorts least.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import scipy.linalg
import torch

from ganforge.metrics.fid import feature_stats, frechet_distance
from ganforge.utils.hardware import describe_machine


def previous(mu1, s1, mu2, s2) -> float:
    s1 = (s1 + s1.T) / 2
    chol = torch.linalg.cholesky(s1)
    middle = chol.T @ s2 @ chol
    eig = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp_min(0)
    return float((mu1 - mu2).square().sum() + s1.trace() + s2.trace() - 2 * eig.sqrt().sum())


def sqrtm_reference(mu1, s1, mu2, s2) -> float:
    s1, s2 = s1.numpy(), s2.numpy()
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum().item() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def loadavg() -> float:
    try:
        return float(open("/proc/loadavg").read().split()[0])
    except OSError:
        return float("nan")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dim", type=int, default=2048)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=None, help="torch threads [default: torch's]")
    p.add_argument("--no-sqrtm", action="store_true", help="skip the (slow) scipy.linalg.sqrtm reference")
    p.add_argument("--out", default="bench/results/frechet.json")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    d = args.dim
    mix = torch.randn(d, d, generator=g, dtype=torch.float64) * torch.logspace(0, -2, d, dtype=torch.float64)
    a = torch.randn(2 * d, d, generator=g, dtype=torch.float64) @ mix.T
    b = torch.randn(2 * d, d, generator=g, dtype=torch.float64) @ mix.T * 1.1 + 0.05
    (mu1, s1), (mu2, s2) = feature_stats(a), feature_stats(b)
    impls = {"current": lambda: frechet_distance(mu1, s1, mu2, s2), "previous": lambda: previous(mu1, s1, mu2, s2)}
    values = {name: fn() for name, fn in impls.items()}  # warm-up
    rounds = []
    for r in range(args.repeats):
        for name, fn in (impls.items() if r % 2 == 0 else reversed(impls.items())):
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            rounds.append({"impl": name, "wall_s": time.perf_counter() - w0, "cpu_s": time.process_time() - c0,
                           "load": loadavg()})
            print(rounds[-1], flush=True)
    result = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": describe_machine(),
              "dim": d, "values": values, "rounds": rounds}
    for name in impls:
        walls = [x["wall_s"] for x in rounds if x["impl"] == name]
        cpus = [x["cpu_s"] for x in rounds if x["impl"] == name]
        result[name] = {"wall_median_s": statistics.median(walls), "wall_min_s": min(walls),
                        "cpu_median_s": statistics.median(cpus)}
    result["relative_difference_vs_previous"] = abs(values["current"] - values["previous"]) / values["previous"]
    if not args.no_sqrtm:
        w0 = time.perf_counter()
        values["scipy_sqrtm"] = sqrtm_reference(mu1, s1, mu2, s2)
        result["scipy_sqrtm_wall_s"] = time.perf_counter() - w0
        result["relative_difference_vs_sqrtm"] = abs(values["current"] - values["scipy_sqrtm"]) / values["scipy_sqrtm"]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("rounds", "machine")}, indent=2))


if __name__ == "__main__":
    main()
