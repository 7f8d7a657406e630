"""Paired image metrics of translation and restoration: L1, PSNR, SSIM (and their Y-channel variants).

``fake`` and ``real`` are matched image by image (output i vs ground truth i), both model space in
[-1, 1]. Images are first quantised to the 8-bit grid (as saved PNGs) and scored on 0..255:

- ``l1``: mean absolute error on [-1, 1] (pix2pix's scale: |0..255 difference| / 127.5), per pixel;
- ``psnr``: 10 log10(255^2 / MSE) per image, averaged over images (an identical image counts 100 dB);
- ``ssim``: Wang et al. 2004: an 11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, L = 255,
  population (co)variances, mean over the windows that fit inside the image, per channel and then
  averaged; this equals ``skimage.metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=255, channel_axis=...)`` (tests check it against scikit-image
  when it is installed, and against closed-form values always);
- ``psnr_y`` / ``ssim_y``: on the luma channel Y of ITU-R BT.601 (16..235), the super-resolution
  protocol (SRGAN, ESRGAN): RGB is converted, grayscale is used as it is.
"""
from __future__ import annotations

import torch

from ganforge.errors import GanforgeError
from ganforge.metrics import METRICS

WINDOW, SIGMA, K1, K2 = 11, 1.5, 0.01, 0.03
IDENTICAL_PSNR = 100.0


def to_255(x: torch.Tensor) -> torch.Tensor:
    """Model space [-1, 1] -> float64 on the 8-bit grid 0..255."""
    return ((x.detach().double().clamp(-1, 1) + 1) * 127.5).round()


def luma(x255: torch.Tensor) -> torch.Tensor:
    """BT.601 Y (16..235) of 0..255 RGB (N, 3, H, W), as SRGAN / ESRGAN evaluate (MATLAB's rgb2ycbcr)."""
    if x255.shape[1] == 1:
        return x255
    r, g, b = x255[:, 0:1], x255[:, 1:2], x255[:, 2:3]
    return 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0


def _check(fake: torch.Tensor, real: torch.Tensor) -> None:
    if fake.shape != real.shape or fake.dim() != 4:
        raise GanforgeError(f"paired metrics need outputs and ground truth of one shape (N, C, H, W); got "
                            f"{tuple(fake.shape)} and {tuple(real.shape)}.")


def l1(fake: torch.Tensor, real: torch.Tensor) -> float:
    _check(fake, real)
    return float((to_255(fake) - to_255(real)).abs().mean() / 127.5)


def psnr_values(a255: torch.Tensor, b255: torch.Tensor, data_range: float = 255.0) -> torch.Tensor:
    mse = (a255 - b255).pow(2).flatten(1).mean(1)
    out = 10 * torch.log10(data_range ** 2 / mse.clamp_min(1e-30))
    return torch.where(mse == 0, torch.full_like(out, IDENTICAL_PSNR), out)


def psnr(fake: torch.Tensor, real: torch.Tensor, y_channel: bool = False) -> float:
    _check(fake, real)
    a, b = to_255(fake), to_255(real)
    if y_channel:
        a, b = luma(a), luma(b)
    return float(psnr_values(a, b).mean())


def gaussian_window(size: int = WINDOW, sigma: float = SIGMA) -> torch.Tensor:
    ax = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-ax ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def _band(g: torch.Tensor, size: int) -> torch.Tensor:
    """(size, size - len(g) + 1) matrix whose column j holds g at rows j .. j + len(g) - 1."""
    out = torch.zeros(size, size - len(g) + 1, dtype=g.dtype)
    for j in range(out.shape[1]):
        out[j:j + len(g), j] = g
    return out


def ssim_values(a: torch.Tensor, b: torch.Tensor, data_range: float = 255.0) -> torch.Tensor:
    """Per-image SSIM of float (N, C, H, W) images on a 0..data_range scale (mean over channels)."""
    n, c, h, w = a.shape
    if min(h, w) < WINDOW:
        raise GanforgeError(f"SSIM needs images of at least {WINDOW}x{WINDOW}, got {h}x{w}.")
    g = gaussian_window().sum(0).to(a.dtype)  # the separable 1-D factor of the 2-D window
    # 'valid' filtering (only the windows inside the image) as two banded matrix products (BLAS-fast)
    kw, kh = _band(g, w), _band(g, h)
    a, b = a.reshape(n * c, h, w), b.reshape(n * c, h, w)
    blur = lambda t: kh.T @ (t @ kw)  # noqa: E731
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a ** 2
    var_b = blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return s.reshape(n, c, -1).mean(2).mean(1)


