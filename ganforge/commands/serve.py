"""Serve trained generators over HTTP (FastAPI + uvicorn; needs `pip install 'ganforge[serve]'`).

Endpoints:
  GET  /                          the explorer page (sample grid, latent directions, interpolation, upload)
  GET  /health                    liveness: {"status": "ok", "models": [...]}
  GET  /models, /models/NAME      each model's task, classes, knobs, latent size, PCA directions
  POST /models/NAME/sample        {"n": 16, "seed": 0, "class": 3, "format": "png"|"json"|"csv"}
  POST /models/NAME/latents       explorer sampling: {"items": [{"seed": 1, "towards": 2, "t": 0.5, "pca": [1.5]}]}
  POST /models/NAME/translate     an image (multipart field 'image', or a raw image/* body) -> PNG
  POST /models/NAME/quality       FID/KID of fresh samples vs the stored reference statistics
  GET  /metrics                   Prometheus text: requests, latency histogram, batch sizes, errors, quality

Concurrent requests to one model are micro-batched into one forward pass (up to --max-batch samples,
waiting at most --batch-wait-ms); inference runs on a worker thread, never on the event loop. Every
bad request gets a 4xx with a one-line JSON {"error": ...}. With --api-key (or GANFORGE_API_KEY) every
endpoint but /, /health and the page's assets needs 'X-API-Key: KEY' or 'Authorization: Bearer KEY'.
Binding a non-loopback --host without a key prints a warning.

examples:
  ganforge serve runs/dcgan-digits
  ganforge serve digits=runs/dcgan-digits cgan=runs/cgan --port 8080
  GANFORGE_API_KEY=secret ganforge serve runs/dcgan --host 0.0.0.0
"""
from __future__ import annotations

import os

from ganforge.errors import GanforgeError

HELP = "serve generators over HTTP: sampling API, explorer page, Prometheus metrics"


def add_arguments(p):
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders / hub folders, optionally NAME=RUN")
    p.add_argument("--host", default="127.0.0.1", help="address to bind [default: 127.0.0.1, this machine only]")
    p.add_argument("--port", type=int, default=8000, help="port [default: 8000]")
    p.add_argument("--api-key", default=None, help="require this key (default: $GANFORGE_API_KEY; none: open)")
    p.add_argument("--device", default="cpu", help="where the models run, e.g. cpu, cuda, cuda:1 [default: cpu]")
    p.add_argument("--watermark", metavar="KEY", default=None,
                   help="embed an invisible watermark keyed by KEY (or env:NAME) in every image served "
                        "(docs/PROVENANCE.md; the unscaled images of format json verify directly)")
    limits = p.add_argument_group("limits")
    limits.add_argument("--max-n", type=int, default=256, help="samples per request [default: 256]")
    limits.add_argument("--max-upload-mb", type=float, default=10.0, help="request body size in MiB [default: 10]")
    limits.add_argument("--max-image-pixels", type=int, default=4096 * 4096,
                        help="pixels of an uploaded image, checked before decoding [default: 16777216]")
    limits.add_argument("--timeout", type=float, default=30.0, help="seconds a request may take [default: 30]")
    limits.add_argument("--body-timeout", type=float, default=10.0,
                        help="seconds to receive a request body (slow clients get 408) [default: 10]")
    limits.add_argument("--limit-concurrency", type=int, default=256,
                        help="open connections before new ones get 503 [default: 256]")
    batching = p.add_argument_group("batching")
    batching.add_argument("--max-batch", type=int, default=256, help="samples per forward pass [default: 256]")
    batching.add_argument("--batch-wait-ms", type=float, default=5.0,
                          help="how long a forward pass waits for more requests [default: 5]")
    batching.add_argument("--no-batching", action="store_true", help="one request per forward pass (for comparison)")
    batching.add_argument("--threads", type=int, default=None, help="torch intra-op threads [default: torch's]")
    monitor = p.add_argument_group("monitoring")
    monitor.add_argument("--monitor-every", type=float, default=0.0,
                         help="seconds between quality checks (FID/KID vs reference statistics) [default: 0, on request]")
    monitor.add_argument("--monitor-samples", type=int, default=500, help="samples per quality check [default: 500]")


def settings_from(args):
    from ganforge.deploy.api import Settings

    checks = [("--port", args.port, 0, 65535), ("--max-n", args.max_n, 1, 100_000),
              ("--max-upload-mb", args.max_upload_mb, 0.001, 1024), ("--max-image-pixels", args.max_image_pixels, 1, 1 << 30),
              ("--timeout", args.timeout, 0.01, 3600), ("--body-timeout", args.body_timeout, 0.01, 3600),
              ("--max-batch", args.max_batch, 1, 100_000), ("--batch-wait-ms", args.batch_wait_ms, 0, 1000),
              ("--limit-concurrency", args.limit_concurrency, 1, 100_000), ("--monitor-every", args.monitor_every, 0, 1e7),
              ("--monitor-samples", args.monitor_samples, 10, 50_000)]
    for flag, value, low, high in checks:
        if not low <= value <= high:
            raise GanforgeError(f"{flag} {value} is out of range; use a value in [{low:g}, {high:g}].")
    key = args.api_key if args.api_key is not None else os.environ.get("GANFORGE_API_KEY") or None
    if key is not None and len(key) < 8:
        raise GanforgeError("the API key is shorter than 8 characters; use a long random one (e.g. `openssl rand -hex 16`).")
    mark = None
    if args.watermark is not None:
        from ganforge.provenance.files import resolve_key

        mark = resolve_key(args.watermark)
    return Settings(api_key=key, watermark=mark, max_n=args.max_n, max_body_bytes=int(args.max_upload_mb * (1 << 20)),
                    max_image_pixels=args.max_image_pixels, max_batch=args.max_batch,
                    batch_wait=args.batch_wait_ms / 1000, batching=not args.no_batching, timeout=args.timeout,
                    body_timeout=args.body_timeout, monitor_every=args.monitor_every,
                    monitor_samples=args.monitor_samples)


def run(args) -> int:
    settings = settings_from(args)
    from ganforge.deploy.server import _fastapi, load_models, serve

    _fastapi()  # a missing extra: one clear line before loading anything
    if args.threads is not None:
        if not 1 <= args.threads <= 1024:
            raise GanforgeError(f"--threads {args.threads} must be between 1 and 1024.")
        import torch

        torch.set_num_threads(args.threads)
    models = load_models(args.runs, device=args.device)
    serve(models, host=args.host, port=args.port, settings=settings, limit_concurrency=args.limit_concurrency)
    return 0
