"""A trained recipe's sampling as one network call: named tensor inputs -> output (model space).

This is what export writes (ONNX, TorchScript) and what the server batches: a recipe whose
``sample`` is "draw inputs, call a network" is split into ``make_inputs(n, seed, **knobs)`` (the
random part: z, balanced labels) and ``module(*inputs)`` (the deterministic part). Concatenating
the inputs of several requests and calling the module once is then exactly micro-batching.

How a recipe gets a graph (first match):

1. **Its own hook**: a recipe may define ``inference_graph(self, nets) -> InferenceGraph``. That is
   where a style-based recipe adds ``truncation`` (and its mean w) as an input, e.g.
   ``InputSpec("truncation", (1,), "float32", default=1.0)`` with the module computing
   ``w = w_avg + psi * (mapping(z) - w_avg)``; the server and the explorer then show a truncation
   slider, and the exported ONNX model takes ``truncation`` as a named input.
2. **Noise / class recipes** built on ``GANRecipe`` (dcgan, wgan, cgan, acgan, began, wavegan, ...):
   inputs ``z`` (``(N, z_dim)`` float32, drawn from the recipe's ``latent_prior``: standard normal, or
   uniform in [-1, 1] for BEGAN and WaveGAN as their papers do) and, for class-conditional ones,
   ``labels`` (``(N,)`` int64). ``make_inputs`` draws z exactly as ``GANRecipe.sample`` does (it calls
   ``recipe.latent`` with ``torch.Generator().manual_seed(seed)``: ``torch.randn(n, z_dim,
   generator=g)``, or ``torch.rand(...) * 2 - 1`` for the uniform prior); labels are balanced
   (0, 1, ..., C-1, 0, ...) or one given class. ``meta["latent_prior"]`` names the prior.
3. **Image-input recipes** (task ``image``) with one inference network and no knob but ``inputs``:
   input ``image`` (``(N, C, H, W)`` float32 in [-1, 1]).

Every graph is checked against ``recipe.sample`` on a few seeds when it is built (the same outputs,
within float tolerance), so a recipe whose sampling is *not* the assumed network call is refused
rather than exported wrongly. What is not exportable, and why, is in ``not_exportable_reason``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from ganforge.errors import GanforgeError


@dataclass
class InputSpec:
    name: str                      # z, labels, image, truncation, ...
    shape: tuple                   # with "batch" for the dynamic first axis, e.g. ("batch", 100)
    dtype: str                     # float32 | int64
    doc: str = ""
    default: Any = None            # for per-request scalars (truncation)


@dataclass
class InferenceGraph:
    module: nn.Module                                  # forward(*inputs in ``inputs`` order) -> output
    inputs: list[InputSpec]
    make_inputs: Callable[..., dict[str, torch.Tensor]] | None  # (n, seed, **knobs) -> {name: tensor}; None: inputs given
    output: InputSpec
    knobs: tuple[str, ...] = ()                        # knobs make_inputs understands
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def input_names(self) -> list[str]:
        return [s.name for s in self.inputs]

    @property
    def latent_dim(self) -> int | None:
        z = next((s for s in self.inputs if s.name == "z"), None)
        return int(z.shape[1]) if z is not None else None

    @torch.no_grad()
    def run(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.module(*[inputs[name] for name in self.input_names]).float()


class _NoiseGraph(nn.Module):
    def __init__(self, generator: nn.Module, conditional: bool):
        super().__init__()
        self.generator, self.conditional = generator, conditional

    def forward(self, z, labels=None):
        return self.generator(z, labels if self.conditional else None)


class _ImageGraph(nn.Module):
    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, image):
        return self.net(image)


def not_exportable_reason(recipe) -> str | None:
    """Why this recipe's sampling is not one network call (None when a graph can be built)."""
    name = recipe.cfg.recipe
    if hasattr(recipe, "inference_graph"):
        return None
    if recipe.task == "table":
        return (f"recipe {name!r} samples tables: its generator draws Gumbel-softmax noise and data-like condition "
                "vectors inside the network from a torch.Generator seeded by z, and a row only exists after the "
                "dataset's inverse transform (mode-specific normalisation, category decoding) in Python; neither "
                "is an ONNX/TorchScript graph. Serve it with `ganforge serve` (CSV) or sample it in Python.")
    from ganforge.recipes.gan import GANRecipe

    if isinstance(recipe, GANRecipe) and recipe.task in ("noise", "class"):
        return None
    if recipe.task == "image" and len(recipe.inference_networks) == 1 and set(recipe.knobs) <= {"inputs"}:
        return None
    return (f"recipe {name!r} (task {recipe.task!r}, knobs {', '.join(recipe.knobs) or 'none'}, networks "
            f"{', '.join(recipe.inference_networks)}) has no single-network sampling that ganforge knows how to "
            "export; give the recipe an `inference_graph(nets)` method (see ganforge/deploy/graph.py).")


