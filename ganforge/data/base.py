"""The in-memory dataset and the index-based batch sampler.

Every dataset we target fits in memory (digits, MNIST, Fashion-MNIST, CIFAR-10, toy mixtures,
tables), so a dataset is one tensor: images stay uint8 (4x smaller than float) and are converted
per batch on the device; there are no per-sample Python transforms in the hot path (that is what
makes the classic DataLoader + PIL pipeline slow for small images).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Any, Iterator

import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError


# What a field of a batch holds. The kind says how it is converted between data space (what the
# dataset stores) and model space (what networks see), and what a recipe may do with it.
KINDS = {
    "image": "uint8 (C, H, W) in data space; float in [-1, 1] in model space",
    "vector": "float32 (D,) features (toy points, tabular rows after their transform)",
    "table": "float32 (D,) encoded table row (decoded to a DataFrame by the dataset)",
    "label": "int64 class index",
    "labels": "float32 (K,) multi-label / attribute vector in {0, 1}",
    "label_map": "int64 (H, W) per-pixel class ids",
    "tokens": "int64 (T,) token ids (never cast to float)",
    "embedding": "float32 (E,) a precomputed embedding (e.g. of a caption)",
    "audio": "int16 PCM (C, S) in data space (float32 in [-1, 1] accepted); float in [-1, 1] in model space",
    "mask": "float32 (1, H, W) in {0, 1}",
}


def _check_kind(kind: str, where: str) -> str:
    if kind not in KINDS:
        raise GanforgeError(f"{where}: unknown field kind {kind!r}; use one of {', '.join(KINDS)}.")
    return kind


class Batch(Mapping):
    """A batch: named fields (tensors with a leading batch dimension) and their kinds.

    ``batch.x`` (the main sample field) and ``batch.y`` (class labels or None) are shortcuts; any
    other field is ``batch["name"]``. ``Batch(x, y)`` builds the classic two-field batch;
    ``Batch(x, y, kinds=..., **more)`` adds named fields. A multi-source batch (two unpaired
    domains) holds each source's sample field under the source's name (``batch["A"]``) and its other
    fields as ``"A.y"`` etc.
    """

    __slots__ = ("fields", "kinds")

    def __init__(self, x: torch.Tensor | None = None, y: torch.Tensor | None = None, *,
                 kinds: dict[str, str] | None = None, **more: torch.Tensor):
        self.fields: dict[str, torch.Tensor] = {}
        if x is not None:
            self.fields["x"] = x
        if y is not None:
            self.fields["y"] = y
        self.fields.update({k: v for k, v in more.items() if v is not None})
        self.kinds: dict[str, str] = dict(kinds or {})

    @property
    def x(self) -> torch.Tensor:
        return self.fields["x"]

    @property
    def y(self) -> torch.Tensor | None:
        return self.fields.get("y")

    @property
    def size(self) -> int:
        """Number of samples (the leading dimension of every field)."""
        return len(next(iter(self.fields.values())))

    def kind(self, name: str) -> str | None:
        return self.kinds.get(name)

    def replace(self, **fields: torch.Tensor) -> "Batch":
        """The same batch with some fields replaced (e.g. the augmented images D sees)."""
        out = Batch(kinds=self.kinds)
        out.fields = {**self.fields, **fields}
        return out

    def take(self, n: int) -> "Batch":
        """The first n samples of every field."""
        out = Batch(kinds=self.kinds)
        out.fields = {k: v[:n] for k, v in self.fields.items()}
        return out

    def __getitem__(self, name: str) -> torch.Tensor:
        try:
            return self.fields[name]
        except KeyError:
            raise KeyError(f"batch has no field {name!r}; it has {', '.join(self.fields)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    def __repr__(self) -> str:
        return "Batch(" + ", ".join(f"{k}: {self.kinds.get(k, '?')} {tuple(v.shape)}" for k, v in self.fields.items()) + ")"


@dataclass
class Dataset:
    """An in-memory dataset: the sample field ``x`` of an explicit ``kind``, optional labels ``y`` and
    optional named extra fields (per-sample tensors of any declared kind: a paired target image, a
    label map, caption tokens, an attribute vector). ``sources`` makes it a multi-source dataset
    (e.g. two unpaired domains, each with its own shuffled sampler and shard); ``x`` then is the
    first source's (for shapes)."""
    name: str
    x: torch.Tensor                       # uint8 (N, C, H, W) images, float32 (N, D) vectors, int64 tokens ...
    y: torch.Tensor | None = None         # int64 (N,)
    num_classes: int = 0
    class_names: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)  # JSON-able; saved in the run to rebuild a decoder
    kind: str | None = None               # KINDS key of x; None: image for 4-D uint8/float, else vector
    fields: dict[str, torch.Tensor] = field(default_factory=dict)   # extra per-sample fields
    field_kinds: dict[str, str] = field(default_factory=dict)       # their kinds
    sources: dict[str, "Dataset"] = field(default_factory=dict)     # multi-source (unpaired) datasets

    def __post_init__(self):
        if self.kind is None:  # datasets written before kinds were explicit (users' own loaders)
            self.kind = "image" if self.x.dim() == 4 else "vector"
        _check_kind(self.kind, f"dataset {self.name!r}")
        for name, value in self.fields.items():
            _check_kind(self.field_kinds.get(name, ""), f"dataset {self.name!r}, field {name!r}")
            if len(value) != len(self.x):
                raise GanforgeError(f"dataset {self.name!r}: field {name!r} has {len(value)} samples but x has "
                                    f"{len(self.x)}; the files do not match.")
        if len(self.x) == 0:
            raise GanforgeError(f"dataset {self.name!r} is empty; check the path or the files it points to.")
        if self.y is not None:
            if len(self.y) != len(self.x):
                raise GanforgeError(
                    f"dataset {self.name!r} has {len(self.x)} samples but {len(self.y)} labels; the files do not match."
                )
            self.y = self.y.long()
            if self.num_classes == 0:
                self.num_classes = int(self.y.max()) + 1

    # -- description --------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    def __len__(self) -> int:
        return len(self.x)

    def fingerprint(self) -> str:
        """A short content hash (for caches of classifiers and reference statistics)."""
        h = hashlib.sha256()
        h.update(self.name.encode())
        h.update(str(tuple(self.x.shape)).encode())
        h.update(self.x.contiguous().numpy().tobytes())
        if self.y is not None:
            h.update(self.y.contiguous().numpy().tobytes())
        return h.hexdigest()[:16]

    # -- conversion between data space and model space -----------------------------------------
    def to_model(self, x: torch.Tensor, kind: str | None = None) -> torch.Tensor:
        """Data space -> model space by kind: uint8 images to float in [-1, 1]; integer kinds (labels,
        label maps, tokens) stay int64; everything else float32."""
        return to_model(x, kind or self.kind)

    def from_model(self, x: torch.Tensor, kind: str | None = None) -> torch.Tensor:
        """Model space -> data space: images to uint8 0..255; vectors unchanged."""
        return from_model(x, kind or self.kind)

    def field_kind(self, name: str) -> str:
        return self.kind if name == "x" else "label" if name == "y" else self.field_kinds[name]

    def decode(self, x: torch.Tensor) -> Any:
        """Model space -> what a user saves (tabular datasets override: a DataFrame)."""
        return self.from_model(x)

    def subset(self, n: int | None, seed: int = 0) -> "Dataset":
        if n is None or n >= len(self):
            return self
        g = torch.Generator().manual_seed(seed)
        idx = torch.randperm(len(self), generator=g)[:n]
        return Dataset(self.name, self.x[idx], None if self.y is None else self.y[idx],
                       self.num_classes, self.class_names, self.meta, self.kind,
                       {k: v[idx] for k, v in self.fields.items()}, dict(self.field_kinds))


