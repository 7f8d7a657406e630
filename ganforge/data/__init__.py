"""Datasets by name. A loader is ``fn(cfg, split) -> Dataset``; images are resized here, once."""
from __future__ import annotations

import importlib
import os

from ganforge.data.base import (  # noqa: F401
    KINDS, Batch, BatchSampler, Dataset, MultiSourceSampler, from_model, make_sampler, resize_images, to_model,
)
from ganforge.errors import GanforgeError
from ganforge.registry import Registry

DATASETS: Registry = Registry("dataset")
# name -> fn(info) -> Dataset: datasets whose decoding needs more than shapes (tabular) register one.
# (defined before the dataset modules are imported: they register into it)
RESTORERS: dict = {}

# Each module registers its loaders on import. Adding a dataset = one module + one line here.
for _module in ("digits", "idx", "cifar", "image_folder", "toy", "tabular", "moons", "paired", "unpaired", "domains",
                "stacked_mnist", "text", "audio", "captions", "streaming", "label_maps"):
    try:
        importlib.import_module(f"ganforge.data.{_module}")
    except ModuleNotFoundError as e:  # a module not written yet must not break the others
        if e.name != f"ganforge.data.{_module}":
            raise

SPLITS = ("train", "test")


def data_dir(cfg, dataset: str) -> str:
    """The directory holding a dataset's files: --data-dir, else $GANFORGE_DATA/<dataset> or $GANFORGE_DATA."""
    if cfg.data_dir:
        return cfg.data_dir
    root = os.environ.get("GANFORGE_DATA")
    if not root:
        raise GanforgeError(
            f"dataset {dataset!r} needs its files: pass --data-dir DIR or set GANFORGE_DATA to a directory "
            f"holding them (or {dataset}/ inside it)."
        )
    sub = os.path.join(root, dataset)
    return sub if os.path.isdir(sub) else root


def load_dataset(cfg, split: str = "train") -> Dataset:
    if split not in SPLITS:
        raise GanforgeError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}.")
    dataset = DATASETS.get(cfg.data)(cfg, split)
    if dataset.kind == "image" and cfg.image_size and dataset.shape[-1] != cfg.image_size:
        dataset.x = resize_images(dataset.x, cfg.image_size)
    return dataset


def restore_dataset(info: dict) -> Dataset:
    """A stand-in dataset (one dummy sample) from a run's data.json: enough to build networks and decode."""
    import torch

    if info["name"] in RESTORERS:
        return RESTORERS[info["name"]](info)
    dtype = lambda name: getattr(torch, name if name in ("uint8", "int16", "float32", "float64", "int64", "float16", "bfloat16")  # noqa: E731
                                 else "float32")
    x = torch.zeros(1, *info["shape"], dtype=dtype(info.get("dtype", "float32")))
    y = torch.zeros(1, dtype=torch.long) if info.get("num_classes") else None
    fields = {name: torch.zeros(1, *f["shape"], dtype=dtype(f.get("dtype", "float32")))
              for name, f in (info.get("fields") or {}).items()}
    kinds = {name: f["kind"] for name, f in (info.get("fields") or {}).items()}
    sources = {name: restore_dataset(sub) for name, sub in (info.get("sources") or {}).items()}
    return Dataset(info["name"], x, y, int(info.get("num_classes", 0)), list(info.get("class_names", [])),
                   dict(info.get("meta", {})), info.get("kind"), fields, kinds, sources)
