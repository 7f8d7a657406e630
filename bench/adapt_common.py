"""Shared by the adaptation / distillation / provenance benchmarks: Fashion-MNIST split by class.

The source domain is every class but dresses (class 3), the target domain dresses alone; the
pretrained source run is the teacher of the distillation benchmark and a "seen" generator of the
detection benchmark.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ganforge.config import make_config  # noqa: E402
from ganforge.data import Dataset, load_dataset  # noqa: E402

DRESS = 3
DATA_DIR = os.environ.get("GANFORGE_DATA", str(ROOT.parent / "shared" / "data"))
RUNS = Path(os.environ.get("ADAPT_RUNS", "/tmp/adapt-runs"))
COMMON = dict(recipe="dcgan", data="fashion-mnist", image_size=28, g_width=32, d_width=32, batch_size=64,
              sample_every=0, log_every=10**6, device="cpu", seed=0)


def fashion_dir() -> str:
    sub = Path(DATA_DIR) / "fashion-mnist"
    return str(sub) if sub.is_dir() else DATA_DIR


def subset(dataset: Dataset, keep: torch.Tensor, name: str) -> Dataset:
    return Dataset(name, dataset.x[keep], dataset.y[keep], dataset.num_classes, dataset.class_names,
                   dict(dataset.meta), kind="image")


def split(split_name: str = "train"):
    """(source: every class but dresses, target: dresses) of one split."""
    cfg = make_config({**COMMON, "data_dir": fashion_dir()})
    data = load_dataset(cfg, split_name)
    return (subset(data, data.y != DRESS, "fashion-mnist"), subset(data, data.y == DRESS, "fashion-mnist"), data)