def ssim(fake: torch.Tensor, real: torch.Tensor, y_channel: bool = False) -> float:
    _check(fake, real)
    a, b = to_255(fake), to_255(real)
    if y_channel:
        a, b = luma(a), luma(b)
    return float(torch.cat([ssim_values(a[i:i + 256], b[i:i + 256]) for i in range(0, len(a), 256)]).mean())


def paired_scores(fake: torch.Tensor, real: torch.Tensor, names=("l1", "psnr", "ssim")) -> dict[str, float]:
    fns = {"l1": l1, "psnr": psnr, "ssim": ssim, "psnr_y": lambda f, r: psnr(f, r, True),
           "ssim_y": lambda f, r: ssim(f, r, True)}
    return {name: fns[name](fake, real) for name in names}


def _paired(ctx):
    real = ctx.options.get("ground_truth")
    if real is None:
        real = ctx.real
    if real is None or len(real) != len(ctx.fake):
        raise GanforgeError("paired metrics (l1, psnr, ssim) need the ground truth of every output, in order: "
                            "evaluate a translation run, or pass --real and --fake with the same file names.")
    return ctx.fake, real


for _name in ("l1", "psnr", "ssim", "psnr_y", "ssim_y"):
    METRICS.register(_name)(lambda ctx, _name=_name: {_name: paired_scores(*_paired(ctx), names=(_name,))[_name]})


PAIRED = ("l1", "psnr", "ssim", "psnr_y", "ssim_y")
TRANSLATION_ONLY = ("domain_acc",)
BASELINES = ("identity", "mean", "bicubic", "fill")


def _target_dataset(dataset, images: torch.Tensor, labels):
    from ganforge.data import Dataset

    return Dataset(f"{dataset.name}-targets", images, labels, dataset.num_classes, dataset.class_names,
                   kind="image")


DOMAIN_JUDGE = "pooled"  # globally pooled CNN: skin tones are colours, wherever they are (ganforge.classifiers)


def domain_judge(train, seed: int = 0, steps: int | None = None):
    """The domain classifier of ``domain_acc``: trained on the real training images and their domains only
    (independent of any generator; deterministic, cached)."""
    from ganforge.classifiers import pretrained

    return pretrained(train, DOMAIN_JUDGE, seed=seed, steps=steps)


def domain_accuracy(fake: torch.Tensor, target: torch.Tensor, train, seed: int = 0, steps: int | None = None) -> float:
    """Fraction of outputs that the domain judge (``domain_judge``) assigns to the requested domain
    (StarGAN's metric). Its accuracy on held-out real images (``domain_judge_real_accuracy``) is the ceiling."""
    model = domain_judge(train, seed=seed, steps=steps)
    with torch.no_grad():
        quantised = to_255(fake).float() / 127.5 - 1
        pred = torch.cat([model(c).argmax(1) for c in quantised.split(512)])
    return float((pred == target.to(pred.device)).float().mean())


def domain_judge_real_accuracy(train, real, seed: int = 0, steps: int | None = None) -> float:
    """The judge's accuracy on labelled real images ``real`` (a held-out split): reported next to domain_acc."""
    from ganforge.classifiers import classifier_accuracy

    return classifier_accuracy(domain_judge(train, seed=seed, steps=steps), real)


