"""CTGAN's networks (Xu et al., 2019): a residual MLP generator with per-span output activations and a
PacGAN-packed MLP critic (Lin et al., 2018).

Generator ``G(z, y=None, cond=None)``: input ``[z | cond]``, two residual blocks (each concatenates
``ReLU(BN(Linear(h)))`` to its input), a linear head, then ``tanh`` on every normalised scalar and a
Gumbel-softmax (tau 0.2) on every one-hot span (mixture modes, categories). In eval mode the one-hot
spans are *hard* samples (argmax of logits + Gumbel noise), so a sampled row is a valid row.
When ``cond`` is omitted (generic samplers call ``G(z, y)``), the generator draws a data-like
condition itself from count tables it stores as buffers, with a generator seeded from ``z``: the
same ``z`` gives the same rows, and the global RNG is never touched.

Critic ``D(x, y=None, cond=None)``: ``[x | cond]`` of ``pac`` consecutive rows are concatenated and
scored together (N rows -> N / pac scores); packing lets the critic see the diversity of a group and
so penalises mode collapse.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.tabular.sampler import ConditionSampler
from ganforge.tabular.transform import TabularTransform

GUMBEL_TAU = 0.2


class SpanLayout(nn.Module):
    """Index buffers that apply the per-span activations and the conditional loss without Python loops."""

    def __init__(self, transform: TabularTransform):
        super().__init__()
        scalar = [s.start for s in transform.spans if s.activation == "tanh"]
        softmax_cols, segment = [], []
        for i, span in enumerate(s for s in transform.spans if s.activation == "softmax"):
            softmax_cols += list(range(span.start, span.end))
            segment += [i] * (span.end - span.start)
        self.num_segments = len({*segment})
        order = torch.tensor(scalar + softmax_cols, dtype=torch.long)
        self.register_buffer("scalar_cols", torch.tensor(scalar, dtype=torch.long), persistent=False)
        self.register_buffer("softmax_cols", torch.tensor(softmax_cols, dtype=torch.long), persistent=False)
        self.register_buffer("segment", torch.tensor(segment, dtype=torch.long), persistent=False)
        self.register_buffer("inverse", torch.argsort(order), persistent=False)
        # for the conditional loss: feature categorical column j -> its segment and first column
        softmax_spans = [s for s in transform.spans if s.activation == "softmax"]
        cat_segment = [next(i for i, s in enumerate(softmax_spans) if s.column == c.name and s.role == "category")
                       for c in transform.categorical_columns]
        self.register_buffer("cat_segment", torch.tensor(cat_segment, dtype=torch.long), persistent=False)
        self.register_buffer("cat_start", torch.tensor([transform.category_span(c.name).start
                                                        for c in transform.categorical_columns], dtype=torch.long),
                             persistent=False)

    def _segment_logsumexp(self, logits: torch.Tensor) -> torch.Tensor:
        n = logits.shape[0]
        index = self.segment.expand(n, -1)
        peak = logits.new_full((n, self.num_segments), -torch.inf).scatter_reduce(
            1, index, logits, "amax", include_self=True).detach()
        total = logits.new_zeros((n, self.num_segments)).scatter_add(1, index, torch.exp(logits - peak.gather(1, index)))
        return peak + torch.log(total)

    def activate(self, raw: torch.Tensor, hard: bool, generator: torch.Generator | None = None) -> torch.Tensor:
        raw = raw.float()
        logits = raw[:, self.softmax_cols]
        if len(self.softmax_cols):
            u = torch.rand(logits.shape, device=raw.device, generator=generator).clamp_(1e-10, 1 - 1e-7)
            logits = (logits - torch.log(-torch.log(u))) / GUMBEL_TAU  # Gumbel noise: a sample, not the mode
            probs = torch.exp(logits - self._segment_logsumexp(logits).gather(1, self.segment.expand(len(raw), -1)))
            if hard:
                best = self._segment_argmax(logits)
                probs = torch.zeros_like(probs).scatter_(1, best, 1.0)
        else:
            probs = logits
        return torch.cat([torch.tanh(raw[:, self.scalar_cols]), probs], dim=1)[:, self.inverse]

    def _segment_argmax(self, logits: torch.Tensor) -> torch.Tensor:
        """Column (within softmax_cols) of the largest logit of every segment: (n, num_segments)."""
        n = logits.shape[0]
        index = self.segment.expand(n, -1)
        peak = logits.new_full((n, self.num_segments), -torch.inf).scatter_reduce(1, index, logits, "amax")
        is_peak = logits == peak.gather(1, index)
        position = torch.arange(logits.shape[1], device=logits.device).expand(n, -1)
        # first peak per segment: smallest position among ties
        return torch.full((n, self.num_segments), logits.shape[1], device=logits.device).scatter_reduce(
            1, index, torch.where(is_peak, position, logits.shape[1]), "amin")

    def conditional_loss(self, raw: torch.Tensor, column: torch.Tensor, category: torch.Tensor) -> torch.Tensor:
        """CTGAN's cross-entropy that makes G produce the category its condition asks for (rows with
        an active feature column; 0 when none)."""
        active = column >= 0
        if not len(self.cat_start) or not bool(active.any()):
            return raw.sum() * 0.0
        raw = raw.float()[active]
        column, category = column[active], category[active]
        lse = self._segment_logsumexp(raw[:, self.softmax_cols]).gather(1, self.cat_segment[column][:, None])[:, 0]
        chosen = raw.gather(1, (self.cat_start[column] + category)[:, None])[:, 0]
        return (lse - chosen).sum() / len(active)


class Residual(nn.Module):
    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.fc, self.bn = nn.Linear(in_dim, out_dim), nn.BatchNorm1d(out_dim)

    def forward(self, x):
        return torch.cat([F.relu(self.bn(self.fc(x))), x], dim=1)


class TabularGenerator(nn.Module):
    def __init__(self, transform: TabularTransform, conditions: ConditionSampler, z_dim: int, width: int = 256,
                 depth: int = 2):
        super().__init__()
        self.z_dim, self.cond_dim, self.num_classes = z_dim, conditions.cond_dim, conditions.num_classes
        self.layout = SpanLayout(transform)
        dims, blocks = z_dim + self.cond_dim, []
        for _ in range(depth):
            blocks.append(Residual(dims, width))
            dims += width
        self.body = nn.Sequential(*blocks)
        self.head = nn.Linear(dims, transform.output_dim)
        self._register_condition_tables(conditions)

    def _register_condition_tables(self, conditions: ConditionSampler) -> None:
        counts = conditions.category_counts
        k_max = max(counts, default=1)
        rows = max(conditions.num_classes, 1)
        pairs = torch.zeros(len(counts), rows, k_max, dtype=torch.float64)
        for j, table in enumerate(conditions.pair_counts):
            table = torch.as_tensor(table, dtype=torch.float64)
            marginal = table.sum(0, keepdim=True)
            table = torch.where(table.sum(1, keepdim=True) > 0, table, marginal)  # unseen label: use the marginal
            pairs[j, :, :table.shape[1]] = table / table.sum(1, keepdim=True)
        labels = torch.as_tensor(conditions.label_counts, dtype=torch.float64)
        # persistent=False: rebuilt from the run's JSON, never part of a checkpoint
        self.register_buffer("pair_probs", pairs.float(), persistent=False)
        self.register_buffer("label_probs", (labels / labels.sum()).float(), persistent=False)
        self.register_buffer("cat_offsets", torch.as_tensor(conditions.offsets[:-1], dtype=torch.long), persistent=False)

    def draw_conditions(self, n: int, y: torch.Tensor | None, generator: torch.Generator | None) -> torch.Tensor:
        device = self.label_probs.device
        cond = torch.zeros(n, self.cond_dim, device=device)
        rows = torch.arange(n, device=device)
        labels = torch.zeros(n, dtype=torch.long, device=device)
        if self.num_classes:
            labels = y.to(device).long() if y is not None else torch.multinomial(
                self.label_probs, n, replacement=True, generator=generator)
            cond[rows, labels] = 1.0
        if len(self.cat_offsets):
            column = torch.randint(0, len(self.cat_offsets), (n,), device=device, generator=generator)
            category = torch.multinomial(self.pair_probs[column, labels], 1, generator=generator)[:, 0]
            cond[rows, self.num_classes + self.cat_offsets[column] + category] = 1.0
        return cond

    @staticmethod
    def _generator_from(z: torch.Tensor) -> torch.Generator:
        seed = int(z[:, : min(z.shape[1], 8)].double().abs().sum().mul(1e6).round().item()) % (2**62)
        return torch.Generator(device=z.device).manual_seed(seed)

    def forward(self, z, y=None, cond=None, return_logits: bool = False):
        generator = None if self.training else self._generator_from(z)
        if cond is None:
            cond = self.draw_conditions(len(z), y, generator if generator is not None else self._generator_from(z))
        raw = self.head(self.body(torch.cat([z, cond.to(z.dtype)], dim=1)))
        x = self.layout.activate(raw, hard=not self.training, generator=generator)
        return (x, raw) if return_logits else x


class PacDiscriminator(nn.Module):
    def __init__(self, data_dim: int, cond_dim: int, pac: int, width: int = 256):
        super().__init__()
        self.pac = pac
        self.in_dim = (data_dim + cond_dim) * pac
        self.net = nn.Sequential(
            nn.Linear(self.in_dim, width), nn.LeakyReLU(0.2), nn.Dropout(0.5),
            nn.Linear(width, width), nn.LeakyReLU(0.2), nn.Dropout(0.5),
            nn.Linear(width, 1))

    def forward(self, x, y=None, cond=None):
        h = x if cond is None or cond.shape[1] == 0 else torch.cat([x, cond.to(x.dtype)], dim=1)
        return self.net(h.reshape(-1, self.in_dim)).squeeze(1)
