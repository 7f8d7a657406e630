"""Reading the images that provenance commands check: files and folders, as uint8 (n, 3, h, w) per size."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ganforge.errors import GanforgeError


def image_files(specs: list[str]) -> list[Path]:
    """Image files named directly or found (recursively) in folders, in a stable order."""
    from ganforge.data.image_folder import list_images

    files: list[Path] = []
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            found = list_images(path)
            if not found:
                raise GanforgeError(f"{path} holds no images (PNG, JPEG, ...); pass image files or a folder of them.")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise GanforgeError(f"{path} does not exist; pass image files or folders of images.")
    return files


def read_rgb(path: Path, size: int | None = None) -> np.ndarray:
    """uint8 (3, h, w); ``size``: resized to size x size first (box filter when shrinking, which exactly
    undoes an integer nearest-neighbour enlargement such as the server's scaled PNGs)."""
    from PIL import Image

    from ganforge.data.images import read_image

    array = read_image(path, 3)
    if size is not None and array.shape[:2] != (size, size):
        shrink = size < min(array.shape[:2])
        array = np.asarray(Image.fromarray(array).resize(
            (size, size), Image.Resampling.BOX if shrink else Image.Resampling.BILINEAR), dtype=np.uint8)
    return np.ascontiguousarray(array.transpose(2, 0, 1))


def resolve_key(text: str) -> str:
    """A key, or ``env:NAME`` to read it from an environment variable (keeps it out of `ps` and shell history)."""
    if text.startswith("env:"):
        value = os.environ.get(text[4:])
        if not value:
            raise GanforgeError(f"--watermark/--key {text}: the environment variable {text[4:]} is not set or empty.")
        return value
    if not text:
        raise GanforgeError("the watermark key is empty; pass a secret string (or env:NAME).")
    return text
