"""Deployment benchmarks: server load (micro-batching vs one request per forward pass) and the latency of
one 64x64 sample in PyTorch vs ONNX Runtime.

    python bench/bench_deploy.py --clients 50 --seconds 60 --threads 1 --out bench/results/deploy.json

1. Trains a DCGAN-64 (digits resized to 64x64; 3 steps: the weights do not matter for speed) unless
   --run is given, and exports it to ONNX.
2. Latency: one sample (batch 1), PyTorch (the generator, eval, no_grad) vs onnxruntime on the exported
   graph, both with --threads intra-op threads; median / p90 over --latency-reps calls after warm-up.
3. Load: for each mode (batching, no batching) starts `ganforge serve` in a subprocess on a free loopback
   port and runs --clients concurrent clients (asyncio + httpx, one process) for --seconds; each client
   loops POST /models/m/sample {"n": 1, "seed": k} (a PNG) over its own kept-alive connection (a minimal
   asyncio HTTP/1.1 client, much cheaper than httpx on a 2-core box shared with the server). Reports requests, errors, images/s and
   p50 / p90 / p99 latency, plus the server's mean batch size from /metrics.

The machine is shared: /proc/loadavg is recorded before and after each measurement.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's ganforge, whatever is installed


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "n/a"


def cpu_flags() -> list[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    return sorted({f for f in ("avx512_bf16", "amx_bf16", "avx2") if re.search(rf"\b{f}\b", text)})


def percentile(values, q):
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def train_model(out: Path) -> Path:
    import ganforge

    return ganforge.train({"recipe": "dcgan", "data": "digits", "image_size": 64, "steps": 3, "batch_size": 8,
                           "log_every": 3, "sample_every": 0, "checkpoint_every": 3, "out": str(out)})


def latency(run: Path, onnx_path: Path, threads: int, reps: int) -> dict:
    import numpy as np
    import onnxruntime as ort
    import torch

    import ganforge
    from ganforge.deploy.graph import build_graph

    torch.set_num_threads(threads)
    gen = ganforge.load(run)
    graph = build_graph(gen.recipe, gen.nets)
    z = torch.randn(1, graph.latent_dim)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    feed = {"z": z.numpy()}

    def timed(fn):
        for _ in range(10):
            fn()
        out = []
        for _ in range(reps):
            t = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t) * 1000)
        return out

    with torch.no_grad():
        torch_ms = timed(lambda: graph.module(z))
    ort_ms = timed(lambda: session.run(None, feed))
    # the ceiling of micro-batching on this CPU: PyTorch forward time per image by batch size
    per_image = {}
    with torch.no_grad():
        for b in (1, 4, 16, 64):
            zb = torch.randn(b, graph.latent_dim)
            graph.module(zb)
            reps_b = max(3, reps // (4 * b))
            t = time.perf_counter()
            for _ in range(reps_b):
                graph.module(zb)
            per_image[str(b)] = round((time.perf_counter() - t) * 1000 / (reps_b * b), 3)
    diff = float(np.abs(session.run(None, feed)[0] - graph.module(z).detach().numpy()).max())
    summary = lambda v: {"median_ms": round(statistics.median(v), 3), "p90_ms": round(percentile(v, 0.9), 3)}  # noqa: E731
    return {"pytorch": summary(torch_ms), "onnxruntime": summary(ort_ms), "max_abs_diff": diff,
            "pytorch_ms_per_image_by_batch": per_image,
            "generator_parameters": sum(p.numel() for p in graph.module.parameters()), "threads": threads, "reps": reps}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _request(reader, writer, host: str, body: bytes) -> tuple[int, bytes]:
    """One POST over a kept-alive connection (a minimal HTTP/1.1 client: httpx's own per-request cost,
    in the same 2-core box, was a large share of the CPU the server needs)."""
    writer.write(b"POST /models/m/sample HTTP/1.1\r\nHost: " + host.encode() + b"\r\nContent-Type: application/json\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
    return status, await reader.readexactly(length)


async def _load(url: str, clients: int, seconds: float) -> dict:
    import httpx

    host, port = url.split("//")[1].split(":")
    latencies, errors, statuses = [], 0, {}
    stop = time.perf_counter() + seconds

    async def worker(k: int):
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        i = 0
        while time.perf_counter() < stop:
            t = time.perf_counter()
            try:
                status, content = await _request(reader, writer, host, json.dumps({"n": 1, "seed": k * 1_000_000 + i}).encode())
                ok = status == 200 and content[:4] == b"\x89PNG"
                statuses[status] = statuses.get(status, 0) + 1
            except (OSError, asyncio.IncompleteReadError, ValueError, AttributeError):
                ok = False
                writer.close()
                reader, writer = await asyncio.open_connection(host, int(port))
            if ok:
                latencies.append(time.perf_counter() - t)
            else:
                errors += 1
            i += 1
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*[worker(k) for k in range(clients)])
    elapsed = time.perf_counter() - start
    metrics = httpx.get(url + "/metrics", timeout=30).text

    def metric(name):
        m = re.search(rf'^{name}{{model="m"}} (\S+)$', metrics, re.M)
        return float(m.group(1)) if m else float("nan")
    passes = metric("ganforge_batch_requests_count")
    ms = [v * 1000 for v in latencies]
    return {"requests_ok": len(latencies), "errors": errors, "status_counts": statuses, "seconds": round(elapsed, 2),
            "images_per_s": round(len(latencies) / elapsed, 2), "p50_ms": round(percentile(ms, 0.5), 1),
            "p90_ms": round(percentile(ms, 0.9), 1), "p99_ms": round(percentile(ms, 0.99), 1),
            "forward_passes": passes, "mean_requests_per_pass": round(metric("ganforge_batch_requests_sum") / passes, 2)
            if passes == passes and passes else None}


def load_test(run: Path, batching: bool, clients: int, seconds: float, threads: int, batch_wait_ms: float = 5.0) -> dict:
    port = free_port()
    cmd = [sys.executable, "-m", "ganforge", "serve", f"m={run}", "--port", str(port), "--threads", str(threads),
           "--max-batch", "64", "--batch-wait-ms", str(batch_wait_ms), "--timeout", "60", "--limit-concurrency", "1000"]
    if not batching:
        cmd.append("--no-batching")
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        import httpx

        deadline = time.time() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.time() > deadline:
                raise RuntimeError("server did not start: " + server.stderr.read().decode()[-2000:])
            time.sleep(0.5)
        before = loadavg()
        result = asyncio.run(_load(f"http://127.0.0.1:{port}", clients, seconds))
        result.update(mode="micro-batching" if batching else "one request per forward pass",
                      loadavg_before=before, loadavg_after=loadavg())
        return result
    finally:
        server.terminate()
        server.wait(20)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, default=None, help="a DCGAN-64 run (default: train one in a temp folder)")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--threads", type=int, default=1, help="intra-op threads for the server and the latency test")
    p.add_argument("--latency-reps", type=int, default=200)
    p.add_argument("--batch-wait-ms", type=float, default=5.0)
    p.add_argument("--skip-load", action="store_true")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "deploy.json")
    args = p.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="ganforge-bench-deploy-"))
    run = args.run or train_model(tmp / "dcgan64")
    import ganforge

    onnx_path = ganforge.export(run, format="onnx", out=tmp / "g.onnx")
    result = {"command": "python " + " ".join(sys.argv), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "cpu_flags": cpu_flags(), "cpus": os.cpu_count(), "python": platform.python_version(),
              "torch": torch.__version__, "model": "dcgan 64x64x1 (digits resized), z_dim 100",
              "note": "shared 2-core machine, loaded by other users; see loadavg"}
    before = loadavg()
    result["latency_one_sample"] = latency(run, onnx_path, args.threads, args.latency_reps)
    result["latency_one_sample"].update(loadavg_before=before, loadavg_after=loadavg())
    print(json.dumps(result["latency_one_sample"], indent=1), flush=True)
    if not args.skip_load:
        result["load"] = []
        for batching in (True, False):
            r = load_test(run, batching, args.clients, args.seconds, args.threads, args.batch_wait_ms)
            print(json.dumps(r, indent=1), flush=True)
            result["load"].append(r)
        b, s = result["load"]
        result["batching_speedup_images_per_s"] = round(b["images_per_s"] / max(s["images_per_s"], 1e-9), 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
