"""``ganforge serve``: trained generators over HTTP, with micro-batching, limits, an API key, metrics
and the explorer page. This module holds the routes (``create_app``), ``load_models`` and ``serve``;
the pieces they use live beside it: ``api`` (``Settings``, ``RequestError``, the JSON request bodies),
``guard`` (API key, body limits, request metrics), ``served`` (``ServedModel``, PCA directions,
explorer latents), ``batcher`` (micro-batching) and ``codec`` (PNG out, uploads in).

Why FastAPI + uvicorn: an ASGI server holds many slow or idle connections on one event loop for the
cost of a coroutine each, which is what lets concurrent requests wait *together* for one batched
forward pass (a WSGI server such as Flask's gives each request a thread and no natural place to
batch). FastAPI (on Starlette) is widely used and well maintained, validates JSON bodies with
pydantic (wrong types become a 4xx with the field named), and ships a test client; uvicorn is the
reference ASGI server (h11 HTTP parser, graceful shutdown, connection limits). TorchServe / Triton
were not chosen: they deploy model archives (TorchServe's are pickles) and a JVM / C++ server for
what is one small network here.

Request flow: the ASGI guard (``ganforge.deploy.guard``) checks the API key and reads the body with
a size cap and a deadline (slow bodies get 408, big ones 413), then the route validates it against
the strict bodies of ``ganforge.deploy.api``. Sampling a model whose recipe is one network call
(``ganforge.deploy.graph``) draws its inputs (z, labels) from the request's seed, and queues them on
the model's ``MicroBatcher`` (``ganforge.deploy.batcher``), which runs the requests that arrive
together as ONE forward pass on the inference thread (a single worker thread: the event loop never
runs torch); results are split back per request and encoded (PNG / JSON) on their own thread. Every
error is a 4xx with a one-line JSON ``{"error": ...}``; the server itself keeps running.

Models load from safetensors + JSON only (``ganforge.load``): no pickles, no code.
"""
# no `from __future__ import annotations`: FastAPI reads the route annotations (local pydantic models) at runtime

import asyncio
import base64
import contextlib
import io
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import torch

from ganforge.deploy.api import RequestError, Settings, request_bodies
from ganforge.deploy.codec import decode_upload, png_bytes
from ganforge.deploy.guard import Guard, is_loopback
from ganforge.deploy.metrics import Registry
from ganforge.deploy.served import ServedModel, latent_of
from ganforge.errors import GanforgeError

EXPLORER = Path(__file__).with_name("explorer")


def _fastapi():
    try:
        import fastapi  # noqa: F401
    except ImportError:
        raise GanforgeError("the server needs FastAPI and uvicorn: pip install 'ganforge[serve]'.") from None
    return fastapi


