"""The ``packed`` dataset: train on a pack (``ganforge data pack``) streamed from disk by worker processes.

``--data packed --data-dir OUT`` (a .zip or a pack folder). Images are never all in memory: ``x`` is a
lazy view that decodes the images it is indexed with, and training reads batches through a torch
``DataLoader`` whose workers (option ``workers``) decode PNGs while the model trains.

**Same batches as in memory.** The order comes from the in-memory ``BatchSampler`` itself (its
``indices_at(position)``: epoch e's permutation seeded by (seed, e), rank r's shard of it), so a pack
and the same images in memory give identical batches, on one process or under DDP; the position is
one count of batches consumed (prefetched batches do not count), so a run resumes bit-for-bit and a
rollback or resume restarts the workers at that position.

**Memory cap.** Option ``memory_cap_mb`` (default 1024) bounds the decoded images held at once: the
batch being trained on plus the workers' prefetched batches. Fewer workers or less prefetch are used
when the cap asks for it; a cap below one batch is an error. A pack larger than the cap trains.

Splits: the index's ``split`` column when the pack has one, else the seeded split of ``image-folder``
(seed 1234, option ``test_fraction``), so a pack of a folder splits as that folder does.
"""
from __future__ import annotations

import hashlib
import itertools

import torch

from ganforge.data.base import Batch, BatchSampler, Dataset, to_model
from ganforge.data.folders import check_fraction, seeded_split
from ganforge.data.packed import PackedReader
from ganforge.errors import GanforgeError
from ganforge.options import Option

NAME = "packed"
OPTIONS = {
    "workers": Option(int, 2, "DataLoader worker processes decoding images (0: in the training process)"),
    "memory_cap_mb": Option((int, float), 1024, "most MiB of decoded images held at once (batch + prefetch)"),
}


class PackedImages:
    """A lazy uint8 (N, C, S, S) view of some images of a pack: indexing decodes only what it asks for."""
    dtype = torch.uint8
    device = torch.device("cpu")

    def __init__(self, reader: PackedReader, names: list[str]):
        self.reader, self.names = reader, names
        index = reader.index
        self.shape = torch.Size((len(names), index["channels"], index["size"], index["size"]))

    def __len__(self) -> int:
        return len(self.names)

    def dim(self) -> int:
        return 4

    def image(self, i: int) -> torch.Tensor:
        return self.reader.image(self.names[i])

    def __getitem__(self, key) -> torch.Tensor:
        if isinstance(key, int):
            return self.image(key)
        rows = range(len(self))[key] if isinstance(key, slice) else torch.as_tensor(key).flatten().tolist()
        if not len(rows):
            return torch.empty((0, *self.shape[1:]), dtype=torch.uint8)
        return torch.stack([self.image(i) for i in rows])


class PackedDataset(Dataset):
    """A ``Dataset`` whose images stay on disk; everything else (labels, metadata) is in memory."""

    def fingerprint(self) -> str:
        h = hashlib.sha256(f"{self.name}:{self.x.reader.index['content_sha256']}:".encode())
        h.update(",".join(self.x.names).encode())
        return h.hexdigest()[:16]

    def subset(self, n: int | None, seed: int = 0) -> "Dataset":
        if n is None or n >= len(self):
            return self
        idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n]
        return PackedDataset(self.name, PackedImages(self.x.reader, [self.x.names[i] for i in idx.tolist()]),
                             None if self.y is None else self.y[idx], self.num_classes, self.class_names, self.meta,
                             "image")

    def make_sampler(self, batch_size, seed, device="cpu", rank=0, world_size=1, channels_last=False):
        options = self.meta["streaming"]
        return StreamingSampler(self, batch_size, seed, device, rank, world_size, channels_last,
                                workers=options["workers"], memory_cap_mb=options["memory_cap_mb"])


class _Images(torch.utils.data.Dataset):
    """What the workers read: (index, image) pairs, collated into (indices, uint8 batch)."""

    def __init__(self, images: PackedImages):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return i, self.images.image(i)


