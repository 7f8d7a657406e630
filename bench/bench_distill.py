"""Distillation benchmark: the pretrained source DCGAN (g_width 32) -> a student of width 8 (pixel + feature losses).

For each: parameters, latency at batch 1 and 64 (PyTorch and ONNX Runtime, 1 and 2 threads, teacher and
student measured alternately so that load hits both alike) and FID (classifier features, 1000 EMA
samples vs 1000 test images of the same nine classes). Writes bench/results/distill.json and
docs/img/distill-samples.png (teacher row, then each student, same latents).

    nice -n 10 python bench/adapt_pretrain.py && nice -n 10 python bench/bench_distill.py
    nice -n 10 python bench/bench_distill.py latency     # the latency part again
    nice -n 10 python bench/bench_distill.py score       # distil missing students, FID again (latencies kept)
"""
from __future__ import annotations

import json
import re
import statistics
import sys
import time
from pathlib import Path

import torch

from adapt_common import ROOT, RUNS, split

import ganforge
from ganforge.distillation import distill
from ganforge.metrics import evaluate
from ganforge.utils.files import atomic_write_text
from ganforge.utils.images import save_grid

STUDENTS = {"w8": {"width": 8}}


def timed(fn, reps: int) -> list[float]:
    for _ in range(3):
        fn()
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def latency(runs: dict[str, Path], threads: int = 2, reps: int = 60) -> dict:
    """Median and minimum (the least disturbed by other jobs) of each model's forward time, in ms."""
    import onnxruntime as ort

    torch.set_num_threads(threads)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    models = {}
    for name, run in runs.items():
        onnx_path = ganforge.export(run, format="onnx", out=Path("/tmp") / f"distill-{name}.onnx")
        models[name] = (ganforge.load(run).module.eval(),
                        ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"]))
    times = {name: {} for name in runs}
    for batch in (1, 64):
        z = torch.randn(batch, 100)
        n = reps // (1 + batch // 16)
        for _ in range(3):  # rounds: each model measured in turn, three times
            for name, (module, session) in models.items():
                with torch.no_grad():
                    times[name].setdefault(f"pytorch_b{batch}", []).extend(timed(lambda: module(z), n))
                times[name].setdefault(f"onnx_b{batch}", []).extend(timed(lambda: session.run(None, {"z": z.numpy()}), n))
    return {name: {"median": {k: round(statistics.median(v), 3) for k, v in t.items()},
                   "min": {k: round(min(v), 3) for k, v in t.items()}} for name, t in times.items()}


def score_runs(runs: dict[str, Path], records: dict, steps: int) -> None:
    """FID and parameters of each run into ``records``; the sample strip of docs/img/distill-samples.png."""
    _, _, full = split("train")
    test_source, _, _ = split("test")
    real = test_source.to_model(test_source.x[:1000])
    z_rows = []
    for name, run in runs.items():
        gen = ganforge.load(run)
        fake = gen.sample(1000, seed=1)
        fid = evaluate(fake, real, "fid", extractor="classifier", train_dataset=full)["fid"]
        records.setdefault(name, {}).update({"fid": round(fid, 2), "generator_parameters": sum(
            p.numel() for p in gen.module.parameters()), "g_width": gen.config.g_width,
            **({"options": STUDENTS[name], "steps": steps} if name in STUDENTS else {})})
        z_rows.append(gen.decode(fake[:12]))
        print(name, records[name], flush=True)
    save_grid(torch.cat(z_rows), ROOT / "docs" / "img" / "distill-samples.png", nrow=12)


def rescore() -> int:
    """Distil the students that are missing and score every run again, keeping the measured latencies."""
    path = ROOT / "bench" / "results" / "distill.json"
    out = json.loads(path.read_text())
    runs = {"teacher": RUNS / "source"}
    for name, kw in STUDENTS.items():
        runs[name] = RUNS / f"student-{name}"
        if not (runs[name] / "checkpoints").is_dir():
            distill(RUNS / "source", out=runs[name], steps=out["results"]["w8"]["steps"], log=print, **kw)
    score_runs(runs, out["results"], out["results"]["w8"]["steps"])
    out["machine"]["fid_date"] = time.strftime("%Y-%m-%d %H:%M UTC")
    atomic_write_text(path, json.dumps(out, indent=2) + "\n")
    return 0


def remeasure_latency() -> int:
    """Only the latency part again (1 and 2 threads), into the existing bench/results/distill.json."""
    path = ROOT / "bench" / "results" / "distill.json"
    out = json.loads(path.read_text())
    runs = {"teacher": RUNS / "source", **{name: RUNS / f"student-{name}" for name in STUDENTS}}
    for name in runs:
        out["results"][name]["latency_ms"] = {}
    for threads in (1, 2):
        for name, lat in latency(runs, threads).items():
            out["results"][name]["latency_ms"][f"{threads}_threads"] = lat
    out["machine"]["latency_loadavg"] = open("/proc/loadavg").read().split()[:3]
    atomic_write_text(path, json.dumps(out, indent=2) + "\n")
    return 0


def main() -> int:
    if sys.argv[1:] == ["latency"]:
        return remeasure_latency()
    if sys.argv[1:] == ["score"]:
        return rescore()
    torch.set_num_threads(1)
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    teacher_run = RUNS / "source"
    runs, records = {"teacher": teacher_run}, {}
    for name, kw in STUDENTS.items():
        out = RUNS / f"student-{name}"
        if not (out / "checkpoints").is_dir():
            start = time.process_time()
            distill(teacher_run, out=out, steps=steps, log=print, **kw)
            records[name] = {"distill_cpu_seconds": round(time.process_time() - start, 1)}
        runs[name] = out
    score_runs(runs, records, steps)
    for threads in (1, 2):
        for name, lat in latency(runs, threads).items():
            records[name].setdefault("latency_ms", {})[f"{threads}_threads"] = lat
    cpuinfo = Path("/proc/cpuinfo").read_text()
    out = {"teacher": "DCGAN g_width 32, Fashion-MNIST without dresses, 2000 steps (bench/adapt_pretrain.py)",
           "metric": "FID, classifier features, 1000 EMA samples vs 1000 test images of the nine classes",
           "results": records,
           "machine": {"loadavg": open("/proc/loadavg").read().split()[:3], "date": time.strftime("%Y-%m-%d %H:%M UTC"),
                       "cpu_flags": sorted({f for f in ("avx2", "avx512_bf16", "amx_bf16") if re.search(rf"\b{f}\b", cpuinfo)}),
                       "note": "shared 2-core machine under heavy load from other jobs: latencies are rough"},
           "command": "python bench/adapt_pretrain.py && python bench/bench_distill.py"}
    atomic_write_text(ROOT / "bench" / "results" / "distill.json", json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