def build_graph(recipe, nets: dict[str, nn.Module], check: bool = True) -> InferenceGraph:
    """The recipe's sampling as an InferenceGraph, checked against ``recipe.sample``; GanforgeError if impossible."""
    reason = not_exportable_reason(recipe)
    if reason:
        raise GanforgeError(reason)
    try:
        if hasattr(recipe, "inference_graph"):
            graph = recipe.inference_graph(nets)
        elif recipe.task in ("noise", "class"):
            graph = noise_graph(recipe, nets)
        else:
            graph = _image_graph(recipe, nets)
        graph.module.eval()
        if check:
            _check_against_sample(recipe, nets, graph)
    except (RuntimeError, TypeError, ValueError) as e:
        # the assumed call does not even run (e.g. the generator takes more inputs than z): refuse it the same
        # way as a graph whose outputs differ, so callers (export, the server) only ever see GanforgeError
        raise GanforgeError(f"recipe {recipe.cfg.recipe!r}'s sample() is not the network call ganforge assumed "
                            f"({type(e).__name__}: {str(e)[:120]}); give it an `inference_graph(nets)` method to "
                            "export or batch it.") from e
    return graph


# GANRecipe.latent_prior -> (what z is, how ganforge draws it): written into the export's metadata.
LATENT_PRIORS = {
    "normal": ("standard normal N(0, I)", "torch.randn(n, z_dim, generator=g)"),
    "uniform": ("uniform in [-1, 1]", "torch.rand(n, z_dim, generator=g) * 2 - 1"),
}


def noise_graph(recipe, nets) -> InferenceGraph:
    """z (+ labels) -> the generator, as ``GANRecipe.sample`` draws them; a recipe's own
    ``inference_graph`` can extend it (StyleGAN2 adds a truncation input)."""
    from ganforge.recipes.gan import class_labels

    generator = recipe.inference(nets, "generator")
    z_dim, classes = int(recipe.cfg.z_dim), int(recipe.num_classes)
    device = recipe.device
    prior = getattr(recipe, "latent_prior", "normal")

    def make_inputs(n: int, seed: int = 0, labels=None) -> dict[str, torch.Tensor]:
        g = torch.Generator(device=device).manual_seed(int(seed))
        out = {"z": recipe.latent(n, generator=g)}  # the recipe's own draw: same prior, same numbers
        if classes:
            out["labels"] = class_labels(n, classes, labels, device)
        elif labels is not None:
            raise GanforgeError("this generator is unconditional; drop the class.")
        return out

    inputs = [InputSpec("z", ("batch", z_dim), "float32", f"latent: {LATENT_PRIORS[prior][0]}, float32")]
    if classes:
        inputs.append(InputSpec("labels", ("batch",), "int64", f"class index in 0..{classes - 1}"))
    shape = tuple(recipe.dataset.shape)
    return InferenceGraph(_NoiseGraph(generator, bool(classes)), inputs, make_inputs,
                          InputSpec("x", ("batch", *shape), "float32", _output_doc(recipe)),
                          knobs=("labels",) if classes else (),
                          meta={"z_dim": z_dim, "num_classes": classes,
                                "latent_prior": prior,
                                "z_distribution": f"{LATENT_PRIORS[prior][0]}; ganforge draws it with "
                                                  f"torch.Generator().manual_seed(seed) then {LATENT_PRIORS[prior][1]}"})


def _image_graph(recipe, nets) -> InferenceGraph:
    net = recipe.inference(nets, recipe.inference_networks[0])
    shape = tuple(recipe.dataset.shape)
    return InferenceGraph(_ImageGraph(net), [InputSpec("image", ("batch", *shape), "float32",
                                                       "input image, NCHW float32 in [-1, 1] (uint8 / 127.5 - 1)")],
                          None, InputSpec("x", ("batch", *shape), "float32", _output_doc(recipe)))


def _output_doc(recipe) -> str:
    if recipe.dataset.kind == "image":
        return "images NCHW float32 in [-1, 1]; uint8 = round((x + 1) * 127.5)"
    return f"{recipe.dataset.kind} samples in model space"


def example_inputs(graph: InferenceGraph, n: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    if graph.make_inputs is not None:
        return graph.make_inputs(n, seed)
    g = torch.Generator().manual_seed(seed)
    out = {}
    for spec in graph.inputs:
        shape = (n, *spec.shape[1:])
        out[spec.name] = (torch.rand(shape, generator=g) * 2 - 1) if spec.dtype == "float32" else torch.zeros(shape, dtype=torch.long)
    return out


@torch.no_grad()
def _check_against_sample(recipe, nets, graph: InferenceGraph) -> None:
    for n, seed in ((3, 0), (2, 7)):
        inputs = example_inputs(graph, n, seed)
        ours = graph.run(inputs).cpu()
        if graph.make_inputs is not None:
            theirs = recipe.sample(n, seed=seed, nets=nets).x
        else:
            theirs = recipe.sample(n, seed=seed, nets=nets, inputs=inputs["image"]).x
        if ours.shape != theirs.shape or not torch.allclose(ours, theirs.float(), atol=1e-4, rtol=1e-4):
            raise GanforgeError(f"recipe {recipe.cfg.recipe!r}'s sample() is not the network call ganforge assumed "
                                "(outputs differ); give it an `inference_graph(nets)` method to export or batch it.")