class StreamingSampler(BatchSampler):
    """``BatchSampler``'s batches (same indices, same fields, same conversion), the images read from disk."""

    def __init__(self, dataset: PackedDataset, batch_size: int, seed: int, device="cpu", rank: int = 0,
                 world_size: int = 1, channels_last: bool = False, workers: int = 2, memory_cap_mb: float = 1024):
        super().__init__(dataset, batch_size, seed, device, rank, world_size, channels_last)
        self._index_device = torch.device("cpu")  # the loader's batch sampler runs on the host
        batch_bytes = batch_size * int(torch.Size(dataset.shape).numel())
        budget = int(memory_cap_mb * 2**20) // batch_bytes  # whole batches the cap holds
        if budget < 1:
            raise GanforgeError(f"a batch of {batch_size} images of {'x'.join(map(str, dataset.shape))} needs "
                                f"{batch_bytes / 2**20:.2f} MiB, over memory_cap_mb={memory_cap_mb}; raise the cap or "
                                f"lower --batch-size.")
        if workers < 0:
            raise GanforgeError(f"option 'workers' is {workers}; use 0 (read in this process) or more.")
        # One batch is being trained on; each worker prefetches `prefetch` more.
        self.workers = min(workers, budget - 1)
        self.prefetch = (budget - 1) // self.workers if self.workers else 0
        self.prefetch = min(self.prefetch, 2)  # torch's default depth: more only costs memory
        self.max_buffered_bytes = batch_bytes * (1 + self.workers * self.prefetch)

    def _stage(self, name: str, tensor):
        return None if name == "x" else super()._stage(name, tensor)

    @property
    def drawn(self) -> int:
        return self._drawn

    @drawn.setter
    def drawn(self, value: int) -> None:
        # A new position (resume, rollback): the prefetched batches belong to the old one.
        self._drawn, self._loader = value, None

    def _batches(self, start: int):
        for position in itertools.count(start):
            yield self.indices_at(position).tolist()

    def _start(self):
        images = _Images(self.dataset.x)
        # Its own generator: a DataLoader draws a base seed when iterated, which from the global RNG would
        # shift the training's latents away from the in-memory run's.
        kwargs = {"num_workers": self.workers, "generator": torch.Generator().manual_seed(0)}
        if self.workers:
            kwargs.update(prefetch_factor=self.prefetch, persistent_workers=False)
        loader = torch.utils.data.DataLoader(images, batch_sampler=self._batches(self._drawn), **kwargs)
        return iter(loader)

    def next(self) -> Batch:
        if self._loader is None:
            self._loader = self._start()
        idx, x = next(self._loader)
        self._drawn += 1
        fields = {"x": to_model(x.to(self.device, non_blocking=True), "image")}
        if self.channels_last:
            fields["x"] = fields["x"].contiguous(memory_format=torch.channels_last)
        idx = idx.to(self._index_device)
        for name, tensor in self._tensors.items():
            fields[name] = to_model(tensor[idx.to(tensor.device)], self.kinds[name])
        return Batch(kinds=self.kinds, **fields)


def load_packed(cfg, split: str) -> PackedDataset:
    from ganforge.data import data_dir

    reader = PackedReader(data_dir(cfg, NAME))
    index, options = reader.index, dict(cfg.options or {})
    if cfg.image_size and cfg.image_size != index["size"]:
        raise GanforgeError(f"packed dataset {reader.path} holds {index['size']}x{index['size']} images but "
                            f"--image-size is {cfg.image_size}; drop --image-size or repack at that size.")
    if index.get("split") is not None:
        rows = [i for i, s in enumerate(index["split"]) if s == split]
        how = "the pack's split column"
    else:
        rows = seeded_split(index["count"], split, check_fraction(options.get("test_fraction", 0.1)))
        how = "seeded split (seed 1234)"
    if not rows:
        raise GanforgeError(f"packed dataset {reader.path} has no {split} images ({how}).")
    labels = [index["labels"][i][1] for i in rows]
    y = None if any(v is None for v in labels) else torch.tensor(labels, dtype=torch.int64)
    streaming = {"workers": int(options.get("workers", 2)), "memory_cap_mb": float(options.get("memory_cap_mb", 1024))}
    meta = {"source": str(reader.path), "split": how, "streaming": streaming,
            "color": "grayscale" if index["channels"] == 1 else "rgb"}
    images = PackedImages(reader, [index["labels"][i][0] for i in rows])
    return PackedDataset(NAME, images, y, len(index["class_names"]) if y is not None else 0,
                         list(index["class_names"]), meta, kind="image")


def _register():
    from ganforge.data import DATASETS

    DATASETS.register(NAME, options={**OPTIONS, "test_fraction": Option((int, float), 0.1,
                                     "held-out fraction when the pack has no split column")})(load_packed)


_register()