def load_models(specs: list[str], device: str = "cpu") -> dict[str, Any]:
    """RUN or NAME=RUN arguments -> {name: TrainedGenerator} (names unique, URL-safe)."""
    import re

    import ganforge

    models, paths = {}, {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            path, name = spec, Path(spec.rstrip("/")).name or "model"
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", name):
            raise GanforgeError(f"model name {name!r} must be letters, digits, '.', '_' or '-' (at most 64); "
                                "name it with NAME=RUN.")
        if name in models:
            raise GanforgeError(f"two models are named {name!r}; name them with NAME=RUN.")
        models[name] = ganforge.load(path, device=device)
        paths[name] = path
    return models


def create_app(models: dict[str, Any], settings: Settings | None = None):
    """The ASGI app serving ``{name: TrainedGenerator}``."""
    _fastapi()
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
    from starlette.exceptions import HTTPException as StarletteHTTPException

    settings = settings or Settings()
    registry = Registry()
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ganforge-inference")
    encoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ganforge-encode")
    # quality checks on their own thread: the first one trains the extractor's classifier (seconds to
    # minutes) and must not stall sampling (eval-mode forward passes only read the weights)
    checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ganforge-monitor")
    served = {name: ServedModel(name, gen, settings, registry, executor) for name, gen in models.items()}
    for name, m in served.items():
        registry.set("ganforge_model_info", "a served model (value 1)", 1, model=name, recipe=m.gen.config.recipe,
                     task=m.gen.recipe.task, batched=str(m.graph is not None).lower())
    started = time.time()

    @contextlib.asynccontextmanager
    async def lifespan(app):
        task = None
        if settings.monitor_every > 0:  # scheduled quality checks (ganforge.deploy.monitor)
            from ganforge.deploy.monitor import schedule

            task = asyncio.get_running_loop().create_task(schedule(served, registry, settings, checker))
        yield
        if task is not None:
            task.cancel()

    app = FastAPI(title="ganforge", version=_version(), docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)
    app.state.models, app.state.settings, app.state.registry, app.state.executor = served, settings, registry, executor

    SampleRequest, LatentsRequest = request_bodies()

    # -- errors: one line, 4xx -----------------------------------------------------------------
    def error(status: int, message: str, headers=None):
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    @app.exception_handler(RequestError)
    async def _request_error(request, e: RequestError):
        return error(e.status, e.message, e.headers)

    @app.exception_handler(GanforgeError)
    async def _ganforge_error(request, e: GanforgeError):
        return error(400, str(e).splitlines()[0])

    @app.exception_handler(RequestValidationError)
    async def _validation(request, e: RequestValidationError):
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        msg = first.get("msg", "invalid request")
        if first.get("type") == "json_invalid":
            return error(400, "the request body is not valid JSON.")
        if first.get("type") == "model_attributes_type":
            return error(422, "the request body must be a JSON object.")
        return error(422, f"{where}: {msg}".replace("\n", " "))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request, e):
        if e.status_code == 404:
            return error(404, f"no such endpoint {request.url.path}; see GET /models for the API.")
        if e.status_code == 405:
            return error(405, f"{request.method} is not allowed on {request.url.path}.")
        if e.status_code == 400 and "parsing the body" in str(e.detail):
            return error(400, "the request body is not valid JSON.")
        return error(e.status_code, str(e.detail).splitlines()[0] if e.detail else "bad request")

    @app.exception_handler(Exception)
    async def _internal(request, e):  # a bug, not bad input: logged, 500, the server keeps running
        import traceback

        traceback.print_exception(e)
        return error(500, f"internal error ({type(e).__name__}); see the server log.")

    def model_or_404(name: str) -> ServedModel:
        model = served.get(name)
        if model is None:
            raise RequestError(404, f"no model named {name!r}; served: {', '.join(served) or 'none'}.")
        return model

    def class_label(model: ServedModel, value):
        if value is None:
            return None
        classes = model.gen.num_classes
        if not classes:
            raise RequestError(400, f"model {model.name!r} is unconditional; drop 'class'.")
        if isinstance(value, str):
            names = list(getattr(model.gen.dataset, "class_names", []) or [])
            if value in names:
                return names.index(value)
            if value.isdigit():
                value = int(value)
            else:
                raise RequestError(400, f"unknown class {value[:50]!r}; classes are {', '.join(names[:20]) or '0..' + str(classes - 1)}.")
        if not 0 <= value < classes:
            raise RequestError(400, f"class {value} does not exist; this model has classes 0..{classes - 1}.")
        return value

    def check_n(n: int):
        if n > settings.max_n:
            raise RequestError(413, f"n={n} is more than this server's limit of {settings.max_n} samples per request "
                                    "(--max-n); ask several times.")

    def watermarked(images: torch.Tensor) -> torch.Tensor:
        if settings.watermark is None:
            return images
        from ganforge.provenance.watermark import embed

        return torch.from_numpy(embed(images.numpy(), settings.watermark))

    def images_response(model: ServedModel, x: torch.Tensor, y, fmt: str, nrow=None, extra=None):
        data = model.gen.dataset
        if model.kind != "image":
            if fmt == "png":
                raise RequestError(400, f"model {model.name!r} generates {model.kind} data, not images; ask for "
                                        "format json or csv.")
            values = data.from_model(x)
            if fmt == "csv":
                import numpy as np

                buf = io.StringIO()
                np.savetxt(buf, values.numpy(), delimiter=",", fmt="%.6g")
                return Response(buf.getvalue(), media_type="text/csv")
            return JSONResponse({"model": model.name, "samples": values.tolist(),
                                 "labels": None if y is None else y.tolist(), **(extra or {})})
        images = watermarked(data.from_model(x))
        if fmt == "png":
            from ganforge.utils.images import make_grid

            grid = make_grid(images, nrow)
            scale = max(1, min(8, 256 // max(grid.shape[0], grid.shape[1])))
            return Response(png_bytes(grid, scale), media_type="image/png")
        if fmt == "csv":
            raise RequestError(400, "format csv is for tables and vectors; ask for png or json.")
        return JSONResponse({"model": model.name, "shape": list(images.shape[1:]),
                             "images": [base64.b64encode(png_bytes(im)).decode() for im in images],
                             "labels": None if y is None else y.tolist(), **(extra or {})})

    # -- endpoints -------------------------------------------------------------------------------
    @app.get("/health")
    async def health():
        return {"status": "ok", "models": list(served), "uptime_s": round(time.time() - started, 1)}

    @app.get("/models")
    async def list_models():
        return {"models": [m.describe() for m in served.values()]}

    @app.get("/models/{name}")
    async def one_model(name: str):
        return model_or_404(name).describe()

    @app.post("/models/{name}/sample")
    async def sample(name: str, req: SampleRequest):
        model = model_or_404(name)
        check_n(req.n)
        label = class_label(model, req.class_)
        knobs = {"truncation": req.truncation, "mix": tuple(req.mix) if req.mix else None, "codes": req.codes,
                 "prompt": req.prompt, "domain": req.domain}
        given = {k: v for k, v in knobs.items() if v is not None}
        gen = model.gen
        if gen.recipe.task not in ("noise", "class", "table"):
            raise RequestError(400, f"model {name!r} translates inputs (task {gen.recipe.task!r}); POST an image to "
                                    f"/models/{name}/translate.")
        gen.recipe.check_knobs({"labels": label, **given})  # unknown knobs: 400 naming what it takes
        if model.graph is not None and set(given) <= set(model.graph.knobs):
            inputs = model.graph.make_inputs(req.n, req.seed, **({"labels": label} if label is not None else {}), **given)
            x = await model.batcher.submit(inputs, req.n)
            y = inputs.get("labels")
        else:
            if hasattr(gen.recipe, "sample_frame") and req.format != "png" and not given:  # tables: decoded rows
                frame = await run_off_loop(lambda: gen.recipe.sample_frame(req.n, seed=req.seed, label=label))
                record_samples(name, req.n)
                if req.format == "csv":
                    return Response(frame.to_csv(index=False), media_type="text/csv")
                return JSONResponse({"model": name, "rows": json.loads(frame.to_json(orient="records")),
                                     "seed": req.seed})
            x, y = await run_off_loop(lambda: gen.sample_with_labels(req.n, seed=req.seed, labels=label, **given))
        record_samples(name, req.n)
        return await encode(images_response, model, x, y, req.format, req.nrow, {"seed": req.seed})

    @app.post("/models/{name}/latents")
    async def latents(name: str, req: LatentsRequest):
        """Explorer sampling: each item is z(seed), slerped towards z(towards) by t, moved along PCA
        directions by pca[i] standard deviations, plus jitter * N(0, I) drawn from jitter_seed."""
        model = model_or_404(name)
        if model.graph is None or not model.graph.latent_dim:
            raise RequestError(400, f"model {name!r} has no latent space to explore (task {model.gen.recipe.task!r}).")
        check_n(len(req.items))
        label = class_label(model, req.class_)
        if req.truncation is not None and "truncation" not in model.graph.input_names:
            raise RequestError(400, f"model {name!r} has no truncation; drop 'truncation'.")
        n = len(req.items)
        knobs = {"labels": label} if label is not None else {}
        if req.truncation is not None:
            knobs["truncation"] = req.truncation
        inputs = model.graph.make_inputs(n, 0, **knobs)
        per_item = [class_label(model, item.class_) for item in req.items]
        if any(c is not None for c in per_item):
            labels = inputs["labels"].clone()
            for i, c in enumerate(per_item):
                if c is not None:
                    labels[i] = c
            inputs["labels"] = labels
        z = torch.stack([latent_of(model, item) for item in req.items])
        inputs["z"] = z.to(device=inputs["z"].device, dtype=inputs["z"].dtype)
        x = await model.batcher.submit(inputs, n)
        record_samples(name, n)
        extra = {"latents": [[round(v, 5) for v in row] for row in z.tolist()]} if req.return_latents else None
        return await encode(images_response, model, x, inputs.get("labels"), req.format, None, extra)

    @app.post("/models/{name}/translate")
    async def translate(name: str, request: Request, format: Literal["png", "json"] = "png"):
        model = model_or_404(name)
        if "translate" not in model.endpoints():
            raise RequestError(400, f"model {name!r} samples from {model.gen.recipe.task}; use /models/{name}/sample.")
        data = await read_upload(request)
        c, size = model.gen.dataset.shape[0], model.gen.dataset.shape[-1]
        image = await run_off_loop(lambda: decode_upload(data, size, c, settings.max_image_pixels))
        x_in = model.gen.dataset.to_model(image[None], "image").to(model.gen.recipe.device)
        if model.graph is not None:
            x = await model.batcher.submit({"image": x_in}, 1)
        else:
            x = await run_off_loop(lambda: model.gen.translate(x_in))
        record_samples(name, 1)
        if format == "png":
            out = watermarked(model.gen.dataset.from_model(x, "image"))[0]
            scale = max(1, min(8, 256 // out.shape[-1]))
            return Response(await encode(png_bytes, out, scale), media_type="image/png")
        return await encode(images_response, model, x, None, "json")

    @app.post("/models/{name}/quality")
    async def quality(name: str, samples: int | None = None):
        model = model_or_404(name)
        from ganforge.deploy.monitor import check_quality, publish_quality

        n = samples or settings.monitor_samples
        if not 10 <= n <= 50000:
            raise RequestError(400, f"samples={n} must be between 10 and 50000.")
        result = await asyncio.get_running_loop().run_in_executor(checker, check_quality, model, n)
        publish_quality(registry, name, result)
        return {"model": name, **result}

    @app.get("/metrics")
    async def metrics():
        registry.set("ganforge_uptime_seconds", "seconds since the server started", time.time() - started)
        for m in served.values():
            registry.set("ganforge_queued_samples", "samples waiting for a forward pass", m.batcher.waiting, model=m.name)
        return PlainTextResponse(registry.render(), media_type="text/plain; version=0.0.4")

    @app.get("/")
    async def index():
        return FileResponse(EXPLORER / "index.html", media_type="text/html")

    @app.get("/explorer/{asset}")
    async def asset(asset: str):
        if asset not in ("app.js", "style.css"):
            raise RequestError(404, f"no such asset {asset[:40]!r}.")
        return FileResponse(EXPLORER / asset, media_type="text/javascript" if asset.endswith(".js") else "text/css")

    async def encode(fn, *args):
        """PNG/JSON encoding on its own thread: off the event loop, overlapping the next forward pass."""
        return await asyncio.get_running_loop().run_in_executor(encoder, fn, *args)

    async def run_off_loop(fn):
        try:
            return await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(executor, fn), settings.timeout)
        except asyncio.TimeoutError:
            raise RequestError(503, f"the request did not finish within {settings.timeout:g} s.") from None

    async def read_upload(request: Request) -> bytes:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):
            try:
                form = await request.form(max_files=1, max_fields=4)
            except Exception as e:  # noqa: BLE001 - python-multipart's parse errors
                raise RequestError(400, f"the multipart body cannot be parsed ({type(e).__name__}); send one file "
                                        "field named 'image'.") from None
            upload = form.get("image")
            if upload is None or not hasattr(upload, "read"):
                raise RequestError(400, "the multipart body has no file field named 'image'.")
            return await upload.read()
        if ctype.startswith("image/") or ctype == "application/octet-stream":
            return await request.body()
        raise RequestError(415, f"send the image as multipart/form-data (field 'image') or a raw image/* body, not "
                                f"{ctype[:60] or 'no content type'!r}.")

    def record_samples(name, n):
        registry.inc("ganforge_samples_total", "samples generated", n, model=name)

    app.add_middleware(Guard, settings=settings, registry=registry, models=tuple(served))

    return app



def _version() -> str:
    from ganforge.version import __version__

    return __version__


def serve(models: dict[str, Any], host: str = "127.0.0.1", port: int = 8000, settings: Settings | None = None,
          limit_concurrency: int = 256, log_level: str = "warning") -> None:
    """Run the server until interrupted (blocking)."""
    import socket
    import sys

    settings = settings or Settings()
    try:
        import uvicorn
    except ImportError:
        raise GanforgeError("the server needs FastAPI and uvicorn: pip install 'ganforge[serve]'.") from None
    try:  # a taken port or a bad address: a clear error before anything starts
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as e:
        raise GanforgeError(f"cannot listen on {host}:{port} ({e.strerror or e}); choose another --port or --host.") from None
    if not is_loopback(host) and not settings.api_key:
        print(f"ganforge: warning: serving on {host} (reachable from other machines) without an API key; anyone who "
              "can reach it can use it. Set --api-key or GANFORGE_API_KEY.", file=sys.stderr)
    app = create_app(models, settings)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, limit_concurrency=limit_concurrency,
                            timeout_keep_alive=5, timeout_graceful_shutdown=5, server_header=False)
    print(f"ganforge: serving {', '.join(models)} on http://{host}:{port}/ (explorer at /, API at /models)",
          file=sys.stderr)
    uvicorn.Server(config).run()
