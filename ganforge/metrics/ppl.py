"""Perceptual path length (Karras, Laine & Aila, "A Style-Based Generator Architecture for GANs",
CVPR 2019, §4.2; the StyleGAN2 protocol: W space, path endpoints, epsilon 1e-4).

For pairs of latents, PPL is E[d(G(l(t)), G(l(t + eps))) / eps^2] where l is a lerp between two
w's (``space="w"``) or a slerp between two z's (``space="z"``), t ~ U(0, 1) (``sampling="full"``) or
t = 0 (``sampling="end"``); the mean is taken over the distances between the 1st and 99th
percentiles, as the official code. Sampling uses the generator's fixed noise (``noise_mode="const"``).

**The distance is not LPIPS.** The VGG16 / LPIPS weights of the paper are not available offline, so d
is the squared L2 distance between *unit-normalised* features of a network that is: the FID
Inception's pool3 features (``feature="inception"``: images resized to 299x299 bilinearly, without
8-bit quantisation, which would swamp a 1e-4 step), or the penultimate features of the library's own
classifier trained on the real data (``feature="classifier"``). Numbers are labelled with that name
(``ppl_inception``, ``ppl_classifier``), compare runs of the same data and feature network only, and
are not comparable to published PPL values.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.metrics import METRICS

FEATURES = ("inception", "classifier")


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    d = (a * b).sum(dim=-1, keepdim=True)
    p = t * torch.acos(d.clamp(-1, 1))
    c = F.normalize(b - d * a, dim=-1)
    return F.normalize(a * torch.cos(p) + c * torch.sin(p), dim=-1)


def feature_network(name: str, dataset=None, device="cpu", inception_weights=None,
                    trust_extractor: bool = False) -> Callable[[torch.Tensor], torch.Tensor]:
    """Model-space images -> features, differentiably fine (no 8-bit rounding)."""
    if name == "inception":
        from ganforge.metrics.extractors.inception import RESOLUTION, load_network, resolve_weights

        net = load_network(str(resolve_weights(inception_weights)), trust_extractor).to(device)

        def inception(x: torch.Tensor) -> torch.Tensor:
            x = F.interpolate(x.float().clamp(-1, 1), size=(RESOLUTION, RESOLUTION), mode="bilinear",
                              antialias=True, align_corners=False)
            return net(x.expand(-1, 3, -1, -1).contiguous(memory_format=torch.channels_last)).float()
        return inception
    if name == "classifier":
        if dataset is None or getattr(dataset, "y", None) is None:
            raise GanforgeError("PPL with feature='classifier' needs the run's labelled training data; "
                                "use feature='inception' for unlabelled data.")
        from ganforge.classifiers import pretrained

        model = pretrained(dataset, "cnn").to(device).eval()
        return lambda x: model.features(x.float().clamp(-1, 1)).float()
    raise GanforgeError(f"unknown PPL feature network {name!r}; choose {' or '.join(FEATURES)}.")


@torch.no_grad()
def perceptual_path_length(generator, features: Callable[[torch.Tensor], torch.Tensor], num_samples: int = 1000,
                           epsilon: float = 1e-4, space: str = "w", sampling: str = "end", seed: int = 0,
                           batch_size: int = 64, num_classes: int = 0, normalize: bool = True) -> float:
    """``generator``: a style generator (``styles(z, y)``, ``z_dim``, ``forward(None, ws=..., noise_mode=...)``,
    e.g. ``ganforge.nets.stylegan2.StyleGAN2Generator``). Returns the filtered mean of d / eps^2."""
    if space not in ("w", "z") or sampling not in ("end", "full"):
        raise GanforgeError(f"PPL space must be w or z and sampling end or full, got {space!r}, {sampling!r}.")
    if not hasattr(generator, "styles"):
        raise GanforgeError("PPL needs a style-based generator (a mapping to w), e.g. recipe stylegan2.")
    device = next(generator.parameters()).device
    g = torch.Generator(device="cpu").manual_seed(seed)
    was_training = generator.training
    generator.eval()
    dist = []
    try:
        for start in range(0, num_samples, batch_size):
            n = min(batch_size, num_samples - start)
            z = torch.randn(2 * n, generator.z_dim, generator=g).to(device)
            t = (torch.rand(n, 1, generator=g) * (1 if sampling == "full" else 0)).to(device)
            y = torch.randint(0, num_classes, (n,), generator=g).to(device) if num_classes else None
            if space == "w":
                ws = generator.styles(z, None if y is None else y.repeat(2))
                w0, w1 = ws[:n], ws[n:]
                t3 = t[:, :, None]
                pair = torch.cat([w0.lerp(w1, t3), w0.lerp(w1, t3 + epsilon)])
            else:
                zt = torch.cat([slerp(z[:n], z[n:], t), slerp(z[:n], z[n:], t + epsilon)])
                pair = generator.styles(zt, None if y is None else y.repeat(2))
            img = generator(None, ws=pair, noise_mode="const")
            f = features(img).flatten(1)
            if normalize:
                f = F.normalize(f, dim=1)
            dist.append(((f[:n] - f[n:]).square().sum(dim=1) / epsilon ** 2).cpu())
    finally:
        generator.train(was_training)
    d = torch.cat(dist).double().numpy()
    lo, hi = np.percentile(d, 1, method="lower"), np.percentile(d, 99, method="higher")
    return float(d[(d >= lo) & (d <= hi)].mean())


@METRICS.register("ppl")
def _ppl(ctx) -> dict[str, float]:
    """``ganforge eval RUN --metrics ppl``: W space, endpoints, eps 1e-4, on ``--extractor``'s network
    (as many pairs as generated samples, ``--samples``; or ``ppl_samples``). The key names the feature
    network (not LPIPS)."""
    gen = ctx.generator
    module = getattr(gen, "module", gen)
    if module is None or not hasattr(module, "styles"):
        raise GanforgeError("ppl needs a trained style-based generator (e.g. a stylegan2 run) to evaluate.")
    name = ctx._extractor_spec if isinstance(ctx._extractor_spec, str) else getattr(ctx._extractor_spec, "name", "")
    data = ctx.train_dataset if ctx.train_dataset is not None else ctx.dataset
    opts = ctx.options
    features = feature_network(name, data, device=next(module.parameters()).device,
                               inception_weights=opts.get("inception_weights"),
                               trust_extractor=bool(opts.get("trust_extractor", False)))
    value = perceptual_path_length(module, features, num_samples=int(opts.get("ppl_samples", len(ctx.fake))),
                                   seed=int(opts.get("seed", 0)), num_classes=getattr(gen, "num_classes", 0))
    return {f"ppl_{name}": value}
