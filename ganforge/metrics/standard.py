"""The built-in metrics, registered by name. Each is ``fn(ctx: MetricContext) -> {key: float}``."""
from __future__ import annotations

from ganforge.errors import GanforgeError
from ganforge.metrics import METRICS
from ganforge.metrics.fid import frechet_distance
from ganforge.metrics.inception_score import inception_score
from ganforge.metrics.kid import kernel_inception_distance
from ganforge.metrics.modes import stacked_mnist_modes, toy_mode_metrics
from ganforge.metrics.prdc import density_coverage, precision_recall


@METRICS.register("fid")
def fid(ctx) -> dict[str, float]:
    return {"fid": frechet_distance(*ctx.stats("real"), *ctx.stats("fake"))}


@METRICS.register("kid")
def kid(ctx) -> dict[str, float]:
    mean, std = kernel_inception_distance(ctx.features("real"), ctx.features("fake"),
                                          num_subsets=int(ctx.options.get("kid_subsets", 100)),
                                          subset_size=int(ctx.options.get("kid_subset_size", 1000)),
                                          seed=int(ctx.options.get("seed", 0)))
    return {"kid": mean, "kid_std": std}


@METRICS.register("is")
def inception_score_metric(ctx) -> dict[str, float]:
    mean, std = inception_score(ctx.logits("fake"), splits=int(ctx.options.get("is_splits", 10)))
    return {"is": mean, "is_std": std}


@METRICS.register("pr")
def pr(ctx) -> dict[str, float]:
    return precision_recall(ctx.features("real"), ctx.features("fake"), k=int(ctx.options.get("k", 3)))


@METRICS.register("dc")
def dc(ctx) -> dict[str, float]:
    return density_coverage(ctx.features("real"), ctx.features("fake"), k=int(ctx.options.get("k", 3)))


@METRICS.register("modes")
def modes(ctx) -> dict[str, float]:
    """Toy mixtures: the centres/std come from the dataset (``meta["centres"]``, ``meta["std"]``) or
    the ``mode_centres`` / ``mode_std`` options."""
    meta = getattr(ctx.dataset, "meta", None) or {}
    centres = ctx.options.get("mode_centres", meta.get("centres"))
    std = ctx.options.get("mode_std", meta.get("std"))
    if centres is None or std is None:
        raise GanforgeError("the 'modes' metric needs a toy dataset (toy-ring / toy-grid) or the "
                            "mode_centres and mode_std options.")
    return toy_mode_metrics(ctx.fake, centres, float(std))


@METRICS.register("stacked-mnist-modes")
def stacked_mnist(ctx) -> dict[str, float]:
    """Needs the ``digit_data`` option: a 1-channel labelled MNIST ``Dataset`` to train the digit CNN."""
    from ganforge.classifiers import pretrained

    digits = ctx.options.get("digit_data")
    if digits is None:
        raise GanforgeError("stacked-mnist-modes needs digit_data: the 1-channel MNIST training Dataset.")
    result = stacked_mnist_modes(ctx.fake, pretrained(digits, "cnn"))
    return {"stacked_modes": result["modes"], "stacked_reverse_kl": result["reverse_kl"]}