def evaluate_translation(gen, reference, train, metrics, extractor="classifier", samples: int | None = None,
                         baseline: str | None = None, **options) -> tuple[dict[str, float], dict]:
    """Translate the held-out inputs of ``reference`` (a split of the run's data) and score them.

    Paired metrics compare output i with its ground truth i; FID/KID/PR/DC compare the outputs with the
    ground-truth images (the target domain's test images). ``baseline``: score ``identity`` (the input
    itself) or ``mean`` (the mean training target) instead of the model, for comparison. The
    ``classifier`` extractor is trained on the training targets and their labels (paired-folder:
    ``label_column``); without labels use ``--extractor inception``.
    """
    from ganforge.metrics import evaluate, parse_metrics

    names = parse_metrics(metrics)
    recipe = gen.recipe
    inputs, truth, knobs = recipe.eval_pairs(reference)
    if samples is not None and samples < len(inputs):
        g = torch.Generator().manual_seed(int(options.get("seed", 0)))
        idx = torch.randperm(len(inputs), generator=g)[:samples].sort().values
        knobs = {k: v[idx] if isinstance(v, torch.Tensor) and v.dim() and len(v) == len(inputs) else v
                 for k, v in knobs.items()}
        inputs = inputs[idx]
        truth = None if truth is None else truth[idx]
    if baseline == "identity":
        fake = inputs
        if truth is not None and fake.shape[1] == 1 and truth.shape[1] == 3:
            fake = fake.expand(-1, 3, -1, -1)  # grey input vs colour truth: the grey image as RGB
    elif baseline == "mean":
        fake = recipe.eval_reference(train).mean(0, keepdim=True).expand(len(inputs), -1, -1, -1)  # output domain
    elif baseline and getattr(recipe, "baseline", None) and recipe.baseline(baseline, inputs, **knobs) is not None:
        fake = recipe.baseline(baseline, inputs, **knobs)  # super-resolution's bicubic, inpainting's mean fill
    elif baseline:
        raise GanforgeError(f"unknown baseline {baseline!r}; use {' or '.join(BASELINES)}.")
    else:
        fake = gen.translate(inputs, **knobs)
    if truth is None and any(n in PAIRED for n in names):
        raise GanforgeError(f"{', '.join(n for n in names if n in PAIRED)} need ground truth, which this data does "
                            f"not have for its test split; use fid/kid.")
    if fake.shape[1:] != (truth.shape[1:] if truth is not None else fake.shape[1:]):
        raise GanforgeError(f"outputs {tuple(fake.shape[1:])} and ground truth {tuple(truth.shape[1:])} differ in shape.")
    results: dict[str, float] = {}
    paired = [n for n in names if n in PAIRED]
    if paired:
        results.update(paired_scores(fake, truth, paired))
    if "domain_acc" in names:
        target = knobs.get("domain")
        if not isinstance(target, torch.Tensor) or train.y is None:
            raise GanforgeError("domain_acc is for multi-domain runs (stargan): it needs a target domain per output.")
        seed = int(options.get("seed", 0))
        results["domain_acc"] = domain_accuracy(fake, target, train, seed=seed)
        if getattr(reference, "y", None) is not None:  # the judge on held-out real images: the ceiling
            results["domain_acc_real"] = domain_judge_real_accuracy(train, reference, seed=seed)
    others = [n for n in names if n not in PAIRED + TRANSLATION_ONLY]
    if others:
        real = truth if truth is not None else recipe.eval_reference(reference)
        train_images, train_labels = recipe.eval_reference(train), getattr(train, "y", None)
        classifier_data = None
        if train_labels is not None and len(train_labels) == len(train_images):
            classifier_data = _target_dataset(train, (train_images.clamp(-1, 1).add(1).mul(127.5)).round().to(torch.uint8),
                                              train_labels)
        if extractor == "classifier" and classifier_data is None:
            raise GanforgeError("FID/KID with --extractor classifier need class labels of the training targets "
                                "(paired-folder: --options '{label_column: COLUMN}'); or use --extractor inception.")
        results.update(evaluate(fake, real, others, extractor=extractor, train_dataset=classifier_data, **options))
    protocol = {"n_fake": len(fake), "n_real": len(truth) if truth is not None else len(fake),
                "baseline": baseline or "model"}
    return results, protocol


@METRICS.register("domain_acc")
def _domain_acc(ctx):
    """Generic entry: ``evaluate(fake, None, "domain_acc", target_domains=..., train_dataset=...)``."""
    target = ctx.options.get("target_domains")
    if target is None or ctx.train_dataset is None:
        raise GanforgeError("domain_acc needs the requested domain of every output (target_domains) and the labelled "
                            "training images; evaluate a stargan run.")
    return {"domain_acc": domain_accuracy(ctx.fake, torch.as_tensor(target), ctx.train_dataset)}
