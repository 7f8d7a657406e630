"""A served model and its latent space: ``ServedModel`` (one loaded generator with its inference graph,
micro-batcher and PCA directions), ``compute_pca`` (GANSpace directions for the explorer's sliders) and
``latent_of`` (the z of one ``/latents`` item: seed, slerp, PCA moves, jitter, the prior's range).

Apart from the routes (``server.py``) because it is the model side of a request: what the server
knows about each generator and how an explorer item becomes a latent vector.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import torch

from ganforge.deploy.api import RequestError, Settings
from ganforge.deploy.batcher import MicroBatcher
from ganforge.deploy.graph import InferenceGraph, build_graph
from ganforge.deploy.metrics import Registry
from ganforge.errors import GanforgeError


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
