"""The in-memory dataset and the index-based batch sampler.

Every dataset we target fits in memory (digits, MNIST, Fashion-MNIST, CIFAR-10, toy mixtures,
tables), so a dataset is one tensor: images stay uint8 (4x smaller than float) and are converted
per batch on the device; there are no per-sample Python transforms in the hot path (that is what
makes the classic DataLoader + PIL pipeline slow for small images).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Iterator

import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError


@dataclass
class Batch:
    x: torch.Tensor                 # model space (images in [-1, 1])
    y: torch.Tensor | None = None   # int64 labels, or None for unlabelled data


@dataclass
class Dataset:
    name: str
    x: torch.Tensor                       # uint8 (N, C, H, W) images, or float32 (N, D) vectors
    y: torch.Tensor | None = None         # int64 (N,)
    num_classes: int = 0
    class_names: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)  # JSON-able; saved in the run to rebuild a decoder

    def __post_init__(self):
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
    def kind(self) -> str:
        return "image" if self.x.dim() == 4 else "vector"

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
    def to_model(self, x: torch.Tensor) -> torch.Tensor:
        """Data space -> model space: uint8 images to float in [-1, 1]; vectors unchanged (float32)."""
        if self.kind == "image":
            return x.float().div_(127.5).sub_(1.0)
        return x.float()

    def from_model(self, x: torch.Tensor) -> torch.Tensor:
        """Model space -> data space: images to uint8 0..255; vectors unchanged."""
        if self.kind == "image":
            return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()
        return x.detach().float().cpu()

    def decode(self, x: torch.Tensor) -> Any:
        """Model space -> what a user saves (tabular datasets override: a DataFrame)."""
        return self.from_model(x)

    def subset(self, n: int | None, seed: int = 0) -> "Dataset":
        if n is None or n >= len(self):
            return self
        g = torch.Generator().manual_seed(seed)
        idx = torch.randperm(len(self), generator=g)[:n]
        return Dataset(self.name, self.x[idx], None if self.y is None else self.y[idx],
                       self.num_classes, self.class_names, self.meta)


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
    of batches drawn, so resuming needs only that count (``state``), even with another world size.
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
        self.channels_last = channels_last and dataset.kind == "image"
        self.batches_per_epoch = per_rank // batch_size
        self.drawn = 0  # batches drawn so far: the whole state
        self._epoch, self._order = -1, None
        # Pinned host -> device copies only pay off on accelerators.
        self._x = dataset.x if self.device.type == "cpu" else dataset.x.to(self.device)
        self._y = None if dataset.y is None else dataset.y.to(self.device)

    def _epoch_order(self, epoch: int) -> torch.Tensor:
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            perm = torch.randperm(len(self.dataset), generator=g)
            per_rank = len(self.dataset) // self.world_size
            self._order = perm[self.rank * per_rank:(self.rank + 1) * per_rank].to(self._x.device)
            self._epoch = epoch
        return self._order

    def next(self) -> Batch:
        epoch, i = divmod(self.drawn, self.batches_per_epoch)
        idx = self._epoch_order(epoch)[i * self.batch_size:(i + 1) * self.batch_size]
        self.drawn += 1
        x = self.dataset.to_model(self._x[idx].to(self.device, non_blocking=True))
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return Batch(x, None if self._y is None else self._y[idx])

    def __iter__(self) -> Iterator[Batch]:
        while True:
            yield self.next()
