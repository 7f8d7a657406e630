"""Boundary-calibration loss (BC-loss) of BCGAN.

A GAN may reach a good discriminator/generator equilibrium while generating only "easy" samples, far
from the decision boundaries of the classifiers that will later be trained on them. The BC-loss adds
to the generator an auxiliary term that matches, class by class, the statistics of the *posteriors*
of K frozen classifiers h_k (trained on the real data, different inductive biases) on real vs
generated samples:

    BC = 1/(K·C) Σ_k Σ_c  MMD²_κ( {softmax h_k(x) : x real, y = c} , {softmax h_k(G(z, c))} )

With the linear kernel κ(p, q) = p·q this is exactly ‖E[h_k(x) | y=c] − E[h_k(G(z, c))]‖² (in
posterior space); with an RBF kernel it is the MMD² of the two posterior *distributions*, which
also matches their spread (how much mass sits near the boundary), not only their means.

Every term is estimated WITHOUT bias from mini-batches by the U-statistic (Gretton et al. 2012,
eq. 3): pairs i≠j within the real set, pairs i≠j within the fake set, all pairs across the sets.
The tempting plug-in ‖mean(p) − mean(q)‖² is biased upward by (tr Σ_p)/n + (tr Σ_q)/m, which is
large for small per-class batches and would push G to shrink its posterior variance (i.e. to make
*more* easy samples), the opposite of what we want.

Choices (documented in docs/BCGAN.md):
- a (k, c) term needs ≥ 2 real and ≥ 2 fake samples of class c (a U-statistic needs a pair); classes
  below that in the current batch are skipped and the average is over the classes that remain (the
  estimator is unbiased conditionally on which classes are present). If no class qualifies the loss
  is an exact 0 that is still connected to the graph.
- RBF bandwidth: per classifier, the median pairwise distance of real posteriors (pooled over
  classes, 1,000 training samples drawn with a fixed seed), clamped to [0.05, √2], computed once at
  construction and then a constant, so the estimator stays an unbiased MMD² for a *fixed* kernel.
- real statistics: ``bc_source="batch"`` uses the current real batch (no state, resumes
  bit-exactly); ``"buffer"`` keeps a rolling FIFO of the last ``buffer_per_class`` real posteriors
  per class. The classifiers are frozen, so buffered posteriors never go stale: they remain i.i.d.
  draws of the real posterior distribution and the estimator stays unbiased, with lower variance
  and every class present after warm-up. The buffer is not checkpointed (resume refills it).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.errors import GanforgeError

KINDS = ("logreg", "mlp", "cnn")
BANDWIDTH_SAMPLES = 1000
MIN_BANDWIDTH, MAX_BANDWIDTH = 0.05, math.sqrt(2.0)  # posteriors live in the simplex: max distance √2


# --------------------------------------------------------------------------------------------
# estimator math on plain tensors
# --------------------------------------------------------------------------------------------
def gram(a: torch.Tensor, b: torch.Tensor, kernel: str = "linear", bandwidth: float = 1.0) -> torch.Tensor:
    """Kernel matrix κ(a_i, b_j). Squared distances by expansion (not cdist) so the gradient is
    finite at zero distance."""
    dot = a @ b.T
    if kernel == "linear":
        return dot
    if kernel == "rbf":
        sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * dot
        return torch.exp(-sq.clamp_min(0.0) / (2.0 * bandwidth**2))
    raise GanforgeError(f"unknown BC kernel {kernel!r}; use 'linear' or 'rbf'.")


def _mean_offdiagonal(k: torch.Tensor) -> torch.Tensor:
    n = k.shape[0]
    return (k.sum() - k.diagonal().sum()) / (n * (n - 1))


def mmd2_unbiased(p: torch.Tensor, q: torch.Tensor, kernel: str = "linear", bandwidth: float = 1.0) -> torch.Tensor:
    """Unbiased U-statistic of MMD²_κ between the distributions of rows of p (n, d) and q (m, d).

    linear kernel: an unbiased estimate of ‖E p − E q‖². Needs n ≥ 2 and m ≥ 2.
    """
    n, m = p.shape[0], q.shape[0]
    if n < 2 or m < 2:
        raise ValueError(f"the U-statistic needs at least 2 samples on each side, got {n} and {m}")
    if kernel == "linear":  # O((n+m)·d) instead of forming Gram matrices
        sp, sq = p.sum(0), q.sum(0)
        pp = (sp @ sp - (p * p).sum()) / (n * (n - 1))
        qq = (sq @ sq - (q * q).sum()) / (m * (m - 1))
        return pp + qq - 2.0 * (sp @ sq) / (n * m)
    return (_mean_offdiagonal(gram(p, p, kernel, bandwidth)) + _mean_offdiagonal(gram(q, q, kernel, bandwidth))
            - 2.0 * gram(p, q, kernel, bandwidth).mean())


def mmd2_plugin(p: torch.Tensor, q: torch.Tensor, kernel: str = "linear", bandwidth: float = 1.0) -> torch.Tensor:
    """The biased plug-in (V-statistic) estimate; for the linear kernel ‖mean p − mean q‖².

    Used as the *population* value on a full finite set (sampling with replacement from it makes the
    U-statistic unbiased for exactly this) and, in tests, as the biased baseline."""
    if kernel == "linear":
        d = p.mean(0) - q.mean(0)
        return d @ d
    return (gram(p, p, kernel, bandwidth).mean() + gram(q, q, kernel, bandwidth).mean()
            - 2.0 * gram(p, q, kernel, bandwidth).mean())


def classwise_mmd2(real: torch.Tensor, real_labels: torch.Tensor | None, fake: torch.Tensor,
                   fake_labels: torch.Tensor | None, kernel: str = "linear", bandwidth: float = 1.0,
                   num_classes: int | None = None) -> tuple[torch.Tensor, int]:
    """Σ over classes c with ≥ 2 real and ≥ 2 fake samples of the unbiased MMD², and the number of
    such classes. Labels None on both sides: one pooled term (the unconditional BC)."""
    if real_labels is None or fake_labels is None:
        if real.shape[0] < 2 or fake.shape[0] < 2:
            return fake.sum() * 0.0, 0
        return mmd2_unbiased(real, fake, kernel, bandwidth), 1
    if num_classes is None:
        num_classes = int(max(real_labels.max(), fake_labels.max())) + 1
    real_counts = torch.bincount(real_labels, minlength=num_classes).tolist()
    fake_counts = torch.bincount(fake_labels, minlength=num_classes).tolist()
    total, used = fake.sum() * 0.0, 0  # exact zero that keeps the graph (backward always works)
    for c in range(num_classes):
        if real_counts[c] < 2 or fake_counts[c] < 2:
            continue
        total = total + mmd2_unbiased(real[real_labels == c], fake[fake_labels == c], kernel, bandwidth)
        used += 1
    return total, used


def median_bandwidth(posteriors: torch.Tensor) -> float:
    """Median pairwise distance (i<j) of posteriors, clamped to [MIN_BANDWIDTH, √2]."""
    d = torch.pdist(posteriors.double())
    if d.numel() == 0:
        return MAX_BANDWIDTH
    return float(d.median().clamp(MIN_BANDWIDTH, MAX_BANDWIDTH))


# --------------------------------------------------------------------------------------------
# the module used by the recipes
# --------------------------------------------------------------------------------------------
class BoundaryCalibration(nn.Module):
    """``bc(fake, fake_labels, real_batch) -> fp32 scalar``; added by the recipe base to the
    generator loss as ``cfg.bc_weight * bc(...)`` when ``cfg.bc_weight > 0``.

    ``fake``: generator output in model space, with its graph. ``fake_labels``: (N,) int64 or None for
    an unconditional generator (then the posteriors are matched without the class split).
    ``real_batch``: any object with ``.x`` (data or model space) and ``.y`` (labels, or None).
    """

    def __init__(self, cfg, dataset, classifiers: Sequence[nn.Module] | None = None,
                 bandwidth: float | Sequence[float] | None = None, buffer_per_class: int = 256):
        super().__init__()
        num_classes = int(getattr(dataset, "num_classes", 0) or 0)
        if num_classes < 2 or getattr(dataset, "y", None) is None:
            raise GanforgeError(
                f"the BC-loss needs a labelled dataset (its classifiers are trained on the real labels); "
                f"{getattr(dataset, 'name', 'this dataset')!r} has no labels. Set --bc-weight 0 or use a "
                f"labelled dataset.")
        self.kernel = cfg.bc_kernel
        # classifiers trained on the very rows whose posteriors are the "real" statistics are over-confident
        # there (near one-hot: docs/BENCHMARKS.md, BCGAN); dividing the logits by T > 1 keeps the boundary
        # information that one-hot posteriors lose. T = 1 is the paper's loss, bit for bit.
        self.temperature = float(cfg.bc_temperature)
        if not self.temperature > 0:
            raise GanforgeError(f"bc_temperature {self.temperature!r} is invalid; it must be positive.")
        self.source = cfg.bc_source
        if self.kernel not in ("linear", "rbf"):
            raise GanforgeError(f"bc_kernel {self.kernel!r} is invalid; use 'linear' or 'rbf'.")
        if self.source not in ("batch", "buffer"):
            raise GanforgeError(f"bc_source {self.source!r} is invalid; use 'batch' or 'buffer'.")
        self.num_classes = num_classes
        self._to_model = dataset.to_model
        self.kinds = parse_kinds(cfg.bc_classifiers, getattr(dataset, "kind", "vector"))
        if classifiers is None:
            from ganforge.classifiers import pretrained  # lazy: only a BC run pays for the import

            # pretrained() trains on a cache miss; fork the RNG so that building the BC-loss never
            # changes what the rest of the run draws (G's init, latents, batches).
            with torch.random.fork_rng(devices=[]):
                classifiers = [pretrained(dataset, kind) for kind in self.kinds]
        self.classifiers = nn.ModuleList(classifiers)
        for h in self.classifiers:  # frozen: gradients flow through h into G, never into h
            h.eval()
            h.requires_grad_(False)
            for p in h.parameters():
                p.grad = None  # a freshly trained classifier still holds its last training gradient
        if self.kernel == "rbf":
            if bandwidth is None:
                bandwidth = self._median_bandwidths(dataset)
            if isinstance(bandwidth, (int, float)):
                bandwidth = [float(bandwidth)] * len(self.classifiers)
            self.bandwidths = [float(b) for b in bandwidth]
        else:
            self.bandwidths = [1.0] * len(self.classifiers)
        self.buffer_per_class = int(buffer_per_class)
        self._buffers_by_classifier: list[torch.Tensor] | None = None
        self._filled = torch.zeros(num_classes, dtype=torch.long)
        self._next = torch.zeros(num_classes, dtype=torch.long)

    def train(self, mode: bool = True):  # the frozen classifiers stay in eval mode whatever happens
        super().train(mode)
        for h in self.classifiers:
            h.eval()
        return self

    # ---- posteriors ---------------------------------------------------------------------------
    def posteriors(self, x: torch.Tensor) -> list[torch.Tensor]:
        """softmax(h_k(x) / T) for each classifier, fp32."""
        with torch.autocast(device_type=x.device.type, enabled=False):
            # x / 1.0 is x exactly in IEEE arithmetic: T = 1 stays the paper's loss bit for bit
            return [F.softmax(h(x.float()).float() / self.temperature, dim=1) for h in self.classifiers]

    def _model_space(self, x: torch.Tensor) -> torch.Tensor:
        return x if x.is_floating_point() else self._to_model(x)

    @torch.no_grad()
    def _median_bandwidths(self, dataset) -> list[float]:
        gen = torch.Generator().manual_seed(0)
        n = dataset.x.shape[0]
        idx = torch.randperm(n, generator=gen)[:BANDWIDTH_SAMPLES]
        device = next(iter(self.classifiers[0].parameters()), torch.empty(0)).device
        x = self._model_space(dataset.x[idx]).to(device)
        return [median_bandwidth(p) for p in self.posteriors(x)]

    # ---- rolling buffer -----------------------------------------------------------------------
    @torch.no_grad()
    def _push(self, posteriors: list[torch.Tensor], labels: torch.Tensor) -> None:
        cap, C = self.buffer_per_class, self.num_classes
        if self._buffers_by_classifier is None:
            self._buffers_by_classifier = [p.new_zeros(C, cap, p.shape[1]) for p in posteriors]
        labels = labels.cpu()
        for c in labels.unique().tolist():
            rows = (labels == c).nonzero().squeeze(1)[-cap:]  # newer rows win if a batch overflows
            slots = (self._next[c] + torch.arange(len(rows))) % cap
            for buf, p in zip(self._buffers_by_classifier, posteriors):
                buf[c, slots.to(buf.device)] = p[rows.to(p.device)]
            self._next[c] = (self._next[c] + len(rows)) % cap
            self._filled[c] = min(cap, int(self._filled[c]) + len(rows))

    def _buffered(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        buf = self._buffers_by_classifier[k]
        parts, labels = [], []
        for c in range(self.num_classes):
            f = int(self._filled[c])
            parts.append(buf[c, :f])
            labels.append(torch.full((f,), c, dtype=torch.long, device=buf.device))
        return torch.cat(parts), torch.cat(labels)

    # ---- the loss -----------------------------------------------------------------------------
    def forward(self, fake: torch.Tensor, fake_labels: torch.Tensor | None, real_batch) -> torch.Tensor:
        # fp32 throughout, whatever the caller's autocast: the loss is a small difference of sums
        with torch.autocast(device_type=fake.device.type, enabled=False):
            return self._loss(fake.float(), fake_labels, real_batch)

    def _loss(self, fake: torch.Tensor, fake_labels: torch.Tensor | None, real_batch) -> torch.Tensor:
        first = next(iter(self.classifiers[0].parameters()), None)
        if first is not None and first.device != fake.device:
            self.classifiers.to(fake.device)
        real_x = self._model_space(real_batch.x).to(fake.device)
        real_y = getattr(real_batch, "y", None)
        conditional = fake_labels is not None
        if conditional and real_y is None:
            raise GanforgeError("the class-conditional BC-loss needs the real batch's labels; "
                                "the data loader gave none.")
        with torch.no_grad():
            real_post = self.posteriors(real_x)
        fake_post = self.posteriors(fake)
        if self.source == "buffer":  # unconditional: one pool, stored as class 0
            self._push(real_post, real_y if conditional else torch.zeros(real_x.shape[0], dtype=torch.long))
        total, terms = fake.sum().float() * 0.0, 0
        for k, q in enumerate(fake_post):
            if self.source == "buffer":
                p, py = self._buffered(k)
            else:
                p, py = real_post[k], real_y
            py = py.to(fake.device) if conditional else None
            s, used = classwise_mmd2(p, py, q, fake_labels.to(fake.device) if conditional else None,
                                     self.kernel, self.bandwidths[k], self.num_classes)
            total, terms = total + s, terms + used
        return (total / terms if terms else total).float()


def parse_kinds(spec: str, data_kind: str) -> list[str]:
    """'logreg,mlp,cnn' -> the list; 'cnn' is dropped for vector data (it needs images)."""
    kinds = [k.strip() for k in str(spec).split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise GanforgeError(f"bc_classifiers {spec!r} is invalid: use a comma list of {', '.join(KINDS)}.")
    if data_kind != "image":
        kinds = [k for k in kinds if k != "cnn"]
        if not kinds:
            raise GanforgeError("bc_classifiers 'cnn' needs image data; add logreg or mlp for vector data.")
    return list(dict.fromkeys(kinds))
