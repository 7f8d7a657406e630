"""Evaluation: metrics and feature extractors by name, and ``evaluate``.

    from ganforge.metrics import evaluate
    scores = evaluate(fake, real_dataset, ["fid", "kid", "pr"], extractor="inception")

A metric is ``fn(ctx: MetricContext) -> dict[str, float]`` registered with ``@METRICS.register(name)``
(see ``ganforge.metrics.context`` and docs/METRICS.md). An extractor factory is registered in
``EXTRACTORS`` (see ``ganforge.metrics.extractors``). Other teams add metrics as modules here
(e.g. ``compatibility.py``); they are imported below when present.
"""
from __future__ import annotations

import importlib
from typing import Iterable

import torch

from ganforge.errors import GanforgeError
from ganforge.registry import Registry

METRICS: Registry = Registry("metric")
EXTRACTORS: Registry = Registry("feature extractor")


@EXTRACTORS.register("inception")
def _inception(**options):
    from ganforge.metrics.extractors.inception import InceptionExtractor

    return InceptionExtractor(**options)


@EXTRACTORS.register("classifier")
def _classifier(**options):
    from ganforge.metrics.extractors.classifier import ClassifierExtractor

    return ClassifierExtractor(**options)


# Built-in metrics first, then optional modules from other teams (absent modules are skipped).
importlib.import_module("ganforge.metrics.standard")
for _module in ("compatibility", "translation", "ppl", "equivariance", "infogan", "text", "audio", "rprecision"):
    try:
        importlib.import_module(f"ganforge.metrics.{_module}")
    except ModuleNotFoundError as e:
        if e.name != f"ganforge.metrics.{_module}":
            raise

from ganforge.metrics.context import MetricContext  # noqa: E402


def parse_metrics(metrics: str | Iterable[str]) -> list[str]:
    names = [m.strip() for m in (metrics.split(",") if isinstance(metrics, str) else metrics) if m.strip()]
    if not names:
        raise GanforgeError("no metric given; choose from: " + ", ".join(METRICS.names()) + ".")
    for name in names:
        METRICS.get(name)  # unknown names fail before any work
    return names


def _as_model_space(x, what: str):
    if x is None:
        return None
    if hasattr(x, "to_model") and hasattr(x, "x"):
        return x.to_model(x.x)
    if not isinstance(x, torch.Tensor):
        raise GanforgeError(f"{what} must be a tensor in model space or a Dataset, not {type(x).__name__}.")
    return x.detach().cpu()


def check_extractor(recipe, extractor, classifier_kind: str | None = None) -> None:
    """Refuse an extractor whose network the run's discriminator trained on (projected-gan with the Inception,
    or with the ``pyramid`` classifier as ``classifier_kind``): G then optimises those very features and their
    Fréchet distance stops measuring the images (Kynkäänniemi et al., "The Role of ImageNet Classes in
    Fréchet Inception Distance", ICLR 2023)."""
    name = extractor if isinstance(extractor, str) else getattr(extractor, "name", None)
    seen = getattr(recipe, "discriminator_feature_extractors", ())
    if name in seen or (name == "classifier" and f"classifier-{classifier_kind}" in seen):
        other = "classifier" if name != "classifier" else "inception"
        raise GanforgeError(f"this run's discriminator was trained on the {name} network's features, so {name}-based "
                            f"metrics are unreliable for it (Kynkäänniemi et al., ICLR 2023); evaluate with "
                            f"--extractor {other} (Python: extractor={other!r}).")


def evaluate(fake, real, metrics, extractor="classifier", **options) -> dict[str, float]:
    """Score ``fake`` against ``real`` with ``metrics`` (names or a comma-separated string).

    fake: model-space tensor (images (N, C, H, W) in [-1, 1] or (N, D) vectors), a Dataset, or a
      generator with ``.sample(n, seed)`` (then ``samples=`` gives n, default 1000).
    real: model-space tensor, or a ``Dataset`` (its features are cached per extractor and sample
      count; ``real_samples=`` sets the count, default: as many as fake), or None for metrics that
      need none (modes with ``mode_centres``/``mode_std``).
    extractor: "classifier" (default; needs labelled real data: ``train_dataset=`` or the real
      Dataset) or "inception" (``inception_weights=``, ``precision=`` "auto" (default: bf16 where the
      hardware runs it natively) / "fp32" / "bf16", ``trust_extractor=True`` to load a TorchScript
      weights file that is not the official one), or an extractor object.
    options: passed to metrics and the extractor (``generator=``, ``train_dataset=``, ``seed=``,
      ``kid_subsets=``, ``k=``, ``is_splits=``, ``cache=False`` ...).
    Returns {key: float}, e.g. {"fid": ..., "kid": ..., "kid_std": ..., "precision": ..., "recall": ...}.
    """
    names = parse_metrics(metrics)
    generator = options.pop("generator", None)
    sample_here = hasattr(fake, "sample") and not isinstance(fake, torch.Tensor)
    if sample_here:
        generator = fake
    if generator is not None:
        check_extractor(getattr(generator, "recipe", None), extractor, options.get("classifier_kind"))
    if sample_here:
        fake = generator.sample(int(options.get("samples", 1000)), seed=int(options.get("seed", 0)))
    fake = _as_model_space(fake, "fake")
    if fake is None or len(fake) == 0:
        raise GanforgeError("no generated samples to evaluate.")
    dataset = real if hasattr(real, "to_model") else options.pop("dataset", None)
    real_tensor = None if hasattr(real, "to_model") else _as_model_space(real, "real")
    real_shape = tuple(real_tensor.shape[1:]) if real_tensor is not None else (
        tuple(dataset.x.shape[1:]) if dataset is not None else None)
    # Images of different sizes are fine for inception (it resizes); images vs vectors are not.
    if real_shape is not None and (len(real_shape) != fake.dim() - 1 or (fake.dim() == 2 and real_shape != tuple(fake.shape[1:]))):
        raise GanforgeError(f"generated samples have shape {tuple(fake.shape[1:])} but the real data has "
                            f"{real_shape}; they must be of the same kind and size.")
    train_dataset = options.pop("train_dataset", None)
    if train_dataset is None:
        train_dataset = options.pop("classifier_data", None)
    ctx = MetricContext(fake, real_tensor, dataset, train_dataset, generator, extractor, options)
    results: dict[str, float] = {}
    for name in names:
        for key, value in METRICS.get(name)(ctx).items():
            results[key] = float(value)
    return results


__all__ = ["METRICS", "EXTRACTORS", "MetricContext", "check_extractor", "evaluate", "parse_metrics"]
