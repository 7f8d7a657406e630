"""``ganforge serve``: trained generators over HTTP, with micro-batching, limits, an API key, metrics
and the explorer page.

Why FastAPI + uvicorn: an ASGI server holds many slow or idle connections on one event loop for the
cost of a coroutine each, which is what lets concurrent requests wait *together* for one batched
forward pass (a WSGI server such as Flask's gives each request a thread and no natural place to
batch). FastAPI (on Starlette) is widely used and well maintained, validates JSON bodies with
pydantic (wrong types become a 4xx with the field named), and ships a test client; uvicorn is the
reference ASGI server (h11 HTTP parser, graceful shutdown, connection limits). TorchServe / Triton
were not chosen: they deploy model archives (TorchServe's are pickles) and a JVM / C++ server for
what is one small network here.

Request flow: the ASGI guard (``_Guard``) checks the API key (``hmac.compare_digest``), reads the body
with a size cap and a deadline (slow bodies get 408, big ones 413), then the route validates it.
Sampling a model whose recipe is one network call (``ganforge.deploy.graph``) draws its inputs (z,
labels) from the request's seed, and queues them on the model's ``MicroBatcher``: an asyncio queue
whose consumer gathers the requests that arrive within ``batch_wait`` (up to ``max_batch`` samples),
concatenates them and runs ONE forward pass on the inference thread (a single worker thread: the
event loop never runs torch); results are split back per request. Every error is a 4xx with a
one-line JSON ``{"error": ...}``; the server itself keeps running.

Models load from safetensors + JSON only (``ganforge.load``): no pickles, no code.
"""
# no `from __future__ import annotations`: FastAPI reads the route annotations (local pydantic models) at runtime

import asyncio
import base64
import contextlib
import hmac
import io
import ipaddress
import json
import math
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional, Union

import torch

from ganforge.deploy.graph import InferenceGraph, build_graph
from ganforge.deploy.metrics import BATCH_BUCKETS, Registry
from ganforge.errors import GanforgeError

EXPLORER = Path(__file__).with_name("explorer")
PUBLIC_PATHS = ("/", "/health", "/explorer/app.js", "/explorer/style.css", "/favicon.ico")
MAX_SEED = 2**63 - 1


@dataclass
class Settings:
    api_key: str | None = None
    max_n: int = 256                   # samples per request
    max_body_bytes: int = 10 << 20     # request body (JSON or upload)
    max_image_pixels: int = 4096 * 4096  # uploaded image, before decoding
    max_batch: int = 256               # samples per forward pass
    batch_wait: float = 0.005          # seconds the batcher waits for more requests
    batching: bool = True              # False: one request per forward pass (for comparison)
    timeout: float = 30.0              # seconds a request may wait for its samples
    body_timeout: float = 10.0         # seconds to receive a whole request body
    max_queue: int = 8192              # samples waiting; beyond: 503 + Retry-After
    pca_components: int = 8
    pca_samples: int = 512
    monitor_every: float = 0.0         # seconds between scheduled quality checks (0: on request only)
    monitor_samples: int = 500
    watermark: str | None = None       # key of the invisible watermark put in every served image (docs/PROVENANCE.md)


