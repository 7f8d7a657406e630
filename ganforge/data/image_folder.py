"""``image-folder``: a tree of PNG/JPEG files under the data directory.

Layout (``root`` = ``--data-dir`` / ``$GANFORGE_DATA``):
- classes: when ``root`` has sub-folders holding images, each sub-folder is a class (images in it
  at any depth belong to it; class indices follow the sorted folder names); images directly in
  ``root`` alongside class folders are an error (ambiguous). Otherwise the data is unlabelled
  (every image under ``root``, recursively).
- splits: when ``root`` has both ``train/`` and ``test/``, those are the splits (each with the
  class layout above; test classes must be a subset of train's). Otherwise a fixed seeded
  permutation of the sorted file list is split, ``test_fraction`` (default 0.1) going to test.

Every image is decoded once (PIL), center-cropped to a square and resized to ``cfg.image_size``
(default 64) with antialiasing, so the dataset is one uint8 tensor in memory.
Colour (``options.color``): ``auto`` (default: 1 channel when every image is grayscale, else RGB
for all, alpha dropped), ``rgb`` or ``grayscale``. Unreadable or corrupt files are reported by
name; hidden files and other extensions are ignored. An image whose header declares more than
``GANFORGE_MAX_IMAGE_PIXELS`` pixels (default 100 million) is refused before decoding
(``ganforge.data.images``); grey, RGBA, palette, CMYK and 16-bit images are converted.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from ganforge.data.base import Dataset
from ganforge.data.images import is_grayscale, read_image
from ganforge.errors import GanforgeError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
DEFAULT_IMAGE_SIZE = 64
DEFAULT_TEST_FRACTION = 0.1
SPLIT_SEED = 1234
COLOR_CHOICES = ("auto", "rgb", "grayscale")
MAX_BYTES = 16 * 2**30  # refuse before decoding a tree that cannot fit in memory at this size


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*")
                  if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file() and _visible(p, folder))


def scan(root: Path) -> tuple[list[Path], list[str], list[int] | None]:
    """(files, class names, labels or None) of one tree, per the class layout in the module doc."""
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")
                        and list_images(d))
    if not class_dirs:
        return list_images(root), [], None
    loose = [p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
             and not p.name.startswith(".")]
    if loose:
        raise GanforgeError(
            f"{root} holds both class sub-folders and images at its top level (e.g. {loose[0].name}); move the "
            f"loose images into a class folder, or remove the sub-folders for unlabelled data."
        )
    files, labels = [], []
    for index, folder in enumerate(class_dirs):
        found = list_images(folder)
        files += found
        labels += [index] * len(found)
    return files, [d.name for d in class_dirs], labels


def decide_channels(files: list[Path], color: str) -> int:
    if color == "rgb":
        return 3
    if color == "grayscale":
        return 1
    # Headers only (opening does not decode pixels): this also refuses oversized images before any decoding.
    return 1 if all(is_grayscale(path) for path in files) else 3


def decode(path: Path, size: int, channels: int) -> np.ndarray:
    """One image as uint8 (C, size, size): center-cropped to a square, then resized.

    Reading (pixel limit, formats, grey/RGBA/palette/CMYK/16-bit conversion, errors) is ganforge.data.images.
    """
    array = square_resize(read_image(path, channels), size)
    return array[None] if channels == 1 else array.transpose(2, 0, 1)


def square_resize(array: np.ndarray, size: int) -> np.ndarray:
    """uint8 (H, W[, C]) -> center-cropped to a square, resized to ``size`` (LANCZOS), a writable copy."""
    from PIL import Image

    h, w = array.shape[:2]
    side = min(w, h)
    top, left = (h - side) // 2, (w - side) // 2
    array = array[top:top + side, left:left + side]
    if side != size:
        array = np.array(Image.fromarray(array).resize((size, size), Image.Resampling.LANCZOS), dtype=np.uint8)
    return np.ascontiguousarray(array)  # a writable copy for torch


def _split_files(root: Path, split: str, test_fraction: float):
    if (root / "train").is_dir() and (root / "test").is_dir():
        train_files, train_classes, train_labels = scan(root / "train")
        files, classes, labels = scan(root / "test")
        every_file = train_files + files
        # Checked for both splits: training must not start on a layout that evaluation will refuse.
        if files and ((labels is None) != (train_labels is None) or not set(classes) <= set(train_classes)):
            raise GanforgeError(
                f"{root / 'test'} has classes {classes or 'none'} but {root / 'train'} has "
                f"{train_classes or 'none'}; give test/ the same class sub-folders as train/."
            )
        if split == "train":
            return train_files, train_classes, train_labels, "train/ and test/ folders", every_file
        if labels is not None:  # index test labels by the train class list
            labels = [train_classes.index(classes[i]) for i in labels]
        return files, train_classes, labels, "train/ and test/ folders", every_file
    files, classes, labels = scan(root)
    every_file = files
    perm = np.random.default_rng(SPLIT_SEED).permutation(len(files))
    n_test = min(len(files) - 1, max(1, round(len(files) * test_fraction))) if len(files) > 1 else 0
    chosen = perm[:n_test] if split == "test" else perm[n_test:]
    chosen = np.sort(chosen)
    labels = None if labels is None else [labels[i] for i in chosen]
    how = f"seeded split (seed {SPLIT_SEED}), test fraction {test_fraction}"
    return [files[i] for i in chosen], classes, labels, how, every_file


def load_image_folder(cfg, split: str) -> Dataset:
    from ganforge.data import data_dir

    root = Path(data_dir(cfg, "image-folder")).expanduser()
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        raise GanforgeError(f"image folder {root} {what}; pass --data-dir pointing at a folder of PNG/JPEG images.")
    options = cfg.options or {}
    color = options.get("color", "auto")
    if color not in COLOR_CHOICES:
        raise GanforgeError(f"option 'color' is {color!r}; choose one of {', '.join(COLOR_CHOICES)}.")
    test_fraction = options.get("test_fraction", DEFAULT_TEST_FRACTION)
    if not isinstance(test_fraction, (int, float)) or isinstance(test_fraction, bool) \
            or not math.isfinite(test_fraction) or not 0 < test_fraction < 1:
        raise GanforgeError(f"option 'test_fraction' is {test_fraction!r}; it must be a number in (0, 1).")
    size = cfg.image_size or DEFAULT_IMAGE_SIZE

    files, classes, labels, how, every_file = _split_files(root, split, float(test_fraction))
    if not files:
        where = root / split if (root / "train").is_dir() and (root / "test").is_dir() else root
        raise GanforgeError(
            f"no {'/'.join(e[1:].upper() for e in IMAGE_EXTENSIONS)} images for the {split} split under {where}; "
            f"put images there (sub-folders = classes)."
        )
    channels = decide_channels(every_file, color)  # over both splits: train and test must agree
    if len(files) * channels * size * size > MAX_BYTES:
        raise GanforgeError(f"{len(files)} images at {size}x{size} need more than {MAX_BYTES >> 30} GiB in memory; "
                            f"lower --image-size or use fewer images.")
    x = torch.empty((len(files), channels, size, size), dtype=torch.uint8)
    for i, path in enumerate(files):
        x[i] = torch.from_numpy(decode(path, size, channels))
    y = None if labels is None else torch.tensor(labels, dtype=torch.int64)
    meta = {"source": str(root), "split": how, "color": "grayscale" if channels == 1 else "rgb"}
    return Dataset("image-folder", x, y, len(classes), classes, meta, kind="image")


def _register():
    from ganforge.data import DATASETS

    from ganforge.options import Option

    DATASETS.register("image-folder", options={
        "color": Option(str, "auto", "auto, rgb or grayscale"),
        "test_fraction": Option((int, float), DEFAULT_TEST_FRACTION, "held-out fraction when there is no train/test split"),
    })(load_image_folder)


_register()