INTEGER_KINDS = ("label", "label_map", "tokens")


def to_model(x: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "image":
        return x.float().div_(127.5).sub_(1.0) if x.dtype == torch.uint8 else x.float()
    if kind in INTEGER_KINDS:
        return x.long()
    if kind == "audio" and x.dtype == torch.int16:
        return x.float().div_(32768.0)
    return x.float()


def from_model(x: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "image":
        return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()
    if kind in INTEGER_KINDS:
        return x.detach().long().cpu()
    if kind == "audio":  # 16-bit PCM, like the clips it was read from
        return (x.detach().float().clamp(-1, 1) * 32767).round().to(torch.int16).cpu()
    return x.detach().float().cpu()


def resize_images(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize uint8 (N, C, H, W) images once, in memory: bilinear with antialias, center-cropped to square."""
    n, c, h, w = x.shape
    if h != w:
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        x = x[:, :, top:top + s, left:left + s]
    if x.shape[-1] == size:
        return x.contiguous()
    out = torch.empty((n, c, size, size), dtype=torch.uint8)
    for start in range(0, n, 4096):  # chunks bound the float copy's memory for large datasets
        chunk = x[start:start + 4096].float()
        chunk = F.interpolate(chunk, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out[start:start + 4096] = chunk.round().clamp_(0, 255).to(torch.uint8)
    return out


class BatchSampler:
    """Endless batches drawn by index from an in-memory dataset.

    Epoch e uses the permutation seeded by (seed, e); under distributed training rank r takes
    the r-th of world_size disjoint shards of it. The position is a pure function of the number
    of batches drawn, so resuming needs only that count (``drawn``), even with another world size.
    Every field of the dataset (x, y and the extra fields) is indexed the same way and converted to
    model space by its kind.
    """

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, device: torch.device | str = "cpu",
                 rank: int = 0, world_size: int = 1, channels_last: bool = False):
        per_rank = len(dataset) // world_size
        if per_rank < batch_size:
            raise GanforgeError(
                f"dataset {dataset.name!r} has {len(dataset)} samples, fewer than one batch of {batch_size} "
                f"per process (x{world_size}); lower --batch-size."
            )
        self.dataset, self.batch_size, self.seed = dataset, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.device = torch.device(device)
        self.channels_last = channels_last
        self.batches_per_epoch = per_rank // batch_size
        self.drawn = 0  # batches drawn so far: the whole state
        self._epoch, self._order = -1, None
        tensors = {"x": dataset.x, "y": dataset.y, **dataset.fields}
        self.kinds = {name: dataset.field_kind(name) for name, t in tensors.items() if t is not None}
        self._tensors = {name: staged for name, t in tensors.items()
                         if t is not None and (staged := self._stage(name, t)) is not None}
        self._index_device = torch.device("cpu") if self.device.type == "cpu" else self.device

    def _stage(self, name: str, tensor) -> torch.Tensor | None:
        """Where a field's data lives while training (None: the sampler reads it itself, e.g. from disk).
        Pinned host -> device copies only pay off on accelerators: on one, the whole field moves there."""
        return tensor if self.device.type == "cpu" else tensor.to(self.device)

    def _epoch_order(self, epoch: int) -> torch.Tensor:
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            perm = torch.randperm(len(self.dataset), generator=g)
            per_rank = len(self.dataset) // self.world_size
            self._order = perm[self.rank * per_rank:(self.rank + 1) * per_rank].to(self._index_device)
            self._epoch = epoch
        return self._order

    def indices_at(self, position: int) -> torch.Tensor:
        """The sample indices of the ``position``-th batch this rank draws (a pure function of it)."""
        epoch, i = divmod(position, self.batches_per_epoch)
        return self._epoch_order(epoch)[i * self.batch_size:(i + 1) * self.batch_size]

    def next(self) -> Batch:
        idx = self.indices_at(self.drawn)
        self.drawn += 1
        fields = {}
        for name, tensor in self._tensors.items():
            value = to_model(tensor[idx].to(self.device, non_blocking=True), self.kinds[name])
            if self.channels_last and self.kinds[name] == "image" and value.dim() == 4:
                value = value.contiguous(memory_format=torch.channels_last)
            fields[name] = value
        return Batch(kinds=self.kinds, **fields)

    def __iter__(self) -> Iterator[Batch]:
        while True:
            yield self.next()


class MultiSourceSampler:
    """One ``BatchSampler`` per source (its own seeded order and rank shard), drawn in lockstep, so the
    position is still one count. Source s's sample field is ``batch[s]``, its other fields ``batch["s.y"]``."""

    def __init__(self, sources: dict[str, Dataset], batch_size: int, seed: int, device="cpu", rank: int = 0,
                 world_size: int = 1, channels_last: bool = False):
        self.samplers = {name: BatchSampler(ds, batch_size, seed + 7_919 * (i + 1), device, rank, world_size,
                                            channels_last) for i, (name, ds) in enumerate(sources.items())}
        self.batch_size = batch_size

    @property
    def drawn(self) -> int:
        return next(iter(self.samplers.values())).drawn

    @drawn.setter
    def drawn(self, value: int) -> None:
        for sampler in self.samplers.values():
            sampler.drawn = value

    def next(self) -> Batch:
        fields, kinds = {}, {}
        for source, sampler in self.samplers.items():
            batch = sampler.next()
            for name, value in batch.fields.items():
                key = source if name == "x" else f"{source}.{name}"
                fields[key], kinds[key] = value, batch.kinds[name]
        return Batch(kinds=kinds, **fields)


def make_sampler(dataset: Dataset, batch_size: int, seed: int, device="cpu", rank: int = 0, world_size: int = 1,
                 channels_last: bool = False):
    """The sampler a dataset asks for: its own (``dataset.make_sampler``, e.g. tabular training-by-sampling),
    one per source for multi-source datasets, else the index sampler."""
    args = (batch_size, seed, device, rank, world_size, channels_last)
    if hasattr(dataset, "make_sampler"):
        return dataset.make_sampler(*args)
    if dataset.sources:
        return MultiSourceSampler(dataset.sources, *args)
    return BatchSampler(dataset, *args)