class RequestError(Exception):
    """A 4xx answer with a one-line reason."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message.splitlines()[0] if message else "bad request", headers


# -- models -------------------------------------------------------------------------------------

class ServedModel:
    """One loaded generator: its graph (when sampling is one network call), batcher, PCA directions."""

    def __init__(self, name: str, gen, settings: Settings, registry: Registry, executor: ThreadPoolExecutor,
                 source: str = ""):
        self.name, self.gen, self.settings, self.source = name, gen, settings, source
        try:
            self.graph: InferenceGraph | None = build_graph(gen.recipe, gen.nets)
        except GanforgeError:
            self.graph = None  # served unbatched through recipe.sample (e.g. tables)
        self.batcher = MicroBatcher(self, registry, executor, settings)
        self.pca = compute_pca(self, settings.pca_components, settings.pca_samples) if self.graph is not None \
            and self.graph.latent_dim and gen.dataset.kind == "image" else None
        self.quality: dict[str, float] = {}

    @property
    def kind(self) -> str:
        return self.gen.dataset.kind

    def describe(self) -> dict:
        gen, graph = self.gen, self.graph
        names = list(getattr(gen.dataset, "class_names", []) or [])
        classes = gen.num_classes
        return {
            "name": self.name, "recipe": gen.config.recipe, "task": gen.recipe.task, "knobs": list(gen.recipe.knobs),
            "data": gen.config.data, "kind": self.kind, "shape": list(gen.dataset.shape), "step": gen.step,
            "num_classes": classes, "classes": (names or [str(i) for i in range(classes)])[:classes] if classes else [],
            "batched": graph is not None, "latent_dim": graph.latent_dim if graph else None,
            "inputs": [s.name for s in graph.inputs] if graph else [],
            "truncation": bool(graph and "truncation" in graph.input_names),
            "pca": {"components": len(self.pca["scale"]), "scale": self.pca["scale"]} if self.pca else None,
            "endpoints": self.endpoints(),
        }

    def endpoints(self) -> list[str]:
        task = self.gen.recipe.task
        out = []
        if task in ("noise", "class", "table"):
            out.append("sample")
        if self.pca is not None or (self.graph and self.graph.latent_dim):
            out.append("latents")
        if task == "image" and self.kind == "image":
            out.append("translate")
        return out


def compute_pca(model: ServedModel, k: int, n: int) -> dict | None:
    """GANSpace-style directions (Härkönen et al., 2020): PCA of generated samples, mapped back to latent
    directions by least squares (z ≈ mean + coords @ U). Unit directions, scaled by the spread of z along
    them, so a slider in [-3, 3] moves about that many standard deviations."""
    graph = model.graph
    with torch.no_grad():
        inputs = graph.make_inputs(n, seed=2**31 - 1)
        x = graph.run(inputs).flatten(1).double()
    z = inputs["z"].double()
    k = max(1, min(k, n - 1, x.shape[1], z.shape[1]))
    xc = x - x.mean(0)
    _, _, v = torch.linalg.svd(xc, full_matrices=False)
    coords = xc @ v[:k].T                                   # (n, k) principal coordinates of the samples
    coords = coords / coords.std(0).clamp_min(1e-12)
    u = torch.linalg.lstsq(coords, z - z.mean(0)).solution  # (k, z_dim): z-direction of each component
    dirs = u / u.norm(dim=1, keepdim=True).clamp_min(1e-12)
    scale = (z @ dirs.T).std(0)
    return {"dirs": dirs.float().cpu(), "scale": [round(float(s), 4) for s in scale]}


# -- micro-batching -----------------------------------------------------------------------------

class _Job:
    __slots__ = ("inputs", "n", "future", "enqueued")

    def __init__(self, inputs: dict[str, torch.Tensor], n: int, future: asyncio.Future):
        self.inputs, self.n, self.future, self.enqueued = inputs, n, future, time.perf_counter()


class MicroBatcher:
    """Collect the requests of one model that arrive within ``batch_wait`` and run them as one forward pass."""

    def __init__(self, model: ServedModel, registry: Registry, executor: ThreadPoolExecutor, settings: Settings):
        self.model, self.registry, self.executor, self.settings = model, registry, executor, settings
        self.queue: asyncio.Queue | None = None
        self.loop = None
        self.task = None
        self.waiting = 0  # samples queued

    def _ensure_started(self):
        loop = asyncio.get_running_loop()
        if self.loop is not loop or self.task is None or self.task.done():
            self.loop, self.queue, self.waiting = loop, asyncio.Queue(), 0
            self.task = loop.create_task(self._consume())

    async def submit(self, inputs: dict[str, torch.Tensor], n: int) -> torch.Tensor:
        self._ensure_started()
        if self.waiting + n > self.settings.max_queue:
            raise RequestError(503, f"server busy: {self.waiting} samples queued; retry shortly.", {"Retry-After": "1"})
        job = _Job(inputs, n, self.loop.create_future())
        self.waiting += n
        await self.queue.put(job)
        try:
            return await asyncio.wait_for(asyncio.shield(job.future), self.settings.timeout)
        except asyncio.TimeoutError:
            job.future.cancel()  # not computed if still queued
            raise RequestError(503, f"sampling did not finish within {self.settings.timeout:g} s; retry with a smaller n.") from None

    async def _consume(self):
        while True:
            first = await self.queue.get()
            jobs, total = [first], first.n
            if self.settings.batching:
                deadline = self.loop.time() + self.settings.batch_wait
                while total < self.settings.max_batch:
                    try:
                        job = self.queue.get_nowait()
                    except asyncio.QueueEmpty:
                        remaining = deadline - self.loop.time()
                        if remaining <= 0:
                            break
                        try:
                            job = await asyncio.wait_for(self.queue.get(), remaining)
                        except asyncio.TimeoutError:
                            break
                    if total + job.n > self.settings.max_batch:
                        await self._run([job])  # too big to join this batch: its own pass, first
                        continue
                    jobs.append(job)
                    total += job.n
            try:
                await self._run(jobs)
            except Exception:  # noqa: BLE001 - _run sets each job's exception; keep consuming
                pass

    async def _run(self, jobs: list[_Job]) -> None:
        total = sum(j.n for j in jobs)
        self.waiting -= total
        live = [j for j in jobs if not j.future.done()]
        if not live:
            return
        names = list(live[0].inputs)
        batch = {k: torch.cat([j.inputs[k] for j in live]) for k in names}
        self.registry.observe("ganforge_batch_samples", "samples per forward pass", sum(j.n for j in live),
                              BATCH_BUCKETS, model=self.model.name)
        self.registry.observe("ganforge_batch_requests", "requests per forward pass", len(live), BATCH_BUCKETS,
                              model=self.model.name)
        try:
            out = await self.loop.run_in_executor(self.executor, self.model.graph.run, batch)
        except Exception as e:  # noqa: BLE001
            for j in live:
                if not j.future.done():
                    j.future.set_exception(e)
            return
        start = 0
        for j in live:
            if not j.future.done():
                j.future.set_result(out[start:start + j.n])
            start += j.n


# -- encoding -----------------------------------------------------------------------------------

def png_bytes(image: torch.Tensor, scale: int = 1) -> bytes:
    """One uint8 (C, H, W) image or an (H, W, C) grid array -> PNG bytes."""
    import numpy as np

    from ganforge.utils.images import to_pil

    arr = image if isinstance(image, np.ndarray) else image.permute(1, 2, 0).cpu().numpy()
    buf = io.BytesIO()
    to_pil(arr, scale).save(buf, format="PNG")
    return buf.getvalue()


def decode_upload(data: bytes, size: int, channels: int, max_pixels: int) -> torch.Tensor:
    """An uploaded image -> uint8 (C, size, size); its pixel count is checked before decoding."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise RequestError(400, "the uploaded image is empty; send a PNG or JPEG file.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
                if w < 1 or h < 1 or w * h > max_pixels:
                    raise RequestError(413, f"the uploaded image is {w}x{h} pixels; the limit is {max_pixels} pixels "
                                            "(--max-image-pixels).")
                if getattr(im, "n_frames", 1) > 1:
                    im.seek(0)
                im.load()
                im = im.convert("L" if channels == 1 else "RGB")
    except RequestError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise RequestError(400, "the upload is not an image ganforge can read (or is a decompression bomb); send a PNG "
                                "or JPEG.") from None
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise RequestError(400, f"the uploaded image is corrupt or truncated ({type(e).__name__}); send a valid PNG or "
                                "JPEG.") from None
    s = min(im.size)
    left, top = (im.width - s) // 2, (im.height - s) // 2
    im = im.crop((left, top, left + s, top + s)).resize((size, size), Image.BILINEAR)
    arr = np.asarray(im, dtype=np.uint8)
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return torch.from_numpy(arr.copy())


