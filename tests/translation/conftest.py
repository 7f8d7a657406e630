"""Fixtures of the translation tests: tiny image trees in the layouts users have, and the emoji data."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import SHARED_DATA


def save(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path) if mode else Image.fromarray(array).save(path)
    return path


def pattern(i: int, size: int = 16, channels: int = 3) -> np.ndarray:
    rng = np.random.default_rng(i)
    a = rng.integers(0, 256, (size, size, channels), dtype=np.uint8)
    return a[..., 0] if channels == 1 else a


def label_map_tree(root: Path, instances: bool = False) -> Path:
    """ROOT/labels/*.png (class ids 0-2) and ROOT/images/*.png, 10 pairs, 16x16; with ``instances``
    also ROOT/inst/*.png: two touching objects of class 1 (ids 7 and 8)."""
    for i in range(10):
        ids = np.zeros((16, 16), np.uint8)
        ids[: 4 + i % 8] = 1
        ids[:, 12:] = 2
        save(root / "labels" / f"{i}.png", ids, "L")
        save(root / "images" / f"{i}.png", pattern(i, 16))
        if instances:
            inst = ids * 3
            inst[: 4 + i % 8, :6], inst[: 4 + i % 8, 6:12] = 7, 8
            save(root / "inst" / f"{i}.png", inst, "L")
    return root


@pytest.fixture
def unpaired_tree(tmp_path) -> Path:
    """ROOT/{train,test}{A,B}/*.png: CycleGAN's unpaired layout, 8 random 16x16 images each."""
    for split in ("train", "test"):
        for d in ("A", "B"):
            for i in range(8):
                save(tmp_path / "u" / f"{split}{d}" / f"{i}.png", pattern(i + (100 if d == "B" else 0), 16))
    return tmp_path / "u"


@pytest.fixture
def map_tree(tmp_path) -> Path:
    return label_map_tree(tmp_path / "maps")


@pytest.fixture
def paired_tree(tmp_path) -> Path:
    """ROOT/line/*.png (grayscale) and ROOT/color/*.png (RGB), 12 pairs, identical names."""
    for i in range(12):
        save(tmp_path / "line" / f"{i:02d}.png", pattern(i, channels=1))
        save(tmp_path / "color" / f"{i:02d}.png", pattern(100 + i))
    return tmp_path


@pytest.fixture
def emoji() -> Path:
    root = SHARED_DATA / "emoji"
    if not (root / "openmoji" / "metadata.csv").is_file():
        pytest.skip(f"emoji data not found at {root}; set GANFORGE_TEST_DATA")
    return root
