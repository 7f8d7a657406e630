"""Production monitoring: the server scores its own samples against stored reference statistics.

``POST /models/{name}/quality`` (or ``ganforge serve --monitor-every SECONDS``) draws ``n`` samples
from the served model (a new seed each check), extracts features with the ``classifier`` extractor
(ganforge.metrics: a small classifier trained once on the run's training data, cached by data hash)
and computes FID and KID against the reference statistics of the run's test split. Both the
classifier and the reference features are stored in the ganforge cache (``$GANFORGE_CACHE``:
``classifiers/`` and ``reference/``, safetensors + JSON), so only the first check pays for them and
nothing is downloaded. Results go to ``/metrics`` as ``ganforge_quality{model, metric}`` with a
timestamp, so a dashboard sees drift (a replaced model, a corrupted weight file, a changed runtime).
"""
from __future__ import annotations

import asyncio
import math
import sys
import threading
import time

from ganforge.deploy.api import RequestError
from ganforge.deploy.metrics import Registry
from ganforge.errors import GanforgeError

REFERENCE_SAMPLES = 1000
_lock = threading.Lock()


class _Reference:
    def __init__(self, gen):
        from ganforge.data import load_dataset
        from ganforge.metrics import EXTRACTORS
        from ganforge.metrics.reference import reference_features

        if gen.dataset.kind not in ("image", "vector"):
            raise GanforgeError(f"quality checks score images or vectors; this model generates {gen.dataset.kind}.")
        try:
            train = load_dataset(gen.config, "train")
            test = load_dataset(gen.config, "test")
        except GanforgeError as e:
            raise GanforgeError(f"the reference data of this model is not available here ({e})") from None
        if train.y is None:
            raise GanforgeError("the classifier extractor needs labelled training data; this model's data has none.")
        self.extractor = EXTRACTORS.get("classifier")(dataset=train)
        self.reference = reference_features(test, self.extractor, REFERENCE_SAMPLES)
        self.checks = 0


def _reference(model) -> _Reference:
    with _lock:
        ref = getattr(model, "_reference", None)
        if ref is None:
            ref = model._reference = _Reference(model.gen)
        return ref


def check_quality(model, n: int) -> dict:
    """FID / KID of n fresh samples of ``model`` (a ServedModel) against its reference statistics."""
    from ganforge.metrics.fid import feature_stats, frechet_distance
    from ganforge.metrics.kid import kernel_inception_distance

    start = time.perf_counter()
    try:
        ref = _reference(model)
    except GanforgeError as e:
        raise RequestError(409, f"no quality check for model {model.name!r}: {e}") from None
    ref.checks += 1
    seed = 1_000_003 * ref.checks
    if model.gen.recipe.task not in ("noise", "class"):
        raise RequestError(409, f"quality checks sample from noise; model {model.name!r} is task {model.gen.recipe.task!r}.")
    x = model.gen.sample(n, seed=seed)
    features, _ = ref.extractor.extract(x)
    mu, sigma = feature_stats(features)
    fid = frechet_distance(mu, sigma, ref.reference["mu"], ref.reference["sigma"])
    kid, kid_std = kernel_inception_distance(ref.reference["features"], features, num_subsets=20,
                                             subset_size=min(1000, n), seed=0)
    model.quality = {"fid": fid, "kid": kid, "kid_std": kid_std, "samples": n, "seed": seed,
                     "seconds": round(time.perf_counter() - start, 3), "extractor": "classifier",
                     "reference": f"{model.gen.config.data} test split, {len(ref.reference['features'])} samples"}
    return model.quality


async def schedule(served: dict, registry, settings, executor) -> None:
    """Check every model every ``settings.monitor_every`` seconds, off the event loop."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(settings.monitor_every)
        for name, model in served.items():
            try:
                result = await loop.run_in_executor(executor, check_quality, model, settings.monitor_samples)
                publish_quality(registry, name, result)
            except Exception as e:  # noqa: BLE001 - a failed check is reported, never fatal
                registry.inc("ganforge_quality_errors_total", "failed scheduled quality checks", model=name)
                print(f"ganforge: quality check of {name} failed: {getattr(e, 'message', e)}", file=sys.stderr)


def publish_quality(registry: Registry, name: str, result: dict) -> None:
    """A check's FID / KID (finite values only) and its time, as ``/metrics`` gauges."""
    for key, value in result.items():
        if key in ("fid", "kid", "kid_std") and isinstance(value, (int, float)) and math.isfinite(value):
            registry.set("ganforge_quality", "quality of the server's own samples vs reference statistics",
                         value, model=name, metric=key)
    registry.set("ganforge_quality_timestamp_seconds", "when the last quality check finished", time.time(), model=name)