# -- the app ------------------------------------------------------------------------------------

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
    from pydantic import BaseModel, ConfigDict, Field
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

    class Body(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    class SampleRequest(Body):
        n: int = Field(16, ge=1, description="number of samples")
        seed: int = Field(0, ge=0, le=MAX_SEED)
        class_: Optional[Union[int, str]] = Field(None, alias="class")
        truncation: Optional[float] = Field(None, ge=0.0, le=2.0)
        mix: Optional[list[int]] = Field(None, min_length=2, max_length=2)
        codes: Optional[dict[str, float]] = Field(None, max_length=64)
        prompt: Optional[str] = Field(None, min_length=1, max_length=1000)
        domain: Optional[str] = Field(None, min_length=1, max_length=100)
        format: Literal["png", "json", "csv"] = "png"
        nrow: Optional[int] = Field(None, ge=1, le=1024)

    class LatentItem(Body):
        z: Optional[list[float]] = Field(None, min_length=1, max_length=65536)
        seed: int = Field(0, ge=0, le=MAX_SEED)
        towards: Optional[int] = Field(None, ge=0, le=MAX_SEED)
        t: float = Field(0.0, ge=0.0, le=1.0)
        pca: list[float] = Field(default_factory=list, max_length=64)
        jitter: float = Field(0.0, ge=0.0, le=10.0)
        jitter_seed: int = Field(0, ge=0, le=MAX_SEED)
        class_: Optional[Union[int, str]] = Field(None, alias="class")  # this item's class (else the request's)

    class LatentsRequest(Body):
        items: list[LatentItem] = Field(..., min_length=1)
        class_: Optional[Union[int, str]] = Field(None, alias="class")
        truncation: Optional[float] = Field(None, ge=0.0, le=2.0)
        format: Literal["png", "json"] = "json"
        return_latents: bool = False

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
        from ganforge.deploy.monitor import check_quality

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

    app.add_middleware(_Guard, settings=settings, registry=registry, models=tuple(served))

    return app


def publish_quality(registry: Registry, name: str, result: dict) -> None:
    for key, value in result.items():
        if key in ("fid", "kid", "kid_std") and isinstance(value, (int, float)) and math.isfinite(value):
            registry.set("ganforge_quality", "quality of the server's own samples vs reference statistics",
                         value, model=name, metric=key)
    registry.set("ganforge_quality_timestamp_seconds", "when the last quality check finished", time.time(), model=name)


def latent_of(model: ServedModel, item) -> torch.Tensor:
    dim = model.graph.latent_dim
    prior = model.graph.meta.get("latent_prior", "normal")
    if item.z is not None:
        if len(item.z) != dim or not all(math.isfinite(v) and abs(v) < 1e4 for v in item.z):
            raise RequestError(422, f"z must be {dim} finite numbers (this model's latent size), got {len(item.z)}.")
        if prior == "uniform" and any(abs(v) > 1 for v in item.z):
            raise RequestError(422, "this model's latent is uniform in [-1, 1]: every z value must lie in [-1, 1].")
        z = torch.tensor(item.z, dtype=torch.float32)
    else:
        z = _z(model, item.seed)
    if item.towards is not None and item.t > 0:
        z = _slerp(z, _z(model, item.towards), item.t)
    if item.pca:
        pca = model.pca
        if pca is None:
            raise RequestError(400, f"model {model.name!r} has no PCA directions.")
        if len(item.pca) > len(pca["scale"]):
            raise RequestError(400, f"pca has {len(item.pca)} values; this model has {len(pca['scale'])} directions.")
        for i, alpha in enumerate(item.pca):
            if not math.isfinite(alpha) or abs(alpha) > 10:
                raise RequestError(422, f"pca[{i}] must be a number in [-10, 10].")
            z = z + alpha * pca["scale"][i] * pca["dirs"][i]
    if item.jitter > 0:
        z = z + item.jitter * torch.randn(dim, generator=torch.Generator().manual_seed(int(item.jitter_seed)))
    if prior == "uniform":
        # A generator trained on z in [-1, 1] never saw values outside it; moves (slerp, PCA, jitter) that
        # leave the cube are projected back onto it rather than extrapolated.
        z = z.clamp(-1.0, 1.0)
    return z


def _z(model: ServedModel, seed: int) -> torch.Tensor:
    """z of a seed, as the recipe's sample(1, seed) draws it: the graph's own draw, so its prior too."""
    return model.graph.make_inputs(1, seed)["z"][0].cpu()


def _slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    na, nb = a.norm(), b.norm()
    cos = torch.clamp((a / na) @ (b / nb), -1.0, 1.0)
    omega = torch.arccos(cos)
    if float(omega) < 1e-6:
        return (1 - t) * a + t * b
    direction = (torch.sin((1 - t) * omega) * a / na + torch.sin(t * omega) * b / nb) / torch.sin(omega)
    return direction * ((1 - t) * na + t * nb)


class _Guard:
    """ASGI middleware: API key, body size cap and deadline, request metrics. Runs before any route."""

    def __init__(self, app, settings: Settings, registry: Registry, models=()):
        self.app, self.settings, self.registry, self.models = app, settings, registry, set(models)
        self.key = settings.api_key.encode() if settings.api_key else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = {"code": 500}

        async def send_tracked(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            problem = self._authorise(scope)
            if problem is None:
                body, problem = await self._read_body(scope, receive, status)
            if problem is not None:
                code, message, headers = problem
                await _send_json(send_tracked, code, {"error": message}, headers)
            elif body is not None:
                await self.app(scope, _replay(body, receive), send_tracked)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or ("unmatched" if status["code"] == 404 else "other")
            model = (scope.get("path_params") or {}).get("name", "")
            if model and model not in self.models:
                model = "unknown"  # bounded label values: names a client makes up are not series
            elapsed = time.perf_counter() - start
            code = status["code"]
            self.registry.inc("ganforge_requests_total", "HTTP requests", endpoint=endpoint, code=str(code), model=model)
            self.registry.observe("ganforge_request_duration_seconds", "request latency", elapsed, endpoint=endpoint)
            if code >= 400:
                self.registry.inc("ganforge_errors_total", "HTTP error answers", code=str(code))

    def _authorise(self, scope):
        if self.key is None or scope["path"] in PUBLIC_PATHS:
            return None
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-api-key")
        auth = headers.get(b"authorization", b"")
        if given is None and auth[:7].lower() == b"bearer ":
            given = auth[7:].strip()
        if not given:
            return 401, "this server needs an API key: send it as 'X-API-Key: KEY' or 'Authorization: Bearer KEY'.", \
                {"WWW-Authenticate": "Bearer"}
        if not hmac.compare_digest(given, self.key):
            return 401, "the API key is wrong.", {"WWW-Authenticate": "Bearer"}
        return None

    async def _read_body(self, scope, receive, status):
        limit = self.settings.max_body_bytes
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                return None, (400, "the Content-Length header is not a number.", None)
            if declared > limit:
                return None, (413, f"the request body is {declared} bytes; the limit is {limit} (--max-upload-mb).", None)
        body = bytearray()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.body_timeout
        more = True
        while more:
            remaining = deadline - loop.time()
            try:
                if remaining <= 0:
                    raise asyncio.TimeoutError
                message = await asyncio.wait_for(receive(), remaining)
            except asyncio.TimeoutError:
                return None, (408, f"the request body did not arrive within {self.settings.body_timeout:g} s.",
                              {"Connection": "close"})
            if message["type"] == "http.disconnect":
                status["code"] = 499  # client gone: nothing to answer (nginx's code, for the metrics)
                return None, None
            body += message.get("body", b"")
            if len(body) > limit:
                return None, (413, f"the request body is over the limit of {limit} bytes (--max-upload-mb).",
                              {"Connection": "close"})
            more = message.get("more_body", False)
        return bytes(body), None


def _replay(body: bytes, receive):
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send_json(send, status: int, payload: dict, headers: dict | None = None):
    data = json.dumps(payload).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


def _version() -> str:
    from ganforge.version import __version__

    return __version__


def is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
