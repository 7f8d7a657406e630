"""Image grids and PNG files (Pillow; we avoid torchvision and its CUDA-sized install)."""
from __future__ import annotations

import math
import os

import numpy as np
import torch
from PIL import Image

from ganforge.utils.files import atomic_write


def make_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2) -> np.ndarray:
    """uint8 (N, C, H, W) -> uint8 (H', W', C) grid with ``nrow`` images per row."""
    n, c, h, w = images.shape
    nrow = nrow or int(math.ceil(math.sqrt(n)))
    ncol = int(math.ceil(n / nrow))
    grid = np.zeros((ncol * (h + padding) + padding, nrow * (w + padding) + padding, c), dtype=np.uint8)
    arr = images.permute(0, 2, 3, 1).cpu().numpy()
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[top:top + h, left:left + w] = arr[i]
    return grid


def to_pil(array: np.ndarray, scale: int = 1) -> Image.Image:
    img = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    if scale > 1:  # tiny images (8x8 digits) are unreadable at 1:1
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    return img


def save_grid(images: torch.Tensor, path: str | os.PathLike, nrow: int | None = None) -> None:
    grid = make_grid(images, nrow)
    scale = max(1, 256 // max(grid.shape[0], grid.shape[1]) + (1 if grid.shape[0] < 128 else 0))
    atomic_write(path, lambda tmp: to_pil(grid, scale).save(tmp, format="PNG"))


def save_png(image: torch.Tensor, path: str | os.PathLike) -> None:
    """One uint8 (C, H, W) image."""
    arr = image.permute(1, 2, 0).cpu().numpy()
    atomic_write(path, lambda tmp: to_pil(arr).save(tmp, format="PNG"))


def save_gif(images: torch.Tensor, path: str | os.PathLike, duration_ms: int = 80) -> None:
    """uint8 (N, C, H, W) images as the frames of a looping animated GIF (Pillow)."""
    frames = [to_pil(image.permute(1, 2, 0).cpu().numpy()) for image in images]
    atomic_write(path, lambda tmp: frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:],
                                                  duration=duration_ms, loop=0))
